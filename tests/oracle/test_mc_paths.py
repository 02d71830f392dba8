"""The Monte Carlo engine path by path: the same kernels as the deterministic engine, common random numbers, and
the reproducibility contract (threads, chunk sizes, split path ranges, the restart shortcut)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from ipabs.api import compile_scenario, load_scenario
from ipabs.credit.synthetic import synthetic_deal
from ipabs.engine.deterministic import run_deterministic_arrays
from ipabs.engine.montecarlo import MCResult, merge, prepare, simulate, trace_path
from ipabs.kernels.paths import fen

ROOT = Path(__file__).resolve().parents[2]
PER_PATH = ("loss", "short", "wal", "yld", "pool_default_rate", "pool_loss_rate", "support_draw", "support_default",
            "first_default")
SUMS = ("h_bal", "h_cash", "s_int", "s_prin", "s_bal", "s_pool")


def assert_identical(a: MCResult, b: MCResult) -> None:
    """Every per-path array and every sum, bit for bit."""
    assert a.n_paths == b.n_paths and a.path0 == b.path0 and a.seed == b.seed
    for name in PER_PATH + SUMS:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x.view(np.uint8), y.view(np.uint8)), name
        else:
            assert x == y, name


def _with_fixed_recoveries(deal):
    sim = deal.scenario.simulation.model_copy(update={"recovery_model": "fixed_rate"})
    return dataclasses.replace(deal, scenario=deal.scenario.model_copy(update={"simulation": sim}))


@pytest.fixture(scope="module")
def scenario_a():
    return compile_scenario(load_scenario(ROOT / "scenarios" / "ganzhou_pledge_2026.toml"))


@pytest.fixture(scope="module")
def rich_synthetic():
    """60 monthly periods, amortising loans, a fee and a clean-up call."""
    return synthetic_deal(n_obligors=50, fees=True, cleanup=0.1)


def _deterministic_twin(deal, tr, assumptions):
    """The deterministic engine fed the path's default times (cdr 0, fixed-rate recoveries)."""
    ids = deal.info.obligor_ids
    od = [{"obligor_id": ids[i], "period": int(t) + 1} for i, t in enumerate(tr.obligor_default_period[:len(ids)])
          if t < deal.n_periods]
    a = type(assumptions).model_validate({**assumptions.model_dump(), "cdr": 0.0, "cumulative_default_rate": None,
                                          "default_timing": [], "obligor_defaults": od})
    support = [x.model_copy(update={"default_period": int(t) + 1 if t < deal.n_periods else 0})
               for x, t in zip(deal.scenario.support, tr.support_default_period, strict=True)]
    twin = dataclasses.replace(deal, scenario=deal.scenario.model_copy(update={"support": support}))
    return run_deterministic_arrays(twin, a)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["scenario_a", "rich_synthetic"])
def test_a_monte_carlo_path_fed_its_default_times_equals_the_deterministic_run_to_the_fen(which, request):
    deal = _with_fixed_recoveries(request.getfixturevalue(which))
    n, seed = 200, 4242
    res = simulate(deal, n, seed)
    prep = prepare(deal)
    a = deal.scenario.assumptions
    s_int = np.zeros((deal.n_periods, len(deal.names.tranches)), dtype=np.int64)
    s_pool = np.zeros((deal.n_periods, 5), dtype=np.int64)
    tested = 0
    cache: dict = {}
    for p in range(n):
        tr = trace_path(deal, seed, p, prepared=prep)
        key = (tr.obligor_default_period.tobytes(), tr.support_default_period.tobytes())
        if key not in cache:  # paths without defaults share one deterministic run
            cache[key] = _deterministic_twin(deal, tr, a)
        pf, out = cache[key]
        for t in range(deal.n_periods):
            for k in range(len(deal.names.tranches)):
                s_int[t, k] += fen(out.tr_int_paid[t, k])
            s_pool[t] += [fen(pf.interest[t]), fen(pf.principal[t]), fen(pf.defaults[t]), fen(pf.recoveries[t]),
                          fen(pf.bal_end[t])]
        # the traced path is the engine's path, and the deterministic run agrees with both to the fen
        assert np.array_equal(tr.pool.interest, pf.interest) and np.array_equal(tr.waterfall.tr_bal_end, out.tr_bal_end)
        face = deal.waterfall.tr_bal0
        assert np.all(np.abs(res.loss[p] * face - out.tr_bal_end[-1]) <= 0.01)
        assert abs(res.pool_default_rate[p] * deal.pool_balance - pf.defaults.sum()) <= 0.01
        assert abs(res.support_draw[p] - out.sup_draw.sum()) <= 0.01
        assert res.short[p].tolist() == [int((out.tr_int_short[:, k] > 0.005).any()) for k in range(len(face))]
        prin = out.tr_prin_paid
        wal = np.where(prin.sum(0) > 0, (prin * np.cumsum(deal.waterfall.yf)[:, None]).sum(0) / np.maximum(
            prin.sum(0), 1e-300), 0.0)
        assert np.allclose(res.wal[p], wal, rtol=1e-12, atol=1e-12)
        tested += int(tr.asset_default_period.min() < deal.n_periods)
    assert tested >= 10  # enough paths with defaults to mean something
    assert np.array_equal(np.array(res.s_int), s_int)  # exact integer sums over paths
    assert np.array_equal(np.array(res.s_pool), s_pool)


@pytest.mark.slow
def test_higher_pd_never_lowers_any_tranche_loss_on_any_path(rich_synthetic):
    deal = synthetic_deal(n_obligors=50)  # sequential, no triggers: losses are monotone in defaults
    a = deal.scenario.assumptions
    base = simulate(deal, 20_000, 99)
    stressed = simulate(deal, 20_000, 99, assumptions=a.model_copy(update={"default_multiplier": 1.5}))
    assert np.all(stressed.first_default <= base.first_default)
    assert np.all(stressed.pool_default_rate >= base.pool_default_rate - 1e-12)
    assert np.all(stressed.loss >= base.loss - 1e-12)
    assert stressed.loss[:, 1].mean() > base.loss[:, 1].mean()


@pytest.mark.slow
def test_results_are_bit_identical_for_one_and_two_threads_and_any_chunk_size(rich_synthetic):
    runs = [simulate(rich_synthetic, 20_000, 5, threads=1), simulate(rich_synthetic, 20_000, 5, threads=2),
            simulate(rich_synthetic, 20_000, 5, threads=2, chunk=4096),
            simulate(rich_synthetic, 20_000, 5, threads=1, chunk=3 * 4096)]
    for r in runs[1:]:
        assert_identical(runs[0], r)


@pytest.mark.slow
def test_a_split_path_range_merged_equals_the_whole_run(scenario_a):
    whole = simulate(scenario_a, 30_000, 17, path0=1000)
    parts = [simulate(scenario_a, m, 17, path0=1000 + lo) for lo, m in ((0, 1), (1, 9_999), (10_000, 20_000))]
    merged = merge(list(reversed(parts)))
    assert_identical(whole, merged)
    with pytest.raises(ValueError):
        merge([parts[0], parts[2]])


@pytest.mark.slow
@pytest.mark.parametrize("which", ["scenario_a", "rich_synthetic"])
def test_restarting_paths_from_the_no_default_path_changes_no_bit(which, request):
    deal = request.getfixturevalue(which)
    prep = prepare(deal)
    assert prep.base.restart_ok == 1
    full = dataclasses.replace(prep, base=prep.base._replace(restart_ok=0, wound_up=deal.n_periods))
    assert_identical(simulate(deal, 20_000, 3, prepared=prep), simulate(deal, 20_000, 3, prepared=full))


def test_outputs_are_finite_and_statistics_are_consistent(scenario_a):
    res = simulate(scenario_a, 5_000, 1)
    for name in ("loss", "wal", "yld", "pool_default_rate", "pool_loss_rate", "support_draw"):
        assert np.all(np.isfinite(getattr(res, name))), name
    assert np.all((res.loss >= 0) & (res.loss <= 1))
    assert res.h_bal.sum() == res.h_cash.sum() == res.n_paths * scenario_a.n_periods * len(scenario_a.names.tranches)
    stats = res.tranche_stats()
    assert stats[1]["expected_loss"] >= stats[0]["expected_loss"]
    assert stats[1]["expected_loss_se"] == pytest.approx(res.loss[:, 1].std(ddof=1) / math.sqrt(res.n_paths))
    # the summary's quantile standard errors are those of MCResult.quantiles()
    q = res.quantiles().set_index(["series", "statistic", "q"])["se"]
    name = scenario_a.names.tranches[1]
    assert stats[1]["loss_quantiles_se"]["q0.99"] == q[(name, "loss", 0.99)]
    assert stats[1]["wal_percentiles_se"]["p95"] == q[(name, "wal", 0.95)]
    assert stats[1]["yield_mean_se"] == pytest.approx(res.yld[:, 1].std(ddof=1) / math.sqrt(res.n_paths))
    assert res.meta["copula"] == "gaussian" and res.meta["rng"] == "philox4x32-10"


def test_the_student_t_copula_fattens_the_pool_loss_tail():
    gauss = synthetic_deal(n_obligors=100, n_periods=20, frequency="quarterly")
    t4 = synthetic_deal(n_obligors=100, n_periods=20, frequency="quarterly", copula="student_t",
                        degrees_of_freedom=4.0)
    rg, rt = simulate(gauss, 20_000, 11), simulate(t4, 20_000, 11)
    assert rt.meta["copula"] == "student_t" and rt.meta["degrees_of_freedom"] == 4.0
    # same marginal PDs: the mean default rate agrees; the tail does not
    se = math.hypot(rg.pool_default_rate.std(), rt.pool_default_rate.std()) / math.sqrt(20_000)
    assert abs(rg.pool_default_rate.mean() - rt.pool_default_rate.mean()) < 5 * se
    q = np.quantile(rg.pool_default_rate, 0.99)
    assert (rt.pool_default_rate > q).mean() > 1.5 * (rg.pool_default_rate > q).mean()


@pytest.mark.slow
def test_quantile_standard_errors_match_the_spread_over_independent_seeds():
    deal = synthetic_deal(n_obligors=50)
    runs = [simulate(deal, 20_000, seed) for seed in range(100, 112)]
    for q in (0.5, 0.99):
        values = [float(np.quantile(r.pool_default_rate, q)) for r in runs]
        table = runs[0].quantiles((q,))
        se = float(table[(table.series == "pool") & (table.statistic == "default_rate")].se.iloc[0])
        spread = float(np.std(values, ddof=1))
        # the spread of 12 replicates estimates the true SE within about ±40% (chi-square, 11 dof, 2 sigma)
        assert 0.5 * spread < se < 2.0 * spread, (q, se, spread)


def test_path_yields_solve_the_price_equation(rich_synthetic):
    deal = rich_synthetic
    res = simulate(deal, 300, 8)
    prep = prepare(deal)
    tau = np.cumsum(deal.waterfall.yf)
    f = 12.0
    checked = 0
    for p in range(0, 300, 7):
        w = trace_path(deal, 8, p, prepared=prep).waterfall
        for k, face in enumerate(deal.waterfall.tr_bal0):
            cf = 100 * (w.tr_int_paid[:, k] + w.tr_prin_paid[:, k] + w.tr_resid[:, k]) / face
            y = res.yld[p, k]
            assert np.sum(cf * (1 + y / f) ** (-f * tau)) == pytest.approx(100.0, rel=1e-11)
            checked += 1
    assert checked > 80


def test_student_t_needs_its_degrees_of_freedom_and_the_gaussian_refuses_them():
    from ipabs.credit.synthetic import SyntheticSpec, synthetic_scenario_data
    from ipabs.errors import ScenarioError
    from ipabs.scenario.io import parse_scenario

    data = synthetic_scenario_data(SyntheticSpec(copula="student_t"))
    with pytest.raises(ScenarioError, match="degrees_of_freedom"):
        parse_scenario(data)
    data = synthetic_scenario_data(SyntheticSpec(degrees_of_freedom=5.0))
    with pytest.raises(ScenarioError, match="degrees_of_freedom"):
        parse_scenario(data)


def test_a_progress_callback_can_cancel_a_run(rich_synthetic):
    from ipabs.errors import Cancelled

    seen = []

    def stop(done, total):
        seen.append(done)
        raise Cancelled("stop")

    with pytest.raises(Cancelled):
        simulate(rich_synthetic, 200_000, 1, threads=2, chunk=4096, progress=stop)
    assert seen and seen[0] < 200_000


@pytest.mark.parametrize("n_periods", [60, 240])
def test_path_yields_equal_path_yield_on_the_traced_cash_flows(n_periods):
    """Per path and tranche, the engine's yield is path_yield of the traced cash flows, bit for bit: at 60 periods
    the Monte Carlo solves them eight at a time (ipabs.kernels.yields lanes, with the base path's prefix); at 240
    periods (20 years) a discount factor could overflow on the bracket, the lanes are refused, and it solves them
    two at a time (path_yield2). Either way the per-period sums and histograms count every path."""
    from ipabs.kernels.yields import path_yield, yield_lanes

    deal = synthetic_deal(n_obligors=30, n_periods=n_periods, fees=True, cleanup=0.1)
    prep = prepare(deal)
    si = prep.stats
    assert yield_lanes(2, n_periods, si).ok[0] == (1 if n_periods == 60 else 0)
    res = simulate(deal, 203, 8, prepared=prep, threads=1)  # not a multiple of eight: the last lanes are flushed
    pw = np.empty(si.inc_val.shape[0])
    solved = 0
    n_k = len(deal.waterfall.tr_bal0)
    s_int = np.zeros((n_periods, n_k), dtype=np.int64)
    s_bal = np.zeros((n_periods, n_k), dtype=np.int64)
    for p in range(res.n_paths):
        w = trace_path(deal, 8, p, prepared=prep).waterfall
        s_int += np.floor(w.tr_int_paid * 100.0 + 0.5).astype(np.int64)
        s_bal += np.floor(w.tr_bal_end * 100.0 + 0.5).astype(np.int64)
        for k, face in enumerate(deal.waterfall.tr_bal0):
            cf = (w.tr_int_paid[:, k] + w.tr_prin_paid[:, k] + w.tr_resid[:, k]) / face * 100.0
            want = path_yield(cf, si.tau_years, si.price[k], si.freq, si.inc_idx, si.inc_val, si.inc_units, si.unit,
                              pw)
            got = res.yld[p, k]
            assert np.float64(got).view(np.int64) == np.float64(want).view(np.int64), (p, k, got, want)
            solved += 1
    assert solved == 2 * 203
    # the per-period sums and histograms hold every path, with or without the lanes (the base path's contributions
    # are added per block in both cases)
    assert np.array_equal(np.array(res.s_int), s_int) and np.array_equal(np.array(res.s_bal), s_bal)
    assert (res.h_bal.sum(axis=2) == 203).all() and (res.h_cash.sum(axis=2) == 203).all()
