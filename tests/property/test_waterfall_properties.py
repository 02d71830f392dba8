"""Invariants of the waterfall kernel over randomly generated small deals (hypothesis; generators in tests/dealgen.py).

Cash conservation to the fen in every period, full repayment with exactly the coupon interest when nothing
defaults, losses from the bottom up, seniority of interest, no negative balances, no NaN or inf, and tranche losses
that never fall when the default rate rises.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealgen import RandomDeal, deals, examples, sequential_deals
from ipabs.compile.lower import CompiledDeal
from ipabs.engine.deterministic import asset_default_periods, run_path, support_default_periods

FEN = 0.01
SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much]}


def run(deal: CompiledDeal, assumptions=None):
    a = assumptions or deal.scenario.assumptions
    return run_path(deal, a, asset_default_periods(deal, a), support_default_periods(deal))


@pytest.mark.slow
@settings(max_examples=examples(120), **SETTINGS)
@given(deals())
def test_cash_is_conserved_to_the_fen_in_every_period(rd: RandomDeal):
    """collections + clean-up proceeds + support draws = fees + interest + principal + residual + Δ accounts."""
    deal = rd.compile()
    pf, out = run(deal)
    previous = deal.waterfall.acct_init.sum()
    for t in range(deal.n_periods):
        cash_in = out.cash_in[t] + out.sup_draw[t].sum()
        paid = (out.fee_paid[t].sum() + out.tr_int_paid[t].sum() + out.tr_prin_paid[t].sum()
                + out.tr_resid[t].sum())
        held = out.acct_bal[t].sum()
        assert cash_in == pytest.approx(paid + held - previous, abs=FEN), f"period {t + 1}"
        previous = held
        # what is credited is the pool's cash (plus the clean-up proceeds in the call period)
        collected = pf.interest[t] + pf.principal[t] + pf.recoveries[t] + (pf.bal_end[t] if out.called[t] else 0.0)
        if t == 0 or not out.called[:t].any():
            assert out.cash_in[t] == pytest.approx(collected, abs=FEN)


@pytest.mark.slow
@settings(max_examples=examples(60), **SETTINGS)
@given(sequential_deals(carry=True, defaults=False))
def test_with_no_defaults_every_tranche_is_repaid_in_full_with_exactly_its_coupon_interest(rd: RandomDeal):
    deal = rd.compile()
    _, out = run(deal)
    yf = deal.waterfall.yf
    for k, tr in enumerate(deal.scenario.tranches):
        start = np.concatenate([[tr.balance], out.tr_bal_end[:-1, k]])
        coupon_interest = float(np.sum(start * tr.coupon * yf))
        assert out.tr_bal_end[-1, k] == pytest.approx(0.0, abs=FEN), f"{tr.name} is not repaid"
        assert out.tr_prin_paid[:, k].sum() == pytest.approx(tr.balance, abs=FEN)
        assert out.tr_int_paid[:, k].sum() == pytest.approx(coupon_interest, abs=FEN), tr.name
        assert out.tr_int_short[-1, k] == pytest.approx(0.0, abs=FEN)


@pytest.mark.slow
@settings(max_examples=examples(80), **SETTINGS)
@given(sequential_deals(principal="all"))
def test_losses_hit_the_most_junior_tranche_first(rd: RandomDeal):
    deal = rd.compile()
    _, out = run(deal)
    loss = out.tr_bal_end[-1]
    principal = out.tr_prin_paid.sum(axis=0)
    for k in range(len(loss)):
        if loss[k] > FEN:
            for j in range(k + 1, len(loss)):
                assert principal[j] <= FEN, f"junior {j} got principal while senior {k} lost {loss[k]:,.2f}"
                assert loss[j] == pytest.approx(deal.scenario.tranches[j].balance, abs=FEN)


@pytest.mark.slow
@settings(max_examples=examples(80), **SETTINGS)
@given(sequential_deals())
def test_no_junior_interest_or_principal_is_paid_while_a_senior_interest_due_is_unpaid(rd: RandomDeal):
    deal = rd.compile()
    _, out = run(deal)
    n_k = out.tr_int_due.shape[1]
    for t in range(deal.n_periods):
        for k in range(n_k):
            if out.tr_int_short[t, k] > FEN:
                for j in range(k + 1, n_k):
                    assert out.tr_int_paid[t, j] <= FEN, f"period {t + 1}: junior {j} interest before senior {k}"
                    assert out.tr_prin_paid[t, j] <= FEN, f"period {t + 1}: junior {j} principal before senior {k}"
                    assert out.tr_resid[t, j] <= FEN


@pytest.mark.slow
@settings(max_examples=examples(100), **SETTINGS)
@given(deals())
def test_no_balance_goes_negative_and_nothing_is_paid_beyond_what_is_due(rd: RandomDeal):
    deal = rd.compile()
    pf, out = run(deal)
    for name in ("interest", "principal", "prepayment", "defaults", "recoveries", "bal_start", "bal_end"):
        assert (getattr(pf, name) >= -1e-6).all(), f"pool {name} negative"
    assert (out.tr_bal_end >= 0).all()
    assert (out.acct_bal >= -1e-6).all(), "an account is overdrawn"
    assert (out.tr_int_paid <= out.tr_int_due + 1e-6).all()
    assert (out.tr_int_short >= -1e-6).all()
    assert (out.fee_paid <= out.fee_due + 1e-6).all()
    assert (out.tr_resid >= -1e-6).all() and (out.tr_prin_paid >= 0).all() and (out.sup_draw >= 0).all()
    start = np.vstack([deal.waterfall.tr_bal0, out.tr_bal_end[:-1]])
    assert (out.tr_prin_paid <= start + 1e-6).all(), "principal paid beyond the balance"
    # the balance roll-forward closes
    np.testing.assert_allclose(out.tr_bal_end, start - out.tr_prin_paid, atol=1e-6)
    for sp, x in enumerate(deal.scenario.support):
        if x.cap is not None:
            assert out.sup_draw[:, sp].sum() <= x.cap + 1e-6


@pytest.mark.slow
@settings(max_examples=examples(100), **SETTINGS)
@given(deals())
def test_no_nan_or_inf_anywhere_in_the_outputs(rd: RandomDeal):
    from ipabs.engine.results import DeterministicResult

    deal = rd.compile()
    pf, out = run(deal)
    for arrays in (pf, out):
        for name, x in arrays._asdict().items():
            assert np.isfinite(x).all(), name
    res = DeterministicResult(deal, pf, out)
    for row in res.tranche_summary():
        for key, v in row.items():
            if isinstance(v, float):
                assert math.isfinite(v), f"{row['name']}: {key} = {v}"
    for frame in (res.pool_frame(), res.fees_frame(), res.accounts_frame(), res.cashflows()):
        numeric = frame.select_dtypes("number").astype(float)
        assert np.isfinite(numeric.to_numpy()[~np.isnan(numeric.to_numpy())]).all()


@pytest.mark.slow
@settings(max_examples=examples(60), **SETTINGS)
@given(sequential_deals(defaults=False), st.sampled_from([0.0, 0.01, 0.05]), st.sampled_from([0.02, 0.1, 0.4]))
def test_tranche_loss_never_falls_when_the_default_rate_rises(rd: RandomDeal, low: float, step: float):
    """With no recoveries (a default only removes cash), more defaults never mean less loss for any tranche."""
    deal = rd.compile()
    a = deal.scenario.assumptions
    losses = []
    for cdr in (low, low + step, min(1.0, low + 3 * step)):
        _, out = run(deal, a.model_copy(update={"cdr": cdr, "recovery_rate": 0.0}))
        losses.append(out.tr_bal_end[-1].copy())
    for lo, hi in zip(losses, losses[1:], strict=False):
        assert (hi >= lo - FEN).all(), f"loss fell from {lo} to {hi}"
