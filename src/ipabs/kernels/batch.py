"""The batch deterministic engine's kernel: many deterministic scenarios of one deal, reduced to per-scenario results.

Each scenario runs the deterministic engine's own kernels in the order :func:`ipabs.engine.deterministic.run_path`
runs them — :func:`ipabs.kernels.pool.performing_into`'s parts (fractional CDR/CPR or the cumulative-default timing path; the
per-asset rows only for the defaulted assets),
:func:`ipabs.kernels.pool.recovery_fixed`, :func:`ipabs.kernels.pool.apply_defaults_work` (discrete obligor
defaults), :func:`ipabs.kernels.waterfall.waterfall_periods` (the general waterfall, full recording) — and then reduces
the recorded waterfall exactly as the reference engine (:func:`ipabs.structuring.batch._run_reference`) reduces it:
numpy's summation orders (:mod:`ipabs.kernels.sums`), the last row's balances and shortfalls, the minimum coverage
ratio, each trigger's first period (the tests of :func:`ipabs.structuring.batch.trigger_first_periods`), WAL as
Σ τ·p / Σ p in period order, and the yield by :func:`ipabs.kernels.paths.path_yield` on the QuantLib equation.

A block of scenarios (:func:`batch_block`, which releases the GIL) allocates its scratch once; every scenario
starts from a clean state and writes only its own rows, so results do not depend on the block or the thread.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ipabs.kernels._jit import TRG_COVERAGE, TRG_CUM_DEFAULT, TRG_SUPPORT_DEFAULT, jit_inner, jit_nogil
from ipabs.kernels.containers import PerformingArrays, PoolFlows, WaterfallOut
from ipabs.kernels.paths import path_yield
from ipabs.kernels.pool import (
    apply_defaults_work,
    performing_asset,
    performing_rates,
    performing_recoveries,
    performing_totals,
    recovery_fixed,
)
from ipabs.kernels.sums import PW_STACK, pairwise_col, pairwise_vec
from ipabs.kernels.waterfall import EPS, REC_ALL, waterfall_periods, waterfall_start, waterfall_work

#: path_yield's bracket: y ∈ [Y_LO·f, Y_HI]; a result on its edge is not a root (nothing solves the equation
#: inside it; QuantLib's solver gives no yield there either) and is reported as NaN.
Y_LO = -0.99
Y_HI = 10.0


class ScenarioColumns(NamedTuple):
    """The columns of :class:`ipabs.structuring.batch.ScenarioTable` (C-ordered, float64 / int64)."""

    cdr: np.ndarray  # f8[n]
    cpr: np.ndarray  # f8[n]
    recovery_rate: np.ndarray  # f8[n]
    recovery_lag: np.ndarray  # i8[n]
    default_multiplier: np.ndarray  # f8[n]
    recovery_multiplier: np.ndarray  # f8[n]
    cpr_multiplier: np.ndarray  # f8[n]
    cumulative_default_rate: np.ndarray  # f8[n] NaN = use cdr
    default_timing: np.ndarray  # f8[n, T]
    obligor_default_period: np.ndarray  # i8[n, O]
    support_default_period: np.ndarray  # i8[n, S]


class BatchStatics(NamedTuple):
    """What the reductions need besides the waterfall output (one per deal)."""

    asset_obligor: np.ndarray  # i8[N]
    face: np.ndarray  # f8[K] original balance
    price: np.ndarray  # f8[K] dirty price, % of par
    tau_wal: np.ndarray  # f8[T] Actual/365 Fixed years from closing to each payment date (QuantLib)
    tau_yield: np.ndarray  # f8[T] the deal day count's years from closing to each payment date (QuantLib)
    freq: float  # compounding frequency of the yield (payments a year)
    inc_idx: np.ndarray  # i8[T] index of freq·(τ_t − τ_{t−1}) in inc_val
    inc_val: np.ndarray  # f8[J]
    inc_units: np.ndarray  # i8[J] inc_val / unit when whole (days); see ipabs.kernels.paths.path_yield
    unit: float


class BatchOutputs(NamedTuple):
    """Per-scenario results, rows indexed by scenario (the fields of :class:`ipabs.structuring.batch.BatchResult`)."""

    interest_paid: np.ndarray  # f8[n, K]
    principal_paid: np.ndarray  # f8[n, K]
    residual_paid: np.ndarray  # f8[n, K]
    loss: np.ndarray  # f8[n, K]
    interest_shortfall: np.ndarray  # f8[n, K]
    shortfall_any: np.ndarray  # b1[n, K]
    wal_years: np.ndarray  # f8[n, K]
    yield_: np.ndarray  # f8[n, K]
    min_coverage: np.ndarray  # f8[n]
    trigger_period: np.ndarray  # i8[n, G]
    pool_defaults: np.ndarray  # f8[n]
    pool_recoveries: np.ndarray  # f8[n]
    support_draws: np.ndarray  # f8[n, S]


@jit_inner
def reduce_scenario(i, d, st, pf, out, sup_t, cf, pw, stk, res):
    """Row ``i`` of ``res`` from one scenario's pool flows ``pf`` and full waterfall record ``out`` (the reference
    engine's reductions, the same operations in the same order)."""
    n_t, n_k = out.tr_int_paid.shape
    last = n_t - 1
    for k in range(n_k):
        res.interest_paid[i, k] = pairwise_col(out.tr_int_paid, k, 0, n_t, stk)
        res.principal_paid[i, k] = pairwise_col(out.tr_prin_paid, k, 0, n_t, stk)
        res.residual_paid[i, k] = pairwise_col(out.tr_resid, k, 0, n_t, stk)
        res.loss[i, k] = out.tr_bal_end[last, k]
        res.interest_shortfall[i, k] = out.tr_int_short[last, k]
        short = False
        for t in range(n_t):
            if out.tr_int_short[t, k] > EPS:
                short = True
        res.shortfall_any[i, k] = short
        # WAL: Σ τ_t p_t / Σ p_t, both summed in period order from 0 (ipabs.analytics.bond.wal_years)
        tot = 0.0
        num = 0.0
        for t in range(n_t):
            p = out.tr_prin_paid[t, k]
            tot += p
            num += st.tau_wal[t] * p
        res.wal_years[i, k] = num / tot if tot > 0.0 else math.nan
        # yield at the dirty price of the flows per 100 of face (ipabs.analytics.bond.bond_metrics)
        # (no yield when nothing was paid: Σ flows ≤ 0, in period order as Python sums them; the leg holds the
        # positive flows only — a residual can be −1e-13 of rounding dust)
        face = st.face[k]
        y = math.nan
        if face > 0.0:
            scale = 100.0 / face
            total = 0.0
            pos = False
            for t in range(n_t):
                c = out.tr_int_paid[t, k] + out.tr_prin_paid[t, k] + out.tr_resid[t, k]
                total += c
                cf[t] = c * scale if c > 0.0 else 0.0
                if cf[t] > 0.0:
                    pos = True
            if total > 0.0 and pos:
                y = path_yield(cf, st.tau_yield, st.price[k], st.freq, st.inc_idx, st.inc_val, st.inc_units, st.unit,
                               pw)
                if not (Y_LO * st.freq + 1e-9 < y < Y_HI - 1e-9):
                    y = math.nan  # no root inside the solver's bracket (or nothing positive): no yield
        res.yield_[i, k] = y
    m = math.nan
    for t in range(n_t):
        c = out.coverage[t]
        if c >= 0.0 and not (c >= m):
            m = c
    res.min_coverage[i] = m
    # triggers: the period each condition first held on the recorded path (-1 = never)
    for g in range(d.trg_cond.shape[0]):
        c = d.trg_cond[g]
        first = -1
        for t in range(n_t):
            if c == TRG_CUM_DEFAULT:
                hit = d.pool_bal0 > 0.0 and out.cum_def_ratio[t] >= d.trg_thr[g]
            elif c == TRG_COVERAGE:
                hit = 0.0 <= out.coverage[t] < d.trg_thr[g]
            elif c == TRG_SUPPORT_DEFAULT:
                hit = sup_t[d.trg_sup[g]] <= t
            else:
                hit = t >= d.trg_period[g]
            if hit:
                first = t
                break
        res.trigger_period[i, g] = first
    res.pool_defaults[i] = pairwise_vec(pf.defaults, 0, n_t, stk)
    res.pool_recoveries[i] = pairwise_vec(pf.recoveries, 0, n_t, stk)
    n_s = out.sup_draw.shape[1]
    if n_s == 1:
        res.support_draws[i, 0] = pairwise_col(out.sup_draw, 0, 0, n_t, stk)
    else:
        for s in range(n_s):
            res.support_draws[i, s] = out.sup_draw[0, s] if n_t > 0 else 0.0
        for t in range(1, n_t):
            for s in range(n_s):
                res.support_draws[i, s] += out.sup_draw[t, s]


@jit_nogil
def batch_block(lo, hi, d, pool, sc, st, res):
    """Scenarios ``lo .. hi − 1`` of ``sc`` (:class:`ScenarioColumns`) through deal ``d`` (``WaterfallArrays``) and
    pool ``pool`` (``PoolArrays``) into the rows of ``res`` (:class:`BatchOutputs`)."""
    n_a, n_t = pool.sched_int.shape
    n_k = d.tr_bal0.shape[0]
    n_f = d.fee_basis.shape[0]
    n_acc = d.acct_init.shape[0]
    n_s = d.sup_cap.shape[0]
    pa = PerformingArrays(np.empty((n_a, n_t)), np.empty((n_a, n_t)), np.empty((n_a, n_t)), np.empty((n_a, n_t)),
                          np.empty((n_a, n_t)), np.empty((n_a, n_t)), np.empty(n_t), np.empty(n_t), np.empty(n_t),
                          np.empty(n_t), np.empty(n_t), np.empty(n_t), np.empty(n_t), 0.0, 0)
    pf = PoolFlows(np.zeros(n_t), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t),
                   np.zeros(n_t))
    out = WaterfallOut(np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_k)),
                       np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_f)),
                       np.zeros((n_t, n_f)), np.zeros((n_t, n_acc)), np.zeros((n_t, n_s)),
                       np.zeros(n_t, dtype=np.int64), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t),
                       np.zeros(n_t, dtype=np.int64))
    w = waterfall_work(d)
    tmp = np.empty(6 * n_t + PW_STACK)
    stk = np.empty(PW_STACK)
    timing = np.empty(n_t)
    asset_t = np.empty(n_a, dtype=np.int64)
    rec_amt = np.empty(n_a)
    rec_t = np.empty(n_a, dtype=np.int64)
    a_end = np.zeros(n_a, dtype=np.int64)
    flags = np.zeros(3, dtype=np.int64)
    packed = np.empty(n_a * n_t * 4)
    lf = np.empty(4 * n_t)
    which = np.arange(n_a)
    cf = np.empty(n_t)
    pw = np.empty(st.inc_val.shape[0])
    for i in range(lo, hi):
        # the scenario's assumptions (ScenarioTable.assumptions): a cumulative default rate with all-zero timing
        # weights spreads the defaults uniformly
        cum = sc.cumulative_default_rate[i]
        cdr = sc.cdr[i]
        row = sc.default_timing[i]
        if math.isnan(cum):
            for t in range(n_t):
                timing[t] = 1.0
        else:
            cdr = 0.0
            nz = False
            for t in range(n_t):
                timing[t] = row[t]
                if row[t] != 0.0:
                    nz = True
            if not nz:
                for t in range(n_t):
                    timing[t] = 1.0
        # performing_into's parts: the pool totals without any asset's rows, then the rows of the defaulted assets
        # (the only ones the recoveries and the pool kernel read): the same bits, O(T) per defaulted asset
        lag = sc.recovery_lag[i]
        performing_rates(pool.sched_bal_start, pool.pool_yf, cdr, sc.default_multiplier[i], cum, timing, sc.cpr[i],
                         sc.cpr_multiplier[i], tmp)
        performing_totals(pool.sched_int, pool.sched_prin, pool.sched_bal_start, tmp, pa)
        rate = performing_recoveries(sc.recovery_rate[i], sc.recovery_multiplier[i], lag, pa)
        pai = PerformingArrays(pa.a_int, pa.a_prin, pa.a_prepay, pa.a_def, pa.a_bal_start, pa.a_bal_end, pa.b_int,
                               pa.b_prin, pa.b_prepay, pa.b_def, pa.b_rec, pa.b_bal_start, pa.b_bal_end, rate, lag)
        obl = sc.obligor_default_period[i]
        for a in range(n_a):
            asset_t[a] = obl[st.asset_obligor[a]]
            if asset_t[a] < n_t:
                performing_asset(pool.sched_int, pool.sched_prin, pool.sched_bal_start, a, tmp, pai)
        recovery_fixed(pai, asset_t, rate, lag, rec_amt, rec_t)
        apply_defaults_work(pai, asset_t, rec_amt, rec_t, pf, a_end, flags, packed, lf, which)
        sup_t = sc.support_default_period[i]
        waterfall_start(d, w)
        waterfall_periods(d, pf, sup_t, out, w, 0, n_t, np.int64(REC_ALL))
        reduce_scenario(i, d, st, pf, out, sup_t, cf, pw, stk, res)
