"""Simulated index paths on one Monte Carlo path (``simulation.rates``; compiled by :mod:`ipabs.prepare.rates`).

The short rate's deviation from its mean, ``x_g = φ_g x_{g−1} + s_g Z_g`` on the grid of fixing dates (exact for
the Ornstein–Uhlenbeck process of one-factor Hull–White), each fixing's move ``c_ig · expm1(B_i x_g)`` and what it
changes: the floating tranches' coupons of the path and the floating assets' interest (decision 022).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ipabs.kernels._jit import jit_inline, jit_inner
from ipabs.kernels.normal import norm_ppf
from ipabs.kernels.rng import STREAM_RATES, uniform


class RateArrays(NamedTuple):
    """The kernel's view of the simulated index paths (every array empty when ``simulation.rates`` is not set)."""

    time: np.ndarray  # f8[G] fixing times, years from closing (Actual/365F), increasing, > 0
    phi: np.ndarray  # f8[G] e^{−a Δ_g}
    sd: np.ndarray  # f8[G] standard deviation of x_g given x_{g−1}
    c: np.ndarray  # f8[I, G] e^{B α} / (A τ) of index i at grid point g
    b: np.ndarray  # f8[I] B(τ_i)
    tr_g: np.ndarray  # i8[T, K] grid point of tranche k's fixing for period t (−1: fixed before closing)
    tr_i: np.ndarray  # i8[K] index of a floating tranche (−1: fixed coupon)
    tr_lv: np.ndarray  # f8[T, K] forward-path level of that fixing
    tr_sp: np.ndarray  # f8[K] spread
    tr_fl: np.ndarray  # f8[K] floor (−inf: none)
    tr_cp: np.ndarray  # f8[K] cap (inf: none)
    fa_a: np.ndarray  # i8[M] floating asset instalments: asset
    fa_t: np.ndarray  # i8[M] collection period
    fa_g: np.ndarray  # i8[M] grid point of the reset (−1: before closing)
    fa_i: np.ndarray  # i8[M] index
    fa_lv: np.ndarray  # f8[M] forward level at the reset
    fa_m: np.ndarray  # f8[M] margin over the index
    fa_fl: np.ndarray  # f8[M] floor (−inf: none)
    fa_cp: np.ndarray  # f8[M] cap (inf: none)
    fa_r0: np.ndarray  # f8[M] the instalment's rate on the forward path
    fa_w: np.ndarray  # f8[M] interest per unit of rate, scaled to the performing (prepaid) balance
    out_g: np.ndarray  # i8[T, I] grid point of each index's recorded fixing per payment period (−1: before closing)
    out_lv: np.ndarray  # f8[T, I] its forward level
    cpn_off: int  # offset of the coupons in the generated waterfall's parameters (codegen.Layout.cpn)



@jit_inner
def rate_path(seed, p, rt, xr):
    """``xr[g]``: the short rate's deviation from its mean at grid point g on path ``p`` (stream STREAM_RATES)."""
    xv = 0.0
    for g in range(rt.time.shape[0]):
        xv = xv * rt.phi[g] + rt.sd[g] * norm_ppf(uniform(seed, p, STREAM_RATES, g))
        xr[g] = xv


@jit_inline
def index_move(rt, i, g, xr):
    """How far index ``i``'s fixing at grid point ``g`` is from its forward level (0 before closing)."""
    if g < 0:
        return 0.0
    return rt.c[i, g] * math.expm1(rt.b[i] * xr[g])


@jit_inner
def path_coupons(rt, xr, tr_rate, par, off):
    """The path's floating coupons, min(cap, max(floor, (L + move) + spread)), into ``tr_rate`` [T, K] and, when
    ``off`` ≥ 0, into the generated waterfall's parameters ``par`` (the same layout as ``pack_parameters``)."""
    n_t, n_k = rt.tr_g.shape
    for k in range(n_k):
        i = rt.tr_i[k]
        if i < 0:
            continue
        for t in range(n_t):
            c = rt.tr_lv[t, k] + index_move(rt, i, rt.tr_g[t, k], xr) + rt.tr_sp[k]
            c = max(c, rt.tr_fl[k])
            c = min(c, rt.tr_cp[k])
            tr_rate[t, k] = c
            if off >= 0:
                par[off + n_k * t + k] = c


@jit_inner
def floating_asset_interest(rt, xr, a_def, interest):
    """Add to the pool's ``interest`` [T] each performing floating instalment's interest move: its performing
    balance × accrual × (rate on this path − rate on the forward path); an asset defaulted in or before the
    instalment's collection period pays none."""
    for j in range(rt.fa_a.shape[0]):
        t = rt.fa_t[j]
        if a_def[rt.fa_a[j]] <= t:
            continue
        dr = index_move(rt, rt.fa_i[j], rt.fa_g[j], xr)
        if dr == 0.0:
            continue
        r = rt.fa_lv[j] + dr + rt.fa_m[j]
        r = max(r, rt.fa_fl[j])
        r = min(r, rt.fa_cp[j])
        interest[t] += rt.fa_w[j] * (r - rt.fa_r0[j])


@jit_inner
def record_indices(rt, xr, out, j):
    """Each simulated index's fixing at every payment period's accrual start into row ``j`` of ``out`` [n, T, I]."""
    n_t, n_i = rt.out_g.shape
    for t in range(n_t):
        for i in range(n_i):
            out[j, t, i] = rt.out_lv[t, i] + index_move(rt, i, rt.out_g[t, i], xr)
