"""Scenario default rates and BDR against SDR (ipabs.structuring.sdr): the quantile rule on hand samples, the
one-factor Gaussian large-pool closed form (Vasicek), the pass/fail logic and implied rating on hand numbers, and
the tranche metrics of a real Monte Carlo run."""

from __future__ import annotations

import importlib.util
import math
from statistics import NormalDist
from types import SimpleNamespace

import numpy as np
import pytest

from ipabs.credit.synthetic import synthetic_deal
from ipabs.engine.montecarlo import cumulative_pd, simulate
from ipabs.errors import ScenarioError
from ipabs.structuring.ratings import rating_threshold, tranche_ratings
from ipabs.structuring.sdr import (
    MIN_TAIL_PATHS,
    ScenarioDefaultRate,
    bdr_sdr_table,
    bdr_vs_sdr,
    pool_wal,
    scenario_default_rates,
    sdr_from_sample,
)

N01 = NormalDist()


def _fake_mc(n: int = 1000, tranches: tuple[str, ...] = ("A", "B")):
    """An MCResult stand-in: pool default rates 0, 1/n, …, (n − 1)/n; tranche A never defaults, B on 5 % of paths."""
    loss = np.zeros((n, len(tranches)))
    loss[: n // 20, -1] = 1.0
    return SimpleNamespace(n_paths=n, loss=loss, short=np.zeros_like(loss, dtype=np.int8),
                           wal=np.full_like(loss, 10.0), statistics="full", pool_default_rate=np.arange(n) / n,
                           deal=SimpleNamespace(names=SimpleNamespace(tranches=tranches)))


# ---- the SDR rule -------------------------------------------------------------------------------------------------
def test_sdr_is_the_quantile_at_one_minus_the_target_pd():
    x = np.arange(1000) / 1000
    v, se, lo, hi = sdr_from_sample(x, 0.05)
    assert v == pytest.approx(np.quantile(x, 0.95)) and lo <= v <= hi and se == pytest.approx((hi - lo) / 2)
    # ranks n·q ∓ √(n q (1 − q)) = 950 ∓ 6.9: order statistics 943 and 956 (0-based 943, 956)
    assert (lo, hi) == (0.943, 0.956)
    with pytest.raises(ScenarioError):
        sdr_from_sample(x, 1.5)


def test_sdrs_use_the_table_pd_at_the_pool_wal_and_fall_down_the_scale():
    mc = _fake_mc()
    sdrs = scenario_default_rates(mc, pool_wal_years=10.0)
    assert [s.rating for s in sdrs][:3] == ["Aaa", "Aa1", "Aa2"]
    for s in sdrs:
        assert s.target_pd == rating_threshold(s.rating, 10.0)
        assert s.sdr == pytest.approx(np.quantile(mc.pool_default_rate, 1 - s.target_pd), abs=1e-15)
        assert s.tail_paths == pytest.approx(1000 * s.target_pd) and s.resolved is (s.tail_paths >= MIN_TAIL_PATHS)
        assert s.horizon_rule == "tabulated 10y" and any("ASSUMPTION mapping" in lb for lb in s.labels)
    assert all(a.sdr >= b.sdr for a, b in zip(sdrs, sdrs[1:], strict=False))
    assert sdrs[0].rating_cn == "AAAsf" and not sdrs[0].resolved  # 0.1 paths beyond the Aaa quantile


def test_sdr_horizons_follow_the_rating_rules():
    mc = _fake_mc()
    with pytest.raises(ScenarioError, match="interpolat"):
        scenario_default_rates(mc, pool_wal_years=4.0)
    s = scenario_default_rates(mc, pool_wal_years=4.0, interpolation="log_linear", ratings=["Ba2"])[0]
    assert s.target_pd == pytest.approx(1 - (1 - 0.135) ** 0.4, rel=1e-12)
    assert any(lb.startswith("interpolated horizon: log_linear") for lb in s.labels)
    with pytest.raises(ScenarioError, match="allow_unconfirmed"):
        scenario_default_rates(mc, pool_wal_years=1.0, table="moodys_idealized_1y10y")
    s = scenario_default_rates(mc, pool_wal_years=1.0, table="moodys_idealized_1y10y", allow_unconfirmed=True,
                               ratings=["Baa3"])[0]
    assert s.target_pd == pytest.approx(0.0042) and s.table_status == "unconfirmed"
    assert s.labels[0].startswith("UNCONFIRMED pd table")


def test_pool_wal_of_a_bullet_pool_is_the_deal_clock_at_maturity():
    deal = synthetic_deal(n_obligors=5, n_periods=10, frequency="annual", amortization="bullet")
    assert pool_wal(deal) == pytest.approx(float(np.sum(deal.waterfall.yf)), rel=1e-14)
    lp = synthetic_deal(n_obligors=5, n_periods=8, frequency="quarterly", amortization="level_payment")
    p = lp.pool.sched_prin.sum(axis=0)  # level payment: fully amortised within the deal
    assert p.sum() == pytest.approx(lp.waterfall.pool_bal0, rel=1e-12)
    assert pool_wal(lp) == pytest.approx(float(np.cumsum(lp.waterfall.yf) @ p / p.sum()), rel=1e-12)
    assert 0 < pool_wal(lp) < float(np.sum(lp.waterfall.yf))


def test_pool_wal_counts_principal_outstanding_at_the_end_at_the_last_period():
    deal = SimpleNamespace(pool=SimpleNamespace(sched_prin=np.array([[30.0, 0.0], [0.0, 20.0]]),
                                                pool_yf=np.array([1.0, 1.0])),
                           waterfall=SimpleNamespace(yf=np.array([1.0, 1.0]), pool_bal0=100.0))
    assert pool_wal(deal) == pytest.approx((1 * 30 + 2 * 20 + 2 * 50) / 100)


# ---- BDR against SDR ----------------------------------------------------------------------------------------------
def _sdr(rating: str, sdr: float, se: float = 0.01) -> ScenarioDefaultRate:
    return ScenarioDefaultRate(rating, rating + "sf", 0.0, 1.0, sdr, se, sdr - se, sdr + se, 100.0, True, 10.0,
                               "given", "tabulated 10y", "t", "confirmed", "m", "assumption", ())


def test_bdr_against_sdr_on_hand_numbers():
    sdrs = [_sdr("R1", 0.40), _sdr("R2", 0.30), _sdr("R3", 0.20), _sdr("R4", 0.12), _sdr("R5", 0.05)]
    rows, implied = bdr_vs_sdr({"A": 0.30, "B": 0.135, "C": 0.01}, sdrs)
    assert len(rows) == 15
    a = [r for r in rows if r.tranche == "A"]
    assert [r.passes for r in a] == [False, True, True, True, True]  # BDR = SDR passes
    assert [r.margin for r in a] == pytest.approx([-0.10, 0.0, 0.10, 0.18, 0.25])
    assert [r.flips_within_2se for r in a] == [False, True, False, False, False]
    by = {i.tranche: i for i in implied}
    assert (by["A"].rating, by["A"].rating_cn, by["A"].sdr) == ("R2", "R2sf", 0.30) and by["A"].flips_within_2se
    assert (by["B"].rating, by["B"].margin) == ("R4", pytest.approx(0.015)) and by["B"].flips_within_2se
    assert by["C"].rating is None and by["C"].sdr is None and not by["C"].flips_within_2se
    with pytest.raises(ScenarioError, match="not a number"):
        bdr_vs_sdr({"A": math.nan}, sdrs)


def test_the_table_with_given_bdrs_sits_beside_the_pd_method():
    mc = _fake_mc()
    t = bdr_sdr_table(mc, bdr={"A": 0.9, "B": 0.5}, pool_wal_years=10.0)
    sd = {s.rating: s.sdr for s in t.sdrs}
    best_a = next(r for r in sd if sd[r] <= 0.9)
    best_b = next(r for r in sd if sd[r] <= 0.5)
    by = {i.tranche: i for i in t.implied}
    assert by["A"].rating == best_a and by["B"].rating == best_b
    # by hand: SDR(R) = 0.999·(1 − p_R); 0.9 covers it from p_R ≥ 0.0991 (Ba2, 13.5 %; Ba1 is 9.4 %), 0.5 from
    # p_R ≥ 0.4995 (Caa2, 65 %; Caa1 is 47.7 %)
    assert (best_a, best_b) == ("Ba2", "Caa2")
    # beside it, the PD method on the same table: A never defaults (floored SE) → Aaa; B defaults on 5 % → Baa3
    assert by["A"].method_rating == "Aaa" and by["B"].method_rating == "Baa3" and by["B"].method_basis == "pd"
    assert by["B"].method_rating_cn == "BBB-sf"
    f = t.frame()
    assert len(f) == 2 * len(t.sdrs) and set(f["tranche"]) == {"A", "B"} and t.bdr_source == "given"
    assert "ASSUMPTION mapping" in f.loc[0, "labels"]
    assert len(t.implied_frame()) == 2 and len(t.sdr_frame()) == len(t.sdrs)
    # a callable BDR, and one that returns an object with .value (the breakeven module's Breakeven)
    t2 = bdr_sdr_table(mc, bdr=lambda deal, tr: SimpleNamespace(value=0.9 if tr == "A" else 0.5),
                       pool_wal_years=10.0, method_basis=None)
    assert [i.rating for i in t2.implied] == [best_a, best_b] and t2.implied[0].method_rating is None
    with pytest.raises(ScenarioError, match="unknown tranches"):
        bdr_sdr_table(mc, bdr={"Z": 0.1}, pool_wal_years=10.0)


def test_bdr_none_calls_breakeven_with_the_agreed_signature(monkeypatch):
    """A stand-in for ipabs.structuring.breakeven (another branch): the call is breakeven(deal, tranche,
    measure="cumulative_default_rate", base=..., support=...) and its result's .value is the BDR."""
    import sys
    import types

    calls = []

    def breakeven(deal, tranche, *, measure, base, support):
        calls.append((tranche, measure, base, support))
        return SimpleNamespace(value={"A": 0.9, "B": 0.5}[tranche])

    monkeypatch.setitem(sys.modules, "ipabs.structuring.breakeven",
                        types.SimpleNamespace(breakeven=breakeven))
    t = bdr_sdr_table(_fake_mc(), pool_wal_years=10.0, base="BASE", support=False, method_basis=None)
    assert calls == [("A", "cumulative_default_rate", "BASE", False), ("B", "cumulative_default_rate", "BASE", False)]
    assert [i.rating for i in t.implied] == ["Ba2", "Caa2"] and t.bdr_source.startswith("ipabs.structuring.breakeven")


@pytest.mark.skipif(importlib.util.find_spec("ipabs.structuring.breakeven") is not None,
                    reason="the breakeven module is present")
def test_without_the_breakeven_module_bdr_must_be_given():
    with pytest.raises(ScenarioError, match="pass bdr="):
        bdr_sdr_table(_fake_mc(), pool_wal_years=10.0)


@pytest.mark.slow
def test_bdrs_from_the_breakeven_module():
    pytest.importorskip("ipabs.structuring.breakeven")
    from ipabs.structuring.breakeven import breakeven

    deal = synthetic_deal(n_obligors=20, n_periods=8, frequency="quarterly")
    mc = simulate(deal, 2000, 5, threads=1, statistics="losses")
    t = bdr_sdr_table(mc, interpolation="log_linear")
    for i in t.implied:
        b = breakeven(deal, i.tranche, measure="cumulative_default_rate", base=None, support=True).value
        assert i.bdr == b and 0.0 <= b <= 1.0
    assert t.bdr_source.startswith("ipabs.structuring.breakeven.breakeven")


# ---- the one-factor Gaussian large pool (DOMAIN.md §6) ------------------------------------------------------------
def _lhp_quantile(alpha: float, pd: float, rho: float) -> float:
    return N01.cdf((N01.inv_cdf(pd) + math.sqrt(rho) * N01.inv_cdf(alpha)) / math.sqrt(1 - rho))


def _finite_pool_quantile(alpha: float, n: int, pd: float, rho: float) -> float:
    """α-quantile of k/n, k ~ the conditional binomial mixed over the factor (Simpson rule on [−10, 10])."""
    m = np.linspace(-10.0, 10.0, 8001)
    w = np.full(m.size, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    w *= (m[1] - m[0]) / 3.0 * np.exp(-0.5 * m * m) / math.sqrt(2 * math.pi)
    p = np.array([N01.cdf((N01.inv_cdf(pd) - math.sqrt(rho) * x) / math.sqrt(1 - rho)) for x in m])
    k = np.arange(n + 1)[:, None]
    logc = np.array([math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) for j in range(n + 1)])
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(k == 0, 0.0, k * np.log(p)[None, :])
        b = np.where(k == n, 0.0, (n - k) * np.log1p(-p)[None, :])
    cdf = np.cumsum(np.exp(logc[:, None] + a + b) @ w)
    return int(np.searchsorted(cdf, alpha)) / n


@pytest.fixture(scope="module")
def large_pool():
    rho, annual, n_ob = 0.2, 0.02, 1000
    deal = synthetic_deal(n_obligors=n_ob, n_periods=10, frequency="annual", amortization="bullet", asset_rate=0.0,
                          senior_coupon=0.0, recovery_rate=0.0, n_sectors=1, correlation=rho, sector_correlation=0.0,
                          annual_pd=annual, senior_fraction=0.8)
    mc = simulate(deal, 4000, 20261206, threads=1, statistics="losses")
    pd10 = float(cumulative_pd(np.array([annual]), deal.waterfall.yf)[0, -1])
    return deal, mc, pd10, rho, n_ob


@pytest.mark.slow
@pytest.mark.parametrize("rating", ["Baa3", "Ba1", "Ba2", "B1", "B2", "Caa1"])
def test_sdr_of_a_large_homogeneous_pool_is_the_vasicek_quantile(large_pool, rating):
    deal, mc, pd10, rho, n_ob = large_pool
    (s,) = scenario_default_rates(mc, ratings=[rating])
    assert s.pool_wal_years == pytest.approx(10.0, abs=0.02) and s.horizon_rule.startswith("tabulated 10y")
    assert s.target_pd == rating_threshold(rating, 10.0) and s.resolved
    alpha = 1.0 - s.target_pd
    lhp = _lhp_quantile(alpha, pd10, rho)
    finite = _finite_pool_quantile(alpha, n_ob, pd10, rho)
    # Monte Carlo error plus the exact finite-N granularity (the LHP is the N → ∞ limit) and one obligor's step
    assert abs(finite - lhp) < 0.01
    assert abs(s.sdr - lhp) <= 4 * s.se + abs(finite - lhp) + 1.0 / n_ob, (rating, s.sdr, s.se, lhp, finite)
    # and the pool default rate is what the deal defines: defaulted balance / cut-off balance (bullet, no recovery)
    assert np.allclose(mc.pool_default_rate, mc.pool_loss_rate)


# ---- tranche metrics of a real run --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_deal():
    return synthetic_deal(n_obligors=30, n_periods=12, frequency="quarterly", senior_fraction=0.85)


@pytest.mark.slow
def test_tranche_ratings_of_a_full_run_use_the_mc_pd_and_expected_wal(small_deal):
    mc = simulate(small_deal, 2000, 3, threads=1)
    rs = tranche_ratings(mc, interpolation="log_linear")
    st = mc.tranche_stats()
    for k, r in enumerate(rs):
        ev = (mc.loss[:, k] > 1e-12) | (mc.short[:, k] != 0)
        assert r.value == ev.mean() and r.n_events == int(ev.sum()) and r.n_paths == 2000
        w = mc.wal[:, k]
        assert r.wal_years == pytest.approx(float(w[w > 0].mean()), rel=1e-12)
        assert r.wal_source == "mc_expected_wal"
        assert r.threshold is None or r.value <= r.threshold
    loss_only = tranche_ratings(mc, interpolation="log_linear", default_event="loss")
    assert [r.value for r in loss_only] == [s["default_probability"] for s in st]


def test_tranche_ratings_of_a_losses_only_run_take_the_deterministic_wal(small_deal):
    from ipabs.api import run_deterministic

    mc = simulate(small_deal, 1000, 3, threads=1, statistics="losses")
    rs = tranche_ratings(mc, small_deal, interpolation="log_linear")
    det = run_deterministic(small_deal).tranche_summary()
    for r, d in zip(rs, det, strict=True):
        assert r.wal_years == d["wal_years"] and r.wal_source.startswith("deterministic base-case WAL")
        assert any(lb.startswith("horizon: deterministic base-case WAL") for lb in r.labels)
    with pytest.raises(ScenarioError, match="interpolat"):
        tranche_ratings(mc, small_deal)  # a 1-3 year WAL against the 10-year table needs the flag
