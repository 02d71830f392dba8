"""Throughput of the Monte Carlo engine against the numpy baseline (``make bench``).

Parametrised over n_obligors × implementation; each round simulates a fixed number of paths of the base-case deal
(benchmarks/conftest.py). Compile time is measured separately, in fresh processes: once with an empty numba cache
(cold) and once with the cache it left behind (warm start).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from numpy_baseline import check, simulate_numpy

from conftest import SIZES, record
from ipabs.engine.montecarlo import simulate

ROUNDS = 5


#: Implementations: the numpy baseline, the engine with full statistics (numba1/numba2: 1 and 2 threads) and with
#: losses-only statistics (losses1/losses2; decision 012), which compute what the baseline computes — each path's
#: waterfall in the code generated for the deal (decision 013) — and, side by side on one thread, the same engine
#: with the general waterfall kernel (general1, glosses1).
IMPLS = {"numpy": None, "numba1": (1, "full", "specialised"), "numba2": (2, "full", "specialised"),
         "losses1": (1, "losses", "specialised"), "losses2": (2, "losses", "specialised"),
         "general1": (1, "full", "general"), "glosses1": (1, "losses", "general")}


@pytest.mark.parametrize("n_obligors", sorted(SIZES))
@pytest.mark.parametrize("impl", list(IMPLS))
def test_throughput(benchmark, deals, n_obligors, impl):
    deal, prep = deals[n_obligors]
    n_engine, n_numpy = SIZES[n_obligors]
    if impl == "numpy":
        n = n_numpy
        def run():
            return simulate_numpy(deal, prep, n, 1)
    else:
        n = n_engine
        threads, statistics, kernel = IMPLS[impl]
        kw = {"threads": threads, "statistics": statistics, "waterfall_kernel": kernel}
        simulate(deal, 4096, 1, prepared=prep, **kw)  # compiled and warm
        def run():
            return simulate(deal, n, 1, prepared=prep, **kw)
    result = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    best = benchmark.stats.stats.min
    benchmark.extra_info.update({"paths": n, "paths_per_second": n / best,
                                 "obligor_periods_per_second": n * n_obligors * deal.n_periods / best})
    record(n_obligors, **{impl: n / best})
    # the baseline computes the same model: tranche expected losses agree within Monte Carlo error
    loss = result[0] if impl == "numpy" else result.loss
    record(("el", n_obligors), **{impl: float(loss[:, 1].mean())})
    if impl == "numpy":
        # path by path on the engine's own default periods (tolerance: 1e-9 of the tranche face)
        assert check(n_obligors, n_paths=200) < 1e-9
        ref = simulate(deal, 100_000, 7, prepared=prep).loss[:, 1]
        se = np.hypot(loss[:, 1].std() / np.sqrt(len(loss)), ref.std() / np.sqrt(len(ref)))
        assert abs(loss[:, 1].mean() - ref.mean()) < 5 * se


_PROBE = textwrap.dedent("""
    import json, time
    t0 = time.perf_counter()
    from ipabs.credit.synthetic import synthetic_deal
    from ipabs.engine.montecarlo import simulate
    deal = synthetic_deal(n_obligors=50)
    t1 = time.perf_counter()
    simulate(deal, 4096, 1)
    t2 = time.perf_counter()
    print(json.dumps({"total": t2 - t0, "first_call": t2 - t1}))
""")


def _probe(cache_dir: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


#: The floor under any warm start with this stack: import numba and call one trivial function from numba's cache.
_FLOOR = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    sys.path.insert(0, sys.argv[1])
    import trivial_cached
    trivial_cached.f(1)
    print(json.dumps({"total": time.perf_counter() - t0}))
""")


def _floor(folder: str) -> float:
    out = subprocess.run([sys.executable, "-c", _FLOOR, folder], env={**os.environ, "NUMBA_CACHE_DIR": folder},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["total"]


def test_compile_time_cold_and_warm(benchmark):
    with tempfile.TemporaryDirectory(prefix="ipabs-numba-cache-") as cache:
        cold = benchmark.pedantic(_probe, args=(cache,), rounds=1, iterations=1)
        warm = min((_probe(cache) for _ in range(3)), key=lambda r: r["total"])
    with tempfile.TemporaryDirectory(prefix="ipabs-numba-floor-") as folder:
        Path(folder, "trivial_cached.py").write_text(
            "import numba\n\n\n@numba.njit(cache=True)\ndef f(x):\n    return x + 1\n", "utf-8")
        _floor(folder)  # compiles and caches f
        floor = min(_floor(folder) for _ in range(3))
    benchmark.extra_info.update({"cold_seconds": cold["total"], "warm_seconds": warm["total"],
                                 "warm_first_call_seconds": warm["first_call"], "numba_floor_seconds": floor})
    record("compile", cold=cold["total"], warm=warm["total"], warm_first_call=warm["first_call"], floor=floor)
