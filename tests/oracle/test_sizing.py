"""Tranche sizing (issue 13 item 6, decision 017): the stored Monte Carlo pool flows reproduce the engine's per-path
losses bit for bit for any tranche sizes, trials share their default paths, the metric is monotone in the balance,
the binding constraint is right on hand-made cases, a sized structure meets its target when simulated again, and the
highest coupon is repaid at the answer and not just above it."""

from __future__ import annotations

import sys
import tomllib
import types
from pathlib import Path

import numpy as np
import pytest

from ipabs.api import compile_scenario, load_scenario
from ipabs.compile.lower import compile_deal
from ipabs.credit.synthetic import SyntheticSpec, synthetic_assets, synthetic_deal, synthetic_scenario_data
from ipabs.engine.montecarlo import prepare, simulate
from ipabs.errors import Cancelled
from ipabs.scenario.io import parse_scenario
from ipabs.structuring.batch import ScenarioTable, run_batch
from ipabs.structuring.sizing import (
    PathStore,
    largest_obligor_table,
    max_coupon,
    rating_target,
    size_tranche,
    size_tranches,
    with_tranche_balance,
)

ROOT = Path(__file__).resolve().parents[2]
GANZHOU = ROOT / "scenarios" / "ganzhou_pledge_2026.toml"


def deal_scenarios() -> list[Path]:
    return sorted(p for p in (ROOT / "scenarios").glob("*.toml") if "deal" in tomllib.loads(p.read_text("utf-8")))


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.fixture(scope="module")
def ganzhou():
    deal = compile_scenario(load_scenario(GANZHOU))
    return deal, prepare(deal)


@pytest.fixture(scope="module")
def risky():
    """A 30-obligor quarterly pass-through deal without support: the senior's default probability is a few percent
    at its current size, so the rating binds at a balance the Monte Carlo resolves."""
    deal = synthetic_deal(n_obligors=30, n_periods=12, frequency="quarterly", annual_pd=0.06, fees=True,
                          senior_fraction=0.85, recovery_rate=0.2)
    return deal, prepare(deal)


def three_tranche_deal():
    spec = SyntheticSpec(n_obligors=30, n_periods=12, frequency="quarterly", annual_pd=0.06, senior_fraction=0.7)
    data = synthetic_scenario_data(spec)
    total = spec.n_obligors * spec.asset_principal
    data["tranches"] = [
        {"name": "senior", "seniority": "senior", "balance": 0.7 * total, "coupon": 0.03,
         "amortization": "pass_through"},
        {"name": "mezzanine", "seniority": "mezzanine", "balance": 0.15 * total, "coupon": 0.05,
         "amortization": "pass_through"},
        {"name": "subordinate", "seniority": "subordinate", "balance": 0.15 * total, "coupon": 0.0,
         "amortization": "pass_through"},
    ]
    data["waterfall"] = {"normal": [
        {"action": "pay_interest", "tranches": ["senior"]},
        {"action": "pay_interest", "tranches": ["mezzanine"]},
        {"action": "pay_principal", "tranches": ["senior"], "amount": "all"},
        {"action": "pay_principal", "tranches": ["mezzanine"], "amount": "all", "require_repaid": ["senior"]},
        {"action": "pay_principal", "tranches": ["subordinate"], "amount": "all",
         "require_repaid": ["senior", "mezzanine"]},
        {"action": "pay_residual", "tranche": "subordinate", "require_repaid": ["senior", "mezzanine", "subordinate"]},
    ]}
    return compile_deal(parse_scenario(data, "<synthetic>"), synthetic_assets(spec), source="<synthetic>")


# ---- reuse: the stored flows are the Monte Carlo's ---------------------------------------------------------------


@pytest.mark.parametrize("path", deal_scenarios(), ids=lambda p: p.stem)
def test_stored_flows_give_the_monte_carlo_losses_bit_for_bit_on_every_sample_scenario(path):
    deal = compile_scenario(load_scenario(path))
    prep = prepare(deal)
    store = PathStore(deal, 3_000, 11, prepared=prep)
    ref = simulate(deal, 3_000, 11, prepared=prep, statistics="losses")
    assert same_bits(store.first_default, ref.first_default.astype(np.int64))
    loss, short = store.losses(deal)
    assert same_bits(loss, ref.loss) and same_bits(short, ref.short)
    # a re-sized deal: the first tranche 5% larger, the last one smaller by as much
    d2 = with_tranche_balance(deal, 0, deal.scenario.tranches[0].balance * 1.05)
    ref2 = simulate(d2, 3_000, 11, statistics="losses")
    loss2, short2 = store.losses(d2)
    assert same_bits(loss2, ref2.loss) and same_bits(short2, ref2.short)


@pytest.mark.parametrize("kw", [{"fees": True, "cleanup": 0.1}, {"fees": False}], ids=["fees-cleanup", "plain"])
@pytest.mark.parametrize("kernel", ["specialised", "general"])
def test_stored_flows_on_synthetic_deals_with_both_waterfall_kernels(kw, kernel):
    deal = synthetic_deal(n_obligors=25, n_periods=24, annual_pd=0.08, **kw)
    store = PathStore(deal, 4_000, 3, waterfall_kernel=kernel)
    for frac in (0.6, 0.8, 0.95):
        d2 = with_tranche_balance(deal, 0, 25_000_000 * frac)
        ref = simulate(d2, 4_000, 3, statistics="losses")
        loss, short = store.losses(d2)
        assert same_bits(loss, ref.loss) and same_bits(short, ref.short), frac


def test_re_simulating_when_the_store_exceeds_its_memory_budget_gives_the_same_numbers(risky):
    deal, prep = risky
    kept = PathStore(deal, 5_000, 2, prepared=prep)
    again = PathStore(deal, 5_000, 2, prepared=prep, memory_budget=0)
    assert kept.stored and not again.stored and again.nbytes == 0 and kept.nbytes > 0
    for a, b in zip(kept.losses(deal), again.losses(deal), strict=True):
        assert same_bits(a, b)
    r1 = size_tranche(deal, 0, lambda w: 0.02, min_coverage=None, store=kept)
    r2 = size_tranche(deal, 0, lambda w: 0.02, min_coverage=None, store=again)
    assert r1.balance == r2.balance and r1.band == r2.band and r1.metric == r2.metric


# ---- common random numbers -----------------------------------------------------------------------------------------


def test_trials_see_identical_default_paths(risky):
    deal, prep = risky
    firsts = []
    for frac in (0.5, 0.8, 0.9):
        d2 = with_tranche_balance(deal, 0, 30_000_000 * frac)
        r = simulate(d2, 4_000, 5, statistics="losses")
        firsts.append(r.first_default)
        assert same_bits(r.pool_default_rate, simulate(deal, 4_000, 5, prepared=prep,
                                                       statistics="losses").pool_default_rate)
    assert all(np.array_equal(firsts[0], f) for f in firsts[1:])
    store = PathStore(deal, 4_000, 5, prepared=prep)
    assert np.array_equal(store.first_default, firsts[0])
    # every trial of a sizing run reads the same stored paths: the store is built once and not rebuilt
    flows = store.flows
    size_tranche(deal, 0, lambda w: 0.02, min_coverage=None, store=store)
    assert store.flows is flows


@pytest.mark.parametrize("basis", ["pd", "el"])
def test_the_metric_is_monotone_in_the_balance(risky, basis):
    deal, prep = risky
    store = PathStore(deal, 6_000, 9, prepared=prep)
    grid = np.linspace(15e6, 29e6, 15)
    metric = []
    prev = None
    for b in grid:
        loss, _ = store.losses(with_tranche_balance(deal, 0, b))
        x = loss[:, 0]
        metric.append((x > 1e-12).mean() if basis == "pd" else x.mean())
        if prev is not None:  # per path: a larger senior never loses a smaller share (common random numbers)
            assert (x >= prev - 1e-12).all()
        prev = x
    assert np.all(np.diff(metric) >= 0) and metric[-1] > metric[0]


def test_pruned_and_unpruned_trials_agree(risky):
    deal, prep = risky
    store = PathStore(deal, 6_000, 4, prepared=prep)
    for basis in ("pd", "el"):
        thr = 0.02 if basis == "pd" else 0.002
        a = size_tranche(deal, 0, lambda w, t=thr: t, basis=basis, min_coverage=None, store=store, prune=True)
        b = size_tranche(deal, 0, lambda w, t=thr: t, basis=basis, min_coverage=None, store=store, prune=False)
        assert a.balance == b.balance and a.band == b.band
        assert a.metric == pytest.approx(b.metric, rel=1e-12, abs=1e-15)
        assert sum(t.paths_run for t in a.trials) < sum(t.paths_run for t in b.trials)


# ---- the answer ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("basis,thr", [("pd", 0.01), ("el", 0.001)])
def test_rating_bound_answer_is_the_largest_passing_balance_and_re_simulation_meets_the_target(risky, basis, thr):
    deal, prep = risky
    n, seed = 8_000, 13
    res = size_tranche(deal, "senior", lambda w: thr, basis=basis, min_coverage=None, n_paths=n, seed=seed)
    assert res.binding == "rating" and res.feasible
    assert res.metric <= thr
    assert res.absorbing == "subordinate"
    sized = res.deal.scenario.tranches
    assert sized[0].balance == res.balance
    assert sum(t.balance for t in sized) == pytest.approx(sum(t.balance for t in deal.scenario.tranches))
    assert res.subordination == pytest.approx(1 - res.balance / deal.pool_balance)

    def metric(r):
        x = r.loss[:, 0]
        return (x > 1e-12).mean() if basis == "pd" else x.mean()

    # the same paths: the sized structure's Monte Carlo metric is the trial's, and one tolerance more fails
    again = simulate(res.deal, n, seed, statistics="losses")
    assert metric(again) == pytest.approx(res.metric, rel=1e-12, abs=0)
    above = simulate(with_tranche_balance(deal, 0, res.balance + 10_000.0), n, seed, statistics="losses")
    assert metric(above) > thr
    # other paths: within the error band of the threshold
    other = simulate(res.deal, n, seed + 1, statistics="losses")
    se_star = res.meta["band_se"]
    assert abs(metric(other) - thr) <= 4 * se_star + abs(res.metric - thr)
    lo, hi = res.band
    assert lo <= res.balance <= hi
    # at the band's edges the rating test is at threshold ∓ 2 SE
    t_lo = [t for t in res.trials if t.balance == lo and t.metric is not None]
    assert lo == 0.0 or t_lo[0].metric <= thr - 2 * se_star
    t_hi = [t for t in res.trials if t.balance == hi and t.metric is not None]
    assert t_hi[0].metric <= thr + 2 * se_star


def test_coverage_bound_on_the_ganzhou_deal(ganzhou):
    deal, prep = ganzhou
    res = size_tranche(deal, 0, None, min_coverage=1.2)
    assert res.binding == "coverage"
    assert res.min_coverage >= 1.2
    over = run_batch(with_tranche_balance(deal, 0, res.balance + 10_000.0),
                     ScenarioTable.from_assumptions(deal, [deal.scenario.assumptions]))
    assert over.min_coverage[0] < 1.2
    # the pool pays ≈ 200m at the senior's expected maturity: 1.2× cover leaves ≈ 1/1.2 of it
    assert 150e6 < res.balance < 180e6
    assert res.band == (res.balance, res.balance)  # no Monte Carlo, no error band


def test_coverage_binds_before_a_lenient_rating(ganzhou):
    deal, prep = ganzhou
    store = PathStore(deal, 20_000, 3, prepared=prep)
    res = size_tranche(deal, 0, lambda w: 1e-3, min_coverage=1.2, store=store)
    assert res.binding == "coverage" and res.metric is not None and res.metric <= 1e-3
    # the Monte Carlo ran only where the deterministic tests passed, and at the top of the range (for pruning)
    mc = [t for t in res.trials if t.metric is not None]
    assert all(t.passed["coverage"] for t in mc[1:])


def test_stress_and_largest_obligor_bound(risky):
    deal, prep = risky
    base = deal.scenario.assumptions
    stress = {"defaults x3": base.model_copy(update={"cdr": 0.10, "default_multiplier": 3.0})}
    res = size_tranche(deal, 0, None, min_coverage=None, stresses=stress)
    assert res.binding == "stress"
    ok = run_batch(res.deal, ScenarioTable.from_assumptions(deal, list(stress.values()))).repaid_in_full(0)
    assert ok.all()
    over = with_tranche_balance(deal, 0, res.balance + 10_000.0)
    assert not run_batch(over, ScenarioTable.from_assumptions(deal, list(stress.values()))).repaid_in_full(0).all()
    # three equal obligors of 1m each default at zero recovery: the senior must fit in what is left
    lo = size_tranche(deal, 0, None, min_coverage=None, largest_obligors=3)
    assert lo.binding == "largest_obligor"
    tab = largest_obligor_table(deal, 3)
    assert (tab.obligor_default_period[0] == 0).sum() == 3 and tab.recovery_rate[0] == 0.0
    assert run_batch(lo.deal, tab).repaid_in_full(0)[0]
    assert not run_batch(with_tranche_balance(deal, 0, lo.balance + 10_000.0), tab).repaid_in_full(0)[0]
    # both selected: the stricter binds
    both = size_tranche(deal, 0, None, min_coverage=None, stresses=stress, largest_obligors=3)
    assert both.balance == min(res.balance, lo.balance)
    assert both.binding == ("stress" if res.balance < lo.balance else "largest_obligor")


def test_largest_obligors_are_the_largest_exposures(ganzhou):
    deal, _ = ganzhou
    tab = largest_obligor_table(deal, 2, support=False)
    expo = np.bincount(deal.info.asset_obligor, weights=deal.pool.sched_bal_start[:, 0])
    hit = np.flatnonzero(tab.obligor_default_period[0] == 0)
    assert set(hit) == set(np.argsort(-expo, kind="stable")[:2])
    assert (tab.support_default_period[0] == 0).all()


def test_bounds_and_infeasible(risky):
    deal, prep = risky
    store = PathStore(deal, 3_000, 1, prepared=prep)
    top = size_tranche(deal, 0, lambda w: 0.99, min_coverage=None, store=store)
    assert top.binding == "bounds" and top.balance == 30_000_000.0
    none = size_tranche(deal, 0, lambda w: -1.0, min_coverage=None, store=store, bounds=(1e6, 2e7))
    assert not none.feasible and none.binding == "infeasible"


def test_senior_then_mezzanine():
    deal = three_tranche_deal()
    res = size_tranches(deal, [{"tranche": "senior", "target": lambda w: 0.005},
                               {"tranche": "mezzanine", "target": lambda w: 0.02}],
                        min_coverage=None, n_paths=6_000, seed=2)
    sen, mez = res
    assert sen.absorbing == "subordinate" and mez.absorbing == "subordinate"
    final = mez.deal.scenario.tranches
    assert final[0].balance == sen.balance  # the senior keeps its sized balance
    assert sum(t.balance for t in final) == pytest.approx(sum(t.balance for t in deal.scenario.tranches))
    r = simulate(mez.deal, 6_000, 2, statistics="losses")
    assert (r.loss[:, 0] > 1e-12).mean() <= 0.005 and (r.loss[:, 1] > 1e-12).mean() <= 0.02
    assert mez.subordination == pytest.approx(final[2].balance / deal.pool_balance)


def test_progress_and_cancellation(risky):
    deal, prep = risky
    store = PathStore(deal, 2_000, 1, prepared=prep)
    calls = []
    size_tranche(deal, 0, lambda w: 0.02, min_coverage=None, store=store, progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1][0] == calls[-1][1] and all(d <= t for d, t in calls)

    def stop(done, total):
        if done >= 3:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        size_tranche(deal, 0, lambda w: 0.02, min_coverage=None, store=store, progress=stop)


def test_a_rating_name_is_resolved_lazily_through_rating_threshold(risky, monkeypatch):
    deal, prep = risky
    seen = []

    def rating_threshold(rating, wal_years, **kw):
        seen.append((rating, wal_years, kw))
        return 0.02

    mod = types.ModuleType("ipabs.structuring.ratings")
    mod.rating_threshold = rating_threshold
    target = rating_target(("AAAsf", {"table": "moodys_idealized", "basis": "el"}))
    assert target.basis == "el" and not seen  # nothing resolved yet
    monkeypatch.setitem(sys.modules, "ipabs.structuring.ratings", mod)
    res = size_tranche(deal, 0, ("AAAsf", {"basis": "pd"}), min_coverage=None, n_paths=2_000, seed=1)
    assert seen and seen[0][0] == "AAAsf" and seen[0][2]["basis"] == "pd"
    assert all(w == pytest.approx(res.wal_years) or w > 0 for _, w, _ in seen)
    assert res.threshold == 0.02


# ---- the highest coupon ---------------------------------------------------------------------------------------


def test_highest_coupon_is_repaid_at_the_answer_and_not_just_above(risky):
    deal, _ = risky
    stress = [deal.scenario.assumptions.model_copy(update={"cdr": 0.04})]
    res = max_coupon(deal, "senior", stresses=stress, tol=1e-6)
    assert res.feasible and res.binding in ("base case", "stress 1")
    tab = ScenarioTable.from_assumptions(deal, [deal.scenario.assumptions] + stress)
    from ipabs.structuring.sizing import with_tranche_coupon

    assert run_batch(with_tranche_coupon(deal, 0, res.coupon), tab).repaid_in_full(0).all()
    assert not run_batch(with_tranche_coupon(deal, 0, res.coupon + 2e-6), tab).repaid_in_full(0).all()
    assert res.deal.scenario.tranches[0].coupon == res.coupon
    # a stress can only lower it
    assert res.coupon <= max_coupon(deal, "senior", tol=1e-6).coupon
