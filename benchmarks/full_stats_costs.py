"""Where the full statistics' extra time per path goes: the path kernel with its statistics switched on piece by
piece (one thread, CPU time, best of the rounds).

    python benchmarks/full_stats_costs.py [--obligors 50] [--paths 100000] [--rounds 5]

A copy of :func:`ipabs.kernels.paths.simulate_path` (the same kernels and helpers) runs the benchmark deal's paths
with defaults (benchmarks/conftest.py) with stages added cumulatively, from losses-only statistics to full: the
pool balances; the waterfall's recorded tranche rows; the pool's per-period fen sums; the tranche rows' statistics
(shortfall flags, WAL sums, cash flows per 100, comparison with the base path's row, histogram bins and fen sums of
the rows that differ); the yields. The pool sums, row statistics and yields are timed twice: as the kernel computes them
now and as before docs/performance.md items 23 and 24 (one period at a time; per-row accumulators in memory, every row's
cash flow divided, each bin by a division; item 24: the yield's start sums over every period again). Per-path
outputs are not written.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numba as nb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import base_case  # noqa: E402
from ipabs.compile.arrays import empty_pool_flows, empty_waterfall_out  # noqa: E402
from ipabs.compile.codegen import specialised_waterfall  # noqa: E402
from ipabs.engine.montecarlo import N_BINS, prepare  # noqa: E402
from ipabs.kernels.callptr import call_waterfall  # noqa: E402
from ipabs.kernels.paths import (  # noqa: E402
    N_POOL_SUMS,
    BlockSums,
    _cf_sums,
    apply_defaults_into,
    bin_of,
    default_periods_one_path,
    fen,
    hist_bin,
    ip_recoveries,
    load_state,
    path_scratch,
    path_yield2,
    path_yield_sums,
    pool_period_sums,
)
from ipabs.kernels.waterfall import EPS, REC_NONE, REC_TRANCHES, waterfall_work  # noqa: E402

STAGES = ("losses only", "+ pool balances", "+ recorded tranche rows", "+ pool per-period sums",
          "+ row statistics", "+ yields")


@nb.njit(error_model="numpy", _nrt=False)
def _run(seed, n, d, pa, ci, si, b, bout, pf, out, w, x, bs, stage, before, wf_addr, wf_par, yl):
    n_t = d.yf.shape[0]
    n_k = d.tr_bal0.shape[0]
    nbins = bs.h_bal.shape[2]
    acc = 0.0
    for p in range(n):
        n_dob = default_periods_one_path(seed, p, ci.thresholds, ci.th_row, ci.group, ci.g_a, ci.g_s, ci.g_b,
                                         ci.g_sector, ci.g_cmax, ci.dof, x.factors, x.screen, x.ubuf, x.cand,
                                         x.ob_def)
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
        if tau0 >= n_t:
            continue
        ip_recoveries(seed, p, pa, x.a_def, x.dl, nd, ci.appraisal, ci.hc_mean, ci.hc_std, ci.cost_rate,
                      ci.fixed_rate, ci.lag, ci.use_ip, x.factors[0], ci.downturn, ci.lag_extra, x.rec_amt, x.rec_t)
        if stage >= 1:
            apply_defaults_into(pa, ci.packed, np.int64(ci.width), x.a_def, x.rec_amt, x.rec_t, pf, ci.a_end,
                                ci.has_prepay, ci.has_frac_def, x.lf, x.dl, nd, tau0, np.int64(0))
        else:
            apply_defaults_into(pa, ci.packed2, np.int64(2), x.a_def, x.rec_amt, x.rec_t, pf, ci.a_end,
                                ci.has_prepay, ci.has_frac_def, x.lf, x.dl, nd, tau0, np.int64(0))
        t_wf = tau0
        load_state(w, b, t_wf)
        rec = np.int64(REC_TRANCHES) if stage >= 2 else np.int64(REC_NONE)
        call_waterfall(wf_addr, pf.interest, pf.principal, pf.recoveries, pf.defaults, pf.bal_start, pf.bal_end,
                       wf_par, w.acct, w.bal, w.short, w.fee_carry, w.sup_left, w.scal, w.track, x.sup_def_t,
                       out.tr_int_paid, out.tr_int_short, out.tr_prin_paid, out.tr_bal_end, out.tr_resid,
                       out.sup_draw, t_wf, n_t, rec)
        acc += w.bal[0]
        dsum = b.def_pre[tau0]
        for t in range(tau0, n_t):
            dsum += pf.defaults[t]
            if stage >= 3 and before:  # one period at a time (before item 23)
                bs.s_pool[0, t] += fen(pf.interest[t])
                bs.s_pool[1, t] += fen(pf.principal[t])
                bs.s_pool[2, t] += fen(pf.defaults[t])
                bs.s_pool[3, t] += fen(pf.recoveries[t])
                bs.s_pool[4, t] += fen(pf.bal_end[t])
        acc += dsum
        if stage >= 3 and not before:
            pool_period_sums(pf, tau0, bs.s_pool)
        if stage < 4:
            continue
        for k in range(n_k):
            face = d.tr_bal0[k]
            if before:  # row_stats before item 23
                x.k_short[k] = b.short_pre[t_wf, k]
                x.k_num[k] = b.num_pre[t_wf, k]
                x.k_den[k] = b.den_pre[t_wf, k]
                x.k_same[k] = 1
                for t in range(t_wf, n_t):
                    ip = out.tr_int_paid[t, k]
                    pp = out.tr_prin_paid[t, k]
                    rs = out.tr_resid[t, k]
                    be = out.tr_bal_end[t, k]
                    paid = ip + pp + rs
                    if out.tr_int_short[t, k] > EPS:
                        x.k_short[k] = 1
                    x.k_num[k] += si.tau_years[t] * pp
                    x.k_den[k] += pp
                    c = paid / face * 100.0 if face > 0.0 else 0.0
                    x.cfk[k, t] = c
                    if c != b.cf[t, k]:
                        x.k_same[k] = 0
                    if (ip == bout.tr_int_paid[t, k] and pp == bout.tr_prin_paid[t, k]
                            and rs == bout.tr_resid[t, k] and be == bout.tr_bal_end[t, k]):
                        x.cnt_same[t, k] += 1
                    else:
                        bs.h_bal[t, k, hist_bin(be, si.bal_hi[k], nbins)] += 1
                        bs.h_cash[t, k, hist_bin(paid, si.cash_hi[k], nbins)] += 1
                        bs.s_int[t, k] += fen(ip)
                        bs.s_prin[t, k] += fen(pp)
                        bs.s_bal[t, k] += fen(be)
                continue
            short = b.short_pre[t_wf, k]  # as simulate_path now
            num = b.num_pre[t_wf, k]
            den = b.den_pre[t_wf, k]
            tot = b.tot_pre[t_wf, k]
            mom = b.mom_pre[t_wf, k]
            last = b.last_pre[t_wf, k]
            same = 1
            bhi = si.bal_hi[k]
            chi = si.cash_hi[k]
            rb = nbins / bhi if bhi > 0.0 else 0.0
            rc = nbins / chi if chi > 0.0 else 0.0
            for t in range(t_wf, n_t):
                ip = out.tr_int_paid[t, k]
                pp = out.tr_prin_paid[t, k]
                rs = out.tr_resid[t, k]
                be = out.tr_bal_end[t, k]
                if out.tr_int_short[t, k] > EPS:
                    short = 1
                num += si.tau_years[t] * pp
                den += pp
                if (ip == bout.tr_int_paid[t, k] and pp == bout.tr_prin_paid[t, k] and rs == bout.tr_resid[t, k]
                        and be == bout.tr_bal_end[t, k]):
                    c = b.cf[t, k]
                    x.cnt_same[t, k] += 1
                else:
                    paid = ip + pp + rs
                    c = paid / face * 100.0 if face > 0.0 else 0.0
                    if c != b.cf[t, k]:
                        same = 0
                    bs.h_bal[t, k, bin_of(be, bhi, rb, nbins)] += 1
                    bs.h_cash[t, k, bin_of(paid, chi, rc, nbins)] += 1
                    bs.s_int[t, k] += fen(ip)
                    bs.s_prin[t, k] += fen(pp)
                    bs.s_bal[t, k] += fen(be)
                x.cfk[k, t] = c
                tot += c
                mom += c * si.tau_years[t]
                if c != 0.0:
                    last = t + 1
            x.k_short[k] = short
            x.k_num[k] = num
            x.k_den[k] = den
            x.k_same[k] = same
            x.k_tot[k] = tot
            x.k_mom[k] = mom
            x.k_last[k] = last
        if stage < 5:
            continue
        pending = np.int64(-1)
        for k in range(n_k):
            if x.k_same[k]:
                yl[k] = b.yld[k]
            else:
                for t in range(t_wf):
                    x.cfk[k, t] = b.cf[t, k]
                if before:  # the yield's start sums over every period again (before item 24)
                    x.k_tot[k], x.k_mom[k], x.k_last[k] = _cf_sums(x.cfk[k], si.tau_years)
                if pending < 0:
                    pending = k
                else:
                    path_yield2(x.cfk[pending], x.cfk[k], x.k_tot[pending], x.k_mom[pending], x.k_last[pending],
                                x.k_tot[k], x.k_mom[k], x.k_last[k], si.tau_years, si.price[pending], si.price[k],
                                si.freq, si.inc_idx, si.inc_val, si.inc_units, si.unit, x.pw, x.pw2, yl, pending, k)
                    pending = -1
        if pending >= 0:
            yl[pending] = path_yield_sums(x.cfk[pending], x.k_tot[pending], x.k_mom[pending], x.k_last[pending],
                                          si.tau_years, si.price[pending], si.freq, si.inc_idx, si.inc_val,
                                          si.inc_units, si.unit, x.pw)
        acc += yl[0]
    return acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--obligors", type=int, default=50)
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    deal = base_case(args.obligors)
    prep = prepare(deal)
    d, pa, ci, si, b = prep.d, prep.pa, prep.credit, prep.stats, prep.base
    n_t, n_k = deal.n_periods, len(deal.names.tranches)
    x = path_scratch(d, ci, si)
    x.sup_def_t[:] = n_t
    pf = empty_pool_flows(n_t)
    out = empty_waterfall_out(n_t, n_k, len(deal.names.fees), len(deal.names.accounts), len(deal.names.supports))
    w = waterfall_work(d)
    bs = BlockSums(np.zeros((n_t, n_k, N_BINS), dtype=np.uint16), np.zeros((n_t, n_k, N_BINS), dtype=np.uint16),
                   np.zeros((n_t, n_k), dtype=np.int64), np.zeros((n_t, n_k), dtype=np.int64),
                   np.zeros((n_t, n_k), dtype=np.int64), np.zeros((N_POOL_SUMS, n_t), dtype=np.int64))
    sw = specialised_waterfall(d)
    yl = np.zeros(n_k)
    seed = np.uint64(1)
    runs = [(s, False) for s in range(len(STAGES))] + [(s, True) for s in range(3, len(STAGES))]
    best = dict.fromkeys(runs, math.inf)
    for _ in range(args.rounds):
        for stage, before in runs:
            a = (d, pa, ci, si, b, prep.base_out, pf, out, w, x, bs, np.int64(stage), before, np.int64(sw.address),
                 sw.params, yl)
            _run(seed, 50, *a)
            t0 = time.thread_time()
            _run(seed, args.paths, *a)
            best[(stage, before)] = min(best[(stage, before)], time.thread_time() - t0)
            for arr in bs:  # counts stay below 2^16 between rounds
                arr[...] = 0
    us = {r: v / args.paths * 1e6 for r, v in best.items()}
    print(f"{args.obligors} obligors, {args.paths:,} paths, one thread (CPU time, best of {args.rounds}), µs per "
          "path: stage cost (cumulative)")
    print(f"  {'':<26} {'now':>16} {'before 23-24':>18}")
    for stage, name in enumerate(STAGES):
        cols = []
        for before in (False, True):
            if (stage, before) not in us:
                cols.append(f"{'':>16}")
                continue
            prev = us.get((stage - 1, before), us.get((stage - 1, False), 0.0)) if stage else 0.0
            cols.append(f"{us[(stage, before)] - prev:+6.2f} ({us[(stage, before)]:5.2f})")
        print(f"  {name:<26} {cols[0]:>16} {cols[1]:>18}")


if __name__ == "__main__":
    main()
