"""A waterfall specialised to one deal's structure: generated Python source, compiled by numba as a C function.

The general kernel (:func:`ipabs.kernels.waterfall.waterfall_periods`) interprets the step program: every period
it loops over the steps, branches on each step's operation, reads its operands from a table and keeps every amount
in arrays. That costs about 40 ns per period on the benchmark deal, most of a Monte Carlo path (docs/performance.md).
This module writes the same algorithm out for one deal: the steps of each reachable deal state in order, the
operations and operands as constants, the amounts in local variables, and only the features the deal uses. numba
compiles it once per *structure* (the source names no amount: balances, coupons, schedules, thresholds and rates are
read from a packed parameter vector), so a sizing loop that changes balances reuses the compiled function.

**One rule, two implementations.** Every floating-point operation of the general kernel is written out in the same
order with the same operands (``a - b`` stays ``a - b``, a sum that starts at ``0.0`` still starts there; numba
compiles without ``fastmath``, so LLVM keeps IEEE semantics): the results are bit-identical. The general kernel stays
the reference (the deterministic engine, the base path and traces run it); tests compare the two on every sample
deal and on random deals with every feature (tests/oracle/test_specialised_waterfall.py).

What the generated function computes is the general kernel's ``REC_NONE`` and ``REC_TRANCHES`` modes (the Monte
Carlo's two statistics levels). With ``REC_TRANCHES`` it writes the rows the Monte Carlo reads — tranche interest
and principal paid, shortfall carried, balance at the end, residual, support drawn — including the rows after a
clean-up call; the other fields of :class:`~ipabs.compile.arrays.WaterfallOut` are not written (the general
kernel's ``REC_TRANCHES`` leaves them stale too, except after a clean-up call).

For the full statistics, ``waterfall_source(d, stats=True)`` writes a second version (called with
:func:`ipabs.kernels.callptr.call_waterfall_stats`): it records the same rows and, as each is produced, runs the row
loop of :func:`ipabs.kernels.paths.simulate_path` — shortfall flag, WAL sums, cash flow per 100 and the yield's
start sums, comparison with the base path's row, bins and fen sums of the rows that differ — with the kernels' own
``hist_bin``, ``fen`` and ``bin_of`` copied into the source (docs/performance.md item 25). Same operations in the
same order: the same numbers.

The generated source goes to a file named by its hash (beside numba's cache), so numba caches the compiled function
across processes like every other kernel; the Monte Carlo calls it through its address
(:func:`ipabs.kernels.callptr.call_waterfall`), so the path kernels themselves are compiled once for all deals.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import re
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from ipabs.kernels import _jit as K
from ipabs.kernels import paths as _paths
from ipabs.kernels.waterfall import EPS

#: Bump when the generated code's conventions change (it is part of every generated file's hash).
CODEGEN_VERSION = 5

#: The C signature of every generated waterfall (argument order of :func:`ipabs.kernels.callptr.call_waterfall`):
#: pool flows (interest, principal, recoveries, defaults, balance at start, balance at end), the packed parameters,
#: the carried state (accounts, balances, shortfalls, unpaid fees, support left, scal, track), the support default
#: periods, the recorded rows (interest paid, shortfall, principal paid, balance at end, residual, support drawn),
#: then t0, t1 and the recording mode.
N_F8_IN = 14
N_F8_OUT = 6


@dataclass(frozen=True)
class Layout:
    """Offsets of the deal's amounts in the packed parameter vector (see :func:`pack_parameters`)."""

    n_t: int
    n_k: int
    n_f: int
    n_a: int
    n_g: int
    yf: int
    cpn: int
    fyf: int
    tgt: int
    fee_amt: int
    fee_rate: int
    fee_mask: int
    thr: int
    acct_amt: int
    acct_rate: int
    acct_mask: int
    cleanup: int
    pool0: int
    fbl: int
    size: int


def layout(d) -> Layout:
    n_t, n_k = d.yf.shape[0], d.tr_bal0.shape[0]
    n_f, n_a, n_g = d.fee_basis.shape[0], d.acct_init.shape[0], d.trg_cond.shape[0]
    off = 0
    offs = {}
    for name, size in (("yf", n_t), ("cpn", n_t * n_k), ("fyf", n_t), ("tgt", n_k * n_t), ("fee_amt", n_f),
                       ("fee_rate", n_f), ("fee_mask", n_f * n_k), ("thr", n_g), ("acct_amt", n_a), ("acct_rate", n_a),
                       ("acct_mask", n_a * n_k), ("cleanup", 1), ("pool0", 1), ("fbl", n_t)):
        offs[name] = off
        off += size
    return Layout(n_t=n_t, n_k=n_k, n_f=n_f, n_a=n_a, n_g=n_g, size=off, **offs)


def pack_parameters(d) -> np.ndarray:
    """The amounts the generated waterfall reads, in :class:`Layout` order (float64, C order)."""
    lay = layout(d)
    p = np.empty(lay.size)
    p[lay.yf:lay.yf + lay.n_t] = d.note_yf
    p[lay.cpn:lay.cpn + lay.n_t * lay.n_k] = np.ascontiguousarray(d.tr_rate, dtype=np.float64).ravel()
    p[lay.fyf:lay.fyf + lay.n_t] = d.fee_yf
    p[lay.tgt:lay.tgt + lay.n_k * lay.n_t] = np.ascontiguousarray(d.tr_target, dtype=np.float64).ravel()
    p[lay.fee_amt:lay.fee_amt + lay.n_f] = d.fee_amount
    p[lay.fee_rate:lay.fee_rate + lay.n_f] = d.fee_rate
    p[lay.fee_mask:lay.fee_mask + lay.n_f * lay.n_k] = np.ascontiguousarray(d.fee_tr_mask, dtype=np.float64).ravel()
    p[lay.thr:lay.thr + lay.n_g] = d.trg_thr
    p[lay.acct_amt:lay.acct_amt + lay.n_a] = d.acct_target_amt
    p[lay.acct_rate:lay.acct_rate + lay.n_a] = d.acct_target_rate
    p[lay.acct_mask:lay.acct_mask + lay.n_a * lay.n_k] = np.ascontiguousarray(d.acct_target_mask,
                                                                              dtype=np.float64).ravel()
    p[lay.cleanup] = d.cleanup
    p[lay.pool0] = d.pool_bal0
    p[lay.fbl:lay.fbl + lay.n_t] = d.fee_bal_lag  # 0.0 / 1.0
    return p


class _Src:
    """Lines of generated code with indentation and fresh names."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ind = 1
        self.n = 0

    def __call__(self, line: str) -> None:
        self.lines.append("    " * self.ind + line)

    def fresh(self, stem: str) -> str:
        self.n += 1
        return f"{stem}_{self.n}"


def _allocate(c: _Src, avail: str, caps: list[str], alloc: int) -> tuple[list[str], str]:
    """:func:`ipabs.kernels.waterfall.allocate` written out: returns the names of the amounts and of the total."""
    outs = [c.fresh("out") for _ in caps]
    paid = c.fresh("paid")
    if alloc == K.ALLOC_PRO_RATA:
        s = c.fresh("s")
        c(f"{s} = 0.0")
        for cap in caps:
            c(f"if {cap} < 0.0:")
            c(f"    {cap} = 0.0")
            c(f"{s} += {cap}")
        c(f"if {s} <= 0.0 or {avail} <= 0.0:")
        for o in outs:
            c(f"    {o} = 0.0")
        c(f"    {paid} = 0.0")
        c("else:")
        c.ind += 1
        f = c.fresh("f")
        c(f"{f} = {avail} / {s} if {avail} < {s} else 1.0")
        c(f"{paid} = 0.0")
        for cap, o in zip(caps, outs, strict=True):
            c(f"{o} = {cap} * {f}")
            c(f"{paid} += {o}")
        c.ind -= 1
        return outs, paid
    left = c.fresh("left")
    c(f"{left} = {avail}")
    c(f"{paid} = 0.0")
    for cap, o in zip(caps, outs, strict=True):
        c(f"{o} = {cap} if {cap} < {left} else {left}")
        c(f"if {o} < 0.0:")
        c(f"    {o} = 0.0")
        c(f"{left} -= {o}")
        c(f"{paid} += {o}")
    return outs, paid


#: Local-variable stems of the amounts a cover kind refers to (``fdue3 - fpaid3``, ``idue0 - ipaid0``, ...).
_COVER_STEMS = {K.COVER_FEE: "f", K.COVER_INTEREST: "i", K.COVER_PRINCIPAL: "p"}


def _covered_due(c: _Src, kinds: list[int], idx: list[int]) -> str:
    """:func:`ipabs.kernels.waterfall.covered_due` written out; returns the name of the sum."""
    need = c.fresh("need")
    c(f"{need} = 0.0")
    for kind, i in zip(kinds, idx, strict=True):
        stem = _COVER_STEMS.get(kind)
        expr = f"{stem}due{i} - {stem}paid{i}" if stem else "0.0"
        x = c.fresh("cx")
        c(f"{x} = {expr}")
        c(f"if {x} > 0.0:")
        c(f"    {need} += {x}")
    return need


def _pay_allocated(c: _Src, a_src: str, targets: list[int], due: str, paid_: str, alloc: int) -> None:
    """Fees or interest through :func:`_allocate`: caps ``due − paid`` of every target first, then the payments."""
    caps = [c.fresh("cap") for _ in targets]
    for cap, i in zip(caps, targets, strict=True):
        c(f"{cap} = {due}{i} - {paid_}{i}")
    outs, paid = _allocate(c, a_src, caps, alloc)
    for o, i in zip(outs, targets, strict=True):
        c(f"{paid_}{i} += {o}")
    c(f"{a_src} -= {paid}")


def _principal_cap(c: _Src, k: int, mode: int, cap: str) -> None:
    """What a principal step may pay tranche k: its balance left, or with ``due`` the smaller of that and the
    principal due left (the general kernel's ``left`` and ``due_left``)."""
    left = c.fresh("left")
    c(f"{left} = bal{k} - ppaid{k}")
    if mode == K.AMT_DUE:
        dl = c.fresh("due_left")
        c(f"{dl} = pdue{k} - ppaid{k}")
        c(f"{cap} = {dl} if {dl} < {left} else {left}")
    else:
        c(f"{cap} = {left}")


def _step(c: _Src, d, lay: Layout, st: int, s: int) -> None:
    """One step of the program (:func:`ipabs.kernels.waterfall.run_step` for row (st, s))."""
    op = int(d.st_op[st, s])
    src = int(d.st_src[st, s])
    dst = int(d.st_dst[st, s])
    alloc = int(d.st_alloc[st, s])
    mode = int(d.st_amount[st, s])
    n = int(d.st_ntargets[st, s])
    tg = [int(x) for x in d.st_targets[st, s, :n]]
    req = [int(x) for x in d.st_req[st, s, :int(d.st_nreq[st, s])]]
    ncov = int(d.st_ncov[st, s])
    kinds = [int(x) for x in d.st_cov_kind[st, s, :ncov]]
    cidx = [int(x) for x in d.st_cov_idx[st, s, :ncov]]
    fused = len(set(tg)) == len(tg) and alloc != K.ALLOC_PRO_RATA
    c(f"# step {s}: op {op}")
    if req:
        c("if not (" + " or ".join(f"bal{k} - ppaid{k} > {EPS!r}" for k in req) + "):")
        c.ind += 1
    a_src = f"acct{src}"
    if op == K.OP_PAY_FEES:
        _pay_allocated(c, a_src, tg, "fdue", "fpaid", alloc)
    elif op == K.OP_PAY_INTEREST and fused:
        left, total = c.fresh("left"), c.fresh("total")
        c(f"{left} = {a_src}")
        c(f"{total} = 0.0")
        for k in tg:
            cc, x = c.fresh("c"), c.fresh("x")
            c(f"{cc} = idue{k} - ipaid{k}")
            c(f"{x} = {cc} if {cc} < {left} else {left}")
            c(f"if {x} < 0.0:")
            c(f"    {x} = 0.0")
            c(f"{left} -= {x}")
            c(f"{total} += {x}")
            c(f"ipaid{k} += {x}")
        c(f"{a_src} -= {total}")
    elif op == K.OP_PAY_INTEREST:
        _pay_allocated(c, a_src, tg, "idue", "ipaid", alloc)
    elif op == K.OP_PAY_PRINCIPAL and fused:
        left_a, total = c.fresh("left_a"), c.fresh("total")
        c(f"{left_a} = {a_src}")
        if mode == K.AMT_COLLECTED:
            c(f"if prin_budget < {left_a}:")
            c(f"    {left_a} = prin_budget")
        c(f"{total} = 0.0")
        for k in tg:
            cc, x = c.fresh("c"), c.fresh("x")
            _principal_cap(c, k, mode, cc)
            c(f"{x} = {cc} if {cc} < {left_a} else {left_a}")
            c(f"if {x} < 0.0:")
            c(f"    {x} = 0.0")
            c(f"{left_a} -= {x}")
            c(f"{total} += {x}")
            c(f"ppaid{k} += {x}")
        c(f"{a_src} -= {total}")
        if mode == K.AMT_COLLECTED:
            c(f"prin_budget -= {total}")
    elif op == K.OP_PAY_PRINCIPAL:
        caps = [c.fresh("cap") for _ in tg]
        for cap, k in zip(caps, tg, strict=True):
            _principal_cap(c, k, mode, cap)
        avail = c.fresh("avail")
        c(f"{avail} = {a_src}")
        if mode == K.AMT_COLLECTED:
            c(f"if prin_budget < {avail}:")
            c(f"    {avail} = prin_budget")
        outs, paid = _allocate(c, avail, caps, alloc)
        for o, k in zip(outs, tg, strict=True):
            c(f"ppaid{k} += {o}")
        c(f"{a_src} -= {paid}")
        if mode == K.AMT_COLLECTED:
            c(f"prin_budget -= {paid}")
    elif op == K.OP_TRANSFER:
        x = c.fresh("x")
        c(f"{x} = {a_src}")
        if mode == K.AMT_TO_TARGET:
            rt = c.fresh("rt")
            c(f"{rt} = par[{lay.acct_amt + dst}]")
            c(f"if par[{lay.acct_rate + dst}] > 0.0:")
            c.ind += 1
            sm = c.fresh("s")
            c(f"{sm} = 0.0")
            for k in range(lay.n_k):
                c(f"{sm} += par[{lay.acct_mask + dst * lay.n_k + k}] * bal{k}")
            c(f"{rt} += par[{lay.acct_rate + dst}] * {sm}")
            c.ind -= 1
            want = c.fresh("want")
            c(f"{want} = {rt} - acct{dst}")
            c(f"{x} = {want} if {want} < {x} else {x}")
        elif mode == K.AMT_SHORTFALL:
            need = _covered_due(c, kinds, cidx)
            want = c.fresh("want")
            c(f"{want} = {need} - acct{dst}")
            c(f"{x} = {want} if {want} < {x} else {x}")
        c(f"if {x} > 0.0:")
        c(f"    {a_src} -= {x}")
        c(f"    acct{dst} += {x}")
    elif op == K.OP_DRAW_SUPPORT:
        sp = int(d.st_support[st, s])
        c(f"if sdt[{sp}] > t:")
        c.ind += 1
        need = _covered_due(c, kinds, cidx)
        want, x = c.fresh("want"), c.fresh("x")
        c(f"{want} = {need} - acct{dst}")
        c(f"{x} = {want} if {want} < sl{sp} else sl{sp}")
        c(f"if {x} > 0.0:")
        c(f"    acct{dst} += {x}")
        c(f"    sl{sp} -= {x}")
        c(f"    sd{sp} += {x}")
        c.ind -= 1
    elif op == K.OP_PAY_RESIDUAL:
        k = tg[0]
        c(f"rs{k} += {a_src}")
        c(f"{a_src} = 0.0")
    else:
        c("pass")
    if req:
        c.ind -= 1


def waterfall_source(d, stats: bool = False) -> str:
    """Python source of the waterfall specialised to deal ``d``'s structure (see the module docstring); with
    ``stats``, the version that also accumulates the full Monte Carlo's tranche-row statistics (:data:`STATS_ARGS`,
    docs/performance.md item 25)."""
    lay = layout(d)
    n_t, n_k, n_f, n_a = lay.n_t, lay.n_k, lay.n_f, lay.n_a
    n_s = d.sup_cap.shape[0]
    n_g = lay.n_g
    eps = repr(EPS)
    c = _Src()
    out = c.lines
    c.ind = 0
    c(f"# Generated by ipabs.compile.codegen (version {CODEGEN_VERSION}) from a deal's step program; do not edit.")
    c("import numpy as np")
    c("from numba import cfunc, types")
    c("F8P = types.CPointer(types.float64)")
    c(f"SIG = types.void(*([F8P] * {N_F8_IN} + [types.CPointer(types.int64)] + [F8P] * {N_F8_OUT} "
      "+ [types.int64] * 3))")
    c("")
    c("")
    if stats:
        _stats_header(c)
    c('@cfunc(SIG, cache=True, error_model="numpy")')
    c("def waterfall(pi, pp, pr, pdf, pbs, pbe, par, s_acct, s_bal, s_short, s_fc, s_sl, s_scal, s_track, sdt, o_ip, "
      "o_ish, o_pp, o_be, o_rs, o_sd, t0, t1, rec" + (", " + ", ".join(STATS_ARGS) if stats else "") + "):")
    c.ind = 1
    c("if s_scal[2] != 0.0:")
    c("    return")
    zeros = _never_paid(waterfall_source(d), n_k) if stats else frozenset()
    if stats:
        for k in range(n_k):
            # each histogram increment waits one row (pb/pc: the row's bin, -1 for none yet): its bin is computed
            # at the end of the period's dependency chain, and the increment then no longer holds up the next
            # period's work (docs/performance.md item 29)
            c(f"pb{k} = np.int64(-1)")
            c(f"pc{k} = np.int64(-1)")
            c(f"cfo{k} = cfo[{k}]")
        c(f"cfs = cfo[{n_k}]")
        for k in range(n_k):
            c(f"face{k} = sf_face[{k}]")
            c(f"bhi{k} = sf_bhi[{k}]")
            c(f"chi{k} = sf_chi[{k}]")
            c(f"rb{k} = nb / bhi{k} if bhi{k} > 0.0 else 0.0")
            c(f"rc{k} = nb / chi{k} if chi{k} > 0.0 else 0.0")
            c(f"jf{k} = hist_bin(face{k}, bhi{k}, nb)")  # an unamortised balance's bin (rows at face: one in six)
            for v, arr in _STATS_CARRIED:
                c(f"{v}{k} = {arr}[{k}]")
    # the carried state: local variable ↔ element of the state arrays (loaded here, stored after the loop)
    carried = ([(f"acct{a}", f"s_acct[{a}]") for a in range(n_a)]
               + [(f"{v}{k}", f"{arr}[{k}]") for k in range(n_k) for v, arr in (("bal", "s_bal"), ("sh", "s_short"),
                                                                                 ("tk", "s_track"))]
               + [("tks", f"s_track[{n_k}]")] + [(f"fc{f}", f"s_fc[{f}]") for f in range(n_f)]
               + [(f"sl{sp}", f"s_sl[{sp}]") for sp in range(n_s)])
    # conventions.fee_balance = "collection_period_start": the balances at the start of the previous period, carried
    # in scal[3:] (the general kernel's keep_prev; without it neither touches them and the source is unchanged)
    keep_prev = bool(np.any(np.asarray(d.fee_bal_lag) != 0))
    if keep_prev:
        carried += [(f"bp{k}", f"s_scal[{3 + k}]") for k in range(n_k)]
    for local, elem in carried:
        c(f"{local} = {elem}")
    c("cum_def = s_scal[0]")
    c("latched = np.int64(s_scal[1])")
    c("wound = 0.0")
    c("for t in range(t0, t1):")
    c.ind = 2
    c("# 1. collections")
    c(f"acct{d.route_int} += pi[t]")
    c(f"acct{d.route_prin} += pp[t]")
    c(f"acct{d.route_rec} += pr[t]")
    c("cum_def += pdf[t]")
    c(f"final = t == {n_t - 1}")
    c("called = False")
    if d.cleanup > 0.0:
        c(f"if pbe[t] > {eps} and pbe[t] < par[{lay.cleanup}] * par[{lay.pool0}]:")
        c(f"    acct{d.route_prin} += pbe[t]")
        c("    called = True")
        c("    final = True")
    if d.cleanup > 0.0:
        c("prin_budget = pp[t] + pr[t] + (pbe[t] if called else 0.0)")
    else:  # called is False: the same sum (adding 0.0 turns a −0.0 into +0.0, as the general kernel does)
        c("prin_budget = pp[t] + pr[t] + 0.0")
    c("# 2. amounts due")
    c(f"y = par[{lay.yf} + t]")
    c(f"fy = par[{lay.fyf} + t]")
    for k in range(n_k):
        c(f"accrued = bal{k} * par[{lay.cpn + k} + {n_k} * t] * y")
        if d.tr_ios[k]:
            c(f"accrued += sh{k} * par[{lay.cpn + k} + {n_k} * t] * y")
        c(f"idue{k} = sh{k} + accrued")
        c(f"ipaid{k} = 0.0")
        c(f"target = 0.0 if final else par[{lay.tgt + k * n_t} + t]")
        c(f"pdue{k} = bal{k} - target if bal{k} > target else 0.0")
        c(f"ppaid{k} = 0.0")
        c(f"rs{k} = 0.0")
    for f in range(n_f):
        b = int(d.fee_basis[f])
        if b == K.FEE_FIXED:
            live = " or ".join(f"bal{k} > {eps}" for k in range(n_k)) or "False"
            c(f"acc = par[{lay.fee_amt + f}] * fy if ({live}) else 0.0")
        elif b == K.FEE_POOL_BALANCE:
            c(f"acc = par[{lay.fee_rate + f}] * pbs[t] * fy")
        elif b == K.FEE_TRANCHE_BALANCE:
            c("sfee = 0.0")
            if keep_prev:
                c(f"if par[{lay.fbl} + t] != 0.0:")
                for k in range(n_k):
                    c(f"    sfee += par[{lay.fee_mask + f * n_k + k}] * bp{k}")
                c("else:")
                for k in range(n_k):
                    c(f"    sfee += par[{lay.fee_mask + f * n_k + k}] * bal{k}")
            else:
                for k in range(n_k):
                    c(f"sfee += par[{lay.fee_mask + f * n_k + k}] * bal{k}")
            c(f"acc = par[{lay.fee_rate + f}] * sfee * fy")
        elif b == K.FEE_INTEREST_COLLECTIONS:
            c(f"acc = par[{lay.fee_rate + f}] * pi[t]")
        else:
            c("acc = 0.0")
        c(f"fdue{f} = fc{f} + acc")
        c(f"fpaid{f} = 0.0")
    for sp in range(n_s):
        c(f"sd{sp} = 0.0")
    c("# 3. triggers")
    conds = [int(x) for x in d.trg_cond]
    if K.TRG_COVERAGE in conds:
        c("avail = 0.0")
        for a in range(n_a):
            if d.acct_reserve[a] == 0:
                c(f"avail += acct{a}")
        c("need = 0.0")
        for f in range(n_f):
            c(f"need += fdue{f}")
        for k in range(n_k):
            if d.tr_senior[k]:
                c(f"need += idue{k} + pdue{k}")
        c("if avail < 0.0:")
        c("    avail = 0.0")
        c(f"coverage = avail / need if need > {eps} else -1.0")
    c("state = latched")
    for g in range(n_g):
        cond = conds[g]
        if cond == K.TRG_CUM_DEFAULT:
            hit = f"par[{lay.pool0}] > 0.0 and cum_def / par[{lay.pool0}] >= par[{lay.thr + g}]"
        elif cond == K.TRG_COVERAGE:
            hit = f"coverage >= 0.0 and coverage < par[{lay.thr + g}]"
        elif cond == K.TRG_SUPPORT_DEFAULT:
            hit = f"sdt[{int(d.trg_sup[g])}] <= t"
        elif cond == K.TRG_ON_DATE:
            hit = f"t >= {int(d.trg_period[g])}"
        else:
            hit = "False"
        e = int(d.trg_effect[g])
        c(f"if {hit}:")
        c(f"    if {e} > state:")
        c(f"        state = {e}")
        if d.trg_curable[g] == 0:
            c(f"    if {e} > latched:")
            c(f"        latched = {e}")
    c("# 4. waterfall")
    reachable = sorted({0} | {int(e) for e in d.trg_effect})
    programs: dict[tuple, list[int]] = {}
    for st in reachable:
        key = tuple(tuple(int(v) for v in row) for row in _program_rows(d, st))
        programs.setdefault(key, []).append(st)
    groups = list(programs.values())
    for gi, states in enumerate(groups):
        if len(groups) > 1:
            test = " or ".join(f"state == {st}" for st in states)
            c(("if " if gi == 0 else "elif ") + f"{test}:")
            c.ind += 1
        st = states[0]
        for s in range(int(d.st_n[st])):
            _step(c, d, lay, st, s)
        if int(d.st_n[st]) == 0:
            c("pass")
        if len(groups) > 1:
            c.ind -= 1
    c("# 5. record and carry")
    if keep_prev:
        for k in range(n_k):
            c(f"bp{k} = bal{k}")
    for k in range(n_k):
        c(f"bal{k} -= ppaid{k}")
        c(f"if bal{k} < 0.0:")
        c(f"    bal{k} = 0.0")
        c(f"sh{k} = idue{k} - ipaid{k}")
    for f in range(n_f):
        c(f"fc{f} = fdue{f} - fpaid{f}")
    c(f"if rec == {K_REC_NONE}:")
    for k in range(n_k):
        c(f"    if sh{k} > {eps}:")
        c(f"        tk{k} = 1.0")
    for sp in range(n_s):
        c(f"    tks += sd{sp}")
    c("    pass")
    c("else:")
    # the statistics version records only what the path kernel reads after it (the end balances, the support
    # drawn): it accumulates the rest of each row itself (docs/performance.md item 29)
    for k in range(n_k):
        if not stats:
            c(f"    o_ip[t * {n_k} + {k}] = ipaid{k}")
            c(f"    o_ish[t * {n_k} + {k}] = sh{k}")
            c(f"    o_pp[t * {n_k} + {k}] = ppaid{k}")
        c(f"    o_be[t * {n_k} + {k}] = bal{k}")
        if not stats:
            c(f"    o_rs[t * {n_k} + {k}] = rs{k}")
    for sp in range(n_s):
        c(f"    o_sd[t * {n_s} + {sp}] = sd{sp}")
    if stats:
        c.ind += 1
        for k in range(n_k):
            _row_stats(c, n_k, n_t, k, "t", f"ipaid{k}", f"ppaid{k}", f"rs{k}", f"bal{k}", f"sh{k}", zeros)
        c.ind -= 1
    c(f"if final and t < {n_t - 1}:")
    c(f"    if rec != {K_REC_NONE}:")
    c(f"        for u in range(t + 1, {n_t}):")
    for k in range(n_k):
        if not stats:
            c(f"            o_ip[u * {n_k} + {k}] = 0.0")
            c(f"            o_pp[u * {n_k} + {k}] = 0.0")
            c(f"            o_rs[u * {n_k} + {k}] = 0.0")
        c(f"            o_be[u * {n_k} + {k}] = bal{k}")
        if not stats:
            c(f"            o_ish[u * {n_k} + {k}] = sh{k}")
    for sp in range(n_s):
        c(f"            o_sd[u * {n_s} + {sp}] = 0.0")
    if stats:
        c.ind += 3
        for k in range(n_k):
            _row_stats(c, n_k, n_t, k, "u", "0.0", "0.0", "0.0", f"bal{k}", f"sh{k}", zeros)
        c.ind -= 3
    c("            pass")
    c("    wound = 1.0")
    c("    break")
    c.ind = 1
    if stats:
        for k in range(n_k):
            c(f"if pb{k} >= 0:")
            c(f"    h_bal[pb{k}] += 1")
            c(f"if pc{k} >= 0:")
            c(f"    h_cash[pc{k}] += 1")
    c("# write the carried state back")
    for local, elem in carried:
        c(f"{elem} = {local}")
    c("s_scal[0] = cum_def")
    c("s_scal[1] = latched")
    c("if wound != 0.0:")
    c("    s_scal[2] = 1.0")
    if stats:
        for k in range(n_k):
            for v, arr in _STATS_CARRIED:
                c(f"{arr}[{k}] = {v}{k}")
    return "\n".join(out) + "\n"


# ---- the full Monte Carlo's tranche-row statistics, accumulated as the rows are produced ---------------------------

#: Arguments the statistics version takes after ``rec`` (the order of
#: :func:`ipabs.kernels.callptr.call_waterfall_stats`): the base path's rows (interest, principal, residual, end
#: balance) and cash flow per 100, τ in years, each tranche's face and histogram upper edges, the path's cash flows
#: per 100 (tranche k's period t at ``cfk[cfo[k] + t · cfo[K]]``: ``x.cfk`` or the yield lanes, item 29), the
#: per-tranche accumulators (WAL numerator and denominator, the yield's start sums, the
#: shortfall flag, "equal to the base", one past the last non-zero cash flow), the block's histograms (uint16) and
#: fen sums, the count of rows equal to the base path's, the number of bins.
STATS_ARGS = ("b_ip", "b_pp", "b_rs", "b_be", "b_cf", "tau", "sf_face", "sf_bhi", "sf_chi", "cfk", "cfo", "k_num",
              "k_den", "k_tot", "k_mom", "k_short", "k_same", "k_last", "h_bal", "h_cash", "q_int", "q_prin", "q_bal",
              "cnt_same", "nb")
#: Their C types: "f" double*, "i" int64*, "u" uint16*, "n" int64.
STATS_TYPES = "ffffffffffiffffiiiuuiiiin"
_STATS_CARRIED = (("kn", "k_num"), ("kd", "k_den"), ("kt", "k_tot"), ("km", "k_mom"), ("ks", "k_short"),
                  ("kq", "k_same"), ("kl", "k_last"))


def _stats_header(c: _Src) -> None:
    """The statistics version's signature and the kernels' own ``hist_bin``, ``fen`` and ``bin_of`` (their source,
    so the generated file's hash changes with them)."""
    ptr = {"f": "F8P", "i": "types.CPointer(types.int64)", "u": "types.CPointer(types.uint16)", "n": "types.int64"}
    c("import math")
    c("from numba import njit")
    c(f"SIG = types.void(*([F8P] * {N_F8_IN} + [types.CPointer(types.int64)] + [F8P] * {N_F8_OUT} "
      "+ [types.int64] * 3 + [" + ", ".join(ptr[t] for t in STATS_TYPES) + "]))")
    for src in _helper_sources():
        c("")
        c("")
        c('@njit(cache=True, error_model="numpy")')
        for line in src.splitlines():
            if not line.startswith("@"):
                c(line)
    c("")
    c("")


def _helper_sources() -> tuple[str, ...]:
    """The source of the kernels' ``hist_bin``, ``fen`` and ``bin_of``, as read when this module was imported (the
    functions this process compiles, even if the file is edited while it runs)."""
    return _HELPERS


def _never_paid(plain: str, n_k: int) -> frozenset[str]:
    """The tranches' interest-paid and residual variables (``ipaid{k}``, ``rs{k}``) that the plain generated
    waterfall ``plain`` never changes from the 0.0 each period starts with: no step of the deal's program pays that
    tranche interest or a residual. The base path, run by the general kernel over the same program, records 0.0 for
    them too, so the statistics version skips their comparison with the base row (0.0 == 0.0) and their fen sum
    (fen(0.0) = 0): the same results with less work per row (docs/performance.md item 29)."""
    zeros = set()
    for k in range(n_k):
        for v in (f"ipaid{k}", f"rs{k}"):
            assigned = [m.group(0).strip() for m in re.finditer(rf"^\s*{v}\s*[-+]?=.*$", plain, re.M)]
            if assigned and all(a == f"{v} = 0.0" for a in assigned):
                zeros.add(v)
    return frozenset(zeros)


def _row_stats(c: _Src, n_k: int, n_t: int, k: int, t: str, ip: str, pp: str, rs: str, be: str, sh: str,
               zeros: frozenset[str] = frozenset()) -> None:
    """The row loop of :func:`ipabs.kernels.paths.simulate_path` for tranche ``k``'s row ``t`` (values ``ip``, ``pp``,
    ``rs``, ``be`` and the shortfall carried ``sh``, as recorded): the same operations in the same order, except
    that an amount known to be 0.0 on every path and on the base path (``zeros``, :func:`_never_paid`) is neither
    compared with the base row nor added to a fen sum, and the histogram increments wait
    one row (``pb{k}``, ``pc{k}``; the last are made after the period loop): the same counts and sums."""
    i = c.fresh("ri")
    cv = c.fresh("cv")
    paid = c.fresh("paid")
    zero_ip = f"ipaid{k}" in zeros  # 0.0 on this path and on the base path (a literal 0.0 alone is not enough:
    zero_rs = f"rs{k}" in zeros  # after a clean-up call the path's rows are 0.0, the base path's need not be)
    same = [f"{ip} == b_ip[{i}]"] if not zero_ip else []
    same.append(f"{pp} == b_pp[{i}]")
    if not zero_rs:
        same.append(f"{rs} == b_rs[{i}]")
    same.append(f"{be} == b_be[{i}]")
    c(f"{i} = {t} * {n_k} + {k}")
    c(f"if {sh} > {EPS!r}:")
    c(f"    ks{k} = 1")
    c(f"kn{k} += tau[{t}] * {pp}")
    c(f"kd{k} += {pp}")
    c(f"if {' and '.join(same)}:")
    c(f"    {cv} = b_cf[{i}]")
    c(f"    cnt_same[{i}] += 1")
    c("else:")
    c(f"    {paid} = {ip} + {pp} + {rs}")
    c(f"    {cv} = {paid} / face{k} * 100.0 if face{k} > 0.0 else 0.0")
    c(f"    if {cv} != b_cf[{i}]:")
    c(f"        kq{k} = 0")
    c(f"    if pb{k} >= 0:")
    c(f"        h_bal[pb{k}] += 1")
    c(f"    pb{k} = {i} * nb + (jf{k} if {be} == face{k} else bin_of({be}, bhi{k}, rb{k}, nb))")
    c(f"    if pc{k} >= 0:")
    c(f"        h_cash[pc{k}] += 1")
    c(f"    pc{k} = {i} * nb + bin_of({paid}, chi{k}, rc{k}, nb)")
    if not zero_ip:
        c(f"    q_int[{i}] += fen({ip})")
    c(f"    q_prin[{i}] += fen({pp})")
    c(f"    q_bal[{i}] += fen({be})")
    c(f"cfk[cfo{k} + {t} * cfs] = {cv}")
    c(f"kt{k} += {cv}")
    c(f"km{k} += {cv} * tau[{t}]")
    c(f"if {cv} != 0.0:")
    c(f"    kl{k} = {t} + 1")


K_REC_NONE = 0  # ipabs.kernels.waterfall.REC_NONE (asserted below)


def _program_rows(d, st: int) -> list[list[int]]:
    """State ``st``'s steps as rows of integers (two states with equal rows share generated code)."""
    rows = []
    for s in range(int(d.st_n[st])):
        rows.append([int(d.st_op[st, s]), int(d.st_src[st, s]), int(d.st_dst[st, s]), int(d.st_alloc[st, s]),
                     int(d.st_amount[st, s]), int(d.st_support[st, s]), int(d.st_ntargets[st, s]),
                     *map(int, d.st_targets[st, s]), int(d.st_nreq[st, s]), *map(int, d.st_req[st, s]),
                     int(d.st_ncov[st, s]), *map(int, d.st_cov_kind[st, s]), *map(int, d.st_cov_idx[st, s])])
    return rows


# ---- compiling and loading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpecialisedWaterfall:
    """A compiled specialised waterfall: ``address`` of the C function (valid in this process), its ``params``
    (:func:`pack_parameters`) and ``key`` (hash of the source)."""

    address: int
    params: np.ndarray
    key: str
    #: the generated code reads the pool's balance at start or end (``pbs``/``pbe``); when it does not, the Monte
    #: Carlo's losses-only statistics skip computing them (:func:`ipabs.kernels.pool.apply_defaults_into`, width 2)
    reads_pool_balances: bool = True


_loaded: dict[str, object] = {}
_lock = threading.Lock()


def _source_dir() -> Path:
    """Where generated sources live: beside numba's cache (so they share its lifetime), else a temp directory."""
    base = numba.config.CACHE_DIR
    candidates = [Path(base) / "ipabs-waterfalls"] if base else []
    candidates.append(Path.home() / ".cache" / "ipabs" / "waterfalls")
    candidates.append(Path(tempfile.gettempdir()) / f"ipabs-waterfalls-{os.getuid() if hasattr(os, 'getuid') else 0}")
    for p in candidates:
        try:
            p.mkdir(parents=True, exist_ok=True)
            probe = p / f".probe-{os.getpid()}-{threading.get_ident()}"
            probe.write_bytes(b"")
            probe.unlink()
            return p
        except OSError:
            continue
    raise OSError("no writable directory for generated waterfall sources")


def _load(key: str, src: str, attr: str = "waterfall", prefix: str = "wf"):
    """Write ``src`` to ``<prefix>_<key>.py`` (atomically, once: its modification time keys numba's cache), import
    it and return its ``attr``."""
    path = _source_dir() / f"{prefix}_{key}.py"
    if not path.exists() or path.read_text("utf-8") != src:
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(src, "utf-8")
        os.replace(tmp, path)
    name = f"ipabs_generated_{prefix}_{key}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return getattr(mod, attr)


def specialised_waterfall(d, stats: bool = False) -> SpecialisedWaterfall:
    """Generate, compile (or load from numba's cache) and return the waterfall specialised to ``d``'s structure;
    with ``stats`` the version that also accumulates the tranche-row statistics of a full Monte Carlo (called
    with :func:`ipabs.kernels.callptr.call_waterfall_stats`)."""
    src = waterfall_source(d, stats)
    key = hashlib.sha256(src.encode()).hexdigest()[:20]
    with _lock:
        fn = _loaded.get(key)
        if fn is None:
            fn = _load(key, src)
            _loaded[key] = fn
    return SpecialisedWaterfall(address=int(fn.address), params=pack_parameters(d), key=key,
                                reads_pool_balances=reads_pool_balances(src))


#: Version of :func:`yield_lanes_source`'s output (part of the source, so of its hash and file name).
YIELD_LANES_VERSION = 1


def _array_literal(a: np.ndarray, dtype: str) -> str:
    """``np.array([...], dtype=...)`` of ``a`` written exactly (``repr`` of a float round-trips)."""
    conv = (lambda x: repr(float(x))) if dtype == "float64" else (lambda x: str(int(x)))
    items = ", ".join(conv(x) for x in a)
    return f"np.array([{items}], dtype=np.{dtype})"


def yield_lanes_source(si) -> str:
    """Python source of the yield-lanes solver specialised to the period grid of ``si``
    (:class:`ipabs.kernels.paths.StatInputs`): :func:`ipabs.kernels.yields.lanes_solve` inlined into a C function
    with the grid — τ, the period lengths and their day counts, the compounding frequency — as constants, so LLVM
    unrolls the discount steps' loops and folds the grid's loads (the same operations in the same order: the same
    bits). Called with :func:`ipabs.kernels.callptr.call_yield_lanes`."""
    n_j = int(si.inc_val.shape[0])
    m_all = 0
    for m in si.inc_units:
        m_all |= int(m)
    n_b = max(1, m_all.bit_length())
    lines = [
        f"# Generated by ipabs.compile.codegen (yield lanes, version {YIELD_LANES_VERSION}) from a deal's period grid; "
        "do not edit.",
        "import numpy as np",
        "from numba import carray, cfunc, types",
        "from ipabs.kernels.yields import LANES, YieldLanes, lanes_solve",
        "F8P = types.CPointer(types.float64)",
        "I8P = types.CPointer(types.int64)",
        "SIG = types.void(F8P, F8P, F8P, I8P, I8P, I8P, F8P, F8P, F8P, F8P, F8P, I8P, F8P, types.int64, types.float64, "
        "types.int64, types.int64)",
        f"TAU = {_array_literal(si.tau_years, 'float64')}",
        f"INC_IDX = {_array_literal(si.inc_idx, 'int64')}",
        f"INC_VAL = {_array_literal(si.inc_val, 'float64')}",
        f"INC_UNITS = {_array_literal(si.inc_units, 'int64')}",
        f"FREQ = {float(si.freq)!r}",
        f"UNIT = {float(si.unit)!r}",
        f"N_T = {int(si.tau_years.shape[0])}",
        f"N_J = {n_j}",
        f"N_B = {n_b}",
        "",
        "",
        '@cfunc(SIG, cache=True, error_model="numpy")',
        "def solve(cf, tot, mom, last, row, n, pw, sq, st, acc, pw1, ok, yld, k, price, n_k, n_rows):",
        "    yl = YieldLanes(carray(cf, (n_k, N_T, LANES)), carray(tot, (n_k, LANES)), carray(mom, (n_k, LANES)),",
        "                    carray(last, (n_k, LANES)), carray(row, (n_k, LANES)), carray(n, (n_k,)),",
        "                    carray(pw, (N_J, LANES)), carray(sq, (N_B, LANES)), carray(st, (7, LANES)),",
        "                    carray(acc, (2, LANES)), carray(pw1, (N_J,)), carray(ok, (3,)))",
        "    lanes_solve(yl, k, price, TAU, FREQ, INC_IDX, INC_VAL, INC_UNITS, UNIT, carray(yld, (n_rows, n_k)))",
        "",
    ]
    return "\n".join(lines)


def specialised_yield_lanes(si) -> int:
    """Generate, compile (or load from numba's cache) the yield-lanes solver for ``si``'s period grid and return
    its address (valid in this process); 0 when the lanes are not used for this grid
    (:func:`ipabs.kernels.yields.yield_lanes`)."""
    from ipabs.kernels.yields import yield_lanes

    if yield_lanes(1, si.tau_years.shape[0], si._replace(yl_addr=0)).ok[0] == 0:
        return 0
    src = yield_lanes_source(si)
    key = hashlib.sha256(src.encode()).hexdigest()[:20]
    with _lock:
        fn = _loaded.get(key)
        if fn is None:
            fn = _load(key, src, attr="solve", prefix="yl")
            _loaded[key] = fn
    return int(fn.address)


def reads_pool_balances(src: str) -> bool:
    """Whether generated source ``src`` reads the pool's balance at the start or end of a period."""
    return re.search(r"\bpb[se]\[", src) is not None


def _check_constants() -> None:
    from ipabs.kernels.callptr import STATS_TYPES as CALL_TYPES
    from ipabs.kernels.waterfall import REC_NONE

    assert REC_NONE == K_REC_NONE
    assert CALL_TYPES == STATS_TYPES and len(STATS_TYPES) == len(STATS_ARGS)


_check_constants()
_HELPERS = tuple(inspect.getsource(fn.py_func) for fn in (_paths.hist_bin, _paths.fen, _paths.bin_of))
