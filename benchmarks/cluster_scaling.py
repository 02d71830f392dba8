"""Cluster overheads and the scaling model of docs/performance.md ("Beyond one machine").

    .venv/bin/python benchmarks/cluster_scaling.py [--paths 400000] [--quick] [--json out.json]

Measures, side by side in one run:

1. the single process (numba, 1 and 2 threads) against a local dask cluster of 1 and 2 single-threaded workers
   on the same paths, for several chunk counts — from which the overhead per task (submit, schedule, run,
   return, as-completed) and per merge follow;
2. the single-thread cost per path over pool sizes 20, 100, 500, 2,000 obligors and 12, 36, 60, 120 periods;
3. a model of wall time on k machines of this kind (2 cores each):
       T(n_paths, k) = n_paths · c(N, T) / (2k · e) + n_tasks · o_task / (2k) + n_tasks · o_merge + o_start
   with c the single-thread cost per path, e the measured two-worker efficiency, o_task the overhead per task,
   o_merge the merge cost per part and o_start the cluster start; and the chunk size that keeps the overhead
   under 5%: paths_per_task ≥ o_task / (0.05 · c).

Every result is bit-identical to the single process (checked here too); only the time differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import BASE_CASE  # noqa: E402
from ipabs.credit.synthetic import synthetic_deal  # noqa: E402
from ipabs.engine.cluster import open_client  # noqa: E402
from ipabs.engine.distributed import simulate_distributed  # noqa: E402
from ipabs.engine.montecarlo import merge, prepare, simulate  # noqa: E402


def best(fn, rounds: int) -> float:
    ts = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def deal_of(n_obligors: int, n_periods: int):
    kw = dict(BASE_CASE)
    kw["n_periods"] = n_periods
    return synthetic_deal(n_obligors=n_obligors, **kw)


def same_bits(a, b) -> bool:
    return all(np.array_equal(getattr(a, k).view(np.uint8), getattr(b, k).view(np.uint8))
               for k in ("loss", "short", "pool_default_rate", "support_draw"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paths", type=int, default=400_000, help="paths of the overhead runs (1,000 obligors: / 10)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer sizes and chunk counts (a smoke run)")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers as JSON")
    args = ap.parse_args()
    res: dict = {"paths": args.paths, "rounds": args.rounds}
    stats = "losses"

    # 1. overheads on the 50-obligor, 60-period base case
    deal = deal_of(50, 60)
    prep = prepare(deal)
    n = args.paths
    simulate(deal, 4096, 1, prepared=prep, statistics=stats)  # compile/load
    single = {th: best(lambda th=th: simulate(deal, n, 1, prepared=prep, threads=th, statistics=stats), args.rounds)
              for th in (1, 2)}
    res["single_seconds"] = single
    ref = simulate(deal, n, 1, prepared=prep, statistics=stats)
    chunk_counts = (2, 8) if args.quick else (2, 8, 32, 128)
    res["cluster"] = {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        with open_client(workers=workers) as client:
            start = time.perf_counter() - t0
            simulate_distributed(deal, 4096, 1, client=client, n_chunks=workers, statistics=stats)  # warm workers
            row = {"start_seconds": start}
            for c in chunk_counts:
                out = {}

                def run(c=c, out=out):
                    out["r"] = simulate_distributed(deal, n, 1, client=client, n_chunks=c, statistics=stats)

                row[c] = best(run, args.rounds)
                assert same_bits(ref, out["r"]), "cluster result differs from the single process"
            # overhead per task: tasks of one path each (the engine's fixed cost per call included)
            tiny = 256
            row["tiny_tasks_seconds"] = best(lambda tiny=tiny: simulate_distributed(deal, tiny, 1, client=client,
                                                                                    n_chunks=tiny, statistics=stats),
                                             args.rounds)
            row["overhead_per_task_s"] = row["tiny_tasks_seconds"] / tiny
            res["cluster"][workers] = row
        print(f"{workers} worker(s): start {row['start_seconds']:.2f} s; "
              + ", ".join(f"{c} tasks {row[c]:.3f} s" for c in chunk_counts)
              + f"; overhead per task {1e3 * row['overhead_per_task_s']:.2f} ms", flush=True)
    res["overhead_per_task_s"] = res["cluster"][1]["overhead_per_task_s"]
    res["one_worker_vs_single_1T"] = float(min(res["cluster"][1][c] for c in chunk_counts) / single[1])
    two = res["cluster"][2]
    res["two_worker_efficiency"] = float(single[1] / (2 * min(two[c] for c in chunk_counts)))
    parts = [simulate(deal, n // 32, 1, path0=i * (n // 32), prepared=prep, statistics=stats) for i in range(32)]
    res["merge_seconds_per_part"] = best(lambda: merge(parts), args.rounds) / 32

    # 2. cost per path over pool size × periods (one thread)
    sizes = (20, 500) if args.quick else (20, 100, 500, 2000)
    periods = (12, 60) if args.quick else (12, 36, 60, 120)
    cost = {}
    for n_obl in sizes:
        for n_t in periods:
            d = deal_of(n_obl, n_t)
            p = prepare(d)
            m = max(2_000, int(4e7 / (n_obl * n_t)))
            simulate(d, 1024, 1, prepared=p, threads=1, statistics=stats)
            sec = best(lambda d=d, p=p, m=m: simulate(d, m, 1, prepared=p, threads=1, statistics=stats), 2)
            cost[f"{n_obl}x{n_t}"] = sec / m
            print(f"{n_obl:>5} obligors x {n_t:>3} periods: {1e6 * sec / m:8.2f} us/path (1 thread)", flush=True)
    res["cost_per_path_s"] = cost

    # 3. the model: cost per path linear in the pool size at 60 periods (least squares over the sizes measured)
    o_task, o_merge, eff = res["overhead_per_task_s"], res["merge_seconds_per_part"], res["two_worker_efficiency"]
    ns = np.array([n for n in sizes if f"{n}x60" in cost], dtype=float)
    b, a = np.polyfit(ns, [cost[f"{int(n)}x60"] for n in ns], 1)
    c1000 = float(a + 1000 * b)
    res["cost_per_path_1000x60_s"] = c1000
    res["chunk_paths_for_5pct_overhead"] = {key: int(np.ceil(o_task / (0.05 * c))) for key, c in cost.items()}
    chunk = max(1, int(np.ceil(o_task / (0.05 * c1000))))
    model = {}
    for k in (1, 4, 16, 64):
        cores, paths = 2 * k, 1e8
        tasks = int(np.ceil(paths / chunk))
        model[k] = {"chunk_paths": chunk, "tasks": tasks,
                    "seconds": paths * c1000 / (cores * eff) + tasks * o_task / cores + tasks * o_merge
                    + res["cluster"][2]["start_seconds"]}
    res["model_1e8_paths_1000_obligors"] = model
    print(json.dumps(res, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
