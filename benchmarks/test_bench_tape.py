"""Reading and validating a large pool tape (issue 15): 1,000,000 rows in under 15 s and under 2 GB.

The tape is generated in a temporary folder (:mod:`tapegen`: unique asset ids and registration numbers, five
assets per obligor, one to three IP rights each; about 310 MB of CSV) and read in a fresh process, so that the peak
resident set size (``ru_maxrss``) is that of Python, pandas, pyarrow and the reading alone. ``IPABS_BENCH_TAPE_ROWS``
sets another size. The test suite's small version is ``tests/unit/test_tape_vectorised.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROWS = int(os.environ.get("IPABS_BENCH_TAPE_ROWS", "1000000"))
HERE = Path(__file__).resolve().parent

_PROBE = textwrap.dedent("""
    import json, resource, sys, time
    from ipabs.scenario.tape import read_tape
    t0, c0 = time.perf_counter(), time.process_time()
    r = read_tape(sys.argv[1])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": r.n_rows, "accepted": r.n_accepted, "rejected_rows": r.n_rejected_rows,
                      "seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak / 1024}))
""")


def test_read_and_validate_a_one_million_row_csv_tape(benchmark, tmp_path):
    # generated in a process of its own: a child forked from a large parent would report the parent's peak
    path = tmp_path / "tape.csv"
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from tapegen import write_tape; "
                    f"write_tape(Path(sys.argv[1]), {ROWS}, bad_every=1000)", str(path)], check=True, cwd=HERE)

    def probe():
        out = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, check=True,
                             cwd=HERE)
        return json.loads(out.stdout.strip().splitlines()[-1])

    r = benchmark.pedantic(probe, rounds=1, iterations=1)
    benchmark.extra_info.update(r | {"file_mb": path.stat().st_size / 2**20})
    print(f"\n{ROWS:,} rows ({path.stat().st_size / 2**20:.0f} MB): {r['seconds']:.1f} s wall, "
          f"{r['cpu_seconds']:.1f} s CPU, peak {r['peak_mb']:.0f} MB")
    assert r["rows"] == ROWS and r["rejected_rows"] == ROWS // 1000
    assert r["peak_mb"] < 2048
    assert r["cpu_seconds"] < 15
