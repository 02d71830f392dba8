"""Is a 2-thread shortfall the engine's or the machine's? Times a pure-compute numba loop and the engine on 1 and 2
threads, with the process CPU time, so the host's noise can be told from the engine's scaling.

    python benchmarks/thread_scaling.py [--obligors 50] [--paths 400000] [--repeats 3] [--statistics full]
                                        [--waterfall general] [--processes]

For the pure-compute loop (one dependency chain: latency-bound; no memory traffic, no shared data) 2 threads
should take the wall time of 1: its "scaling" is what this machine gives at the moment. The throughput-bound loop
(16 independent multiply-add chains, which fill a core's floating-point units) tells two physical cores (≈ 2×) from
two hyperthreads of one core (≈ 1.2×: they share the units), whatever the guest's ``lscpu`` says. For the engine (by default losses-only statistics and the generated waterfall, on the benchmark deal) it prints paths/s,
CPU time / wall time (≈ 2 when both threads are busy throughout) and CPU µs per path. With ``--processes`` it runs
two single-threaded engine processes at the same time (nothing shared between them), then one alone, and prints
the CPU µs per path of each. Quoted in docs/performance.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

import numba as nb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import base_case  # noqa: E402
from ipabs.engine.montecarlo import prepare, simulate  # noqa: E402


@nb.njit(nogil=True)
def _spin(n, seed):
    x = seed
    s = 0.0
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFF
        s += np.sqrt(float(x)) * 1e-3
    return s


@nb.njit(nogil=True)
def _saturate(n, seed):
    """16 independent multiply-add chains: bound by the core's floating-point throughput, not by latency. Two
    threads on two physical cores take the time of one; on two hyperthreads of one core they share its units."""
    x0 = x1 = x2 = x3 = x4 = x5 = x6 = x7 = float(seed)
    y0 = y1 = y2 = y3 = y4 = y5 = y6 = y7 = float(seed)
    for _ in range(n):
        x0 = x0 * 1.0000001 + 1e-12
        x1 = x1 * 1.0000002 + 1e-12
        x2 = x2 * 1.0000003 + 1e-12
        x3 = x3 * 1.0000004 + 1e-12
        x4 = x4 * 1.0000005 + 1e-12
        x5 = x5 * 1.0000006 + 1e-12
        x6 = x6 * 1.0000007 + 1e-12
        x7 = x7 * 1.0000008 + 1e-12
        y0 = y0 * 0.9999999 + 1e-12
        y1 = y1 * 0.9999998 + 1e-12
        y2 = y2 * 0.9999997 + 1e-12
        y3 = y3 * 0.9999996 + 1e-12
        y4 = y4 * 0.9999995 + 1e-12
        y5 = y5 * 0.9999994 + 1e-12
        y6 = y6 * 0.9999993 + 1e-12
        y7 = y7 * 0.9999992 + 1e-12
    return x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + y0 + y1 + y2 + y3 + y4 + y5 + y6 + y7


def _loop(k: int, n: int = 200_000_000, fn=_spin) -> float:
    ths = [threading.Thread(target=fn, args=(n, i + 1)) for i in range(k)]
    t0 = time.perf_counter()
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return time.perf_counter() - t0


def _solo(start: float, n: int, obligors: int, repeats: int) -> None:
    """One 1-thread engine process (``--solo``): waits until ``start`` (time.time), then prints CPU µs per path."""
    deal = base_case(obligors)
    prep = prepare(deal)
    simulate(deal, 4096, 1, prepared=prep, threads=1, statistics="losses")
    time.sleep(max(0.0, start - time.time()))
    out = []
    for _ in range(repeats):
        c0 = time.process_time()
        simulate(deal, n, 1, prepared=prep, threads=1, statistics="losses")
        out.append(f"{(time.process_time() - c0) / n * 1e6:.2f}")
    print(" ".join(out), flush=True)


def _processes(args) -> None:
    """Two 1-thread engine processes at once, then one alone: no data shared between them at all."""
    cmd = [sys.executable, __file__, "--obligors", str(args.obligors), "--paths", str(args.paths), "--repeats",
           str(args.repeats), "--solo"]
    start = time.time() + 15.0
    procs = [subprocess.Popen([*cmd, str(start)], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for i, p in enumerate(procs):
        print(f"process {i + 1} of 2 running at once, CPU us per path: {p.communicate()[0].strip()}", flush=True)
    alone = subprocess.run([*cmd, "0"], stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    print(f"one process alone, CPU us per path: {alone}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--obligors", type=int, default=50)
    ap.add_argument("--paths", type=int, default=400_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--statistics", choices=("losses", "full"), default="losses")
    ap.add_argument("--waterfall", choices=("specialised", "general"), default="specialised")
    ap.add_argument("--processes", action="store_true",
                    help="instead: two 1-thread engine processes at once, then one alone (CPU µs per path)")
    ap.add_argument("--solo", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.solo is not None:
        _solo(args.solo, args.paths, args.obligors, args.repeats)
        return
    if args.processes:
        _processes(args)
        return
    _spin(10, 1)
    _saturate(10, 1)
    for _ in range(args.repeats):
        t1, t2 = _loop(1), _loop(2)
        print(f"pure-compute loop: 1 thread {t1:.2f} s, 2 threads {t2:.2f} s, scaling {2 * t1 / t2:.2f}x", flush=True)
        t1, t2 = _loop(1, 100_000_000, _saturate), _loop(2, 100_000_000, _saturate)
        print(f"throughput-bound loop: 1 thread {t1:.2f} s, 2 threads {t2:.2f} s, scaling {2 * t1 / t2:.2f}x",
              flush=True)
    deal = base_case(args.obligors)
    prep = prepare(deal)
    n = args.paths
    for _ in range(args.repeats):
        for th in (1, 2):
            kw = {"threads": th, "statistics": args.statistics, "waterfall_kernel": args.waterfall}
            simulate(deal, 4096, 1, prepared=prep, **kw)
            c0, w0 = time.process_time(), time.perf_counter()
            simulate(deal, n, 1, prepared=prep, **kw)
            w, c = time.perf_counter() - w0, time.process_time() - c0
            print(f"engine, {args.obligors} obligors, {th} thread{'s' if th > 1 else ' '}: {n / w:>9,.0f} paths/s, "
                  f"CPU/wall {c / w:.2f}, CPU {c / n * 1e6:.2f} us per path", flush=True)


if __name__ == "__main__":
    main()
