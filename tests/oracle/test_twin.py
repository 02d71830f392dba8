"""The numba kernels and the pure-Python reference twin agree to the fen on whole paths (STYLE §2 item 16).

Every sample deal in scenarios/ is run under its base assumptions and under stresses (high CDR, a cumulative default
rate with a timing vector, the largest obligors defaulting, the support provider defaulting, triggers firing, a
clean-up call); then hypothesis draws random small deals. Kernel side: :func:`ipabs.engine.deterministic.run_path`
(or the kernels directly for explicit recoveries); twin side: :func:`ipabs.reference.waterfall.run_path`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealgen import deals, examples
from ipabs.api import load_scenario
from ipabs.compile.arrays import empty_pool_flows, empty_waterfall_out
from ipabs.compile.lower import CompiledDeal, compile_deal, performing_flows
from ipabs.engine.deterministic import asset_default_periods, run_path, support_default_periods
from ipabs.kernels.pool import apply_defaults
from ipabs.kernels.waterfall import run_waterfall
from ipabs.reference import waterfall as twin
from ipabs.reference.pool import POOL_FIELDS
from ipabs.scenario.io import parse_scenario

FEN = 0.01
STATE_INDEX = {name: i for i, name in enumerate(twin.STATES)}


def deal_scenarios(scenarios_dir) -> list:
    import tomllib

    return sorted(p for p in scenarios_dir.glob("*.toml") if "deal" in tomllib.loads(p.read_text("utf-8")))


def _twin_arrays(deal: CompiledDeal, res: twin.PathResult) -> dict[str, np.ndarray]:
    n = deal.names
    per = res.periods

    def grid(attr: str, names) -> np.ndarray:
        return np.array([[getattr(p, attr)[x] for x in names] for p in per], dtype=float).reshape(len(per), len(names))

    return {
        "tr_int_due": grid("interest_due", n.tranches),
        "tr_int_paid": grid("interest_paid", n.tranches),
        "tr_int_short": grid("interest_shortfall", n.tranches),
        "tr_prin_due": grid("principal_due", n.tranches),
        "tr_prin_paid": grid("principal_paid", n.tranches),
        "tr_bal_end": grid("balance_end", n.tranches),
        "tr_resid": grid("residual", n.tranches),
        "fee_due": grid("fee_due", n.fees),
        "fee_paid": grid("fee_paid", n.fees),
        "acct_bal": grid("account_balance", n.accounts),
        "sup_draw": grid("support_draw", n.supports),
        "cash_in": np.array([p.cash_in for p in per]),
        "state": np.array([STATE_INDEX[p.state] for p in per]),
        "called": np.array([int(p.called) for p in per]),
        "coverage": np.array([-1.0 if p.coverage is None else p.coverage for p in per]),
        "cum_def_ratio": np.array([p.cumulative_default_ratio for p in per]),
    }


def assert_agree(deal: CompiledDeal, pf, out, res: twin.PathResult, label: str = "") -> None:
    """Every pool and waterfall output of kernel and twin within a fen (ratios within 1e-9 relative)."""
    for name in POOL_FIELDS:
        k, r = getattr(pf, name), np.array(getattr(res.pool, name))
        np.testing.assert_allclose(k, r, rtol=0, atol=FEN, err_msg=f"{label} pool.{name}")
    tw = _twin_arrays(deal, res)
    # the inputs of a deal-state decision before the decision itself
    order = sorted(tw, key=lambda x: x in ("state", "called"))
    for name in order:
        r = tw[name]
        k = getattr(out, name)
        assert k.shape == r.shape, f"{label} {name}: shape {k.shape} vs {r.shape}"
        if name in ("state", "called"):
            np.testing.assert_array_equal(k, r, err_msg=f"{label} {name}")
        elif name in ("coverage", "cum_def_ratio"):
            np.testing.assert_allclose(k, r, rtol=1e-9, atol=1e-12, err_msg=f"{label} {name}")
        else:
            np.testing.assert_allclose(k, r, rtol=0, atol=FEN, err_msg=f"{label} {name}")


def kernel_and_twin(deal: CompiledDeal, assumptions=None):
    a = assumptions or deal.scenario.assumptions
    pf, out = run_path(deal, a, asset_default_periods(deal, a), support_default_periods(deal))
    return pf, out, twin.run_path(deal, a)


def restated(compiled: CompiledDeal, /, **tables) -> CompiledDeal:
    """The deal with some scenario tables changed (dict updates merged into the dumped scenario)."""
    d = compiled.scenario.model_dump()
    for key, value in tables.items():
        if isinstance(value, dict) and isinstance(d.get(key), dict):
            d[key] = {**d[key], **value}
        else:
            d[key] = value
    return compile_deal(parse_scenario(d), compiled.info.frame)


def largest_obligors(deal: CompiledDeal, n: int) -> list[str]:
    exposure: dict[str, float] = {}
    for i, b in enumerate(deal.pool.sched_bal_start[:, 0]):
        o = deal.info.obligor_ids[int(deal.info.asset_obligor[i])]
        exposure[o] = exposure.get(o, 0.0) + float(b)
    return sorted(exposure, key=lambda o: -exposure[o])[:n]


def stresses(deal: CompiledDeal) -> dict[str, CompiledDeal]:
    """Named stressed variants of a sample deal."""
    s = deal.scenario
    n_t = deal.n_periods
    top = largest_obligors(deal, 3)
    base_a = {"cdr": 0.0, "cumulative_default_rate": None, "default_timing": []}
    out = {
        "base": deal,
        "high CDR": restated(deal, assumptions={**base_a, "cdr": 0.35, "recovery_rate": 0.3,
                                                "recovery_lag_periods": 1, "cpr": 0.05}),
        "cumulative default rate with timing": restated(deal, assumptions={
            **base_a, "cumulative_default_rate": 0.4, "default_timing": [1.0, 2.0, 3.0][:n_t],
            "recovery_rate": 0.2, "recovery_lag_periods": 2}),
        "largest three obligors default": restated(deal, assumptions={
            "obligor_defaults": [{"obligor_id": o, "period": min(1 + i, n_t)} for i, o in enumerate(top)],
            "recovery_rate": 0.25, "recovery_lag_periods": 1}),
        "largest obligor defaults, stressed prepayments": restated(deal, assumptions={
            "obligor_defaults": [{"obligor_id": top[0], "period": min(2, n_t)}], "cpr": 0.3,
            "cpr_multiplier": 1.5, "default_multiplier": 3.0}),
        "clean-up call at 40% with prepayments": restated(
            deal, deal={"clean_up_call": 0.4}, assumptions={"cpr": 0.8}),
        "triggers on a date and on coverage fire": restated(deal, triggers=[
            *[t.model_dump() for t in s.triggers],
            {"name": "date", "condition": "on_date", "date": deal.schedule.payment_dates[min(1, n_t - 1)],
             "effect": "accelerated"},
            {"name": "coverage", "condition": "coverage_ratio", "threshold": 5.0, "effect": "post_default",
             "curable": True}]),
    }
    if s.support:
        out["support provider defaults in period 2"] = restated(deal, support=[
            {**x.model_dump(), "default_period": min(2, n_t)} for x in s.support],
            assumptions={"cdr": 0.25, "recovery_rate": 0.1})
        out["support capped low"] = restated(deal, support=[
            {**x.model_dump(), "cap": 1_000_000.0} for x in s.support], assumptions={
            "obligor_defaults": [{"obligor_id": o, "period": 1} for o in top]})
    return out


@pytest.fixture(scope="module")
def sample_deals(scenarios_dir) -> dict[str, CompiledDeal]:
    from ipabs.api import compile_scenario

    return {p.stem: compile_scenario(load_scenario(p)) for p in deal_scenarios(scenarios_dir)}


def test_every_sample_scenario_is_covered_by_the_twin_check(sample_deals):
    assert len(sample_deals) >= 4, sorted(sample_deals)


@pytest.mark.slow
def test_kernel_and_twin_agree_to_the_fen_on_every_sample_deal_under_base_and_stressed_assumptions(sample_deals):
    n_checked = 0
    fired = set()
    for stem, deal in sample_deals.items():
        for label, variant in stresses(deal).items():
            pf, out, res = kernel_and_twin(variant)
            assert_agree(variant, pf, out, res, f"{stem} / {label}")
            fired.update(int(x) for x in out.state)
            n_checked += 1
            if label.startswith("clean-up"):
                assert out.called.sum() == 1, f"{stem}: the clean-up call never happened"
    assert fired >= {0, 1, 2}, "the stresses should drive deals through every state"
    assert n_checked >= 4 * 7


@pytest.mark.slow
def test_kernel_and_twin_agree_on_explicit_asset_defaults_and_recoveries(sample_deals):
    """The Monte Carlo feeds per-asset default periods and recoveries: check that entry point on random draws."""
    rng = np.random.default_rng(20260415)
    for stem, deal in sample_deals.items():
        a = deal.scenario.assumptions
        pa = performing_flows(deal.pool, a, deal.waterfall.yf)
        n_a, n_t = len(deal.info.asset_ids), deal.n_periods
        for _ in range(5):
            tau = rng.integers(0, n_t + 3, size=n_a)
            rec_amt = np.where(tau < n_t, rng.uniform(0, 1) * pa.a_bal_start[np.arange(n_a), np.minimum(tau, n_t - 1)],
                               0.0)
            rec_t = np.where(tau < n_t, tau + rng.integers(0, 3, size=n_a), n_t)
            sup_t = rng.integers(0, n_t + 1, size=len(deal.names.supports))
            pf = empty_pool_flows(n_t)
            apply_defaults(pa, tau.astype(np.int64), rec_amt, rec_t.astype(np.int64), pf)
            out = empty_waterfall_out(n_t, len(deal.names.tranches), len(deal.names.fees),
                                      len(deal.names.accounts), len(deal.names.supports))
            run_waterfall(deal.waterfall, pf, sup_t.astype(np.int64), out)
            ids = deal.info.asset_ids
            res = twin.run_path(
                deal, a,
                default_period={x: (int(t) if t < n_t else None) for x, t in zip(ids, tau, strict=True)},
                recovery=({x: float(v) for x, v in zip(ids, rec_amt, strict=True)},
                          {x: int(t) for x, t in zip(ids, rec_t, strict=True)}),
                support_default_period={x: (int(t) if t < n_t else None)
                                        for x, t in zip(deal.names.supports, sup_t, strict=True)})
            assert_agree(deal, pf, out, res, stem)


@pytest.mark.slow
@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deals())
def test_kernel_and_twin_agree_to_the_fen_on_random_deals(rd):
    deal = rd.compile()
    pf, out, res = kernel_and_twin(deal)
    assert_agree(deal, pf, out, res)


def test_twin_pool_sums_surviving_assets_rather_than_subtracting_defaulted_ones():
    """A two-asset pool where asset B defaults in period 1: the pool is asset A alone from period 2 on."""
    from ipabs.reference.pool import ContractAsset, fixed_recoveries, performing_flows, pool_flows
    from ipabs.scenario.schema import Assumptions

    a = ContractAsset("A", "OA", [100.0, 100.0, 50.0], [1.0, 1.0, 0.5], [0.0, 50.0, 50.0])
    b = ContractAsset("B", "OB", [200.0, 200.0, 200.0], [2.0, 2.0, 2.0], [0.0, 0.0, 200.0])
    perf = performing_flows([a, b], Assumptions(), [0.25, 0.25, 0.25])
    taus = {"A": None, "B": 1}
    amt, per = fixed_recoveries(perf, taus, 0.5, 1)
    pool = pool_flows(perf, taus, amt, per, 0.5, 1)
    assert pool.interest == [3.0, 1.0, 0.5]
    assert pool.principal == [0.0, 50.0, 50.0]
    assert pool.defaults == [0.0, 200.0, 0.0]
    assert pool.recoveries == [0.0, 0.0, 100.0]
    assert pool.bal_start == [300.0, 300.0, 50.0]
    assert pool.bal_end == [300.0, 50.0, 0.0]


def test_twin_allocation_is_sequential_or_pro_rata_and_never_pays_a_negative_cap():
    assert twin.allocate(100.0, [60.0, 60.0], pro_rata=False) == [60.0, 40.0]
    assert twin.allocate(100.0, [60.0, 140.0], pro_rata=True) == [30.0, 70.0]
    assert twin.allocate(500.0, [60.0, 140.0], pro_rata=True) == [60.0, 140.0]
    assert twin.allocate(100.0, [-5.0, 50.0], pro_rata=True) == [0.0, 50.0]
    assert twin.allocate(0.0, [10.0], pro_rata=True) == [0.0]


def test_twin_bullet_target_is_zero_from_the_first_payment_date_on_or_after_expected_maturity():
    from ipabs.scenario.schema import Tranche

    tr = Tranche(name="A", seniority="senior", balance=100.0, amortization="bullet",
                 expected_maturity=dt.date(2026, 9, 1))
    dates = [dt.date(2026, 7, 20), dt.date(2026, 10, 20), dt.date(2027, 1, 20)]
    assert [twin.target_balance(tr, t, dates, dates[-1]) for t in range(3)] == [100.0, 0.0, 0.0]


def test_kernel_and_twin_agree_with_hypothesis_draws_of_per_asset_default_periods(sample_deals):
    deal = sample_deals[sorted(sample_deals)[0]]

    @settings(max_examples=examples(15), deadline=None)
    @given(st.lists(st.integers(0, deal.n_periods), min_size=len(deal.info.asset_ids),
                    max_size=len(deal.info.asset_ids)))
    def check(taus):
        a = deal.scenario.assumptions
        tau = np.array(taus, dtype=np.int64)
        pf, out = run_path(deal, a, tau, support_default_periods(deal))
        res = twin.run_path(deal, a, default_period={
            x: (t if t < deal.n_periods else None) for x, t in zip(deal.info.asset_ids, taus, strict=True)})
        assert_agree(deal, pf, out, res)

    check()
