"""Per-scenario cost of run_batch on larger pools (synthetic 60-period monthly deals of 50 and 1,000 obligors), with
CDR only and with five obligors defaulting at the start (the largest-obligor test's shape), and the fixed cost of
one call. ``PYTHONPATH=src .venv/bin/python benchmarks/batch_pool_sizes.py`` (docs/performance.md)."""

import time

import numpy as np

from ipabs.credit.synthetic import synthetic_deal
from ipabs.structuring.batch import ScenarioTable, run_batch

for n_o in (50, 1000):
    deal = synthetic_deal(n_obligors=n_o, n_periods=60, frequency="monthly")
    n = 200
    t = ScenarioTable.repeat(deal, n, cdr=np.linspace(0, .3, n))
    obl = np.full((n, n_o), deal.n_periods, dtype=np.int64)
    obl[:, :5] = 0
    t2 = t.with_columns(obligor_default_period=obl)
    run_batch(deal, t.take(slice(0, 2)))
    for lab, tab in (("cdr", t), ("cdr+5 obligor defaults", t2)):
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            run_batch(deal, tab, threads=2)
            ts.append(time.perf_counter() - t0)
        print(n_o, lab, f"{min(ts) / n * 1e6:.1f} us/scenario (2 threads)")
    one = t.take([7])
    ts = []
    for _ in range(20):
        t0 = time.perf_counter()
        run_batch(deal, one)
        ts.append(time.perf_counter() - t0)
    print(n_o, f"one scenario per call: {min(ts) * 1e3:.2f} ms a call")
