"""Compiled arrays: what kernels see. Structure of arrays, float64 amounts in yuan, int64 indices.

Shapes use T = n_periods, K = n_tranches, F = n_fees, A = n_accounts, S = n_supports, G = n_triggers,
N = n_assets, O = n_obligors; waterfall steps are padded to [3 states, max_steps, max_targets] with -1.
Names ↔ indices live in :class:`ipabs.compile.lower.CompiledDeal` (Python side only).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# The containers the kernels fill or read (PerformingArrays, PoolFlows, WaterfallOut) live beside the kernels, in
# ipabs.kernels.containers (decision 021); re-exported here for callers of the old place.
from ipabs.kernels.containers import PerformingArrays, PoolFlows, WaterfallOut  # noqa: F401


class WaterfallArrays(NamedTuple):
    """The deal's liabilities and rules (kernel input, identical for every path)."""

    yf: np.ndarray  # f8[T] year fraction of each payment period (deal day count): the clock of yields and WALs
    pool_bal0: float  # cut-off performing balance
    cleanup: float  # clean-up call threshold as a fraction of pool_bal0 (0 = none)
    # tranches
    tr_bal0: np.ndarray  # f8[K]
    tr_coupon: np.ndarray  # f8[K]
    tr_target: np.ndarray  # f8[K, T] balance the tranche is due to be paid down to by period t
    tr_ios: np.ndarray  # i8[K] interest accrues on unpaid interest
    tr_senior: np.ndarray  # i8[K] 1 for senior tranches (coverage-ratio denominator)
    # fees
    fee_basis: np.ndarray  # i8[F]
    fee_rate: np.ndarray  # f8[F]
    fee_amount: np.ndarray  # f8[F] annual amount (fixed basis)
    fee_tr_mask: np.ndarray  # f8[F, K]
    # accounts
    acct_init: np.ndarray  # f8[A]
    acct_reserve: np.ndarray  # i8[A] 1 = reserve account
    acct_target_amt: np.ndarray  # f8[A]
    acct_target_rate: np.ndarray  # f8[A]
    acct_target_mask: np.ndarray  # f8[A, K]
    route_int: int
    route_prin: int
    route_rec: int
    # supports
    sup_cap: np.ndarray  # f8[S] (inf = unlimited)
    # waterfall steps, per state
    st_n: np.ndarray  # i8[3]
    st_op: np.ndarray  # i8[3, MS]
    st_src: np.ndarray  # i8[3, MS] source account
    st_dst: np.ndarray  # i8[3, MS] destination account (transfer, draw_support)
    st_alloc: np.ndarray  # i8[3, MS]
    st_amount: np.ndarray  # i8[3, MS]
    st_support: np.ndarray  # i8[3, MS]
    st_targets: np.ndarray  # i8[3, MS, MT] tranche or fee indices
    st_ntargets: np.ndarray  # i8[3, MS]
    st_cov_kind: np.ndarray  # i8[3, MS, MC]
    st_cov_idx: np.ndarray  # i8[3, MS, MC]
    st_ncov: np.ndarray  # i8[3, MS]
    st_req: np.ndarray  # i8[3, MS, MT] tranches that must be repaid for the step to run
    st_nreq: np.ndarray  # i8[3, MS]
    # triggers
    trg_cond: np.ndarray  # i8[G]
    trg_thr: np.ndarray  # f8[G]
    trg_sup: np.ndarray  # i8[G]
    trg_period: np.ndarray  # i8[G]
    trg_effect: np.ndarray  # i8[G]
    trg_curable: np.ndarray  # i8[G]
    # accrual conventions (docs/methodology/waterfall.md §1; the defaults are ``yf`` and ``tr_coupon`` themselves)
    note_yf: np.ndarray  # f8[T] year fraction of each note accrual period (note day count, adjusted or not)
    fee_yf: np.ndarray  # f8[T] year fraction over which fees accrue (payment or collection period)
    fee_bal_lag: np.ndarray  # i8[T] 1: tranche_balance fees of period t accrue on the balances at the start of t−1
    tr_rate: np.ndarray  # f8[T, K] coupon of each tranche in each period (fixed: tr_coupon; floating: index + spread)


class PoolArrays(NamedTuple):
    """Scheduled (contractual) cash flows of every asset by collection period, before any default."""

    sched_int: np.ndarray  # f8[N, T]
    sched_prin: np.ndarray  # f8[N, T]
    sched_bal_start: np.ndarray  # f8[N, T] contractual balance at the start of each period
    asset_obligor: np.ndarray  # i8[N]
    after_legal: np.ndarray  # f8[N] contractual flows dated after legal maturity (never reach investors)
    pool_yf: np.ndarray  # f8[T] year fraction of each collection period: the clock of CDR/CPR and PDs (one source)


def empty_pool_flows(n_periods: int) -> PoolFlows:
    return PoolFlows(*(np.zeros(n_periods) for _ in range(7)))


def empty_waterfall_out(n_periods: int, n_tranches: int, n_fees: int, n_accounts: int, n_supports: int) -> WaterfallOut:
    t, k = n_periods, n_tranches
    return WaterfallOut(
        np.zeros((t, k)), np.zeros((t, k)), np.zeros((t, k)), np.zeros((t, k)), np.zeros((t, k)), np.zeros((t, k)),
        np.zeros((t, k)), np.zeros((t, n_fees)), np.zeros((t, n_fees)), np.zeros((t, n_accounts)),
        np.zeros((t, n_supports)), np.zeros(t, dtype=np.int64), np.zeros(t), np.zeros(t), np.zeros(t),
        np.zeros(t, dtype=np.int64),
    )
