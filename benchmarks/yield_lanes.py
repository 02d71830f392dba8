"""The per-path yields alone: two Newton solves interleaved (``path_yield2``) against eight in lockstep (the lanes of
``ipabs.kernels.yields``), on the benchmark deal's own cash flows, side by side in one process.

    python benchmarks/yield_lanes.py [--obligors 50] [--paths 6000] [--rounds 9]

Collects each path's tranche cash flows per 100 of face with ``trace_path`` (the flows the Monte Carlo solves),
checks that both solvers return the engine's per-path yields bit for bit, then times each over all paths (one
thread, CPU time, best of the rounds, alternating). The lanes' time includes queueing the cash flows (the copy into
the lane buffers the Monte Carlo makes), solved by the C function generated for the deal's period grid
(``codegen.specialised_yield_lanes``), as in the Monte Carlo.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba as nb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import base_case  # noqa: E402
from ipabs.compile.codegen import specialised_yield_lanes  # noqa: E402
from ipabs.engine.montecarlo import prepare, simulate, trace_path  # noqa: E402
from ipabs.kernels.yields import _cf_sums, lanes_flush, lanes_push, path_yield2, yield_lanes  # noqa: E402


@nb.njit
def _sums(cf, tau):
    n, n_k, _ = cf.shape
    tot = np.empty((n, n_k))
    mom = np.empty((n, n_k))
    last = np.empty((n, n_k), dtype=np.int64)
    for p in range(n):
        for k in range(n_k):
            tot[p, k], mom[p, k], last[p, k] = _cf_sums(cf[p, k], tau)
    return tot, mom, last


@nb.njit
def _pairs(cf, tot, mom, last, si, out):
    pw1 = np.empty(si.inc_val.shape[0])
    pw2 = np.empty(si.inc_val.shape[0])
    for p in range(cf.shape[0]):
        path_yield2(cf[p, 0], cf[p, 1], tot[p, 0], mom[p, 0], last[p, 0], tot[p, 1], mom[p, 1], last[p, 1],
                    si.tau_years, si.price[0], si.price[1], si.freq, si.inc_idx, si.inc_val, si.inc_units, si.unit,
                    pw1, pw2, out[p], 0, 1)


@nb.njit
def _lanes(cf, tot, mom, last, si, yl, out):
    for p in range(cf.shape[0]):
        for k in range(cf.shape[1]):
            lanes_push(yl, k, p, cf[p, k], tot[p, k], mom[p, k], last[p, k], si.price[k], out)
    lanes_flush(yl, si, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--obligors", type=int, default=50)
    ap.add_argument("--paths", type=int, default=6000)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    deal = base_case(args.obligors)
    prep = prepare(deal)
    si = prep.stats
    n, n_t = args.paths, deal.n_periods
    ref = simulate(deal, n, 1, prepared=prep, statistics="full", threads=1).yld
    n_k = ref.shape[1]
    if n_k != 2:
        raise SystemExit("the benchmark deal has two tranches")
    face = prep.d.tr_bal0
    cf = np.zeros((n, n_k, n_t))
    for p in range(n):
        w = trace_path(deal, 1, p, prepared=prep).waterfall
        for k in range(n_k):
            cf[p, k] = (w.tr_int_paid[:, k] + w.tr_prin_paid[:, k] + w.tr_resid[:, k]) / face[k] * 100.0
    tot, mom, last = _sums(cf, si.tau_years)
    si_g = si._replace(yl_addr=specialised_yield_lanes(si))
    yl_g = yield_lanes(n_k, n_t, si_g)
    out_p, out_g = np.zeros((n, n_k)), np.zeros((n, n_k))
    _pairs(cf, tot, mom, last, si, out_p)
    _lanes(cf, tot, mom, last, si_g, yl_g, out_g)
    for name, out in (("pairs", out_p), ("lanes", out_g)):
        same = np.array_equal(out.view(np.int64), ref.view(np.int64))
        print(f"{name}: equal to the engine's yields bit for bit: {same}")
        if not same:
            raise SystemExit(1)
    best = {"pairs": np.inf, "lanes": np.inf}
    for _ in range(args.rounds):
        t0 = time.thread_time()
        _pairs(cf, tot, mom, last, si, out_p)
        best["pairs"] = min(best["pairs"], time.thread_time() - t0)
        t0 = time.thread_time()
        _lanes(cf, tot, mom, last, si_g, yl_g, out_g)
        best["lanes"] = min(best["lanes"], time.thread_time() - t0)
    p_us, l_us = (best[k] / n * 1e6 for k in ("pairs", "lanes"))
    print(f"{args.obligors} obligors, {n:,} paths, two tranches, best of {args.rounds}: path_yield2 {p_us:.3f} | "
          f"lanes {l_us:.3f} us/path | {p_us / l_us:.2f}x")


if __name__ == "__main__":
    main()
