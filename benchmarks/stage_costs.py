"""Cost of each stage of a Monte Carlo path (losses-only statistics), and of the waterfall per period.

    python benchmarks/stage_costs.py [--obligors 50] [--paths 200000] [--waterfall specialised|general]

Runs the engine's own kernels on the benchmark deal (benchmarks/conftest.py) in a loop that stops after each stage
in turn — default periods; defaulted assets; recoveries; pool flows; the waterfall restarted at the first default
from the base path's state — and prints the CPU time per path of each (one thread, best of five). Then times the
waterfall alone over all 60 periods of one path with defaults (``REC_NONE``), in ns per period. The figures of
docs/performance.md ("Why 700,000 at 50 obligors is not reached") come from this script.
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
from ipabs.compile.arrays import empty_pool_flows, empty_waterfall_out  # noqa: E402
from ipabs.compile.codegen import specialised_waterfall  # noqa: E402
from ipabs.engine.montecarlo import prepare, trace_path  # noqa: E402
from ipabs.kernels.callptr import call_waterfall  # noqa: E402
from ipabs.kernels.paths import (  # noqa: E402
    apply_defaults_into,
    default_periods_one_path,
    ip_recoveries,
    load_state,
    path_scratch,
)
from ipabs.kernels.waterfall import REC_NONE, waterfall_periods, waterfall_start, waterfall_work  # noqa: E402

STAGES = ("default periods", "defaulted assets", "recoveries", "pool flows", "waterfall from the first default")


@nb.njit
def _run(seed, n, d, pa, ci, b, pf, out, w, x, stop, packed, width, wf_addr, wf_par):
    n_t = d.yf.shape[0]
    acc = 0.0
    for p in range(n):
        n_dob = default_periods_one_path(seed, p, ci.thresholds, ci.th_row, ci.group, ci.g_a, ci.g_s, ci.g_b,
                                         ci.g_sector, ci.g_cmax, ci.dof, x.factors, x.screen, x.ubuf, x.cand,
                                         x.ob_def)
        if stop == 0:
            continue
        for c in range(x.n_dl[0]):
            x.a_def[x.dl[c]] = n_t
        tau0 = n_t
        nd = np.int64(0)
        for c in range(n_dob):
            o = x.cand[c]
            for q in range(ci.ob_ptr[o], ci.ob_ptr[o + 1]):
                a = ci.ob_assets[q]
                x.a_def[a] = x.ob_def[o]
                x.dl[nd] = a
                nd += 1
                tau0 = min(tau0, x.ob_def[o])
        x.n_dl[0] = nd
        if stop == 1 or tau0 >= n_t:
            continue
        ip_recoveries(seed, p, pa, x.a_def, x.dl, nd, ci.appraisal, ci.hc_mean, ci.hc_std, ci.cost_rate,
                      ci.fixed_rate, ci.lag, ci.use_ip, x.factors[0], ci.downturn, ci.lag_extra, x.rec_amt, x.rec_t)
        if stop == 2:
            continue
        apply_defaults_into(pa, packed, width, x.a_def, x.rec_amt, x.rec_t, pf, ci.a_end, ci.has_prepay,
                            ci.has_frac_def, x.lf, x.dl, nd, tau0, np.int64(0))
        if stop == 3:
            continue
        load_state(w, b, tau0)
        if wf_addr != 0:
            call_waterfall(wf_addr, pf.interest, pf.principal, pf.recoveries, pf.defaults, pf.bal_start, pf.bal_end,
                           wf_par, w.acct, w.bal, w.short, w.fee_carry, w.sup_left, w.scal, w.track, x.sup_def_t,
                           out.tr_int_paid, out.tr_int_short, out.tr_prin_paid, out.tr_bal_end, out.tr_resid,
                           out.sup_draw, tau0, n_t, np.int64(REC_NONE))
        else:
            waterfall_periods(d, pf, x.sup_def_t, out, w, tau0, n_t, np.int64(REC_NONE))
        acc += w.bal[0]
    return acc


@nb.njit
def _waterfall_loop(d, pf, sup, out, w, n, wf_addr, wf_par):
    s = 0.0
    for _ in range(n):
        waterfall_start(d, w)
        if wf_addr != 0:
            call_waterfall(wf_addr, pf.interest, pf.principal, pf.recoveries, pf.defaults, pf.bal_start, pf.bal_end,
                           wf_par, w.acct, w.bal, w.short, w.fee_carry, w.sup_left, w.scal, w.track, sup,
                           out.tr_int_paid, out.tr_int_short, out.tr_prin_paid, out.tr_bal_end, out.tr_resid,
                           out.sup_draw, 0, d.yf.shape[0], np.int64(REC_NONE))
        else:
            waterfall_periods(d, pf, sup, out, w, 0, d.yf.shape[0], np.int64(REC_NONE))
        s += w.bal[0]
    return s


def _best(f, *args, rounds: int = 5) -> float:
    best = np.inf
    for _ in range(rounds):
        t0 = time.thread_time()
        f(*args)
        best = min(best, time.thread_time() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--obligors", type=int, default=50)
    ap.add_argument("--paths", type=int, default=200_000)
    ap.add_argument("--waterfall", choices=("specialised", "general"), default="specialised",
                    help="the waterfall generated for the deal (decision 013, the engine's default) or the general one")
    ap.add_argument("--pool-balances", action="store_true",
                    help="compute the pool's balances even when the waterfall reads none (as before decision 014)")
    args = ap.parse_args()
    deal = base_case(args.obligors)
    prep = prepare(deal)
    d, pa, ci, b = prep.d, prep.pa, prep.credit, prep.base
    n_t = deal.n_periods
    x = path_scratch(d, ci, prep.stats)
    x.sup_def_t[:] = n_t
    pf = empty_pool_flows(n_t)
    out = empty_waterfall_out(n_t, len(deal.names.tranches), len(deal.names.fees), len(deal.names.accounts),
                              len(deal.names.supports))
    w = waterfall_work(d)
    seed = np.uint64(1)
    # the pool flows the engine computes for losses-only statistics (decision 014)
    pool = (ci.packed, np.int64(ci.width))
    if args.waterfall == "specialised":
        sw = specialised_waterfall(d)
        wf = (np.int64(sw.address), sw.params)
        if not sw.reads_pool_balances and not args.pool_balances:
            pool = (ci.packed2, np.int64(2))
    else:
        wf = (np.int64(0), np.zeros(1))
    print(f"{args.obligors} obligors, {args.paths:,} paths, one thread (CPU time, best of 5), {args.waterfall} "
          f"waterfall, pool flows {'with' if pool[1] > 2 else 'without'} balances, µs per path:")
    prev = 0.0
    for stop, name in enumerate(STAGES):
        _run(seed, 100, d, pa, ci, b, pf, out, w, x, stop, *pool, *wf)
        us = _best(_run, seed, args.paths, d, pa, ci, b, pf, out, w, x, stop, *pool, *wf) / args.paths * 1e6
        print(f"  {name:<34} {us - prev:6.2f}   (cumulative {us:.2f})")
        prev = us
    tr = next(tr for p in range(100) if (tr := trace_path(deal, 1, p, prepared=prep)).asset_default_period.min() < n_t)
    sup = tr.support_default_period.astype(np.int64)
    _waterfall_loop(d, tr.pool, sup, out, w, 10, *wf)
    n = 100_000
    ns = _best(_waterfall_loop, d, tr.pool, sup, out, w, n, *wf, rounds=5) / n / n_t * 1e9
    print(f"waterfall alone, all {n_t} periods of path {tr.path} (REC_NONE): {ns:.1f} ns per period")


if __name__ == "__main__":
    main()
