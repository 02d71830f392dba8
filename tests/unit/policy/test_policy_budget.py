"""The bureau's budget Monte Carlo: reproducible, chunk-invariant, equal to the readable engine path by path, and
statistically right on cases with known answers."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from policy_helpers import SAMPLE_PIPELINE

from ipabs.errors import Cancelled, InputError
from ipabs.policy.budget import (
    BudgetResult,
    compile_budget,
    draw_paths,
    path_financings,
    path_payables,
    planned_entitlements,
    simulate_budget,
)
from ipabs.policy.entitlements import compute_entitlements
from ipabs.policy.io import load_policy
from ipabs.policy.pipeline import pipeline_from_rows, read_pipeline
from ipabs.policy.reasons import ITEMS

PIPELINE = read_pipeline(SAMPLE_PIPELINE)


def _same(a: BudgetResult, b: BudgetResult) -> None:
    for name in ("totals", "item_totals", "firm_totals", "acc_payable", "acc_paid", "acc_binds", "acc_reduction"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.by_year().equals(b.by_year())
    assert a.firms().equals(b.firms())
    assert a.cap_binding().equals(b.cap_binding())


def test_the_same_seed_gives_the_identical_budget(ganzhou):
    a = simulate_budget(PIPELINE, ganzhou, n_paths=400, seed=11)
    b = simulate_budget(PIPELINE, ganzhou, n_paths=400, seed=11)
    _same(a, b)
    c = simulate_budget(PIPELINE, ganzhou, n_paths=400, seed=12)
    assert not np.array_equal(a.totals, c.totals)


def test_splitting_paths_into_chunks_gives_the_identical_result(ganzhou):
    whole = simulate_budget(PIPELINE, ganzhou, n_paths=500, seed=5)
    small_chunks = simulate_budget(PIPELINE, ganzhou, n_paths=500, seed=5, chunk_paths=37)
    _same(whole, small_chunks)
    parts = [simulate_budget(PIPELINE, ganzhou, n_paths=n, seed=5, path0=p0, with_planned=False)
             for p0, n in ((0, 1), (1, 198), (199, 301))]
    joined = BudgetResult.combine(list(reversed(parts)))
    _same(whole, joined)
    assert joined.n_paths == 500 and joined.path0 == 0


@pytest.mark.parametrize("name", ["ganzhou-2025", "xian", "guangzhou-2023", "beijing-zgc"])
def test_every_path_equals_the_readable_engine_to_the_fen(name):
    policy = load_policy(name)
    m = compile_budget(PIPELINE, policy, lpr="0.030", rho=0.3, sector_rho=0.2)
    d = draw_paths(m, seed=7, path0=1000, n=120)
    pay, red = path_payables(m, d)
    assert (d.default_year < m.n_years).any() or not m.needs_defaults
    for i in range(d.completed.shape[0]):
        secs, loans = path_financings(m, d, i)
        rep = compute_entitlements(policy, secs, loans, lpr="0.030")
        ref = np.zeros_like(pay[i])
        binds = np.zeros(pay[i].shape, dtype=bool)
        for e in rep.entitlements:
            k = (ITEMS.index(e.item), m.firm_ids.index(e.firm_id), e.year - m.y0)
            ref[k] += e.payable_fen
            binds[k] |= e.cap_binds
        assert np.array_equal(ref, pay[i]), f"path {i}"
        assert np.array_equal(binds, red[i] > 0), f"path {i}"


def test_the_budget_reports_percentiles_with_standard_errors(ganzhou):
    r = simulate_budget(PIPELINE, ganzhou, n_paths=2000, seed=3)
    df = r.by_year()
    assert df["year"].tolist() == ["2027", "2028", "2029", "2030", "2031", "total"]
    for k in ("mean", "p50", "p90", "p95", "p99"):
        assert (df[f"{k}_se"] >= 0).all() and df[f"{k}_se"].notna().all()
    assert (df["p50"] <= df["p90"]).all() and (df["p90"] <= df["p95"]).all() and (df["p95"] <= df["p99"]).all()
    tot = df.set_index("year").loc["total"]
    assert tot["mean_se"] > 0 and tot["p95_se"] > 0
    assert tot["p95_lo"] <= tot["p95"] <= tot["p95_hi"]
    # the item means add up to the mean total
    assert math.isclose(sum(tot[f"mean_{it}"] for it in ITEMS), tot["mean"], rel_tol=1e-12)
    # the firms whose cap binds: the 5-patent firm and the firms with 2 deals in 2027
    caps = r.cap_binding()
    binding = set(zip(caps["firm_id"], caps["item"], strict=True))
    assert ("GZ-F05", "pledge_patent_subsidy") in binding
    assert ("GZ-F01", "securitization_subsidy") in binding
    assert (caps["prob_cap_binds"] > 0).all() and (caps["prob_cap_binds"] <= 1).all()


def _certain(rows):
    """The sample pipeline with every uncertainty switched off."""
    out = []
    for r in rows:
        r = dict(r)
        r.update(completion_probability="1", size_sd="0", slip_probability="0")
        if r["kind"] == "pledge_loan":
            r["pd"] = "0"
        out.append(r)
    return out


def _sample_rows():
    with open(SAMPLE_PIPELINE, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_with_no_uncertainty_every_path_is_the_planned_entitlement_exactly(ganzhou):
    pl = pipeline_from_rows(_certain(_sample_rows()))
    r = simulate_budget(pl, ganzhou, n_paths=50, seed=1)
    planned = planned_entitlements(pl, ganzhou).total_by_pay_year()
    for j, y in enumerate(r.pay_years):
        assert (r.totals[:, j] == planned.get(y, 0)).all()
    df = r.by_year().set_index("year")
    assert df.loc["total", "mean_se"] == 0 and df.loc["total", "p99_se"] == 0
    assert df.loc["total", "mean"] == sum(planned.values()) / 100


def test_a_deal_that_may_not_complete_costs_its_probability_times_its_subsidy(ganzhou):
    rows = [r for r in _certain(_sample_rows()) if r["deal_id"] == "GZ-ABS-2027-01"]
    q = 0.37
    for r in rows:
        r["completion_probability"] = str(q)
    pl = pipeline_from_rows(rows)
    planned = sum(planned_entitlements(pl, ganzhou).total_by_pay_year().values()) / 100
    r = simulate_budget(pl, ganzhou, n_paths=4000, seed=2)
    tot = r.by_year().set_index("year").loc["total"]
    assert abs(tot["mean"] - q * planned) < 4 * tot["mean_se"]
    assert tot["p50"] == 0 and tot["p99"] == planned  # two atoms: nothing or everything


def test_a_default_removes_the_pledge_subsidy_as_often_as_the_default_model_says(ganzhou):
    rows = [r for r in _certain(_sample_rows()) if r["loan_id"] == "GZ-L01"]  # 3 patents, settled 2028
    rows[0]["pd"] = "0.2"
    pl = pipeline_from_rows(rows)
    r = simulate_budget(pl, ganzhou, n_paths=4000, seed=4)
    paid = (r.totals.sum(axis=1) > 0).mean()
    survive = (1 - 0.2) ** 2  # must survive 2027 and 2028 (the settlement year)
    assert abs(paid - survive) < 4 * math.sqrt(survive * (1 - survive) / 4000)
    assert set(np.unique(r.totals.sum(axis=1))) <= {0, 3_000_000}


def test_slips_move_a_deal_into_the_next_year(ganzhou):
    rows = [r for r in _certain(_sample_rows()) if r["deal_id"] == "GZ-ABN-2027-03"]
    for r in rows:
        r["slip_probability"] = "0.4"
    pl = pipeline_from_rows(rows)
    r = simulate_budget(pl, ganzhou, n_paths=4000, seed=6)
    slipped = (r.totals[:, 1] > 0).mean()  # paid in 2028
    assert abs(slipped - 0.4) < 4 * math.sqrt(0.4 * 0.6 / 4000)
    assert ((r.totals[:, 0] > 0) ^ (r.totals[:, 1] > 0)).all()


def test_progress_is_reported_and_a_cancel_stops_the_run(ganzhou):
    seen = []
    simulate_budget(PIPELINE, ganzhou, n_paths=100, seed=1, chunk_paths=40, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(40, 100), (80, 100), (100, 100)]

    def cancel(done, total):
        raise Cancelled()

    with pytest.raises(Cancelled):
        simulate_budget(PIPELINE, ganzhou, n_paths=100, seed=1, chunk_paths=40, progress=cancel)


def test_a_pipeline_that_does_not_fit_the_policy_is_an_input_error():
    with pytest.raises(InputError) as ei:
        simulate_budget(PIPELINE, load_policy("beijing-zgc"), n_paths=10)
    assert [i.field for i in ei.value.issues] == ["lpr"]  # one issue when no loan has an LPR
    rows = _sample_rows()
    for r in rows:
        r["issuer_id"] = ""
    with pytest.raises(InputError) as ei:
        simulate_budget(pipeline_from_rows(rows), load_policy("guangzhou-2023"), n_paths=10)
    assert {i.field for i in ei.value.issues} == {"issuer_id"} and len(ei.value.issues) == 32


def test_guangzhou_on_the_sample_pipeline_pays_the_issuers_only():
    r = simulate_budget(PIPELINE, load_policy("guangzhou-2023"), n_paths=200, seed=1)
    firms = r.firms()
    assert set(firms["firm_id"]) <= {"GZ-ISSUER-A", "GZ-ISSUER-B"}


def test_the_budget_has_no_nan(ganzhou, tmp_path: Path):
    r = simulate_budget(PIPELINE, ganzhou, n_paths=300, seed=9)
    for df in (r.by_year(), r.firms(), r.firm_totals_frame()):
        num = df.select_dtypes("number")
        assert np.isfinite(num.to_numpy()).all()
