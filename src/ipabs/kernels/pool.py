"""Pool cash flows of one path given obligor default periods.

Pool cash = precomputed performing totals − the flows lost by the assets that default + their recoveries. The work
per path is O(n_assets) to find the defaulted assets plus O(n_periods) for each of them — never an
n_assets × n_periods loop (docs/methodology/projection.md).

An asset whose obligor defaults in period τ pays nothing from τ on; its performing balance at the start of τ is
the defaulted amount; its recovery (amount and period chosen by the caller's recovery model) is collected then.
"""

from __future__ import annotations

import math

import numpy as np

from ipabs.kernels._jit import jit, jit_inner
from ipabs.kernels.sums import pairwise_col, pairwise_vec, sum_rows

#: Sums of many assets minus a few leave rounding dust; amounts whose magnitude is below this are set to zero.
DUST = 1e-6


@jit_inner
def _clean(x):
    return 0.0 if -DUST < x < DUST else x


@jit
def apply_defaults(pa, asset_default_t, rec_amount, rec_t, pf):
    """Write one path's :class:`PoolFlows` into ``pf``.

    Parameters
    ----------
    pa : PerformingArrays
        Per-asset and pool performing flows.
    asset_default_t : int[N]
        Period in which each asset defaults (n_periods = never).
    rec_amount : float64[N]
        Recovery of each defaulted asset, yuan.
    rec_t : int[N]
        Period in which the recovery is collected (n_periods or later = never, lost).
    pf : PoolFlows
        Output arrays, overwritten.
    """
    n_a, n_t = pa.a_int.shape
    apply_defaults_work(pa, asset_default_t, rec_amount, rec_t, pf, np.empty(n_a, dtype=np.int64),
                        np.empty(3, dtype=np.int64), np.empty(n_a * n_t * 4), np.empty(4 * n_t), np.arange(n_a))


@jit_inner
def apply_defaults_work(pa, asset_default_t, rec_amount, rec_t, pf, a_end, flags, packed, lf, which):
    """:func:`apply_defaults` with the caller's scratch (``a_end`` i8[N], ``flags`` i8[3], ``packed`` f8[4·N·T],
    ``lf`` f8[4·T], ``which`` = 0 .. N − 1): the deterministic engine's and the batch engine's one implementation.

    Only the defaulted assets' work bounds and interleaved flows are computed (O(T) each, not O(N·T)): the pool kernel
    reads them for defaulted assets only. It runs with width 4 and both flags set, which gives the bits of the
    narrowest settings :func:`asset_activity` would choose: with width 3 the balances at start are the balances at end
    carried, the same bits by its chain test, and a flag it leaves unset only skips subtracting exact zeros
    (``x − 0.0`` is ``x``; signed zeros are cleaned). ``flags`` is not read.
    """
    n_a, n_t = pa.a_int.shape
    for a in range(n_a):
        if asset_default_t[a] < n_t:
            a_end[a] = asset_end(pa, a)
            pack_asset(pa, packed, a)
    apply_defaults_into(pa, packed, np.int64(4), asset_default_t, rec_amount, rec_t, pf, a_end, np.int64(1),
                        np.int64(1), lf, which, n_a, np.int64(0), np.int64(0))


@jit_inner
def asset_end(pa, a):
    """One past the last period in which any of asset ``a``'s performing arrays is non-zero (:func:`asset_activity`'s
    ``a_end[a]``)."""
    n_t = pa.a_int.shape[1]
    end = 0
    for t in range(n_t):
        if (pa.a_int[a, t] != 0.0 or pa.a_prin[a, t] != 0.0 or pa.a_prepay[a, t] != 0.0
                or pa.a_def[a, t] != 0.0 or pa.a_bal_start[a, t] != 0.0 or pa.a_bal_end[a, t] != 0.0):
            end = t + 1
    return end


@jit_inner
def pack_asset(pa, packed, a):
    """Asset ``a``'s rows of :func:`pack_performing` with width 4."""
    n_t = pa.a_int.shape[1]
    for t in range(n_t):
        j = 4 * (a * n_t + t)
        packed[j] = pa.a_int[a, t]
        packed[j + 1] = pa.a_prin[a, t]
        packed[j + 2] = pa.a_bal_end[a, t]
        packed[j + 3] = pa.a_bal_start[a, t]


@jit_inner
def _same_bits(x, y):
    """x and y are the same double (equal, and with the same sign when zero)."""
    return x == y and (x != 0.0 or math.copysign(1.0, x) == math.copysign(1.0, y))


@jit_inner
def pack_performing(pa, packed, width):
    """packed[w(a·T + t) + c] = (interest, principal, balance at end, balance at start)[c] of asset a in period t,
    for c < ``width`` (3 leaves out the balance at start, when :func:`asset_activity` found it equal to the
    previous balance at end; 2 leaves out both balances).

    One defaulted asset's remaining flows are then one contiguous run of memory (the pool kernel of a large pool
    is bound by memory traffic, not arithmetic).
    """
    n_a, n_t = pa.a_int.shape
    for a in range(n_a):
        for t in range(n_t):
            j = width * (a * n_t + t)
            packed[j] = pa.a_int[a, t]
            packed[j + 1] = pa.a_prin[a, t]
            if width >= 3:
                packed[j + 2] = pa.a_bal_end[a, t]
            if width == 4:
                packed[j + 3] = pa.a_bal_start[a, t]


@jit_inner
def asset_activity(pa, a_end, flags):
    """Per-asset work bounds for :func:`apply_defaults_into` (computed once per deal).

    ``a_end[a]`` is one past the last period in which any of the asset's performing arrays is non-zero;
    ``flags[2]`` is 1 when every asset's balance at the start of t + 1 equals (bit for bit) its balance at the end of
    t, and so for the pool totals (then the pool's balance at start is carried, not summed; same bits).
    ``flags[0]`` is 1 when some asset has a non-zero prepayment, ``flags[1]`` when some asset has a non-zero
    fractional default. Subtracting an exact zero never changes a float (and signed zeros are cleaned), so
    skipping those terms leaves every result bit-identical.
    """
    n_a, n_t = pa.a_int.shape
    flags[0] = 0
    flags[1] = 0
    chain = True
    for a in range(n_a):
        end = 0
        for t in range(n_t):
            if (pa.a_int[a, t] != 0.0 or pa.a_prin[a, t] != 0.0 or pa.a_prepay[a, t] != 0.0
                    or pa.a_def[a, t] != 0.0 or pa.a_bal_start[a, t] != 0.0 or pa.a_bal_end[a, t] != 0.0):
                end = t + 1
            if pa.a_prepay[a, t] != 0.0:
                flags[0] = 1
            if pa.a_def[a, t] != 0.0:
                flags[1] = 1
            if t > 0 and not _same_bits(pa.a_bal_start[a, t], pa.a_bal_end[a, t - 1]):
                chain = False
        a_end[a] = end
    for t in range(1, n_t):
        if not _same_bits(pa.b_bal_start[t], pa.b_bal_end[t - 1]):
            chain = False
    flags[2] = 1 if chain else 0


@jit_inner
def apply_defaults_into(pa, packed, width, asset_default_t, rec_amount, rec_t, pf, a_end, has_prepay, has_frac_def,
                        lf, which, n_which, t_from, end_only):
    """:func:`apply_defaults` with precomputed work bounds (:func:`asset_activity`), the per-asset flows
    interleaved (``packed`` = :func:`pack_performing` flattened to 1-D) and scratch ``lf`` of length 4T — the
    per-path kernel.

    Interest, principal and the balances are accumulated interleaved in ``lf`` (base totals, then each defaulted
    asset's remaining flows subtracted as one contiguous, vectorised run of ``packed``), then written to ``pf``.
    With ``width`` 3 the pool's balance at the start of t ≥ 1 is its balance at the end of t − 1: the same
    subtractions of the same values in the same order as summing the balances at start (asset_activity checked
    the per-asset identity bit for bit; at an asset's last active period both are an exact zero).
    Every element receives the same operations in the same order as in the plain loop of
    :func:`apply_defaults`, so the result is bit-identical; only the memory layout differs. Only the assets
    ``which[:n_which]`` (increasing; every defaulted asset among them) are visited: the Monte Carlo passes the
    defaulted ones, :func:`apply_defaults` all of them.

    Only periods ``t ≥ t_from`` of ``pf`` are written, which requires every defaulted asset to default at or after
    ``t_from``: the Monte Carlo passes its first default period when it restarts the path there (the earlier
    periods are the base path's and are not read); 0 writes every period.

    ``width`` 2 (``packed`` from :func:`pack_performing` with width 2: interest and principal only) writes only the
    interest, principal, defaults and recoveries — the same bits as with width 3 or 4 — and leaves the balances and
    prepayments of ``pf`` untouched: for the Monte Carlo's losses-only statistics with a waterfall that reads
    neither (decision 014).

    ``end_only`` = 1 with ``width`` 3 leaves the prepayments and the balances at the start untouched too, and writes
    the balances at the end as with width 3 (the same bits): for the Monte Carlo's full statistics with a generated
    waterfall that reads no pool balance, whose per-period sums need only the balance at the end
    (docs/performance.md item 29). Every other caller passes 0.
    """
    n_t = pa.b_int.shape[0]
    w = width
    stride = w * n_t
    t_lo = t_from - 1 if t_from > 0 else 0
    prepay = w != 2 and not (end_only != 0 and w == 3)  # the prepayments (and balances at the start) are written
    # Base totals, then out below: every loop runs over views indexed from 0 (an index the compiler cannot prove
    # non-negative gets a wrap-around check that blocks vectorisation: 188 → 62 ns for the copies at T = 60).
    if prepay:
        copy_run(pf.prepayment, pa.b_prepay, t_lo, n_t)
    copy_run(pf.defaults, pa.b_def, t_lo, n_t)
    copy_run(pf.recoveries, pa.b_rec, t_lo, n_t)
    n_lo = n_t - t_lo
    bi, bp, be, bb = pa.b_int[t_lo:], pa.b_prin[t_lo:], pa.b_bal_end[t_lo:], pa.b_bal_start[t_lo:]
    lv = lf[w * t_lo:]
    if w == 2:
        for j in range(n_lo):
            lv[2 * j] = bi[j]
            lv[2 * j + 1] = bp[j]
    elif w == 3:
        for j in range(n_lo):
            lv[3 * j] = bi[j]
            lv[3 * j + 1] = bp[j]
            lv[3 * j + 2] = be[j]
    else:
        for j in range(n_lo):
            lv[4 * j] = bi[j]
            lv[4 * j + 1] = bp[j]
            lv[4 * j + 2] = be[j]
            lv[4 * j + 3] = bb[j]
    any_default = False
    lag = pa.frac_rec_lag
    for c in range(n_which):
        a = which[c]
        tau = asset_default_t[a]
        if tau >= n_t:
            continue
        any_default = True
        end = a_end[a]
        base = a * stride
        if tau < end:
            if w == 4:
                # periods tau .. end-1 of interest, principal, balance at end; balance at start only after tau
                subtract_run(lf, packed, 4 * tau, 4 * tau + 3, base)
                subtract_run(lf, packed, 4 * tau + 4, 4 * end, base)
            else:
                subtract_run(lf, packed, w * tau, w * end, base)
        if has_prepay and prepay:
            for t in range(tau, end):
                pf.prepayment[t] -= pa.a_prepay[a, t]
        if has_frac_def:
            for t in range(tau, end):
                pf.defaults[t] -= pa.a_def[a, t]
            rend = end + lag if end + lag < n_t else n_t
            for t in range(tau + lag, rend):
                pf.recoveries[t] -= pa.frac_rec_rate * pa.a_def[a, t - lag]
        pf.defaults[tau] += pa.a_bal_start[a, tau]
        if rec_t[a] < n_t:
            pf.recoveries[rec_t[a]] += rec_amount[a]
    # out (and clean rounding dust when an asset defaulted), from t_from
    n = n_t - t_from
    lv = lf[w * t_from:]
    pi, pp = pf.interest[t_from:], pf.principal[t_from:]
    if w == 2:
        for j in range(n):
            pi[j] = lv[2 * j]
            pp[j] = lv[2 * j + 1]
    elif w == 3:
        pe = pf.bal_end[t_from:]
        for j in range(n):
            pi[j] = lv[3 * j]
            pp[j] = lv[3 * j + 1]
            pe[j] = lv[3 * j + 2]
    else:
        pe, ps = pf.bal_end[t_from:], pf.bal_start[t_from:]
        for j in range(n):
            pi[j] = lv[4 * j]
            pp[j] = lv[4 * j + 1]
            pe[j] = lv[4 * j + 2]
            ps[j] = lv[4 * j + 3]
    if any_default:
        clean_run(pf.interest, t_from, n_t)
        clean_run(pf.principal, t_from, n_t)
        clean_run(pf.defaults, t_from, n_t)
        clean_run(pf.recoveries, t_from, n_t)
        if prepay:
            clean_run(pf.prepayment, t_from, n_t)
        if w != 2:
            clean_run(pf.bal_end, t_from, n_t)
        if w == 4:
            clean_run(pf.bal_start, t_from, n_t)
    if w == 3 and n > 0 and prepay:
        # the balance at the start of t ≥ 1 is the (cleaned) balance at the end of t − 1: lf[3t − 1]
        if t_from > 0:
            pf.bal_start[t_from] = _clean(lf[3 * t_from - 1]) if any_default else lf[3 * t_from - 1]
        else:
            pf.bal_start[0] = _clean(pa.b_bal_start[0]) if any_default else pa.b_bal_start[0]
        copy_run_shifted(pf.bal_start, pf.bal_end, t_from + 1, n_t)


@jit_inner
def copy_run(dst, src, t0, t1):
    """dst[t] = src[t] for t in [t0, t1), over views indexed from 0 (vectorised; see :func:`subtract_run`)."""
    if t1 <= t0:
        return
    d = dst[t0:t1]
    s = src[t0:t1]
    for j in range(t1 - t0):
        d[j] = s[j]


@jit_inner
def copy_run_shifted(dst, src, t0, t1):
    """dst[t] = src[t − 1] for t in [t0, t1) (t0 ≥ 1), over views indexed from 0."""
    if t1 <= t0:
        return
    d = dst[t0:t1]
    s = src[t0 - 1:t1 - 1]
    for j in range(t1 - t0):
        d[j] = s[j]


@jit_inner
def clean_run(x, t0, t1):
    """x[t] = _clean(x[t]) for t in [t0, t1), over a view indexed from 0."""
    if t1 <= t0:
        return
    v = x[t0:t1]
    for j in range(t1 - t0):
        v[j] = _clean(v[j])


@jit_inner
def subtract_run(acc, src, j0, j1, base):
    """acc[j] −= src[base + j] for j in [j0, j1): one contiguous run over slices indexed from 0, which the compiler
    vectorises (indices it cannot prove non-negative get a wrap-around check that blocks vectorisation)."""
    if j1 <= j0:
        return
    a = acc[j0:j1]
    b = src[base + j0:base + j1]
    for j in range(j1 - j0):
        a[j] -= b[j]


@jit_inner
def recovery_fixed(pa, asset_default_t, rate, lag, rec_amount, rec_t):
    """Deterministic recovery model: ``rate`` × defaulted balance, collected ``lag`` periods after default."""
    n_t = pa.b_int.shape[0]
    for a in range(asset_default_t.shape[0]):
        tau = asset_default_t[a]
        if tau >= n_t:
            rec_amount[a] = 0.0
            rec_t[a] = n_t
            continue
        rec_amount[a] = rate * pa.a_bal_start[a, tau]
        rec_t[a] = tau + lag


@jit_inner
def period_rate(annual, yf):
    """Annual rate → rate for a period of ``yf`` years: 1 − (1 − annual)^yf (1 for a whole-year rate of 100%)."""
    if annual >= 1.0:
        return 1.0 if yf > 0.0 else 0.0
    return 1.0 - (1.0 - annual) ** yf


@jit_inner
def performing_into(sched_int, sched_prin, sched_bal, yf, cdr, default_multiplier, cumulative_default_rate,
                    timing, cpr, cpr_multiplier, recovery_rate, recovery_multiplier, lag, pa, tmp):
    """Fractional, pool-uniform defaults (MDR) and prepayments (SMM) applied to every asset, into ``pa``
    (a :class:`PerformingArrays` of scratch arrays; its two scalars are ignored). Returns the recovery rate of the
    fractional defaults, min(1, recovery_rate × recovery_multiplier).

    The one implementation behind :func:`ipabs.compile.lower.performing_flows` (deterministic engine, Monte Carlo)
    and the batch engine (:mod:`ipabs.kernels.batch`, which calls its parts: :func:`performing_rates`, then
    :func:`performing_totals` and :func:`performing_asset` for the defaulted assets only). With g_t the performing
    fraction at the start of period t (g_0 = 1), for each asset: defaults ``g_t·mdr_t·B_t``; survivors
    ``s_t = g_t(1 − mdr_t)`` pay ``s_t·I_t`` interest and ``s_t·P_t`` scheduled principal; prepayments
    ``s_t·smm_t·max(B_t − P_t, 0)``; ``g_{t+1} = s_t(1 − smm_t)``. mdr_t = 1 − (1 − min(1, cdr × default_multiplier))^yf_t,
    or, when ``cumulative_default_rate`` is not NaN, min(1, CDR·w_t·B_pool,0 / (g_t·Σ_a B_t)) with the ``timing``
    weights w normalised (left as they are when they sum to 0). Pool totals are numpy's ``sum(axis=0)`` of the
    per-asset arrays (:func:`ipabs.kernels.sums.sum_rows`; the column sums numpy's pairwise sums), so every value is
    the one the former numpy implementation computed, except where numpy's vectorised ``power`` differs from the C
    library's in the last bit.

    ``tmp`` is scratch of length 6T + :data:`ipabs.kernels.sums.PW_STACK`.
    """
    n, n_t = sched_int.shape
    performing_rates(sched_bal, yf, cdr, default_multiplier, cumulative_default_rate, timing, cpr, cpr_multiplier,
                     tmp)
    for a in range(n):
        performing_asset(sched_int, sched_prin, sched_bal, a, tmp, pa)
    stk = tmp[6 * n_t:]
    sum_rows(pa.a_int, pa.b_int, stk)
    sum_rows(pa.a_prin, pa.b_prin, stk)
    sum_rows(pa.a_prepay, pa.b_prepay, stk)
    sum_rows(pa.a_def, pa.b_def, stk)
    sum_rows(pa.a_bal_start, pa.b_bal_start, stk)
    sum_rows(pa.a_bal_end, pa.b_bal_end, stk)
    return performing_recoveries(recovery_rate, recovery_multiplier, lag, pa)


@jit_inner
def performing_rates(sched_bal, yf, cdr, default_multiplier, cumulative_default_rate, timing, cpr, cpr_multiplier,
                     tmp):
    """The pool-uniform part of :func:`performing_into` into ``tmp``: mdr_t, smm_t, g_t, s_t, g_{t+1} at
    ``tmp[0:T], [T:2T], … [4T:5T]`` (``[5T:6T]`` the normalised weights, then the pairwise-sum stack)."""
    n, n_t = sched_bal.shape
    mdr = tmp[0:n_t]
    smm = tmp[n_t:2 * n_t]
    gs = tmp[2 * n_t:3 * n_t]
    ss = tmp[3 * n_t:4 * n_t]
    gn = tmp[4 * n_t:5 * n_t]
    w = tmp[5 * n_t:6 * n_t]
    stk = tmp[6 * n_t:]
    a_cpr = cpr * cpr_multiplier
    if a_cpr > 1.0:
        a_cpr = 1.0
    for t in range(n_t):
        smm[t] = period_rate(a_cpr, yf[t])
    use_timing = not math.isnan(cumulative_default_rate)
    c_target = 0.0
    if use_timing:
        ws = pairwise_vec(timing, 0, n_t, stk)
        for t in range(n_t):
            w[t] = timing[t] / ws if ws > 0.0 else timing[t]
        c = cumulative_default_rate * default_multiplier
        if c > 1.0:
            c = 1.0
        c_target = c * pairwise_col(sched_bal, 0, 0, n, stk)
    else:
        a_cdr = cdr * default_multiplier
        if a_cdr > 1.0:
            a_cdr = 1.0
        for t in range(n_t):
            mdr[t] = period_rate(a_cdr, yf[t])
    g = 1.0
    for t in range(n_t):
        if use_timing:
            perf = g * pairwise_col(sched_bal, t, 0, n, stk)
            if perf > 0.0:
                x = c_target * w[t] / perf
                mdr[t] = x if x < 1.0 else 1.0
            else:
                mdr[t] = 0.0
        gs[t] = g
        s = g * (1.0 - mdr[t])
        ss[t] = s
        g = s * (1.0 - smm[t])
        gn[t] = g


@jit_inner
def performing_asset(sched_int, sched_prin, sched_bal, a, tmp, pa):
    """Asset ``a``'s rows of ``pa`` from the rates of :func:`performing_rates` in ``tmp``."""
    n_t = sched_int.shape[1]
    mdr = tmp[0:n_t]
    smm = tmp[n_t:2 * n_t]
    gs = tmp[2 * n_t:3 * n_t]
    ss = tmp[3 * n_t:4 * n_t]
    gn = tmp[4 * n_t:5 * n_t]
    for t in range(n_t):
        b = sched_bal[a, t]
        p = sched_prin[a, t]
        left = b - p
        if left < 0.0:
            left = 0.0
        pa.a_bal_start[a, t] = gs[t] * b
        pa.a_def[a, t] = gs[t] * mdr[t] * b
        s = ss[t]
        pa.a_int[a, t] = s * sched_int[a, t]
        pre = s * smm[t] * left
        pa.a_prepay[a, t] = pre
        pa.a_prin[a, t] = s * p + pre
        pa.a_bal_end[a, t] = gn[t] * left


@jit_inner
def performing_totals(sched_int, sched_prin, sched_bal, tmp, pa):
    """The pool totals ``pa.b_*`` (not ``b_rec``) from the rates in ``tmp`` without writing any asset's rows: each
    asset's values are computed as :func:`performing_asset` computes them and added in asset order, which is
    :func:`ipabs.kernels.sums.sum_rows` (the same bits) for two or more periods; with one period (a pairwise sum over
    the assets) it falls back to writing the rows and summing them."""
    n, n_t = sched_int.shape
    if n_t < 2:
        for a in range(n):
            performing_asset(sched_int, sched_prin, sched_bal, a, tmp, pa)
        stk = tmp[6 * n_t:]
        sum_rows(pa.a_int, pa.b_int, stk)
        sum_rows(pa.a_prin, pa.b_prin, stk)
        sum_rows(pa.a_prepay, pa.b_prepay, stk)
        sum_rows(pa.a_def, pa.b_def, stk)
        sum_rows(pa.a_bal_start, pa.b_bal_start, stk)
        sum_rows(pa.a_bal_end, pa.b_bal_end, stk)
        return
    mdr = tmp[0:n_t]
    smm = tmp[n_t:2 * n_t]
    gs = tmp[2 * n_t:3 * n_t]
    ss = tmp[3 * n_t:4 * n_t]
    gn = tmp[4 * n_t:5 * n_t]
    for t in range(n_t):
        pa.b_int[t] = 0.0
        pa.b_prin[t] = 0.0
        pa.b_prepay[t] = 0.0
        pa.b_def[t] = 0.0
        pa.b_bal_start[t] = 0.0
        pa.b_bal_end[t] = 0.0
    for a in range(n):
        for t in range(n_t):
            b = sched_bal[a, t]
            p = sched_prin[a, t]
            left = b - p
            if left < 0.0:
                left = 0.0
            s = ss[t]
            pre = s * smm[t] * left
            if a == 0:
                pa.b_bal_start[t] = gs[t] * b
                pa.b_def[t] = gs[t] * mdr[t] * b
                pa.b_int[t] = s * sched_int[a, t]
                pa.b_prepay[t] = pre
                pa.b_prin[t] = s * p + pre
                pa.b_bal_end[t] = gn[t] * left
            else:
                pa.b_bal_start[t] += gs[t] * b
                pa.b_def[t] += gs[t] * mdr[t] * b
                pa.b_int[t] += s * sched_int[a, t]
                pa.b_prepay[t] += pre
                pa.b_prin[t] += s * p + pre
                pa.b_bal_end[t] += gn[t] * left


@jit_inner
def performing_recoveries(recovery_rate, recovery_multiplier, lag, pa):
    """``pa.b_rec``: the fractional defaults' recoveries, rate × defaults ``lag`` periods later; returns the rate."""
    n_t = pa.b_def.shape[0]
    rate = recovery_rate * recovery_multiplier
    if rate > 1.0:
        rate = 1.0
    for t in range(n_t):
        pa.b_rec[t] = rate * pa.b_def[t - lag] if t >= lag else 0.0
    return rate
