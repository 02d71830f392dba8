"""The engine against the numpy baselines, side by side in one process (the "× numpy" figures of docs/performance.md).

    python benchmarks/numpy_side_by_side.py --rounds 5 [--sizes 50,1000] [--old-baseline COMMIT]

On the benchmark deals (benchmarks/conftest.py) it alternates, round by round, the numpy baseline
(benchmarks/numpy_baseline.py), optionally the baseline of an earlier commit (``--old-baseline``, read with
``git show``), and the engine on one thread with losses-only and with full statistics. Every one of them runs on the
calling thread, so each round is timed in that thread's CPU time (``time.thread_time``): a busy shared machine then
slows none of them more than the others (wall time is printed too). It first checks the baseline against the engine
path by path on the engine's own default periods (numpy_baseline.check).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from numpy_baseline import check, simulate_numpy  # noqa: E402

from conftest import SIZES, base_case  # noqa: E402
from ipabs.engine.montecarlo import prepare, simulate  # noqa: E402


def old_baseline(commit: str):
    src = subprocess.run(["git", "-C", str(HERE.parent), "show", f"{commit}:benchmarks/numpy_baseline.py"],
                         check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp(prefix="ipabs-old-baseline-")) / "old_numpy_baseline.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_numpy_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.simulate_numpy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50,1000")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--old-baseline", default=None, metavar="COMMIT")
    args = ap.parse_args()
    old = old_baseline(args.old_baseline) if args.old_baseline else None
    for n_ob in (int(x) for x in args.sizes.split(",")):
        diff = check(n_ob, n_paths=200)
        print(f"{n_ob} obligors: baseline vs engine on the engine's default periods, largest difference "
              f"{diff:.1e} of the tranche face", flush=True)
        assert diff < 1e-9
        deal = base_case(n_ob)
        prep = prepare(deal)
        n_engine, n_numpy = SIZES[n_ob]
        impls = {"numpy": (n_numpy, lambda n, d=deal, p=prep: simulate_numpy(d, p, n, 1))}
        if old is not None:
            impls["numpy (old)"] = (n_numpy, lambda n, d=deal, p=prep: old(d, p, n, 1))
        for stats in ("losses", "full"):
            simulate(deal, 4096, 1, prepared=prep, threads=1, statistics=stats)  # compiled and warm
            impls[f"engine 1T {stats}"] = (n_engine, lambda n, d=deal, p=prep, s=stats: simulate(
                d, n, 1, prepared=p, threads=1, statistics=s))
        cpu = {k: [] for k in impls}
        wall = {k: [] for k in impls}
        for _ in range(args.rounds):
            for name, (n, run) in impls.items():
                w0, c0 = time.perf_counter(), time.thread_time()
                run(n)
                cpu[name].append(n / (time.thread_time() - c0))
                wall[name].append(n / (time.perf_counter() - w0))
        base = max(cpu["numpy"])
        print(f"{n_ob} obligors, best of {args.rounds} rounds, paths/s per thread-CPU-second (wall):")
        for name in impls:
            print(f"  {name:18s} {max(cpu[name]):12,.0f} ({max(wall[name]):10,.0f})   "
                  f"{max(cpu[name]) / base:5.2f}x numpy", flush=True)


if __name__ == "__main__":
    main()
