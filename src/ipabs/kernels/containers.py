"""The containers the kernels fill or read, beside the kernels: per-asset performing flows, one path's pool flows
and one path's waterfall detail (structure of arrays, float64 amounts in yuan, int64 indices).

Shapes use T = n_periods, K = n_tranches, F = n_fees, A = n_accounts, S = n_supports, N = n_assets. They live
here so that nothing in :mod:`ipabs.kernels` imports from the layers above it; :mod:`ipabs.compile.arrays`
re-exports them (decision 021).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class PerformingArrays(NamedTuple):
    """Per-asset flows after fractional (deterministic) defaults and prepayments, and their pool totals.

    Discrete obligor defaults are applied on top of these by :func:`ipabs.kernels.pool.apply_defaults`.
    """

    a_int: np.ndarray  # f8[N, T] interest collected
    a_prin: np.ndarray  # f8[N, T] scheduled principal + prepayments collected
    a_prepay: np.ndarray  # f8[N, T] of which prepayments
    a_def: np.ndarray  # f8[N, T] fractional defaults
    a_bal_start: np.ndarray  # f8[N, T] performing balance at period start
    a_bal_end: np.ndarray  # f8[N, T] performing balance at period end
    b_int: np.ndarray  # f8[T] pool totals of the above
    b_prin: np.ndarray
    b_prepay: np.ndarray
    b_def: np.ndarray
    b_rec: np.ndarray  # f8[T] recoveries of fractional defaults
    b_bal_start: np.ndarray
    b_bal_end: np.ndarray
    frac_rec_rate: float  # recovery rate applied to fractional defaults
    frac_rec_lag: int


class PoolFlows(NamedTuple):
    """One path's pool cash flows by period (the waterfall's input)."""

    interest: np.ndarray  # f8[T]
    principal: np.ndarray  # f8[T] scheduled principal + prepayments
    prepayment: np.ndarray  # f8[T]
    defaults: np.ndarray  # f8[T] balance defaulted in the period
    recoveries: np.ndarray  # f8[T]
    bal_start: np.ndarray  # f8[T] performing balance at period start
    bal_end: np.ndarray  # f8[T] performing balance at period end


class WaterfallOut(NamedTuple):
    """Per-period detail of one path's waterfall (written by the kernel)."""

    tr_int_due: np.ndarray  # f8[T, K]
    tr_int_paid: np.ndarray  # f8[T, K]
    tr_int_short: np.ndarray  # f8[T, K] unpaid interest carried after the period
    tr_prin_due: np.ndarray  # f8[T, K]
    tr_prin_paid: np.ndarray  # f8[T, K]
    tr_bal_end: np.ndarray  # f8[T, K]
    tr_resid: np.ndarray  # f8[T, K]
    fee_due: np.ndarray  # f8[T, F]
    fee_paid: np.ndarray  # f8[T, F]
    acct_bal: np.ndarray  # f8[T, A] end of period
    sup_draw: np.ndarray  # f8[T, S]
    state: np.ndarray  # i8[T]
    coverage: np.ndarray  # f8[T] (-1 when nothing senior is due)
    cum_def_ratio: np.ndarray  # f8[T]
    cash_in: np.ndarray  # f8[T] pool cash credited (collections + clean-up proceeds)
    called: np.ndarray  # i8[T] 1 in the clean-up call period
