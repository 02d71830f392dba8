"""Kernels of the tranche-sizing solver (:mod:`ipabs.structuring.sizing`): the Monte Carlo's pool flows per path,
stored once, and the waterfall of a trial structure run over them.

A sizing search runs the Monte Carlo many times on deals that differ only in their liabilities (tranche balances,
coupons). Default times, recoveries and pool flows depend only on the pool, the credit model, the seed and the path
(counter-based random numbers: docs/methodology/random-numbers.md), so :func:`collect_block` computes them once per
path — exactly as :func:`ipabs.kernels.paths.simulate_path` does, but from period 0 — and keeps the paths on which
anything defaults (every other path is the no-default base path). :func:`run_trial` then runs only the waterfall of
a trial structure over the stored flows with ``REC_NONE``: the loss is the balance left after the last period, the
interest-shortfall flag ``w.track``. The results are the Monte Carlo's per-path losses bit for bit
(tests/oracle/test_sizing.py): the pool flows of a defaulted path before its first default equal the base path's
when the engine restarts paths (``restart_ok``), so running the waterfall from period 0 over them gives the state the
engine restarts from.
"""

from __future__ import annotations

import numpy as np

from ipabs.kernels._jit import jit_inner, jit_nogil
from ipabs.kernels.callptr import call_waterfall
from ipabs.kernels.containers import PoolFlows, WaterfallOut
from ipabs.kernels.defaults import default_periods_one_path
from ipabs.kernels.paths import ip_recoveries, path_scratch, revenue_flows
from ipabs.kernels.pool import apply_defaults_into
from ipabs.kernels.waterfall import REC_NONE, waterfall_periods, waterfall_start, waterfall_work

#: Columns of the stored pool flows, in :class:`~ipabs.compile.arrays.PoolFlows` order.
N_FLOW_COLUMNS = 7


@jit_nogil
def collect_block(seed, p_start, p_end, j0, d, pa, ci, si, f_int, f_prin, f_pre, f_def, f_rec, f_bs, f_be, sup, idx,
                  first):
    """Paths [p_start, p_end): each path's first default period into ``first[j0 + p − p_start]`` and, for a path on
    which an obligor or support provider defaults within the deal (or any path under sales-linked royalties), its
    pool flows (every period) into the next row of ``f_*`` and its support default periods into that row of
    ``sup``, its path index into ``idx``. Returns the number of rows written."""
    n_t = d.yf.shape[0]
    x = path_scratch(d, ci, si)
    pf = PoolFlows(np.zeros(n_t), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t),
                   np.zeros(n_t))
    return collect_loop(seed, p_start, p_end, j0, d, pa, ci, x, pf, f_int, f_prin, f_pre, f_def, f_rec, f_bs, f_be,
                        sup, idx, first)


@jit_inner
def collect_loop(seed, p_start, p_end, j0, d, pa, ci, x, pf, f_int, f_prin, f_pre, f_def, f_rec, f_bs, f_be, sup, idx,
                 first):
    """The path loop of :func:`collect_block` (no allocation, no reference counting: threads share the deal's
    arrays without atomic increments)."""
    n_t = d.yf.shape[0]
    n_s = d.sup_cap.shape[0]
    has_rev = ci.rev_asset.shape[0] > 0
    m = np.int64(0)
    for p in range(p_start, p_end):
        n_dob = default_periods_one_path(seed, p, ci.thresholds, ci.th_row, ci.group, ci.g_a, ci.g_s, ci.g_b,
                                         ci.g_sector, ci.g_cmax, ci.dof, x.factors, x.screen, x.ubuf, x.cand, x.ob_def)
        for c in range(x.n_dl[0]):
            x.a_def[x.dl[c]] = n_t
        tau0 = n_t
        nd = np.int64(0)
        for c in range(n_dob):
            o = x.cand[c]
            ta = x.ob_def[o]
            for q in range(ci.ob_ptr[o], ci.ob_ptr[o + 1]):
                a = ci.ob_assets[q]
                x.a_def[a] = ta
                x.dl[nd] = a
                nd += 1
                if ta < tau0:
                    tau0 = ta
        # increasing asset order, as the path kernel visits them
        for c in range(1, nd):
            a = x.dl[c]
            q = c - 1
            while q >= 0 and x.dl[q] > a:
                x.dl[q + 1] = x.dl[q]
                q -= 1
            x.dl[q + 1] = a
        x.n_dl[0] = nd
        for sp in range(n_s):
            ts = x.ob_def[ci.sup_obligor[sp]] if ci.sup_obligor[sp] >= 0 else n_t
            x.sup_def_t[sp] = ts
            if ts < tau0:
                tau0 = ts
        first[j0 + p - p_start] = tau0
        if tau0 >= n_t and not has_rev:
            continue
        if nd > 0:
            ip_recoveries(seed, p, pa, x.a_def, x.dl, nd, ci.appraisal, ci.hc_mean, ci.hc_std, ci.cost_rate,
                          ci.fixed_rate, ci.lag, ci.use_ip, x.factors[0], ci.downturn, ci.lag_extra, x.rec_amt,
                          x.rec_t)
        apply_defaults_into(pa, ci.packed, np.int64(ci.width), x.a_def, x.rec_amt, x.rec_t, pf, ci.a_end,
                            ci.has_prepay, ci.has_frac_def, x.lf, x.dl, nd, np.int64(0), np.int64(0))
        if has_rev:
            revenue_flows(seed, p, pa, ci.asset_obligor, x.a_def, ci.a_end, ci.rev_asset, ci.rev_mu, ci.rev_sig,
                          ci.rev_floor, ci.rev_cap, pf, x.factors, ci.rev_cm, ci.rev_cs, ci.rev_ce, ci.rev_sec)
        for t in range(n_t):
            f_int[m, t] = pf.interest[t]
            f_prin[m, t] = pf.principal[t]
            f_pre[m, t] = pf.prepayment[t]
            f_def[m, t] = pf.defaults[t]
            f_rec[m, t] = pf.recoveries[t]
            f_bs[m, t] = pf.bal_start[t]
            f_be[m, t] = pf.bal_end[t]
        for sp in range(n_s):
            sup[m, sp] = x.sup_def_t[sp]
        idx[m] = p
        m += 1
    return m


@jit_nogil
def run_trial(d, f_int, f_prin, f_pre, f_def, f_rec, f_bs, f_be, sup, sel, wf_addr, wf_par, loss, short):
    """The waterfall of deal ``d`` from period 0 over stored paths ``sel`` (rows of ``f_*``/``sup``), recording
    nothing (``REC_NONE``): ``loss[c, k]`` = tranche k's balance after the last period / its face (0 for a zero
    face) and ``short[c, k]`` = 1 if it ever carried an interest shortfall, for the c-th selected row. With
    ``wf_addr`` ≠ 0 the waterfall generated for ``d``'s structure runs (parameters ``wf_par``; bit-identical,
    decision 013), else the general kernel."""
    n_t = d.yf.shape[0]
    n_k = d.tr_bal0.shape[0]
    n_f = d.fee_basis.shape[0]
    n_acc = d.acct_init.shape[0]
    n_s = d.sup_cap.shape[0]
    w = waterfall_work(d)
    out = WaterfallOut(np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_k)),
                       np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_f)),
                       np.zeros((n_t, n_f)), np.zeros((n_t, n_acc)), np.zeros((n_t, n_s)),
                       np.zeros(n_t, dtype=np.int64), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t),
                       np.zeros(n_t, dtype=np.int64))
    sdt = np.zeros(n_s, dtype=np.int64)
    trial_loop(d, f_int, f_prin, f_pre, f_def, f_rec, f_bs, f_be, sup, sel, wf_addr, wf_par, loss, short, w, out, sdt)


@jit_inner
def trial_loop(d, f_int, f_prin, f_pre, f_def, f_rec, f_bs, f_be, sup, sel, wf_addr, wf_par, loss, short, w, out, sdt):
    """The row loop of :func:`run_trial` (no allocation, no reference counting)."""
    n_t = d.yf.shape[0]
    n_k = d.tr_bal0.shape[0]
    n_s = d.sup_cap.shape[0]
    rec = np.int64(REC_NONE)
    t0 = np.int64(0)
    t1 = np.int64(n_t)
    for c in range(sel.shape[0]):
        i = sel[c]
        for sp in range(n_s):
            sdt[sp] = sup[i, sp]
        waterfall_start(d, w)
        for k in range(n_k + 1):
            w.track[k] = 0.0
        if wf_addr != 0:
            call_waterfall(wf_addr, f_int[i], f_prin[i], f_rec[i], f_def[i], f_bs[i], f_be[i], wf_par, w.acct, w.bal,
                           w.short, w.fee_carry, w.sup_left, w.scal, w.track, sdt, out.tr_int_paid, out.tr_int_short,
                           out.tr_prin_paid, out.tr_bal_end, out.tr_resid, out.sup_draw, t0, t1, rec)
        else:
            pf = PoolFlows(f_int[i], f_prin[i], f_pre[i], f_def[i], f_rec[i], f_bs[i], f_be[i])
            waterfall_periods(d, pf, sdt, out, w, t0, t1, rec)
        for k in range(n_k):
            loss[c, k] = w.bal[k] / d.tr_bal0[k] if d.tr_bal0[k] > 0.0 else 0.0
            short[c, k] = 1 if w.track[k] != 0.0 else 0
