"""Cost of the per-period percentile bands (decision 019): Monte Carlo time and ``expected_cashflows()`` time.

    python benchmarks/bands_cost.py [--paths 20000] [--rounds 3]

Runs the bullet sample deal (scenarios/ganzhou_pledge_2026.toml) and the 50-obligor benchmark deal on one thread
(CPU time of the calling thread, robust to a busy machine) and prints the best round of each, and the time to build
the expected cash flows with their bands from the histograms.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from ipabs.api import compile_scenario, load_scenario
    from ipabs.credit.synthetic import synthetic_deal
    from ipabs.engine.montecarlo import prepare, simulate

    deals = {"ganzhou (bullet, 8 periods)": compile_scenario(load_scenario(ROOT / "scenarios" /
                                                                           "ganzhou_pledge_2026.toml")),
             "synthetic 50 obligors, 60 periods": synthetic_deal(n_obligors=50, fees=True, cleanup=0.1)}
    for name, deal in deals.items():
        prep = prepare(deal)
        simulate(deal, 2048, 1, threads=1, prepared=prep, statistics="full")  # warm-up (compile or cache load)
        best_mc = best_ec = float("inf")
        for r in range(args.rounds):
            t0 = time.thread_time()
            res = simulate(deal, args.paths, 7 + r, threads=1, prepared=prep, statistics="full")
            best_mc = min(best_mc, time.thread_time() - t0)
            t0 = time.thread_time()
            res.expected_cashflows()
            best_ec = min(best_ec, time.thread_time() - t0)
        print(f"{name}: {args.paths:,} paths {best_mc:.3f} s ({1e6 * best_mc / args.paths:.2f} us/path); "
              f"expected_cashflows() {1e3 * best_ec:.1f} ms")


if __name__ == "__main__":
    main()
