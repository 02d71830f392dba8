"""Memory of a large run (issue 3: 1,000,000 paths of a 20-obligor, 60-period deal in under 2 GB).

Runs in a fresh process so that the peak resident set size (``ru_maxrss``) is that of the run alone: Python, numpy,
pandas, QuantLib, the compiled kernels and the simulation.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import record

_PROBE = textwrap.dedent("""
    import json, resource, time
    from ipabs.credit.synthetic import synthetic_deal
    from ipabs.engine.montecarlo import simulate
    deal = synthetic_deal(n_obligors=20, n_periods=60, frequency="monthly")
    simulate(deal, 4096, 1)  # compiled (or loaded from the cache)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    res = simulate(deal, 1_000_000, 1)
    seconds = time.perf_counter() - t0
    res.tranche_stats(); res.expected_cashflows()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "before_mb": before / 1024}))
""")


def test_one_million_paths_of_a_20_obligor_60_period_deal(benchmark):
    def probe():
        out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).parent)
        return json.loads(out.stdout.strip().splitlines()[-1])

    r = benchmark.pedantic(probe, rounds=1, iterations=1)
    benchmark.extra_info.update(r)
    record("memory", **r)
    assert r["peak_mb"] < 2048, r
