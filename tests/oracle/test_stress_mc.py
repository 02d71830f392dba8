"""Stress grids on the Monte Carlo: common random numbers (the base cell is a plain ``simulate`` bit for bit), cells
that change the scenario equal a recompiled deal, and what monotonicity in the default multiplier holds per path.

Per path, with one seed, a higher PD multiplier raises every obligor's default thresholds while its latent
variable, haircut and lag draws stay the same, so every obligor defaults no later (and the set of defaulters only
grows) — tested on every sample deal. Tranche losses follow path by path when nothing else moves with the default
time: with zero recoveries and no trigger that switches the waterfall, each period's pool cash can only fall. With
recoveries, an earlier default brings its recovery forward (sometimes from after legal maturity to before it), and
an earlier trigger redirects cash; a junior tranche can then lose less on that path (shown below). In aggregate the
expected loss still rises (tested with the paired standard error)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ipabs.api import compile_scenario, load_scenario
from ipabs.compile.lower import compile_deal
from ipabs.credit.synthetic import synthetic_deal
from ipabs.engine.montecarlo import prepare, simulate, trace_path
from ipabs.kernels.defaults import default_periods_paths
from ipabs.structuring.stress import (
    StressGrid,
    StressResult,
    cell_deal,
    grid_cells,
    run_cells,
    run_stress_grid,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
SAMPLES = ["ganzhou_pledge_2026", "interbank_abn_2026", "ip_lease_2026", "licence_relicence_2026"]
N, SEED = 3_000, 20261206


def load(name: str):
    loaded = load_scenario(SCENARIOS / f"{name}.toml")
    return loaded, compile_scenario(loaded)


@pytest.fixture(scope="module")
def lease():
    return load("ip_lease_2026")


def same_bits(x: np.ndarray, y: np.ndarray) -> bool:
    return x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x.view(np.uint8), y.view(np.uint8))


def test_base_cell_is_a_plain_simulate_bit_for_bit(lease):
    _, deal = lease
    g = StressGrid(default_multiplier=(1.0, 2.0), recovery_haircut=(0.0, 0.3))
    res = run_stress_grid(deal, g, engine="mc", n_paths=N, seed=SEED, keep_paths=True)
    plain = simulate(deal, N, SEED, statistics="losses")
    base = res.mc[0]
    for name in ("loss", "short", "pool_default_rate", "pool_loss_rate", "support_draw", "support_default"):
        assert same_bits(getattr(base, name), getattr(plain, name)), name
    rows = res.table[res.table["cell"] == 0]
    assert list(rows["expected_loss"]) == [s["expected_loss"] for s in plain.tranche_stats()]
    assert list(rows["default_probability_se"]) == [s["default_probability_se"] for s in plain.tranche_stats()]
    assert (res.table["n_paths"] == N).all() and (res.table["seed"] == SEED).all()
    assert len(res.table) == 4 * len(deal.names.tranches)
    # every other cell with the same seed equals a plain simulate with that cell's assumptions
    c = res.cells[3]
    other = simulate(deal, N, SEED, statistics="losses", prepared=prepare(cell_deal(deal, c), c.assumptions))
    assert same_bits(res.mc[3].loss, other.loss)


def test_a_grid_split_into_cell_ranges_gives_the_same_table(lease):
    _, deal = lease
    g = StressGrid(default_multiplier=(1.0, 3.0), support_default=(False, True))
    whole = run_cells(deal, grid_cells(deal, g), engine="mc", n_paths=1_000, seed=SEED)
    parts = StressResult.concat([run_cells(deal, range(0, 1), engine="mc", n_paths=1_000, seed=SEED, grid=g),
                                 run_cells(deal, range(1, 4), engine="mc", n_paths=1_000, seed=SEED, grid=g)])
    assert whole.table.equals(parts.table)


def test_correlation_and_haircut_cells_equal_a_recompiled_scenario(lease):
    loaded, deal = lease
    (c,) = grid_cells(deal, StressGrid(correlation=(0.35,), recovery_haircut=(0.3,)))
    res = run_cells(deal, [c], engine="mc", n_paths=N, seed=SEED, keep_paths=True)
    s = deal.scenario
    sim = s.simulation.model_copy(update={"correlation": 0.35,
                                          "disposal_cost_rate": 1 - (1 - s.simulation.disposal_cost_rate) * 0.7})
    recompiled = compile_deal(s.model_copy(update={"simulation": sim}), loaded.tape.assets)
    ref = simulate(recompiled, N, SEED, statistics="losses", assumptions=c.assumptions)
    assert same_bits(res.mc[0].loss, ref.loss) and same_bits(res.mc[0].pool_loss_rate, ref.pool_loss_rate)
    assert res.mc[0].meta["correlation"] == 0.35


@pytest.mark.parametrize("model", ["ip_disposal", "fixed_rate"])
def test_the_recovery_haircut_scales_every_recovery_on_a_path(lease, model):
    loaded, deal = lease
    if model == "fixed_rate":
        s = deal.scenario
        deal = compile_deal(s.model_copy(update={"simulation": s.simulation.model_copy(
            update={"recovery_model": "fixed_rate"})}), loaded.tape.assets)
    (b, h) = grid_cells(deal, StressGrid(recovery_haircut=(0.0, 0.3)))
    pb, ph = prepare(cell_deal(deal, b), b.assumptions), prepare(cell_deal(deal, h), h.assumptions)
    checked = 0
    for p in range(200):
        tb, th = trace_path(deal, SEED, p, prepared=pb), trace_path(deal, SEED, p, prepared=ph)
        assert np.array_equal(tb.asset_default_period, th.asset_default_period)
        d = tb.asset_default_period < deal.n_periods
        np.testing.assert_allclose(th.recovery_amount[d], 0.7 * tb.recovery_amount[d], rtol=1e-12)
        checked += int(d.sum())
    assert checked > 0


def test_support_default_cell_puts_every_provider_in_default_on_every_path():
    _, deal = load("ganzhou_pledge_2026")
    res = run_stress_grid(deal, StressGrid(support_default=(False, True)), engine="mc", n_paths=1_000, seed=SEED,
                          keep_paths=True)
    assert res.mc[1].support_default.all() and not res.mc[1].support_draw.any()
    assert res.mc[0].support_default.mean() < 0.05


@pytest.mark.parametrize("name", SAMPLES)
def test_per_path_every_obligor_defaults_no_later_under_a_higher_multiplier(name):
    _, deal = load(name)
    a = deal.scenario.assumptions
    out = []
    for m in (1.0, 1.5, 3.0):
        c = prepare(deal, a.model_copy(update={"default_multiplier": m})).credit
        o = np.empty((N, c.th_row.shape[0]), dtype=np.int64)
        default_periods_paths(np.uint64(SEED), np.int64(0), c.thresholds, c.th_row, c.group, c.g_a, c.g_s, c.g_b,
                              c.g_sector, c.g_cmax, np.int64(c.n_sectors), c.dof, o)
        out.append(o)
    assert (out[1] <= out[0]).all() and (out[2] <= out[1]).all()
    assert (out[2] < out[0]).any()
    r1 = simulate(deal, N, SEED, statistics="losses")
    r3 = simulate(deal, N, SEED, statistics="losses", assumptions=a.model_copy(update={"default_multiplier": 3.0}))
    assert (r3.pool_default_rate >= r1.pool_default_rate).all()


def per_path_losses(deal, mults=(1.0, 2.0), n=N):
    res = run_stress_grid(deal, StressGrid(default_multiplier=mults), engine="mc", n_paths=n, seed=SEED,
                          keep_paths=True)
    return [r.loss for r in res.mc]


@pytest.mark.parametrize("kw", [{}, {"amortization": "bullet"}, {"fees": True, "cleanup": 0.1},
                                {"copula": "student_t", "degrees_of_freedom": 4.0, "recovery_model": "ip_disposal"}],
                         ids=["level", "bullet", "fees+cleanup", "student_t+ip"])
def test_per_path_tranche_losses_are_monotone_with_zero_recovery(kw):
    deal = synthetic_deal(n_obligors=30, recovery_rate=0.0, **kw)
    l1, l2 = per_path_losses(deal)
    assert (l2 >= l1 - 1e-12).all(), (l2 - l1).min(axis=0)
    assert (l2 > l1 + 1e-9).any()


@pytest.mark.parametrize("name", ["interbank_abn_2026", "ip_lease_2026", "licence_relicence_2026"])
def test_per_path_monotone_on_sample_deals_without_recoveries_or_triggers(name):
    loaded, deal = load(name)
    s = deal.scenario
    s0 = s.model_copy(update={"assumptions": s.assumptions.model_copy(update={"recovery_rate": 0.0}),
                              "simulation": s.simulation.model_copy(update={"recovery_model": "fixed_rate"}),
                              "triggers": []})
    l1, l2 = per_path_losses(compile_deal(s0, loaded.tape.assets))
    assert (l2 >= l1 - 1e-12).all(), (l2 - l1).min(axis=0)


def test_with_recoveries_a_path_can_lose_less_but_the_expected_loss_rises(lease):
    """The weaker sense: with recoveries and triggers, per-path monotonicity fails for the subordinate tranche on
    some paths (earlier defaults bring recoveries forward and fire the acceleration trigger earlier), while the
    expected loss of every tranche rises by more than twice its paired standard error or stays put."""
    _, deal = lease
    l1, l2 = per_path_losses(deal)
    d = l2 - l1
    assert (d < -1e-9).any(axis=0)[deal.names.tranches.index("次级")]
    mean, se = d.mean(axis=0), d.std(axis=0, ddof=1) / np.sqrt(d.shape[0])
    assert (mean >= -2 * se).all() and (mean > 0).all()


def test_mc_cells_report_progress_per_cell(lease):
    _, deal = lease
    seen = []
    run_stress_grid(deal, StressGrid(default_multiplier=(1.0, 2.0)), engine="mc", n_paths=500, seed=1,
                    progress=lambda d, n: seen.append((d, n)))
    assert seen[-1] == (2, 2) and all(n == 2 for _, n in seen)


def test_cell_deal_leaves_the_compiled_arrays_shared(lease):
    _, deal = lease
    (c,) = grid_cells(deal, StressGrid(correlation=(0.3,)))
    d2 = cell_deal(deal, c)
    assert d2.waterfall is deal.waterfall and d2.pool is deal.pool
    assert d2.scenario.simulation.correlation == 0.3 and deal.scenario.simulation.correlation != 0.3
    assert dataclasses.replace(d2, scenario=deal.scenario).scenario is deal.scenario


def test_support_default_and_haircut_cells_keep_every_tape_obligor_s_default_times():
    """Common random numbers across cells that change the scenario: forcing the providers into default (their PD set
    to 1, which can add them to the copula) or cutting recoveries leaves every tape obligor's default period on
    every path as in the base cell."""
    _, deal = load("ganzhou_pledge_2026")
    cells = grid_cells(deal, StressGrid(support_default=(False, True), recovery_haircut=(0.0, 0.3)))
    n_tape = len(deal.info.obligor_ids)
    preps = [prepare(cell_deal(deal, c), c.assumptions) for c in cells]
    for p in range(0, 300, 3):
        traces = [trace_path(deal, SEED, p, prepared=pr) for pr in preps]
        for t in traces[1:]:
            assert np.array_equal(t.obligor_default_period[:n_tape], traces[0].obligor_default_period[:n_tape])
        assert [bool((t.support_default_period == 0).all()) for t in traces][1::2] == [True, True]  # cells 1, 3
