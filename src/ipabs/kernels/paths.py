"""The Monte Carlo path kernel: default times → recoveries → pool flows → the deal's waterfall, for many paths.

Every path runs :func:`ipabs.kernels.pool.apply_defaults` and :func:`ipabs.kernels.waterfall.run_waterfall` —
the same kernels as the deterministic engine. ``prange`` runs over fixed-size blocks of paths; each path writes
only its own rows of the per-path outputs, and each block its own slice of the histogram and sum arrays, which
the caller reduces afterwards with exact integer arithmetic (docs/methodology/random-numbers.md).
"""

from __future__ import annotations

import math

import numpy as np

from ipabs.compile.arrays import PoolFlows, WaterfallOut
from ipabs.kernels._jit import jit, jit_parallel, prange
from ipabs.kernels.defaults import default_periods_one_path
from ipabs.kernels.normal import norm_ppf
from ipabs.kernels.pool import apply_defaults
from ipabs.kernels.rng import STREAM_RECOVERY, uniform_pair
from ipabs.kernels.waterfall import EPS, run_waterfall

MAX_GAMMA_TRIES = 64


@jit
def gamma_draw(seed, path, stream, base, shape):
    """Gamma(shape, 1) by Marsaglia–Tsang, draws indexed ``base + attempt`` (≤ 64 attempts, then the mean)."""
    boost = 1.0
    a = shape
    if a < 1.0:
        u0, _ = uniform_pair(seed, path, stream, base + MAX_GAMMA_TRIES)
        boost = u0 ** (1.0 / a)
        a = a + 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    for k in range(MAX_GAMMA_TRIES):
        u1, u2 = uniform_pair(seed, path, stream, base + k)
        x = norm_ppf(u1)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        if math.log(u2) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v * boost
    return a * boost


@jit
def beta_draw(seed, path, stream, base, mean, std):
    """Beta with the given mean and standard deviation (degenerate at the mean when std = 0)."""
    if std <= 0.0 or mean <= 0.0 or mean >= 1.0:
        return mean
    nu = mean * (1.0 - mean) / (std * std) - 1.0
    x = gamma_draw(seed, path, stream, base, mean * nu)
    y = gamma_draw(seed, path, stream, base + 2 * MAX_GAMMA_TRIES, (1.0 - mean) * nu)
    return x / (x + y) if x + y > 0.0 else mean


@jit
def path_yield(cf, tau, price, freq):
    """Yield y (compounded ``freq`` times a year) solving Σ cf_t (1 + y/f)^(−f τ_t) = price; −1 when nothing is
    paid. Safeguarded Newton on the bracket [−0.99 f, 10] (the price is decreasing in y), tolerance 1e-12."""
    total = 0.0
    for t in range(cf.shape[0]):
        total += cf[t]
    if total <= 0.0:
        return -1.0
    lo, hi = -0.99 * freq, 10.0
    y = 0.05
    for _ in range(100):
        base = 1.0 + y / freq
        pv = 0.0
        dpv = 0.0
        for t in range(cf.shape[0]):
            if cf[t] != 0.0:
                v = base ** (-freq * tau[t])
                pv += cf[t] * v
                dpv -= tau[t] * cf[t] * v / base
        g = pv - price
        if g > 0.0:
            lo = y
        else:
            hi = y
        step = g / dpv if dpv < 0.0 else 0.0
        y_new = y - step
        if not (lo < y_new < hi) or dpv >= 0.0:
            y_new = 0.5 * (lo + hi)
        if abs(y_new - y) < 1e-12 or hi - lo < 1e-12:
            return y_new
        y = y_new
    return y


@jit
def ip_recoveries(seed, path, pa, asset_default_t, appraisal, hc_mean, hc_std, cost_rate, fixed_rate, lag,
                  use_ip, rec_amount, rec_t):
    """IP-disposal recovery per defaulted asset: min(exposure, appraisal·(1 − h))·(1 − cost), h ~ beta (stream 2).

    Assets without an appraisal (or under the fixed-rate model) recover ``fixed_rate`` × exposure.
    """
    n_t = pa.b_int.shape[0]
    for a in range(asset_default_t.shape[0]):
        tau = asset_default_t[a]
        if tau >= n_t:
            rec_amount[a] = 0.0
            rec_t[a] = n_t
            continue
        exposure = pa.a_bal_start[a, tau]
        if use_ip and appraisal[a] > 0.0:
            h = beta_draw(seed, path, STREAM_RECOVERY, a * 4 * MAX_GAMMA_TRIES, hc_mean[a], hc_std[a])
            gross = appraisal[a] * (1.0 - h)
            if gross > exposure:
                gross = exposure
            rec_amount[a] = gross * (1.0 - cost_rate)
        else:
            rec_amount[a] = fixed_rate * exposure
        rec_t[a] = tau + lag


@jit
def _bin(x, hi, nb):
    if hi <= 0.0:
        return 0
    j = int(x / hi * nb)
    if j < 0:
        return 0
    if j >= nb:
        return nb - 1
    return j


@jit
def simulate_block(seed, p_start, p_end, j0, d, pa, asset_obligor, thresholds, group, g_a, g_s, g_b, g_sector, g_cmax,
                   n_sectors, sup_obligor, appraisal, hc_mean, hc_std, cost_rate, fixed_rate, lag, use_ip,
                   tau_years, price, freq,
                   o_loss, o_short, o_wal, o_yield, o_pool_def, o_pool_loss, o_sup_draw, o_sup_def,
                   h_bal, h_cash, s_int, s_prin, s_bal, s_pool, bal_hi, cash_hi):
    """Paths [p_start, p_end) into per-path rows (offset ``j0``) and this block's histogram / sum slices."""
    n_t = d.yf.shape[0]
    n_k = d.tr_bal0.shape[0]
    n_a = asset_obligor.shape[0]
    n_ob = thresholds.shape[0]
    nb = h_bal.shape[2]
    factors = np.empty(1 + n_sectors)
    screen = np.empty(g_a.shape[0])
    ob_def = np.empty(n_ob, dtype=np.int64)
    a_def = np.empty(n_a, dtype=np.int64)
    rec_amt = np.empty(n_a)
    rec_t = np.empty(n_a, dtype=np.int64)
    pf = PoolFlows(np.zeros(n_t), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t),
                   np.zeros(n_t))
    n_f = d.fee_basis.shape[0]
    n_acc = d.acct_init.shape[0]
    n_s = d.sup_cap.shape[0]
    out = WaterfallOut(np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_k)),
                       np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_f)),
                       np.zeros((n_t, n_f)), np.zeros((n_t, n_acc)), np.zeros((n_t, n_s)),
                       np.zeros(n_t, dtype=np.int64), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t),
                       np.zeros(n_t, dtype=np.int64))
    sup_def_t = np.empty(n_s, dtype=np.int64)
    cf = np.empty(n_t)
    for p in range(p_start, p_end):
        j = j0 + p - p_start
        default_periods_one_path(seed, p, thresholds, group, g_a, g_s, g_b, g_sector, g_cmax, factors, screen,
                                 ob_def)
        for a in range(n_a):
            a_def[a] = ob_def[asset_obligor[a]]
        for s in range(n_s):
            sup_def_t[s] = ob_def[sup_obligor[s]] if sup_obligor[s] >= 0 else n_t
        ip_recoveries(seed, p, pa, a_def, appraisal, hc_mean, hc_std, cost_rate, fixed_rate, lag, use_ip,
                      rec_amt, rec_t)
        apply_defaults(pa, a_def, rec_amt, rec_t, pf)
        out.called[:] = 0
        run_waterfall(d, pf, sup_def_t, out)
        pool_def = 0.0
        pool_rec = 0.0
        for t in range(n_t):
            pool_def += pf.defaults[t]
            pool_rec += pf.recoveries[t]
        o_pool_def[j] = pool_def / d.pool_bal0 if d.pool_bal0 > 0.0 else 0.0
        o_pool_loss[j] = (pool_def - pool_rec) / d.pool_bal0 if d.pool_bal0 > 0.0 else 0.0
        draw = 0.0
        for t in range(n_t):
            for s in range(n_s):
                draw += out.sup_draw[t, s]
        o_sup_draw[j] = draw
        sdef = 0
        for s in range(n_s):
            if sup_def_t[s] < n_t:
                sdef = 1
        o_sup_def[j] = sdef
        for k in range(n_k):
            face = d.tr_bal0[k]
            loss = out.tr_bal_end[n_t - 1, k]
            o_loss[j, k] = loss / face if face > 0.0 else 0.0
            short = 0
            num = 0.0
            den = 0.0
            for t in range(n_t):
                if out.tr_int_short[t, k] > EPS:
                    short = 1
                num += tau_years[t] * out.tr_prin_paid[t, k]
                den += out.tr_prin_paid[t, k]
                cf[t] = (out.tr_int_paid[t, k] + out.tr_prin_paid[t, k] + out.tr_resid[t, k]) / face * 100.0 \
                    if face > 0.0 else 0.0
                h_bal[t, k, _bin(out.tr_bal_end[t, k], bal_hi[k], nb)] += 1
                h_cash[t, k, _bin(out.tr_int_paid[t, k] + out.tr_prin_paid[t, k] + out.tr_resid[t, k],
                                  cash_hi[k], nb)] += 1
                s_int[t, k] += np.int64(round(out.tr_int_paid[t, k] * 100.0))
                s_prin[t, k] += np.int64(round(out.tr_prin_paid[t, k] * 100.0))
                s_bal[t, k] += np.int64(round(out.tr_bal_end[t, k] * 100.0))
            o_short[j, k] = short
            o_wal[j, k] = num / den if den > 0.0 else 0.0
            o_yield[j, k] = path_yield(cf, tau_years, price[k], freq)
        for t in range(n_t):
            s_pool[t, 0] += np.int64(round(pf.interest[t] * 100.0))
            s_pool[t, 1] += np.int64(round(pf.principal[t] * 100.0))
            s_pool[t, 2] += np.int64(round(pf.defaults[t] * 100.0))
            s_pool[t, 3] += np.int64(round(pf.recoveries[t] * 100.0))
            s_pool[t, 4] += np.int64(round(pf.bal_end[t] * 100.0))


@jit_parallel
def simulate_chunk(seed, path0, n_paths, block, d, pa, asset_obligor, thresholds, group, g_a, g_s, g_b, g_sector,
                   g_cmax, n_sectors, sup_obligor, appraisal, hc_mean, hc_std, cost_rate, fixed_rate, lag, use_ip,
                   tau_years, price, freq,
                   o_loss, o_short, o_wal, o_yield, o_pool_def, o_pool_loss, o_sup_draw, o_sup_def,
                   h_bal, h_cash, s_int, s_prin, s_bal, s_pool, bal_hi, cash_hi):
    """Paths [path0, path0 + n_paths) in blocks of ``block`` paths; block b writes slice b of h_* and s_*."""
    n_blocks = (n_paths + block - 1) // block
    for b in prange(n_blocks):
        lo = b * block
        hi = min(n_paths, lo + block)
        simulate_block(seed, path0 + lo, path0 + hi, lo, d, pa, asset_obligor, thresholds, group, g_a, g_s, g_b,
                       g_sector, g_cmax, n_sectors, sup_obligor, appraisal, hc_mean, hc_std, cost_rate, fixed_rate,
                       lag, use_ip, tau_years, price, freq,
                       o_loss, o_short, o_wal, o_yield, o_pool_def, o_pool_loss, o_sup_draw, o_sup_def,
                       h_bal[b], h_cash[b], s_int[b], s_prin[b], s_bal[b], s_pool[b], bal_hi, cash_hi)
