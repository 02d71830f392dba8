"""Benchmark fixtures and the summary table printed at the end of ``make bench``.

Each benchmark records its throughput in ``RESULTS``; :func:`pytest_terminal_summary` prints one table with the
numba engine (1 and 2 threads) beside the numpy baseline, the ratios the targets refer to, and the compile times.
"""

from __future__ import annotations

import platform
from typing import Any

import numba
import numpy as np
import pytest

from ipabs.credit.synthetic import PD_16PCT_5Y, synthetic_deal
from ipabs.engine.montecarlo import prepare

#: (n_obligors, engine paths per round, numpy paths per round)
SIZES = {50: (200_000, 20_000), 1000: (40_000, 3_000)}
TARGETS = {50: 700_000, 1000: 80_000}
RESULTS: dict[Any, dict[str, float]] = {}


#: The benchmark deal's parameters besides the number of obligors (synthetic_deal keywords).
BASE_CASE = {"n_periods": 60, "frequency": "monthly", "annual_pd": PD_16PCT_5Y, "n_sectors": 5, "correlation": 0.15,
             "sector_correlation": 0.10}


def base_case(n_obligors: int):
    """The benchmark deal: 60 monthly periods, ≈16% five-year cumulative default rate, 5 correlated sectors."""
    return synthetic_deal(n_obligors=n_obligors, **BASE_CASE)


@pytest.fixture(scope="session")
def deals():
    out = {}
    for n in SIZES:
        deal = base_case(n)
        out[n] = (deal, prepare(deal))
    return out


def record(key: Any, **values: float) -> None:
    RESULTS.setdefault(key, {}).update(values)


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    if not RESULTS:
        return
    w = terminalreporter.write_line
    _batch_summary(w)
    if all(isinstance(k, tuple) and k[0] == "batch" for k in RESULTS):
        return
    w("")
    w("Monte Carlo throughput — base case: 60 monthly periods, 16% five-year cumulative default, 5 sectors "
      "(rho 0.15 + 0.10), fixed-rate recoveries, 2 tranches; best of the rounds")
    w(f"machine: {platform.processor() or platform.machine()}, numba {numba.__version__}, numpy {np.__version__}, "
      f"{numba.config.NUMBA_NUM_THREADS} threads available")
    w("full = losses, shortfalls, WAL, yield and per-period bands; losses = losses-only statistics (decision 012), "
      "what the numpy baseline computes; gen. = the same with the general waterfall kernel instead of the one "
      "generated for the deal (decision 013), one thread only")
    head = (f"{'obligors':>8} | {'statistics':>11} | {'numpy paths/s':>13} | {'numba 1T paths/s':>16} | "
            f"{'numba 2T paths/s':>16} | {'2T obligor-periods/s':>20} | {'2T/numpy':>8} | {'2T/1T':>6} | "
            f"{'target 2T':>9}")
    w(head)
    w("-" * len(head))
    nan = float("nan")
    for n in sorted(k for k in RESULTS if isinstance(k, int)):
        r = RESULTS[n]
        npy = r.get("numpy", nan)
        for label, k1, k2 in (("full", "numba1", "numba2"), ("losses", "losses1", "losses2"),
                              ("full gen.", "general1", "general2"), ("losses gen.", "glosses1", "glosses2")):
            one, two = r.get(k1, nan), r.get(k2, nan)
            if np.isnan(one) and np.isnan(two):
                continue
            target = TARGETS.get(n)
            flag = "" if target is None or np.isnan(two) else (" met" if two >= target else " not met")
            w(f"{n:>8} | {label:>11} | {npy:>13,.0f} | {one:>16,.0f} | {two:>16,.0f} | {two * n * 60:>20,.0f} | "
              f"{two / npy:>7.1f}x | {two / one:>5.2f}x | {target:>9,}{flag}")
    for n in sorted(k for k in RESULTS if isinstance(k, int)):
        r = RESULTS[n]
        if "general1" in r or "glosses1" in r:
            w(f"{n:>8} obligors, one thread, generated / general waterfall: full "
              f"{r.get('numba1', nan) / r.get('general1', nan):.2f}x, losses "
              f"{r.get('losses1', nan) / r.get('glosses1', nan):.2f}x")
    c = RESULTS.get("compile", {})
    if c:
        w("")
        w(f"first simulate in a fresh process (import + compile/load + 4,096 paths of the 50-obligor deal): "
          f"cold cache {c.get('cold', float('nan')):.1f} s, warm cache {c.get('warm', float('nan')):.2f} s "
          f"(of which loading compiled kernels {c.get('warm_first_call', float('nan')):.2f} s); numba alone, "
          f"importing it and calling one trivial function from its cache: {c.get('floor', float('nan')):.2f} s")
    m = RESULTS.get("memory", {})
    if m:
        w(f"1,000,000 paths of a 20-obligor, 60-period deal: {m['seconds']:.1f} s, peak resident memory "
          f"{m['peak_mb']:,.0f} MB for the whole process ({m['before_mb']:,.0f} MB before the run; target < 2 GB)")
    w("targets (issue 3): >= 700,000 paths/s at 50 and >= 80,000 at 1,000 obligors with 2 threads, >= 2.5x numpy, "
      ">= 1.8x from 1 to 2 threads, warm start <= 1 s")


def _batch_summary(w) -> None:
    """The batch deterministic engine's numbers (benchmarks/test_bench_batch.py; issue 13 item 1)."""
    d5, a, per = (RESULTS.get(("batch", x), {}) for x in ("deal5", "scenario_a", "per_scenario"))
    if not (d5 or a or per):
        return
    nan = float("nan")
    w("")
    w("Batch deterministic engine (run_batch, engine='kernel'): CDR 0-50% grids; best (median) of the rounds, warm")
    if d5:
        two = d5.get("2T", nan)
        w(f"  1,000 scenarios, 5-asset quarterly deal, 3 tranches: 1 thread {d5.get('1T', nan) * 1e3:.1f} ms "
          f"({d5.get('1T_median', nan) * 1e3:.1f}), 2 threads {two * 1e3:.1f} ms ({d5.get('2T_median', nan) * 1e3:.1f})"
          f" — target < 25 ms on 2 threads: {'met' if two < 0.025 else 'not met'}")
        w("  (issue 13 quotes 2.4-2.6 s for such a batch in Hastructure on this machine; not measured here)")
    if a:
        two = a.get("2T", nan)
        w(f"  10,000 scenarios of scenario (a): 1 thread {a.get('1T', nan):.3f} s ({a.get('1T_median', nan):.3f}), "
          f"2 threads {two:.3f} s ({a.get('2T_median', nan):.3f}) — target < 0.5 s: "
          f"{'met' if two < 0.5 else 'not met'}")
    if per:
        k = per.get("kernel", nan)
        w(f"  per scenario (5-asset deal): kernel, 2 threads {k * 1e6:,.1f} us; Python loop over the reference engine "
          f"(run_path + QuantLib yields) {per.get('reference', nan) * 1e6:,.0f} us "
          f"({per.get('reference', nan) / k:,.0f}x); Python loop over run_path, numpy sums and WAL, no yields "
          f"{per.get('python_loop', nan) * 1e6:,.0f} us ({per.get('python_loop', nan) / k:,.0f}x)")
