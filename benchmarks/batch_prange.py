"""The batch engine's thread pool against a numba ``prange`` over chunks of scenarios (decision 015).

``PYTHONPATH=src .venv/bin/python benchmarks/batch_prange.py``: compiles a ``jit_parallel`` loop over chunks that
calls the same block kernel (``ipabs.kernels.batch.batch_block``), checks it gives the same bits, and times both on
1,000 CDR scenarios of benchmarks/data/batch5.toml (best and median of 30 calls, ms). Not part of ``make bench``:
the parallel loop takes about a minute to compile.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ipabs.api import compile_scenario, load_scenario
from ipabs.kernels._jit import jit_parallel, prange
from ipabs.kernels.batch import BatchOutputs, batch_block
from ipabs.structuring._batch_kernel import batch_statics, scenario_columns
from ipabs.structuring.batch import ScenarioTable, empty_result, run_batch


@jit_parallel
def batch_prange(n, chunk, d, pool, sc, st, res):
    for c in prange((n + chunk - 1) // chunk):
        lo = c * chunk
        batch_block(lo, min(n, lo + chunk), d, pool, sc, st, res)


def best_median(f, rounds: int = 30) -> tuple[float, float]:
    ts = []
    for _ in range(rounds):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts) * 1e3, float(np.median(ts)) * 1e3


def main() -> None:
    deal = compile_scenario(load_scenario(Path(__file__).parent / "data" / "batch5.toml"))
    table = ScenarioTable.repeat(deal, 1000, cdr=np.linspace(0, 0.5, 1000))
    ref = run_batch(deal, table, threads=2)
    res = empty_result(deal, table)
    out = BatchOutputs(*(getattr(res, f) for f in BatchOutputs._fields))
    st, cols = batch_statics(deal), scenario_columns(table)
    t0 = time.perf_counter()
    batch_prange(np.int64(1000), np.int64(64), deal.waterfall, deal.pool, cols, st, out)
    print(f"prange: compile and first call {time.perf_counter() - t0:.1f} s")
    assert all(np.array_equal(getattr(res, f), getattr(ref, f), equal_nan=True) for f in BatchOutputs._fields
               if getattr(res, f).dtype.kind == "f")
    for chunk in (16, 64, 250, 500):
        p = best_median(lambda chunk=chunk: batch_prange(np.int64(1000), np.int64(chunk), deal.waterfall, deal.pool,
                                                         cols, st, out))
        t = best_median(lambda: run_batch(deal, table, threads=2))
        print(f"chunk {chunk:>4}: prange best {p[0]:.2f} ms (median {p[1]:.2f}); thread pool (run_batch, 2 threads) "
              f"best {t[0]:.2f} ms (median {t[1]:.2f})")


if __name__ == "__main__":
    main()
