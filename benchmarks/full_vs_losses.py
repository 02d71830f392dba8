"""Cost of the full statistics against losses only, in one process, alternating round by round.

    python benchmarks/full_vs_losses.py [--sizes 50] [--threads 1,2] [--rounds 7] [--paths 200000]

Runs the engine on the benchmark deal (benchmarks/conftest.py) with ``statistics="full"`` and ``"losses"`` in turn
(one-thread rounds in CPU time of the calling thread, two-thread rounds in wall time) and prints, per size and thread
count, the best µs per path of each, their ratio, and the range of the per-round ratios (each round times full and
losses back to back, so a round's ratio sees one state of the shared machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import base_case  # noqa: E402
from ipabs.engine.montecarlo import prepare, simulate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--paths", type=int, default=200_000)
    args = ap.parse_args()
    for n_ob in (int(s) for s in args.sizes.split(",")):
        deal = base_case(n_ob)
        prep = prepare(deal)
        n = args.paths
        for th in (int(x) for x in args.threads.split(",")):
            clock = time.thread_time if th == 1 else time.perf_counter
            for stats in ("full", "losses"):
                simulate(deal, 4096, 1, prepared=prep, threads=th, statistics=stats)
            best = {"full": np.inf, "losses": np.inf}
            ratios = []
            for _ in range(args.rounds):
                per = {}
                for stats in ("full", "losses"):
                    t0 = clock()
                    simulate(deal, n, 1, prepared=prep, threads=th, statistics=stats)
                    per[stats] = clock() - t0
                    best[stats] = min(best[stats], per[stats])
                ratios.append(per["full"] / per["losses"])
            f, lo = (best[s] / n * 1e6 * th for s in ("full", "losses"))
            print(f"{n_ob:>5} obligors, {th} thread{'s' if th > 1 else ' '}, {n:,} paths, best of {args.rounds}: "
                  f"full {f:5.2f} | losses {lo:5.2f} us/path/thread | ratio of bests {f / lo:.2f}x | "
                  f"per-round ratios {min(ratios):.2f}-{max(ratios):.2f}x", flush=True)


if __name__ == "__main__":
    main()
