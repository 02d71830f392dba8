"""Simulated index paths for the Monte Carlo: a one-factor Hull–White short rate fitted to each index's forward path.

``simulation.rates`` (docs/methodology/monte-carlo.md §6, decision 022). Each index of ``[indices]`` that a floating
tranche or floating asset uses gets a QuantLib term structure built from its forward path (the step levels, each a
simple rate over the index's ``tenor_years``, as piecewise-flat continuous forwards) and a
``QuantLib.HullWhite(ts, a, σ)`` model. One short-rate factor drives every index: the deviation
``x(t) = r(t) − α(t)`` of the short rate from its mean is the same Ornstein–Uhlenbeck process for all of them,
simulated exactly on the grid of fixing dates (``x_g = φ_g x_{g−1} + s_g Z_g``, ``φ_g = e^{−aΔ_g}``,
``s_g`` = QuantLib's ``HullWhiteProcess.stdDeviation``; ``Z_g`` the path's normals of stream ``STREAM_RATES``).

A fixing of index ``i`` on date ``t`` is its forward-path level plus the change of the model's τ-year simple rate
as the short rate moves from its mean::

    L_i(t) + [R_i(t, α_i(t) + x(t)) − R_i(t, α_i(t))],   R_i(t, r) = (1 / P_i(t, t + τ | r) − 1) / τ
                                        = L_i(t) + c_ig · expm1(B · x_g),   c_ig = e^{B α_i(t)} / (A_i(t, t + τ) τ)

with ``P = A e^{−B r}`` QuantLib's ``HullWhite.discountBond`` (A from QuantLib, B = (1 − e^{−aτ}) / a). With
σ = 0 (or a fixing on or before the closing date) the fixing is the forward level itself, bit for bit.

Floating assets: each instalment's interest moves by its performing balance × accrual × (rate(ω) − forward rate),
the amortisation schedule kept at the forward path's (exact for bullet, interest-only and 等额本金 loans; for 等额本息
the instalment's recomputation at a reset is not followed: decision 022).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import QuantLib as ql

from ipabs.compile.lower import CompiledDeal, note_accrual_starts
from ipabs.kernels.rates import RateArrays

_DC = ql.Actual365Fixed()
_INF = math.inf


def empty_rate_arrays(n_t: int, n_k: int) -> RateArrays:
    """No simulated index paths (every path uses the forward paths)."""
    f0, i0 = np.zeros(0), np.zeros(0, dtype=np.int64)
    return RateArrays(f0, f0, f0, np.zeros((0, 0)), f0, np.full((n_t, n_k), -1, dtype=np.int64),
                      np.full(n_k, -1, dtype=np.int64), np.zeros((n_t, n_k)), np.zeros(n_k), np.zeros(n_k),
                      np.zeros(n_k), i0, i0, i0, i0, f0, f0, f0, f0, f0, f0, np.zeros((n_t, 0), dtype=np.int64),
                      np.zeros((n_t, 0)), 0)


def simulated_indices(deal: CompiledDeal) -> list[str]:
    """Names of the indices whose paths the Monte Carlo simulates (empty without ``simulation.rates``)."""
    s = deal.scenario
    if s.simulation.rates is None:
        return []
    used = {t.floating.index for t in s.tranches if t.floating is not None} | {fa.index for fa in s.pool.floating}
    return [name for name in s.indices if name in used]


def term_structure(curve, ref: dt.date) -> ql.YieldTermStructure:
    """The index's forward path as a QuantLib curve of piecewise-flat continuous forwards from ``ref``: the level
    ``L`` in force over a stretch becomes the forward ln(1 + L τ) / τ (the simple τ-year rate ``L``)."""
    tau = float(curve.tenor_years)
    dates = [ref] + [d for d in curve.dates if d > ref]
    end = ref + dt.timedelta(days=366 * 80)
    fwd = [curve.level(ref)] + [curve.level(d - dt.timedelta(days=1)) for d in dates[1:]] + [curve.levels[-1]]
    qd = [ql.Date(d.day, d.month, d.year) for d in dates + [end]]
    f = [math.log1p(max(x, -0.99 / tau) * tau) / tau for x in fwd]
    return ql.ForwardCurve(qd, f, _DC)


def _years(ref: dt.date, d: dt.date) -> float:
    return _DC.yearFraction(ql.Date(ref.day, ref.month, ref.year), ql.Date(d.day, d.month, d.year))


def rate_arrays(deal: CompiledDeal, pa, cpn_off: int) -> RateArrays:
    """Compile ``simulation.rates`` for the path kernel (``pa``: the performing flows the Monte Carlo uses)."""
    s = deal.scenario
    sched = deal.schedule
    n_t, n_k = sched.n_periods, len(s.tranches)
    names = simulated_indices(deal)
    if not names:
        return empty_rate_arrays(n_t, n_k)
    rm = s.simulation.rates
    a, sigma = float(rm.mean_reversion), float(rm.volatility)
    ref = s.deal.closing_date
    idx = {n: i for i, n in enumerate(names)}
    starts = note_accrual_starts(s, sched)
    # every fixing date: tranches' (accrual start − lag), assets' resets, and each index's recorded fixing per
    # payment period (the note accrual start)
    tr_dates: dict[tuple[int, int], dt.date] = {}
    for k, tr in enumerate(s.tranches):
        if tr.floating is not None:
            for t, d in enumerate(starts):
                tr_dates[(t, k)] = d - dt.timedelta(days=int(tr.floating.fixing_lag_days))
    terms = tuple(x for x in deal.info.floating_terms if 0 <= x[1] < n_t)  # (a rebased deal shifts them itself)
    dates = set(tr_dates.values()) | {x[2] for x in terms} | set(starts)
    times = {d: _years(ref, d) for d in dates}
    grid = sorted({v for v in times.values() if v > 0.0})
    gi = {v: g for g, v in enumerate(grid)}

    def g_of(d: dt.date) -> int:
        v = times[d]
        return gi[v] if v > 0.0 else -1

    time = np.array(grid, dtype=np.float64)
    n_g = len(grid)
    phi = np.empty(n_g)
    sd = np.empty(n_g)
    c = np.empty((len(names), n_g))
    b = np.empty(len(names))
    prev = 0.0
    for i, name in enumerate(names):
        curve = s.indices[name]
        tau = float(curve.tenor_years)
        h = ql.YieldTermStructureHandle(term_structure(curve, ref))
        # QuantLib refuses σ = 0; with σ = 0 every x_g is 0 and c never moves a fixing, so any tiny σ serves
        model = ql.HullWhite(h, a, sigma if sigma > 0.0 else 1e-12)
        proc = ql.HullWhiteProcess(h, a, sigma if sigma > 0.0 else 1e-12)
        x0 = proc.x0()
        b[i] = -math.expm1(-a * tau) / a
        for g, t in enumerate(grid):
            alpha = proc.expectation(0.0, x0, t)  # E[r(t)] = α(t)
            big_a = model.discountBond(t, t + tau, 0.0)
            c[i, g] = math.exp(b[i] * alpha) / (big_a * tau)
            if i == 0:
                phi[g] = math.exp(-a * (t - prev))
                sd[g] = proc.stdDeviation(prev, 0.0, t - prev) if sigma > 0.0 else 0.0
                prev = t
    tr_g = np.full((n_t, n_k), -1, dtype=np.int64)
    tr_i = np.full(n_k, -1, dtype=np.int64)
    tr_lv = np.zeros((n_t, n_k))
    tr_sp, tr_fl, tr_cp = np.zeros(n_k), np.full(n_k, -_INF), np.full(n_k, _INF)
    for k, tr in enumerate(s.tranches):
        f = tr.floating
        if f is None:
            continue
        tr_i[k] = idx[f.index]
        tr_sp[k] = f.spread
        tr_fl[k] = -_INF if f.floor is None else f.floor
        tr_cp[k] = _INF if f.cap is None else f.cap
        for t in range(n_t):
            d = tr_dates[(t, k)]
            tr_g[t, k] = g_of(d)
            tr_lv[t, k] = s.indices[f.index].level(d)
    m = len(terms)
    fa_a, fa_t, fa_g, fa_i = (np.empty(m, dtype=np.int64) for _ in range(4))
    fa_lv, fa_m, fa_fl, fa_cp, fa_r0, fa_w = (np.empty(m) for _ in range(6))
    sched_bal = deal.pool.sched_bal_start
    for j, (asset, t, reset, basis, rate, index, margin, floor, cap) in enumerate(terms):
        fa_a[j], fa_t[j], fa_g[j], fa_i[j] = asset, t, g_of(reset), idx[index]
        fa_lv[j] = s.indices[index].level(reset)
        fa_m[j] = margin
        fa_fl[j] = -_INF if floor is None else floor
        fa_cp[j] = _INF if cap is None else cap
        fa_r0[j] = rate
        # prepayments (CPR) shrink the performing balance the instalment's interest accrues on
        sb = sched_bal[asset, t]
        fa_w[j] = basis * (pa.a_bal_start[asset, t] / sb) if sb > 0.0 else 0.0
    out_g = np.full((n_t, len(names)), -1, dtype=np.int64)
    out_lv = np.zeros((n_t, len(names)))
    for i, name in enumerate(names):
        for t, d in enumerate(starts):
            out_g[t, i] = g_of(d)
            out_lv[t, i] = s.indices[name].level(d)
    return RateArrays(time, phi, sd, c, b, tr_g, tr_i, tr_lv, tr_sp, tr_fl, tr_cp, fa_a, fa_t, fa_g, fa_i, fa_lv,
                      fa_m, fa_fl, fa_cp, fa_r0, fa_w, out_g, out_lv, int(cpn_off))
