"""The lockstep-lanes prototype of docs/performance.md: 8 paths through the benchmark deal's step program at once.

    python benchmarks/lane_prototype.py

Only what the benchmark deal uses (one account, no fees, triggers or support; fused sequential interest and
principal steps, residual): collections, amounts due, the steps with per-lane required-repaid masks, the carry.
Prints whether the final balances equal the engine's (``trace_path``) bit for bit and the time per lane-period,
to compare with ``benchmarks/stage_costs.py``'s last line (the engine's waterfall, one path). Not used by the
engine: the full lane version of the waterfall was no faster (docs/performance.md).
"""

# ruff: noqa: E741 (l is the lane index throughout)
from __future__ import annotations

import sys
import time
from pathlib import Path

import numba as nb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import base_case  # noqa: E402
from ipabs.engine.montecarlo import prepare, trace_path  # noqa: E402
from ipabs.kernels._jit import OP_PAY_INTEREST, OP_PAY_PRINCIPAL, OP_PAY_RESIDUAL  # noqa: E402
from ipabs.kernels.waterfall import EPS, P_NREQ, P_NT, P_OP, P_SRC, P_TARGETS, waterfall_work  # noqa: E402

LN = 8
deal = base_case(50)
prep = prepare(deal)
d = prep.d
w = waterfall_work(d)
n_t = 60
trs = [trace_path(deal, 1, p, prepared=prep) for p in range(LN)]
pfi = np.ascontiguousarray(np.stack([t.pool.interest for t in trs], 1))
pfp = np.ascontiguousarray(np.stack([t.pool.principal for t in trs], 1))
pfr = np.ascontiguousarray(np.stack([t.pool.recoveries for t in trs], 1))
ref = np.array([t.waterfall.tr_bal_end[-1] for t in trs]).T

@nb.njit(_nrt=False, error_model="numpy")
def lanes(d, prog, mt, pfi, pfp, pfr, bal, short, acct, int_due, int_paid, prin_due, prin_paid, resid, budget, ok, left, tot, t0):
    n_t = d.yf.shape[0]
    n_k = bal.shape[0]
    for t in range(t0, n_t):
        for l in range(LN):
            acct[0, l] += pfi[t, l]
            acct[0, l] += pfp[t, l]
            acct[0, l] += pfr[t, l]
            budget[l] = pfp[t, l] + pfr[t, l]
        final = t == n_t - 1
        for k in range(n_k):
            cy = d.tr_coupon[k] * d.yf[t]
            target = 0.0 if final else d.tr_target[k, t]
            for l in range(LN):
                b = bal[k, l]
                int_due[k, l] = short[k, l] + b * cy
                int_paid[k, l] = 0.0
                prin_due[k, l] = b - target if b > target else 0.0
                prin_paid[k, l] = 0.0
                resid[k, l] = 0.0
        for s in range(d.st_n[0]):
            op = prog[s, P_OP]
            src = prog[s, P_SRC]
            n = prog[s, P_NT]
            for l in range(LN):
                ok[l] = True
            for q in range(prog[s, P_NREQ]):
                k = prog[s, P_TARGETS + mt + q]
                for l in range(LN):
                    ok[l] = ok[l] and not (bal[k, l] - prin_paid[k, l] > EPS)
            if op == OP_PAY_INTEREST:
                for l in range(LN):
                    left[l] = acct[src, l]
                    tot[l] = 0.0
                for j in range(n):
                    k = prog[s, P_TARGETS + j]
                    for l in range(LN):
                        c = int_due[k, l] - int_paid[k, l]
                        x = c if c < left[l] else left[l]
                        x = 0.0 if x < 0.0 else x
                        left[l] -= x
                        tot[l] += x
                        int_paid[k, l] = int_paid[k, l] + x if ok[l] else int_paid[k, l]
                for l in range(LN):
                    acct[src, l] = acct[src, l] - tot[l] if ok[l] else acct[src, l]
            elif op == OP_PAY_PRINCIPAL:
                for l in range(LN):
                    left[l] = acct[src, l]
                    tot[l] = 0.0
                for j in range(n):
                    k = prog[s, P_TARGETS + j]
                    for l in range(LN):
                        lft = bal[k, l] - prin_paid[k, l]
                        c = lft
                        x = c if c < left[l] else left[l]
                        x = 0.0 if x < 0.0 else x
                        left[l] -= x
                        tot[l] += x
                        prin_paid[k, l] = prin_paid[k, l] + x if ok[l] else prin_paid[k, l]
                for l in range(LN):
                    acct[src, l] = acct[src, l] - tot[l] if ok[l] else acct[src, l]
            elif op == OP_PAY_RESIDUAL:
                k = prog[s, P_TARGETS]
                for l in range(LN):
                    resid[k, l] = resid[k, l] + acct[src, l] if ok[l] else resid[k, l]
                    acct[src, l] = 0.0 if ok[l] else acct[src, l]
        for k in range(n_k):
            for l in range(LN):
                b = bal[k, l] - prin_paid[k, l]
                bal[k, l] = 0.0 if b < 0.0 else b
                short[k, l] = int_due[k, l] - int_paid[k, l]

K = 2
bal, short, int_due, int_paid, prin_due, prin_paid, resid = (np.zeros((K, LN)) for _ in range(7))
acct = np.zeros((1, LN))
budget = np.zeros(LN)
ok = np.zeros(LN, dtype=np.bool_)
left = np.zeros(LN)
tot = np.zeros(LN)
mt = d.st_targets.shape[2]

@nb.njit(_nrt=False, error_model="numpy")
def loop(n, d, prog, mt, pfi, pfp, pfr, bal, short, acct, int_due, int_paid, prin_due, prin_paid, resid, budget, ok, left, tot):
    s = 0.0
    for _ in range(n):
        for k in range(bal.shape[0]):
            for l in range(LN):
                bal[k, l] = d.tr_bal0[k]
                short[k, l] = 0.0
        for l in range(LN):
            acct[0, l] = 0.0
        lanes(d, prog, mt, pfi, pfp, pfr, bal, short, acct, int_due, int_paid, prin_due, prin_paid, resid, budget, ok, left, tot, 0)
        s += bal[1, 0]
    return s
args = (d, w.prog, mt, pfi, pfp, pfr, bal, short, acct, int_due, int_paid, prin_due, prin_paid, resid, budget, ok, left, tot)
loop(1, *args)
print("match:", np.array_equal(bal, ref), np.abs(bal - ref).max())
best = 1e9
for _ in range(5):
    t = time.thread_time()
    loop(20000, *args)
    best = min(best, time.thread_time() - t)
print(f"{best / 20000 / LN / 60 * 1e9:.2f} ns per lane-period")
