"""Sales-linked royalties (``simulation.revenue_risk``, issue 3 item 3): firm-level lognormal sales indices.

Checked against the pure-Python twin (``ipabs.reference``: the index written from its formula, the pool summed
asset by asset, the waterfall), against the closed-form mean E[S_t] = e^(μ t), and for the contracts of the
engine: a zero volatility or a floor = cap = 1 changes no bit, threads and chunks change no bit, and less drift
never means more cash.
"""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from test_mc_paths import assert_identical

from ipabs import api
from ipabs.engine.montecarlo import prepare, simulate, trace_path
from ipabs.errors import ScenarioError
from ipabs.kernels.normal import norm_ppf
from ipabs.kernels.rng import STREAM_REVENUE, uniform
from ipabs.reference import pool as ref_pool
from ipabs.reference import waterfall as twin

ROOT = Path(__file__).resolve().parents[2]
LICENCE = ROOT / "scenarios" / "licence_relicence_2026.toml"
DATA = tomllib.loads(LICENCE.read_text("utf-8"))


def licence(revenue_risk: dict | None, **simulation) -> api.CompiledDeal:
    """Scenario (b) with the given revenue risk table (None = none) and simulation settings."""
    d = copy.deepcopy(DATA)
    d["simulation"].pop("revenue_risk", None)
    if revenue_risk is not None:
        d["simulation"]["revenue_risk"] = revenue_risk
    d["simulation"].update(simulation)
    return api.compile_scenario(api.load_scenario(LICENCE, data=d))


@pytest.fixture(scope="module")
def no_revenue_risk():
    return licence(None)


def test_the_sample_licence_scenario_has_sales_linked_royalties():
    deal = api.compile_scenario(api.load_scenario(LICENCE))
    rr = deal.scenario.simulation.revenue_risk
    assert rr is not None and rr.floor == 0.7 and "rare_earth_tungsten" in rr.by_sector
    assert len(prepare(deal).credit.rev_asset) == len(deal.info.asset_ids)  # every asset is a royalty licence


@pytest.mark.slow
@pytest.mark.parametrize("rr", [{"volatility": 0.0, "drift": 0.0}, {"volatility": 0.4, "drift": -0.3, "floor": 1.0,
                                                                      "cap": 1.0}])
def test_an_index_that_is_always_one_changes_no_bit(no_revenue_risk, rr):
    # every path now runs its waterfall from period 0 (no restart from the no-default path): the same bits
    deal = licence(rr)
    assert_identical(simulate(no_revenue_risk, 5_000, 11), simulate(deal, 5_000, 11))


def _sector_params(deal, asset: int, rr: dict) -> tuple[float, float]:
    sector = deal.info.obligor_industry[int(deal.info.asset_obligor[asset])]
    p = rr.get("by_sector", {}).get(sector, rr)
    return p["volatility"], p.get("drift", 0.0)


@pytest.mark.slow
def test_a_traced_path_equals_the_twin_fed_the_same_normals_defaults_and_recoveries():
    rr = {"volatility": 0.3, "drift": 0.01, "floor": 0.2, "cap": 1.6,
          "by_sector": {"rare_earth_tungsten": {"volatility": 0.5, "drift": -0.1}, "nev": {"volatility": 0.0}}}
    deal = licence(rr)
    a = deal.scenario.assumptions.model_copy(update={"default_multiplier": 15.0})  # paths with defaults too
    prep = prepare(deal, a)
    a_perf = a.model_copy(update={"cdr": 0.0, "cumulative_default_rate": None, "default_timing": [],
                                  "obligor_defaults": []})
    yfs = [float(x) for x in deal.schedule.year_fractions]
    n_t, seed = deal.n_periods, 77
    ids = deal.info.asset_ids
    res_mc = simulate(deal, 40, seed, assumptions=a)
    pa = prep.pa
    sched = pa.a_int + pa.a_prin - pa.a_prepay
    with_defaults = 0
    for p in range(40):
        tr = trace_path(deal, seed, p, prepared=prep)
        index = {}
        for i, aid in enumerate(ids):
            o = int(deal.info.asset_obligor[i])
            z = [norm_ppf(uniform(np.uint64(seed), np.int64(p), STREAM_REVENUE, o * n_t + t)) for t in range(n_t)]
            vol, drift = _sector_params(deal, i, rr)
            index[aid] = ref_pool.sales_index(yfs, vol, drift, rr["floor"], rr["cap"], z)
        tau = {aid: (int(t) if t < n_t else None) for aid, t in zip(ids, tr.asset_default_period, strict=True)}
        rec = ({aid: float(x) for aid, x in zip(ids, tr.recovery_amount, strict=True)},
               {aid: (int(t) if t < n_t else None) for aid, t in zip(ids, tr.recovery_period, strict=True)})
        res = twin.run_path(deal, a_perf, default_period=tau, recovery=rec, support_default_period={},
                            sales_index=index)
        assert np.allclose(tr.pool.interest, res.pool.interest, rtol=0, atol=1e-6)
        assert np.allclose(tr.pool.principal, res.pool.principal, rtol=0, atol=1e-6)
        for k, name in enumerate(deal.names.tranches):
            paid = [per.interest_paid.get(name, 0.0) + per.principal_paid.get(name, 0.0) for per in res.periods]
            kern = tr.waterfall.tr_int_paid[:, k] + tr.waterfall.tr_prin_paid[:, k]
            assert np.allclose(kern[:len(paid)], paid, rtol=0, atol=0.01), (p, name)
            assert abs(tr.waterfall.tr_bal_end[-1, k] - res.periods[-1].balance_end[name]) <= 0.01
        # the path's royalty shortfall against schedule, over the periods each asset performs
        short = sum((1.0 - index[aid][t]) * sched[i, t] for i, aid in enumerate(ids)
                    for t in range(min(int(tr.asset_default_period[i]), n_t)))
        assert res_mc.revenue_shortfall_rate[p] == pytest.approx(short / deal.pool_balance, rel=1e-9, abs=1e-15)
        with_defaults += int(tr.asset_default_period.min() < n_t)
    assert with_defaults >= 5


@pytest.mark.slow
def test_mean_royalty_collections_follow_the_drift_with_no_defaults():
    vol, drift, n = 0.35, -0.08, 40_000
    deal = licence({"volatility": vol, "drift": drift})
    a = deal.scenario.assumptions.model_copy(update={"default_multiplier": 0.0})
    res = simulate(deal, n, 3, assumptions=a)
    pa = prepare(deal, a).pa
    tau = np.cumsum(deal.schedule.year_fractions)
    obl = deal.info.asset_obligor
    mean_interest = np.array([row[0] for row in res.s_pool]) / 100.0 / n
    for t in range(deal.n_periods):
        sched = pa.a_int[:, t]
        if sched.sum() <= 0:
            continue
        growth = math.exp(drift * tau[t])
        by_firm = np.bincount(obl, weights=sched)
        se = math.sqrt((by_firm**2).sum() * growth**2 * math.expm1(vol**2 * tau[t]) / n) + 0.005
        assert abs(mean_interest[t] - sched.sum() * growth) < 4.5 * se, t
    # the pool's expected royalty shortfall: Σ_t scheduled_t (1 − e^(μ τ_t)) / B₀
    pool = res.pool_stats()
    sched_all = (pa.a_int + pa.a_prin - pa.a_prepay).sum(axis=0)
    expected = float((sched_all * -np.expm1(drift * tau)).sum()) / deal.pool_balance
    assert abs(pool["revenue_shortfall_mean"] - expected) < 4.5 * pool["revenue_shortfall_se"]
    assert pool["revenue_shortfall_mean"] > 0 and set(pool["revenue_shortfall_quantiles_se"]) == {
        f"q{q:g}" for q in (0.05, 0.5, 0.9, 0.95, 0.99, 0.999)}


@pytest.mark.slow
def test_less_drift_never_brings_more_cash_on_any_path_and_raises_the_junior_expected_loss():
    lo = simulate(licence({"volatility": 0.2, "drift": -0.15}), 10_000, 5)
    hi = simulate(licence({"volatility": 0.2, "drift": 0.05}), 10_000, 5)
    assert np.array_equal(lo.first_default, hi.first_default)  # common random numbers: the same defaults
    assert np.all(lo.loss >= hi.loss - 1e-12)
    assert lo.loss[:, -1].mean() > hi.loss[:, -1].mean()
    assert sum(r[0] for r in lo.s_pool) < sum(r[0] for r in hi.s_pool)


@pytest.mark.slow
def test_results_with_revenue_risk_do_not_depend_on_threads_or_chunks():
    deal = api.compile_scenario(api.load_scenario(LICENCE))
    runs = [simulate(deal, 12_000, 9, threads=1), simulate(deal, 12_000, 9, threads=2, chunk=4096),
            simulate(deal, 12_000, 9, threads=2, chunk=5_000)]
    for r in runs[1:]:
        assert_identical(runs[0], r)


def test_a_sector_not_on_the_tape_is_an_error_naming_the_table_and_key():
    with pytest.raises(ScenarioError) as e:
        licence({"volatility": 0.1, "by_sector": {"rare_earth": {"volatility": 0.3}}})
    msg = str(e.value)
    assert "simulation.revenue_risk.by_sector" in msg and "rare_earth" in msg and "rare_earth_tungsten" in msg


@pytest.mark.parametrize("bad, where", [
    ({"volatility": 0.1, "asset_types": ["royalty"]}, "asset_types"),
    ({"volatility": -0.1}, "volatility"),
    ({"volatility": 0.1, "cap": 0.5}, "cap"),
    ({"volatility": 0.1, "floor": 1.5}, "floor"),
    ({"drift": 0.0}, "volatility"),
    ({"volatility": 0.1, "by_sector": {"nev": {"vol": 0.2}}}, "vol"),
])
def test_bad_revenue_risk_tables_are_refused_with_the_key_named(bad, where):
    with pytest.raises(ScenarioError) as e:
        licence(bad)
    assert where in str(e.value) and "revenue_risk" in str(e.value)
