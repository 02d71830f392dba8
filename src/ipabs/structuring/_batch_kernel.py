"""The fast batch deterministic engine: blocks of scenarios through :func:`ipabs.kernels.batch.batch_block`.

The scenario range is cut into blocks; a pool of threads runs them (the kernel releases the GIL), each block writing
only its own rows of the result, so the numbers do not depend on the thread count or the block size
(docs/decisions/015-batch-deterministic-engine.md). Progress is reported between blocks; a progress callback that
raises :class:`ipabs.errors.Cancelled` stops the run (blocks not yet started are dropped).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

import numba
import numpy as np
import QuantLib as ql

from ipabs.compile.lower import CompiledDeal
from ipabs.compile.schedule import day_counter, to_ql
from ipabs.kernels.batch import BatchOutputs, BatchStatics, ScenarioColumns, batch_block

#: Scenarios per block: the unit of work of a thread and the granularity of progress reports.
BLOCK_SIZE = 256

_FREQ = {"monthly": 12.0, "quarterly": 4.0, "semiannual": 2.0, "annual": 1.0}


def _increments(tau: np.ndarray, freq: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The distinct values of freq·(τ_t − τ_{t−1}) for :func:`ipabs.kernels.paths.path_yield`, whose running
    products of e^(−δx) are the discount factors (1 + y/f)^(−f τ_t) of QuantLib's yield equation."""
    from ipabs.prepare.montecarlo import _period_increments

    steps = np.diff(np.concatenate([[0.0], tau]))
    return _period_increments(steps, freq)


#: batch_statics per deal object (id → (weak reference, statics)): a breakeven search calls run_batch many times on
#: one deal with small tables, where the QuantLib year fractions would be most of a call's cost.
_STATICS: dict[int, tuple[weakref.ref, BatchStatics]] = {}


def batch_statics(deal: CompiledDeal) -> BatchStatics:
    """The per-deal inputs of the reductions: tranche faces and prices, the QuantLib year fractions from the closing
    date to each payment date (Actual/365 Fixed for WAL, the deal's day count for the yield). Cached per deal
    object (a ``CompiledDeal`` is immutable)."""
    hit = _STATICS.get(id(deal))
    if hit is not None and hit[0]() is deal:
        return hit[1]
    st = _batch_statics(deal)
    try:
        ref = weakref.ref(deal)
    except TypeError:
        return st
    if len(_STATICS) >= 64:
        _STATICS.clear()
    _STATICS[id(deal)] = (ref, st)
    return st


def _batch_statics(deal: CompiledDeal) -> BatchStatics:
    s = deal.scenario
    settle = to_ql(s.deal.closing_date)
    dates = [to_ql(x) for x in deal.schedule.payment_dates]
    a365 = ql.Actual365Fixed()
    dc = day_counter(s.deal.day_count)
    tau_wal = np.array([a365.yearFraction(settle, x) for x in dates], dtype=np.float64)
    tau_y = np.array([dc.yearFraction(settle, x) for x in dates], dtype=np.float64)
    freq = _FREQ[s.deal.payment_frequency]
    inc_idx, inc_val, inc_units, unit = _increments(tau_y, freq)
    return BatchStatics(
        np.ascontiguousarray(deal.info.asset_obligor, dtype=np.int64),
        np.array([t.balance for t in s.tranches], dtype=np.float64),
        np.array([t.price for t in s.tranches], dtype=np.float64),
        tau_wal, tau_y, float(freq), inc_idx, inc_val, inc_units, float(unit),
    )


def scenario_columns(table) -> ScenarioColumns:
    f8 = np.float64
    i8 = np.int64

    def c(x, dt):
        return np.ascontiguousarray(x, dtype=dt)

    return ScenarioColumns(
        c(table.cdr, f8), c(table.cpr, f8), c(table.recovery_rate, f8), c(table.recovery_lag, i8),
        c(table.default_multiplier, f8), c(table.recovery_multiplier, f8), c(table.cpr_multiplier, f8),
        c(table.cumulative_default_rate, f8), c(table.default_timing, f8), c(table.obligor_default_period, i8),
        c(table.support_default_period, i8),
    )


def run_batch_kernel(deal: CompiledDeal, table, *, progress: Callable[[int, int], None] | None = None,
                     threads: int | None = None, block_size: int | None = None):
    """See :func:`ipabs.structuring.batch.run_batch` (the table is already validated)."""
    from ipabs.structuring.batch import empty_result

    res = empty_result(deal, table)
    n = len(table)
    if n == 0:
        return res
    cols = scenario_columns(table)
    st = batch_statics(deal)
    out = BatchOutputs(*(getattr(res, name) for name in BatchOutputs._fields))  # the result's own arrays, by name
    d, pool = deal.waterfall, deal.pool
    bs = max(1, int(block_size or BLOCK_SIZE))
    blocks = [(lo, min(n, lo + bs)) for lo in range(0, n, bs)]
    n_threads = max(1, int(threads)) if threads else max(1, numba.config.NUMBA_NUM_THREADS)
    n_threads = min(n_threads, len(blocks))

    def run(lo: int, hi: int) -> int:
        batch_block(np.int64(lo), np.int64(hi), d, pool, cols, st, out)
        return hi - lo

    done = 0
    if n_threads == 1:
        for lo, hi in blocks:
            done += run(lo, hi)
            if progress is not None:
                progress(done, n)
    else:
        ex = ThreadPoolExecutor(n_threads, thread_name_prefix="ipabs-batch")
        try:
            futures = [ex.submit(run, lo, hi) for lo, hi in blocks]
            for fut in as_completed(futures):
                done += fut.result()
                if progress is not None:
                    progress(done, n)
        finally:
            ex.shutdown(wait=True, cancel_futures=True)
    res.meta.update(threads=n_threads, block_size=bs, blocks=len(blocks))
    return res
