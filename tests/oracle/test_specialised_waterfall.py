"""The waterfall generated for a deal's structure (ipabs.compile.codegen, decision 013) against the general kernel.

The general kernel (``waterfall_periods``) is the reference; the generated one must give the same numbers bit for
bit: period by period on arbitrary pool flows (kernel level, every feature of the random deals), and in whole Monte
Carlo runs (every sample scenario, both statistics levels, with and without the restart shortcut).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numba as nb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealgen import SYNTHETIC_MC_VARIANTS, deals, examples, with_and_without_restart
from ipabs.api import compile_scenario, load_scenario
from ipabs.compile.arrays import PoolFlows, empty_waterfall_out
from ipabs.compile.codegen import pack_parameters, specialised_waterfall, waterfall_source
from ipabs.credit.synthetic import synthetic_deal
from ipabs.engine.montecarlo import prepare, simulate, trace_path
from ipabs.kernels.callptr import call_waterfall, call_waterfall_stats
from ipabs.kernels.waterfall import REC_NONE, REC_TRANCHES, waterfall_periods, waterfall_start, waterfall_work

ROOT = Path(__file__).resolve().parents[2]
ROWS = ("tr_int_paid", "tr_int_short", "tr_prin_paid", "tr_bal_end", "tr_resid", "sup_draw")
STATE = ("acct", "bal", "short", "fee_carry", "sup_left", "scal", "track")


@nb.njit
def _general(d, pf, sup, out, w, cuts, rec):
    waterfall_start(d, w)
    for i in range(cuts.shape[0] - 1):
        waterfall_periods(d, pf, sup, out, w, cuts[i], cuts[i + 1], rec)


@nb.njit
def _specialised(addr, par, d, pf, sup, out, w, cuts, rec):
    waterfall_start(d, w)
    for i in range(cuts.shape[0] - 1):
        call_waterfall(addr, pf.interest, pf.principal, pf.recoveries, pf.defaults, pf.bal_start, pf.bal_end, par,
                       w.acct, w.bal, w.short, w.fee_carry, w.sup_left, w.scal, w.track, sup, out.tr_int_paid,
                       out.tr_int_short, out.tr_prin_paid, out.tr_bal_end, out.tr_resid, out.sup_draw, cuts[i],
                       cuts[i + 1], rec)


def bits(a) -> bytes:
    return np.ascontiguousarray(a).view(np.uint8).tobytes()


def compare_on_flows(deal, d, sw, pf, sup, cuts, rec) -> None:
    n_t = deal.n_periods
    shape = (n_t, len(deal.names.tranches), len(deal.names.fees), len(deal.names.accounts), len(deal.names.supports))
    o1, o2 = empty_waterfall_out(*shape), empty_waterfall_out(*shape)
    w1, w2 = waterfall_work(d), waterfall_work(d)
    _general(d, pf, sup, o1, w1, cuts, np.int64(rec))
    _specialised(np.int64(sw.address), sw.params, d, pf, sup, o2, w2, cuts, np.int64(rec))
    for name in STATE:
        assert bits(getattr(w1, name)) == bits(getattr(w2, name)), name
    if rec == REC_TRANCHES:
        for name in ROWS:
            assert bits(getattr(o1, name)) == bits(getattr(o2, name)), name


def perturbed_flows(pf: PoolFlows, rng: np.random.Generator) -> PoolFlows:
    """Pool flows scaled period by period (0–1.3×): shortfalls, trigger breaches and clean-up calls happen."""
    n = pf.interest.shape[0]
    f = rng.uniform(0.0, 1.3, size=(4, n))
    return PoolFlows(pf.interest * f[0], pf.principal * f[1], pf.prepayment.copy(), pf.defaults * f[2] + 1e5 * f[3],
                     pf.recoveries * f[3], pf.bal_start.copy(), pf.bal_end * f[2])


@settings(max_examples=examples(30), deadline=None, suppress_health_check=list(HealthCheck))
@given(deals(), st.integers(0, 2**31 - 1))
def test_random_deals_period_by_period_on_perturbed_pool_flows(rd, seed):
    deal = rd.compile_mc(default_pd=0.1)
    prep = prepare(deal)
    d = prep.d
    sw = specialised_waterfall(d)
    rng = np.random.default_rng(seed)
    n_t = deal.n_periods
    n_s = len(deal.names.supports)
    for p in range(3):
        pf = trace_path(deal, seed, p, prepared=prep).pool
        if p:
            pf = perturbed_flows(pf, rng)
        sup = rng.integers(0, n_t + 1, size=n_s).astype(np.int64)
        cut = int(rng.integers(1, n_t)) if n_t > 1 else 1
        for cuts in (np.array([0, n_t]), np.array([0, cut, n_t])):
            for rec in (REC_NONE, REC_TRANCHES):
                compare_on_flows(deal, d, sw, pf, sup, cuts.astype(np.int64), rec)


def deal_scenarios() -> list[Path]:
    return sorted(p for p in (ROOT / "scenarios").glob("*.toml") if "deal" in tomllib.loads(p.read_text("utf-8")))


def assert_same_result(a, b) -> None:
    for name in ("loss", "short", "wal", "yld", "pool_default_rate", "pool_loss_rate", "support_draw",
                 "support_default", "first_default", "revenue_shortfall_rate", "h_bal", "h_cash"):
        x, y = getattr(a, name), getattr(b, name)
        assert bits(x) == bits(y), name
    for name in ("s_int", "s_prin", "s_bal", "s_pool"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.meta["waterfall_kernel"] == "general" and b.meta["waterfall_kernel"] == "specialised"


@pytest.mark.parametrize("path", deal_scenarios(), ids=lambda p: p.stem)
@pytest.mark.parametrize("statistics", ["full", "losses"])
def test_every_sample_scenario_gives_the_same_monte_carlo_bit_for_bit(path, statistics):
    deal = compile_scenario(load_scenario(path))
    prep = prepare(deal)
    gen = simulate(deal, 2_000, 7, prepared=prep, statistics=statistics, waterfall_kernel="general")
    spec = simulate(deal, 2_000, 7, prepared=prep, statistics=statistics)
    assert_same_result(gen, spec)


@pytest.mark.parametrize("kw", list(SYNTHETIC_MC_VARIANTS.values()), ids=list(SYNTHETIC_MC_VARIANTS))
def test_synthetic_deals_with_and_without_the_restart_shortcut(kw):
    deal = synthetic_deal(n_obligors=30, **kw)
    for p in with_and_without_restart(deal):
        for statistics in ("full", "losses"):
            assert_same_result(simulate(deal, 3_000, 3, prepared=p, statistics=statistics, waterfall_kernel="general"),
                               simulate(deal, 3_000, 3, prepared=p, statistics=statistics))


@settings(max_examples=examples(10), deadline=None, suppress_health_check=list(HealthCheck))
@given(deals())
def test_random_deals_give_the_same_monte_carlo(rd):
    deal = rd.compile_mc(default_pd=0.08)
    prep = prepare(deal)
    assert_same_result(simulate(deal, 500, 5, prepared=prep, waterfall_kernel="general"),
                       simulate(deal, 500, 5, prepared=prep))


def test_the_source_names_no_amount_so_a_resized_deal_reuses_it():
    """Balances, coupons and schedules are parameters: changing them keeps the source (and the compiled
    function); changing the structure (here: a fee) changes it."""
    a = prepare(synthetic_deal(n_obligors=20)).d
    b = a._replace(tr_bal0=a.tr_bal0 * 0.7, tr_coupon=a.tr_coupon + 0.01, tr_target=a.tr_target * 0.5)
    assert waterfall_source(a) == waterfall_source(b)
    assert waterfall_source(a, stats=True) == waterfall_source(b, stats=True)
    assert specialised_waterfall(a).key == specialised_waterfall(b).key
    assert specialised_waterfall(a, stats=True).key == specialised_waterfall(b, stats=True).key
    assert not np.array_equal(pack_parameters(a), pack_parameters(b))
    c = prepare(synthetic_deal(n_obligors=20, fees=True)).d
    assert waterfall_source(c) != waterfall_source(a)


def test_unknown_kernel_is_refused():
    deal = synthetic_deal(n_obligors=5)
    with pytest.raises(ValueError, match="waterfall_kernel"):
        simulate(deal, 10, 1, waterfall_kernel="fast")


def test_cli_run_records_the_waterfall_and_both_kernels_write_the_same_summary(tmp_path, capsys):
    import json

    from ipabs.cli import main

    docs = {}
    for kernel in ("specialised", "general"):
        out = tmp_path / kernel
        rc = main(["run", str(ROOT / "scenarios" / "ganzhou_pledge_2026.toml"), "--paths", "1500", "--seed", "4",
                   "--waterfall-kernel", kernel, "--out", str(out), "--quiet"])
        assert rc == 0
        docs[kernel] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        assert docs[kernel]["provenance"]["mc_engine"]["waterfall_kernel"] == kernel
    assert docs["specialised"]["tranches"] == docs["general"]["tranches"]


def test_call_waterfall_refuses_arrays_the_c_function_would_misread():
    import numba

    @numba.njit
    def call(x):
        call_waterfall(0, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, 0, 0, 0)

    with pytest.raises((TypeError, numba.core.errors.TypingError), match="C-contiguous"):
        call(np.zeros(3, dtype=np.float32))


def test_call_waterfall_stats_refuses_histograms_of_another_type():
    """The statistics version's histograms are uint16: int64 counts would be misread by the C function."""
    import numba

    @numba.njit
    def call(x, i, h):
        call_waterfall_stats(0, x, x, x, x, x, x, x, x, x, x, x, x, x, x, i, x, x, x, x, x, x, 0, 0, 0, x, x, x, x,
                             x, x, x, x, x, x, i, x, x, x, x, i, i, i, h, h, i, i, i, i, 0)

    with pytest.raises((TypeError, numba.core.errors.TypingError), match="C-contiguous"):
        call(np.zeros(3), np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int64))


def test_when_the_generated_waterfall_cannot_be_built_the_run_warns_and_uses_the_general_kernel(monkeypatch):
    import ipabs.engine.montecarlo as mc

    deal = synthetic_deal(n_obligors=12, fees=True)
    prep = prepare(deal)
    ref = simulate(deal, 800, 2, prepared=prep, waterfall_kernel="general")

    def unavailable(d, stats=False):  # noqa: ARG001
        raise OSError("no writable directory for generated waterfall sources")

    monkeypatch.setattr(mc, "specialised_waterfall", unavailable)
    with pytest.warns(RuntimeWarning, match="general kernel"):
        res = simulate(deal, 800, 2, prepared=prep)
    assert res.meta["waterfall_kernel"] == "general" and "no writable directory" in res.meta["waterfall_note"]
    assert bits(res.loss) == bits(ref.loss) and bits(res.yld) == bits(ref.yld)


def test_tranche_fees_on_the_collection_periods_opening_balances_bit_for_bit():
    """``conventions.fee_balance = "collection_period_start"`` on the sample deal with a tranche_balance fee and
    collection periods ending before the payment dates: the generated waterfall carries the previous period's
    balances (``scal[3:]``) like the general kernel, period by period on perturbed flows and cut anywhere, and in
    whole Monte Carlo runs with and without the restart shortcut."""
    from test_twin import restated

    base = compile_scenario(load_scenario(ROOT / "scenarios" / "interbank_abn_2026.toml"))
    deal = restated(base, deal={"collection": {"payment_lag_days": 10},
                                "conventions": {"fee_balance": "collection_period_start"}})
    d0 = prepare(base).d
    assert deal.waterfall.fee_bal_lag[1:].all() and not deal.waterfall.fee_bal_lag[0]
    assert "bp0" in waterfall_source(prepare(deal).d) and "bp0" not in waterfall_source(d0)
    prep = prepare(deal)
    d = prep.d
    sw = specialised_waterfall(d)
    rng = np.random.default_rng(3)
    n_t = deal.n_periods
    for p in range(3):
        pf = trace_path(deal, 3, p, prepared=prep).pool
        if p:
            pf = perturbed_flows(pf, rng)
        sup = rng.integers(0, n_t + 1, size=len(deal.names.supports)).astype(np.int64)
        for cuts in (np.array([0, n_t]), np.array([0, 1, 2, n_t]), np.array([0, n_t // 2, n_t])):
            for rec in (REC_NONE, REC_TRANCHES):
                compare_on_flows(deal, d, sw, pf, sup, cuts.astype(np.int64), rec)
    results = []
    for p in with_and_without_restart(deal):
        g = simulate(deal, 1_000, 5, prepared=p, waterfall_kernel="general")
        s = simulate(deal, 1_000, 5, prepared=p)
        assert_same_result(g, s)
        results.append(g)
    assert bits(results[0].loss) == bits(results[1].loss)
