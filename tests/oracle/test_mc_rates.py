"""Hull–White index paths in the Monte Carlo (``simulation.rates``; ipabs.prepare.rates, ipabs.kernels.rates).

* The model's pieces against QuantLib: ``c · expm1(B x)`` is QuantLib's ``HullWhite.discountBond`` term-rate change
  R(t, α + x) − R(t, α), and the transition's standard deviation and mean are its ``HullWhiteProcess``'s.
* The simulated fixings' mean and variance against their closed forms (e^{Bx} is lognormal: x ~ N(0, v),
  v = σ²(1 − e^{−2at}) / 2a).
* σ = 0 reproduces the forward-path run bit for bit (every per-path array and sum, both statistics levels, both
  waterfall kernels, one and two threads) although every path then runs from period 0.
* Each path's floating coupon is min(cap, max(floor, fixing + spread)) of the path's own fixing; the floating
  assets' interest moves by performing balance × accrual × rate change; results do not depend on threads.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import QuantLib as ql

from ipabs.api import compile_scenario, load_scenario
from ipabs.engine.montecarlo import simulate
from ipabs.engine.montecarlo import trace_path as engine_trace
from ipabs.errors import ScenarioError
from ipabs.kernels.paths import path_scratch
from ipabs.kernels.paths import trace_path as kernel_trace
from ipabs.prepare.montecarlo import prepare
from ipabs.prepare.rates import term_structure

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "scenarios" / "interbank_abn_2026.toml"
A, SIGMA = 0.05, 0.008
RATES = f"""
[simulation.rates]
model = "hull_white"
mean_reversion = {A}
volatility = {{sigma}}
"""
INDEX = """
[indices.LPR_1Y]
dates = [2026-01-20, 2027-01-20, 2028-01-20]
levels = [0.030, 0.0285, 0.0275]
tenor_years = 1.0
"""


def scenario_text(sigma: float | None, floor: float = 0.015) -> str:
    s = SAMPLE.read_text(encoding="utf-8")
    s = s.replace('coupon = 0.026\namortization = "pass_through"',
                  'coupon = 0.026\namortization = "pass_through"\n'
                  f'floating = {{ index = "LPR_1Y", spread = -0.004, floor = {floor} }}')
    s = s.replace('[pool]\ntape = "tapes/abn_pool.csv"',
                  '[pool]\ntape = "tapes/abn_pool.csv"\n[[pool.floating]]\nindex = "LPR_1Y"\n'
                  'asset_types = ["pledge_loan"]')
    assert "floating = {" in s and "[[pool.floating]]" in s
    if sigma is not None:
        s += RATES.replace("{sigma}", repr(sigma))
    return s + INDEX


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("rates")
    shutil.copytree(ROOT / "scenarios" / "tapes", d / "tapes")
    for name, sigma in (("hw", SIGMA), ("hw0", 0.0), ("fwd", None)):
        (d / f"{name}.toml").write_text(scenario_text(sigma), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def deals(folder):
    return {name: compile_scenario(load_scenario(folder / f"{name}.toml")) for name in ("hw", "hw0", "fwd")}


def test_pieces_match_quantlib(deals):
    deal = deals["hw"]
    rt = prepare(deal).credit.rt
    curve = deal.scenario.indices["LPR_1Y"]
    h = ql.YieldTermStructureHandle(term_structure(curve, deal.scenario.deal.closing_date))
    model = ql.HullWhite(h, A, SIGMA)
    proc = ql.HullWhiteProcess(h, A, SIGMA)
    assert rt.b[0] == pytest.approx((1 - math.exp(-A)) / A, rel=1e-15)
    prev = 0.0
    for g, t in enumerate(rt.time):
        alpha = proc.expectation(0.0, proc.x0(), t)

        def term_rate(r, t=t):
            return (1.0 / model.discountBond(t, t + 1.0, r) - 1.0) / 1.0

        for x in (-0.03, -0.004, 0.0021, 0.02):
            assert rt.c[0, g] * math.expm1(rt.b[0] * x) == pytest.approx(term_rate(alpha + x) - term_rate(alpha),
                                                                         rel=1e-9, abs=1e-15)
        # the exact transition of x = r − α: x_g = e^{−aΔ} x_{g−1} + s_g Z, as QuantLib's process moves r
        dt = t - prev
        assert rt.sd[g] == pytest.approx(SIGMA * math.sqrt((1 - math.exp(-2 * A * dt)) / (2 * A)), rel=1e-12)
        r_prev = proc.expectation(0.0, proc.x0(), prev) if prev > 0 else proc.x0()
        for x in (-0.01, 0.0, 0.015):
            e = proc.expectation(prev, r_prev + x, dt) - alpha
            assert rt.phi[g] * x == pytest.approx(e, abs=1e-12)
        prev = t
    # the forward curve: a stretch of constant level L has simple 1-year forwards L
    ts = term_structure(curve, deal.scenario.deal.closing_date)
    d0 = ql.Date(1, 3, 2028)
    fwd = ts.forwardRate(d0, d0 + ql.Period(1, ql.Years), ql.Actual365Fixed(), ql.Simple).rate()
    assert fwd == pytest.approx(0.0275, abs=1e-6)


def test_fixings_mean_and_variance_closed_form(deals):
    deal = deals["hw"]
    rt = prepare(deal).credit.rt
    n = 40_000
    r = simulate(deal, n_paths=n, statistics="losses")
    assert r.index_levels.shape == (n, deal.n_periods, 1)
    for t in (3, 7, deal.n_periods - 1):
        g = rt.out_g[t, 0]
        tt = rt.time[g]
        v = SIGMA**2 * (1 - math.exp(-2 * A * tt)) / (2 * A)
        b, c, lv = rt.b[0], rt.c[0, g], rt.out_lv[t, 0]
        mean = lv + c * (math.exp(b * b * v / 2) - 1)
        var = c * c * (math.exp(b * b * v) - 1) * math.exp(b * b * v)
        x = r.index_levels[:, t, 0].astype(np.float64)
        assert abs(x.mean() - mean) < 4 * math.sqrt(var / n) + 1e-7
        assert x.var() == pytest.approx(var, rel=0.05)
    # a fixing on or before closing is the forward level itself
    assert rt.out_g[0, 0] == -1
    assert np.all(r.index_levels[:, 0, 0] == np.float32(rt.out_lv[0, 0]))


_FIELDS = ("loss", "short", "wal", "yld", "pool_default_rate", "pool_loss_rate", "support_draw", "support_default",
           "first_default", "h_bal", "h_cash")


def _same(a, b) -> list[str]:
    bad = [f for f in _FIELDS if not np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True)]
    return bad + [f for f in ("s_int", "s_prin", "s_bal", "s_pool") if getattr(a, f) != getattr(b, f)]


@pytest.mark.parametrize("statistics", ["full", "losses"])
def test_zero_volatility_reproduces_forward_run(deals, statistics):
    ref = simulate(deals["fwd"], n_paths=3000, statistics=statistics, threads=1)
    assert ref.index_levels is None
    for kernel in ("specialised", "general"):
        for threads in (1, 2):
            r = simulate(deals["hw0"], n_paths=3000, statistics=statistics, threads=threads, waterfall_kernel=kernel)
            assert r.index_levels is not None
            assert _same(r, ref) == [], (kernel, threads)


def test_paths_move_and_do_not_depend_on_threads(deals):
    a = simulate(deals["hw"], n_paths=3000, threads=1)
    b = simulate(deals["hw"], n_paths=3000, threads=2, chunk=1024)
    g = simulate(deals["hw"], n_paths=3000, threads=1, waterfall_kernel="general")
    assert _same(a, b) == [] and _same(a, g) == []
    assert np.array_equal(a.index_levels, b.index_levels)
    lean = simulate(deals["hw"], n_paths=3000, threads=2, statistics="losses")  # decision 012: the same losses
    for f in ("loss", "short", "pool_default_rate", "pool_loss_rate", "support_draw", "index_levels"):
        assert np.array_equal(getattr(lean, f), getattr(a, f)), f
    fwd = simulate(deals["fwd"], n_paths=3000, threads=1)
    k = deals["hw"].names.tranches.index("优先A2")
    # the floating tranche's yield now varies with the index on paths without any default
    nodef = a.first_default == deals["hw"].n_periods
    assert nodef.sum() > 100
    assert np.std(a.yld[nodef, k]) > 1e-4 and np.std(fwd.yld[nodef, k]) == 0.0
    # and it rises with the path's average fixing
    assert np.corrcoef(a.index_levels[nodef, 1:6, 0].mean(axis=1), a.yld[nodef, k])[0, 1] > 0.9


def test_path_coupons_and_asset_interest(deals):
    deal = deals["hw"]
    prep = prepare(deal)
    rt = prep.credit.rt
    k = deal.names.tranches.index("优先A2")
    spread, floor = -0.004, 0.015
    sim = simulate(deal, n_paths=200, threads=1, statistics="losses")
    fwd_prep = prepare(deals["hw0"])
    nyf = deal.waterfall.note_yf
    hit_floor = 0
    for p in range(0, 200, 7):
        tr = engine_trace(deal, deal.scenario.simulation.seed, p, prepared=prep)
        w = tr.waterfall
        bal_start = np.concatenate([[deal.waterfall.tr_bal0[k]], w.tr_bal_end[:-1, k]])
        for t in range(deal.n_periods):
            if bal_start[t] <= 1.0 or w.tr_int_short[t, k] > 0:
                continue
            coupon = w.tr_int_paid[t, k] / (bal_start[t] * nyf[t])
            expect = max(float(sim.index_levels[p, t, 0]) + spread, floor)
            hit_floor += expect == floor
            assert coupon == pytest.approx(expect, abs=2e-7)  # the recorded fixing is float32
        # floating assets: the pool's interest moves by Σ performing balance × accrual × rate change
        x = path_scratch(prep.d, prep.credit, prep.stats)
        from ipabs.compile.arrays import empty_pool_flows, empty_waterfall_out

        n = deal.names
        outs = []
        for pr in (prep, fwd_prep):
            pf = empty_pool_flows(deal.n_periods)
            out = empty_waterfall_out(deal.n_periods, len(n.tranches), len(n.fees), len(n.accounts), len(n.supports))
            xx = path_scratch(pr.d, pr.credit, pr.stats)
            kernel_trace(np.uint64(deal.scenario.simulation.seed), np.int64(p),
                         pr.d._replace(tr_rate=pr.d.tr_rate.copy()), pr.pa, pr.credit, pr.stats, pf, out, xx)
            outs.append((pf, xx))
        (pf_hw, x), (pf_0, _) = outs
        expect = np.zeros(deal.n_periods)
        for j in range(rt.fa_a.shape[0]):
            t, a, g = rt.fa_t[j], rt.fa_a[j], rt.fa_g[j]
            if x.a_def[a] <= t or g < 0:
                continue
            fix = rt.fa_lv[j] + rt.c[rt.fa_i[j], g] * math.expm1(rt.b[rt.fa_i[j]] * x.xr[g])
            expect[t] += rt.fa_w[j] * (fix + rt.fa_m[j] - rt.fa_r0[j])
        assert np.allclose(pf_hw.interest - pf_0.interest, expect, rtol=1e-9, atol=1e-6)
        assert np.any(expect != 0.0)
    assert hit_floor > 0  # some paths' fixings fall below the floor (σ = 80 bp): the floor binds


def test_validation_and_sizing_refusal(folder, deals):
    bad = scenario_text(SIGMA).replace("tenor_years = 1.0\n", "")
    (folder / "no_tenor.toml").write_text(bad, encoding="utf-8")
    with pytest.raises(ScenarioError, match="tenor_years"):
        compile_scenario(load_scenario(folder / "no_tenor.toml"))
    from ipabs.structuring.sizing import PathStore

    with pytest.raises(ScenarioError, match="simulation.rates"):
        PathStore(deals["hw"], n_paths=100)
    from ipabs.structuring.sizing import max_coupon

    with pytest.raises(ScenarioError, match="floats"):  # its fixed coupon is unused: no search over it
        max_coupon(deals["fwd"], "优先A2")


def test_cli_writes_the_index_paths(folder, tmp_path, capsys):
    import json

    import openpyxl
    import pandas as pd

    from ipabs.cli import main

    out = tmp_path / "out"
    assert main(["run", str(folder / "hw.toml"), "--paths", "1000", "--lang", "zh", "--report", "--out",
                 str(out)]) == 0
    assert "index paths: Hull–White, a = 0.05, σ = 0.008" in capsys.readouterr().out
    ix = pd.read_parquet(out / "index_paths.parquet")
    assert list(ix["period"]) == list(range(1, 13)) and set(ix["index"]) == {"LPR_1Y"}
    assert ix["forward"].iloc[0] == ix["p5"].iloc[0] == ix["p95"].iloc[0] == 0.03  # fixed at closing
    assert (ix["p95"] - ix["p5"]).iloc[-1] > 0.01
    doc = json.loads((out / "summary.json").read_text("utf-8"))
    assert doc["monte_carlo"]["rate_model"] == {"model": "hull_white", "mean_reversion": A, "volatility": SIGMA}
    assert len(doc["monte_carlo"]["index_paths"]) == 12
    ws = openpyxl.load_workbook(out / "cashflows.xlsx")["基准利率路径"]
    assert [c.value for c in ws[1]][:4] == ["基准利率", "期数", "定盘日", "远期路径"]
    assert ws.cell(row=2, column=4).number_format == "0.00%"
    html = (out / "report.html").read_text("utf-8")
    assert "基准利率路径" in html and "chart-index" in html


def test_a_rebased_deal_keeps_its_floating_assets_from_the_report_date(deals):
    """Surveillance: the floating instalments move with the rebased periods (and are scaled like the asset)."""
    from ipabs.surveillance import read_servicer_report, read_trustee_report, rebase
    from ipabs.surveillance.synthetic import make_reports

    t0 = 3
    rebased = {}
    for name in ("hw", "hw0", "fwd"):
        deal = deals[name]
        rep = make_reports(deal, t0, exact=True)
        rebased[name] = rebase(deal, read_servicer_report(rep.servicer), read_trustee_report(rep.trustee),
                               as_of=rep.as_of).deal
    terms = deals["hw"].info.floating_terms
    new = rebased["hw"].info.floating_terms
    assert len(new) == sum(1 for x in terms if x[1] >= t0)
    assert all(0 <= x[1] < rebased["hw"].n_periods for x in new)
    assert [x[1] + t0 for x in new] == [x[1] for x in terms if x[1] >= t0]
    ref = simulate(rebased["fwd"], n_paths=2000, threads=1)
    assert _same(simulate(rebased["hw0"], n_paths=2000, threads=1), ref) == []
    r = simulate(rebased["hw"], n_paths=2000, threads=1)
    assert r.index_levels.shape == (2000, rebased["hw"].n_periods, 1)
    assert len(np.unique(r.index_levels[:, 0, 0])) == 1 and r.index_levels[:, -1, 0].std() > 0.001


@pytest.mark.slow
def test_two_dask_workers_give_the_same_index_paths_and_results(deals):
    from ipabs.engine.cluster import open_client
    from ipabs.engine.distributed import simulate_distributed

    single = simulate(deals["hw"], n_paths=6000, seed=5, threads=1)
    with open_client(workers=2) as client:
        dist = simulate_distributed(deals["hw"], 6000, 5, client=client, n_chunks=5)
    assert _same(dist, single) == []
    assert np.array_equal(dist.index_levels, single.index_levels)
    assert dist.meta["indices"] == ["LPR_1Y"]
