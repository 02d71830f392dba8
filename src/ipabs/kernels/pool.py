"""Pool cash flows of one path given obligor default periods.

Pool cash = precomputed performing totals − the flows lost by the assets that default + their recoveries. The work
per path is O(n_assets) to find the defaulted assets plus O(n_periods) for each of them — never an
n_assets × n_periods loop (docs/methodology/projection.md).

An asset whose obligor defaults in period τ pays nothing from τ on; its performing balance at the start of τ is
the defaulted amount; its recovery (amount and period chosen by the caller's recovery model) is collected then.
"""

from __future__ import annotations

import numpy as np

from ipabs.kernels._jit import jit, jit_inner

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
    a_end = np.empty(pa.a_int.shape[0], dtype=np.int64)
    flags = np.empty(2, dtype=np.int64)
    asset_activity(pa, a_end, flags)
    apply_defaults_into(pa, asset_default_t, rec_amount, rec_t, pf, a_end, flags[0], flags[1])


@jit_inner
def asset_activity(pa, a_end, flags):
    """Per-asset work bounds for :func:`apply_defaults_into` (computed once per deal).

    ``a_end[a]`` is one past the last period in which any of the asset's performing arrays is non-zero;
    ``flags[0]`` is 1 when some asset has a non-zero prepayment, ``flags[1]`` when some asset has a non-zero
    fractional default. Subtracting an exact zero never changes a float (and signed zeros are cleaned), so
    skipping those terms leaves every result bit-identical.
    """
    n_a, n_t = pa.a_int.shape
    flags[0] = 0
    flags[1] = 0
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
        a_end[a] = end


@jit_inner
def apply_defaults_into(pa, asset_default_t, rec_amount, rec_t, pf, a_end, has_prepay, has_frac_def):
    """:func:`apply_defaults` with precomputed work bounds (:func:`asset_activity`) — the per-path kernel.

    For each defaulted asset the lost flows are subtracted array by array (short contiguous loops the compiler
    vectorises) over its active periods only; per element the order of operations is that of the plain loop.
    """
    n_t = pa.b_int.shape[0]
    for t in range(n_t):
        pf.interest[t] = pa.b_int[t]
        pf.principal[t] = pa.b_prin[t]
        pf.prepayment[t] = pa.b_prepay[t]
        pf.defaults[t] = pa.b_def[t]
        pf.recoveries[t] = pa.b_rec[t]
        pf.bal_start[t] = pa.b_bal_start[t]
        pf.bal_end[t] = pa.b_bal_end[t]
    any_default = False
    lag = pa.frac_rec_lag
    for a in range(asset_default_t.shape[0]):
        tau = asset_default_t[a]
        if tau >= n_t:
            continue
        any_default = True
        end = a_end[a]
        for t in range(tau, end):
            pf.interest[t] -= pa.a_int[a, t]
        for t in range(tau, end):
            pf.principal[t] -= pa.a_prin[a, t]
        for t in range(tau, end):
            pf.bal_end[t] -= pa.a_bal_end[a, t]
        for t in range(tau + 1, end):
            pf.bal_start[t] -= pa.a_bal_start[a, t]
        if has_prepay:
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
    if any_default:
        for t in range(n_t):
            pf.interest[t] = _clean(pf.interest[t])
            pf.principal[t] = _clean(pf.principal[t])
            pf.prepayment[t] = _clean(pf.prepayment[t])
            pf.defaults[t] = _clean(pf.defaults[t])
            pf.recoveries[t] = _clean(pf.recoveries[t])
            pf.bal_start[t] = _clean(pf.bal_start[t])
            pf.bal_end[t] = _clean(pf.bal_end[t])


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
