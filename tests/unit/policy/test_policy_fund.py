"""The risk-compensation fund: exact loss splits, reproducible and chunk-invariant draws, exhaustion and leverage."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from policy_helpers import SAMPLE_PORTFOLIO

from ipabs.errors import InputError
from ipabs.policy.fund import FundResult, loss_split, portfolio_from_rows, read_portfolio, simulate_fund
from ipabs.policy.io import load_policy
from ipabs.policy.schema import PARTIES

PORTFOLIO = read_portfolio(SAMPLE_PORTFOLIO)
ZHONGSHAN = load_policy("zhongshan")


def test_the_zhongshan_split_is_54_26_16_4_exactly_and_sums_to_the_loss():
    shares = ZHONGSHAN.risk_compensation.shares
    s = loss_split(1_000_000_00, shares, "half_up", None)  # a loss of 1,000,000.00
    assert s == {"fund": 540_000_00, "bank": 260_000_00, "insurer": 160_000_00, "guarantor": 0,
                 "appraiser": 40_000_00}
    odd = loss_split(1, shares, "half_up", None)  # one fen: the bank takes what rounding leaves
    assert sum(odd.values()) == 1 and odd["fund"] == 1 and odd["bank"] == 0


def test_a_per_loan_cap_moves_the_excess_to_the_bank():
    s = loss_split(10_000_000_00, load_policy("zhuhai").risk_compensation.shares, "half_up", 3_000_000_00)
    assert s["fund"] == 3_000_000_00 and s["bank"] == 7_000_000_00


def test_the_sample_portfolio_validates():
    assert len(PORTFOLIO.loans) == 45 and PORTFOLIO.rejected == ()


def test_a_bad_portfolio_names_row_and_field():
    with open(SAMPLE_PORTFOLIO, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rows[4]["lgd"] = "1.2"
    rows[7]["start_date"] = "soon"
    with pytest.raises(InputError) as ei:
        portfolio_from_rows(rows, source="p.csv")
    assert {(5, "lgd"), (8, "start_date")} <= {(i.row, i.field) for i in ei.value.issues}


def test_same_seed_same_draws_and_chunks_do_not_matter():
    a = simulate_fund(PORTFOLIO, ZHONGSHAN, leverage=10, n_paths=600, seed=8)
    b = simulate_fund(PORTFOLIO, ZHONGSHAN, leverage=10, n_paths=600, seed=8, chunk_paths=77)
    parts = [simulate_fund(PORTFOLIO, ZHONGSHAN, leverage=10, n_paths=n, seed=8, path0=p0)
             for p0, n in ((0, 250), (250, 350))]
    c = FundResult.combine(parts)
    for x in (b, c):
        for name in ("claims", "draws", "exhausted_year", "party_losses", "loan_defaults", "loan_fund_claims"):
            assert np.array_equal(getattr(a, name), getattr(x, name)), name
        assert a.by_year().equals(x.by_year()) and a.leverage().equals(x.leverage())


def test_losses_are_conserved_among_the_parties():
    r = simulate_fund(PORTFOLIO, ZHONGSHAN, fund_size="20000000", n_paths=500, seed=2)
    total_loss = sum(
        int(round(float(x.principal) * float(x.lgd) * 100)) * int(n)
        for x, n in zip(PORTFOLIO.loans, r.loan_defaults, strict=True))
    assert r.party_losses.sum() == total_loss
    assert r.party_losses[PARTIES.index("fund")].sum() == r.draws.sum()
    assert (r.draws <= r.claims).all()


def test_the_fund_never_pays_more_than_it_holds_and_exhaustion_is_monotone_in_its_size():
    probs = []
    for size in ("5000000", "20000000", "80000000"):
        r = simulate_fund(PORTFOLIO, ZHONGSHAN, fund_size=size, n_paths=1000, seed=3)
        assert (r.draws.sum(axis=1) <= int(size) * 100).all()
        probs.append(r.by_year().set_index("year").loc["total", "prob_exhausted_by_year"])
        by = r.by_year()["prob_exhausted_by_year"].to_numpy()[:-1]
        assert (np.diff(by) >= 0).all()
    assert probs[0] >= probs[1] >= probs[2]
    assert probs[0] > 0.5 and probs[2] < 0.01


def test_with_certain_default_the_fund_pays_its_share_in_the_default_year():
    rows = [{"loan_id": "L1", "firm_id": "A", "principal": "10000000", "start_date": "2027-03-01",
             "term_months": "12", "pd": "0.999999", "lgd": "0.5"}]
    r = simulate_fund(portfolio_from_rows(rows), ZHONGSHAN, fund_size="100000000", n_paths=200, seed=1)
    # loss 5,000,000; fund 54% = 2,700,000, in 2027 on (practically) every path
    assert (r.claims[:, 0] == 2_700_000_00).mean() > 0.99
    assert r.by_year().set_index("year").loc["2027", "loss_insurer"] == pytest.approx(800_000, rel=0.01)


def test_leverage_actual_and_supported():
    r = simulate_fund(PORTFOLIO, ZHONGSHAN, leverage=10, n_paths=2000, seed=4)
    lev = r.leverage()
    assert lev.loc[0, "value"] == pytest.approx(10.0, rel=1e-9)
    total = np.sort(r.claims.sum(axis=1)) / 100
    q99 = float(np.quantile(total, 0.99, method="linear"))
    assert lev.loc[2, "value"] == pytest.approx(r.principal_fen / 100 / q99)
    assert lev.loc[1, "value"] >= lev.loc[2, "value"]  # more leverage at 95% than at 99%


def test_a_fund_run_needs_a_size_and_a_policy_with_shares():
    with pytest.raises(InputError, match="fund size"):
        simulate_fund(PORTFOLIO, ZHONGSHAN, n_paths=10)
    with pytest.raises(InputError, match="risk_compensation"):
        simulate_fund(PORTFOLIO, load_policy("ganzhou-2025"), fund_size="1000000", n_paths=10)


def test_fund_draws_have_no_nan_and_probabilities_lie_in_0_1():
    r = simulate_fund(PORTFOLIO, load_policy("shenzhen"), leverage=5, per_loan_cap="3000000", n_paths=300, seed=5)
    df = r.by_year()
    assert np.isfinite(df.select_dtypes("number").to_numpy()).all()
    p = df["prob_exhausted_by_year"]
    assert ((p >= 0) & (p <= 1)).all()
    assert math.isfinite(r.leverage()["value"].iloc[0])
