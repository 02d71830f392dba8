"""The waterfall kernel: one path of the deal, period by period. Shared by the deterministic and Monte Carlo engines.

Order of events inside period t (docs/methodology/waterfall.md, the one place it is documented):

1. **Collections**: the period's pool interest, principal (scheduled + prepaid) and recoveries are credited to the
   collection accounts that receive them; defaults add to the cumulative default amount. If a clean-up call is
   set and the performing balance at the end of the period is below ``cleanup × pool_bal0``, the originator buys
   it at par: the proceeds are principal collections and the period becomes the final one.
2. **Amounts due**: tranche interest ``balance × rate[t] × note_yf + carried shortfall`` (plus interest on the
   shortfall when ``interest_on_shortfall``; ``rate[t]`` the period's coupon, fixed or index + spread); principal due ``balance − target[t]`` (the full balance in the final period);
   fees accrued plus unpaid fees carried.
3. **Triggers**: each trigger's condition is tested on the state after collections (cumulative default ratio,
   coverage ratio, support-provider default, date); the deal state is the most severe active effect. Non-curable
   triggers latch.
4. **Waterfall**: the steps of the state's list run in order.
5. **Carry**: unpaid interest and fees carry to the next period; cash left in accounts stays there.

After the last period, a tranche's remaining balance is its principal loss.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ipabs.kernels._jit import (
    ALLOC_PRO_RATA,
    AMT_COLLECTED,
    AMT_DUE,
    AMT_SHORTFALL,
    AMT_TO_TARGET,
    COVER_FEE,
    COVER_INTEREST,
    COVER_PRINCIPAL,
    FEE_FIXED,
    FEE_INTEREST_COLLECTIONS,
    FEE_POOL_BALANCE,
    FEE_TRANCHE_BALANCE,
    OP_DRAW_SUPPORT,
    OP_PAY_FEES,
    OP_PAY_INTEREST,
    OP_PAY_PRINCIPAL,
    OP_PAY_RESIDUAL,
    OP_TRANSFER,
    TRG_COVERAGE,
    TRG_CUM_DEFAULT,
    TRG_ON_DATE,
    TRG_SUPPORT_DEFAULT,
    jit,
    jit_inline,
    jit_inner,
)

#: Balances below half a fen count as zero (clean-up test, "repaid" tests).
EPS = 0.005

#: What :func:`waterfall_periods` writes to its output (see there).
REC_NONE = 0
REC_TRANCHES = 1
REC_ALL = 2

# columns of WaterfallWork.prog
P_OP = 0
P_SRC = 1
P_DST = 2
P_ALLOC = 3
P_AMOUNT = 4
P_SUPPORT = 5
P_NT = 6
P_NREQ = 7
P_NCOV = 8
P_FUSED = 9  # 1: sequential allocation over distinct targets (run_step pays each target as it goes)
P_TARGETS = 10  # then MT required tranches, MC cover kinds, MC cover indices


@jit_inline
def allocate(available, caps, n, alloc, out):
    """Split ``available`` over ``caps[:n]``: sequential fills in order; pro rata pays ``cap × min(1, A/Σcap)``.

    Negative caps count as zero. Writes ``out[:n]`` and returns the total allocated (never more than
    ``available`` or ``Σcaps``).
    """
    total = 0.0
    if alloc == ALLOC_PRO_RATA:
        s = 0.0
        for j in range(n):
            if caps[j] < 0.0:
                caps[j] = 0.0
            s += caps[j]
        if s <= 0.0 or available <= 0.0:
            for j in range(n):
                out[j] = 0.0
            return 0.0
        f = available / s if available < s else 1.0
        for j in range(n):
            out[j] = caps[j] * f
            total += out[j]
        return total
    left = available
    for j in range(n):
        x = caps[j] if caps[j] < left else left
        if x < 0.0:
            x = 0.0
        out[j] = x
        left -= x
        total += x
    return total


@jit_inline
def covered_due(prog, r0, ct, mc, int_due, int_paid, prin_due, prin_paid, fee_due, fee_paid):
    """Sum of the still-unpaid amounts a step covers (``fees``, ``fee:X``, ``interest:X``, ``principal:X``);
    ``prog[r0]`` is the step's row of the program, ``ct`` the column of its first cover kind, ``mc`` the number of
    cover columns (the indices follow the kinds)."""
    need = 0.0
    nc = prog[r0, P_NCOV]
    for c in range(nc):
        kind = prog[r0, ct + c]
        i = prog[r0, ct + mc + c]
        x = 0.0
        if kind == COVER_FEE:
            x = fee_due[i] - fee_paid[i]
        elif kind == COVER_INTEREST:
            x = int_due[i] - int_paid[i]
        elif kind == COVER_PRINCIPAL:
            x = prin_due[i] - prin_paid[i]
        if x > 0.0:  # an amount paid beyond what is due does not offset another's shortfall
            need += x
    return need


@jit_inline
def reserve_target(d, a, bal):
    """Target balance of reserve account ``a``: amount + rate × Σ balances of its target tranches."""
    x = d.acct_target_amt[a]
    if d.acct_target_rate[a] > 0.0:
        s = 0.0
        for k in range(bal.shape[0]):
            s += d.acct_target_mask[a, k] * bal[k]
        x += d.acct_target_rate[a] * s
    return x


@jit_inline
def run_step(d, prog, r0, mt, mc, t, acct, bal, int_due, int_paid, prin_due, prin_paid, fee_due, fee_paid, resid,
             sup_left, sup_def_t, sup_draw, prin_budget, caps, alloc_out):
    """Execute the step in row ``r0`` of :attr:`WaterfallWork.prog` (``mt`` target and ``mc`` cover columns);
    returns the updated principal-collections budget. (The row is read element by element, not as a view: no array
    struct is built per step.)

    Interest and principal steps with sequential allocation over distinct targets (``P_FUSED``) pay each target as
    its cap is computed, without the ``caps``/``alloc_out`` round trip of :func:`allocate`: a target's cap does not
    depend on what the step paid the others, and each amount goes through the same operations in the same order,
    so the results are bit-identical.
    """
    op = prog[r0, P_OP]
    src = prog[r0, P_SRC]
    n = prog[r0, P_NT]
    for r in range(prog[r0, P_NREQ]):
        k = prog[r0, P_TARGETS + mt + r]
        if bal[k] - prin_paid[k] > EPS:  # outstanding after this period's principal paid so far
            return prin_budget
    if op == OP_PAY_FEES:
        for j in range(n):
            f = prog[r0, P_TARGETS + j]
            caps[j] = fee_due[f] - fee_paid[f]
        paid = allocate(acct[src], caps, n, prog[r0, P_ALLOC], alloc_out)
        for j in range(n):
            fee_paid[prog[r0, P_TARGETS + j]] += alloc_out[j]
        acct[src] -= paid
    elif op == OP_PAY_INTEREST and prog[r0, P_FUSED]:
        left = acct[src]
        total = 0.0
        for j in range(n):
            k = prog[r0, P_TARGETS + j]
            c = int_due[k] - int_paid[k]
            x = c if c < left else left
            if x < 0.0:
                x = 0.0
            left -= x
            total += x
            int_paid[k] += x
        acct[src] -= total
    elif op == OP_PAY_INTEREST:
        for j in range(n):
            k = prog[r0, P_TARGETS + j]
            caps[j] = int_due[k] - int_paid[k]
        paid = allocate(acct[src], caps, n, prog[r0, P_ALLOC], alloc_out)
        for j in range(n):
            int_paid[prog[r0, P_TARGETS + j]] += alloc_out[j]
        acct[src] -= paid
    elif op == OP_PAY_PRINCIPAL and prog[r0, P_FUSED]:
        mode = prog[r0, P_AMOUNT]
        left_a = acct[src]
        if mode == AMT_COLLECTED and prin_budget < left_a:
            left_a = prin_budget
        total = 0.0
        for j in range(n):
            k = prog[r0, P_TARGETS + j]
            left = bal[k] - prin_paid[k]
            if mode == AMT_DUE:
                due_left = prin_due[k] - prin_paid[k]
                c = due_left if due_left < left else left
            else:
                c = left
            x = c if c < left_a else left_a
            if x < 0.0:
                x = 0.0
            left_a -= x
            total += x
            prin_paid[k] += x
        acct[src] -= total
        if mode == AMT_COLLECTED:
            prin_budget -= total
    elif op == OP_PAY_PRINCIPAL:
        mode = prog[r0, P_AMOUNT]
        for j in range(n):
            k = prog[r0, P_TARGETS + j]
            left = bal[k] - prin_paid[k]
            if mode == AMT_DUE:
                due_left = prin_due[k] - prin_paid[k]
                caps[j] = due_left if due_left < left else left
            else:
                caps[j] = left
        avail = acct[src]
        if mode == AMT_COLLECTED and prin_budget < avail:
            avail = prin_budget
        paid = allocate(avail, caps, n, prog[r0, P_ALLOC], alloc_out)
        for j in range(n):
            prin_paid[prog[r0, P_TARGETS + j]] += alloc_out[j]
        acct[src] -= paid
        if mode == AMT_COLLECTED:
            prin_budget -= paid
    elif op == OP_TRANSFER:
        dst = prog[r0, P_DST]
        mode = prog[r0, P_AMOUNT]
        x = acct[src]
        if mode == AMT_TO_TARGET:
            want = reserve_target(d, dst, bal) - acct[dst]
            x = want if want < x else x
        elif mode == AMT_SHORTFALL:
            want = covered_due(prog, r0, P_TARGETS + 2 * mt, mc, int_due, int_paid, prin_due, prin_paid, fee_due,
                               fee_paid) - acct[dst]
            x = want if want < x else x
        if x > 0.0:
            acct[src] -= x
            acct[dst] += x
    elif op == OP_DRAW_SUPPORT:
        sp = prog[r0, P_SUPPORT]
        dst = prog[r0, P_DST]
        if sup_def_t[sp] > t:
            want = covered_due(prog, r0, P_TARGETS + 2 * mt, mc, int_due, int_paid, prin_due, prin_paid, fee_due,
                               fee_paid) - acct[dst]
            x = want if want < sup_left[sp] else sup_left[sp]
            if x > 0.0:
                acct[dst] += x
                sup_left[sp] -= x
                sup_draw[sp] += x
    elif op == OP_PAY_RESIDUAL:
        k = prog[r0, P_TARGETS]
        resid[k] += acct[src]
        acct[src] = 0.0
    return prin_budget


@jit_inline
def accrue_fees(d, t, bal, pool_bal_start, interest_collected, fee_carry, fee_due, scal):
    """Fees due in period t: carried unpaid amounts plus the period's accrual on each fee's basis.

    A ``tranche_balance`` fee accrues on the balances at the start of period t (``bal``), or, where
    ``d.fee_bal_lag[t]`` is 1 (``conventions.fee_balance = "collection_period_start"``), on those at the start of
    period t − 1, carried in ``scal[3:]`` (docs/methodology/waterfall.md §1).

    A fixed fee accrues only while some tranche is outstanding at the start of the period: once every security is
    repaid the plan is wound up and charges nothing more.
    """
    yf = d.fee_yf[t]
    for f in range(d.fee_basis.shape[0]):
        b = d.fee_basis[f]
        if b == FEE_FIXED:
            live = False
            for k in range(bal.shape[0]):
                if bal[k] > EPS:
                    live = True
            acc = d.fee_amount[f] * yf if live else 0.0
        elif b == FEE_POOL_BALANCE:
            acc = d.fee_rate[f] * pool_bal_start * yf
        elif b == FEE_TRANCHE_BALANCE:
            s = 0.0
            if d.fee_bal_lag[t] != 0:
                for k in range(bal.shape[0]):
                    s += d.fee_tr_mask[f, k] * scal[3 + k]
            else:
                for k in range(bal.shape[0]):
                    s += d.fee_tr_mask[f, k] * bal[k]
            acc = d.fee_rate[f] * s * yf
        elif b == FEE_INTEREST_COLLECTIONS:
            acc = d.fee_rate[f] * interest_collected
        else:
            acc = 0.0
        fee_due[f] = fee_carry[f] + acc


@jit_inline
def deal_state(d, t, cum_def, coverage, sup_def_t, latched):
    """Trigger tests → (state for this period, latched state). Most severe active effect wins."""
    state = latched
    for g in range(d.trg_cond.shape[0]):
        c = d.trg_cond[g]
        hit = False
        if c == TRG_CUM_DEFAULT:
            hit = d.pool_bal0 > 0.0 and cum_def / d.pool_bal0 >= d.trg_thr[g]
        elif c == TRG_COVERAGE:
            hit = coverage >= 0.0 and coverage < d.trg_thr[g]
        elif c == TRG_SUPPORT_DEFAULT:
            hit = sup_def_t[d.trg_sup[g]] <= t
        elif c == TRG_ON_DATE:
            hit = t >= d.trg_period[g]
        if hit:
            e = d.trg_effect[g]
            if e > state:
                state = e
            if d.trg_curable[g] == 0 and e > latched:
                latched = e
    return state, latched


class WaterfallWork(NamedTuple):
    """Scratch and carried state of one path's waterfall (allocated once, reused for every path).

    The state carried from one period to the next is ``acct``, ``bal``, ``short``, ``fee_carry``, ``sup_left`` and
    ``scal`` = (cumulative defaults, latched deal state, 1 once the deal is wound up after a clean-up call, then the
    K tranche balances at the start of the previous period, kept only when the deal's ``fee_bal_lag`` is set and
    otherwise left at the faces); the other arrays are per-period temporaries.
    """

    acct: np.ndarray  # f8[A]
    bal: np.ndarray  # f8[K]
    short: np.ndarray  # f8[K] unpaid interest carried
    fee_carry: np.ndarray  # f8[F]
    sup_left: np.ndarray  # f8[S] remaining support capacity
    int_due: np.ndarray  # f8[K]
    int_paid: np.ndarray  # f8[K]
    prin_due: np.ndarray  # f8[K]
    prin_paid: np.ndarray  # f8[K]
    resid: np.ndarray  # f8[K]
    fee_due: np.ndarray  # f8[F]
    fee_paid: np.ndarray  # f8[F]
    sup_draw: np.ndarray  # f8[S]
    caps: np.ndarray  # f8[max(K, F, 1)]
    alloc_out: np.ndarray  # f8[max(K, F, 1)]
    scal: np.ndarray  # f8[3 + K]
    prog: np.ndarray  # i8[3·MS, W] the steps' operands, one row per (state, step) (see waterfall_work)
    track: np.ndarray  # f8[K+1] with rec = REC_NONE: 1.0 once tranche k had an interest shortfall; Σ support drawn


@jit
def waterfall_work(d):
    """Allocate a :class:`WaterfallWork` for deal ``d``."""
    n_k = d.tr_bal0.shape[0]
    n_f = d.fee_basis.shape[0]
    n_s = d.sup_cap.shape[0]
    width = max(n_k, n_f, 1)
    n_st, ms, mt = d.st_targets.shape
    mc = d.st_cov_kind.shape[2]
    prog = np.zeros((n_st * ms, P_TARGETS + 2 * mt + 2 * mc), dtype=np.int64)
    for st in range(n_st):
        for s in range(ms):
            r = st * ms + s
            prog[r, P_OP] = d.st_op[st, s]
            prog[r, P_SRC] = d.st_src[st, s]
            prog[r, P_DST] = d.st_dst[st, s]
            prog[r, P_ALLOC] = d.st_alloc[st, s]
            prog[r, P_AMOUNT] = d.st_amount[st, s]
            prog[r, P_SUPPORT] = d.st_support[st, s]
            prog[r, P_NT] = d.st_ntargets[st, s]
            prog[r, P_NREQ] = d.st_nreq[st, s]
            prog[r, P_NCOV] = d.st_ncov[st, s]
            distinct = True
            for j in range(d.st_ntargets[st, s]):
                for i in range(j):
                    if d.st_targets[st, s, i] == d.st_targets[st, s, j]:
                        distinct = False
            prog[r, P_FUSED] = 1 if distinct and d.st_alloc[st, s] != ALLOC_PRO_RATA else 0
            for j in range(mt):
                prog[r, P_TARGETS + j] = d.st_targets[st, s, j]
                prog[r, P_TARGETS + mt + j] = d.st_req[st, s, j]
            for c in range(mc):
                prog[r, P_TARGETS + 2 * mt + c] = d.st_cov_kind[st, s, c]
                prog[r, P_TARGETS + 2 * mt + mc + c] = d.st_cov_idx[st, s, c]
    return WaterfallWork(np.zeros(d.acct_init.shape[0]), np.zeros(n_k), np.zeros(n_k), np.zeros(n_f),
                         np.zeros(n_s), np.zeros(n_k), np.zeros(n_k), np.zeros(n_k), np.zeros(n_k), np.zeros(n_k),
                         np.zeros(n_f), np.zeros(n_f), np.zeros(n_s), np.zeros(width), np.zeros(width), np.zeros(3 + n_k), prog,
                         np.zeros(n_k + 1))


@jit_inner
def waterfall_start(d, w):
    """Put ``w`` in the state at the start of period 0 (initial accounts, tranche faces, full support caps)."""
    for a in range(w.acct.shape[0]):
        w.acct[a] = d.acct_init[a]
    for k in range(w.bal.shape[0]):
        w.bal[k] = d.tr_bal0[k]
        w.short[k] = 0.0
        w.scal[3 + k] = d.tr_bal0[k]
    for f in range(w.fee_carry.shape[0]):
        w.fee_carry[f] = 0.0
    for sp in range(w.sup_left.shape[0]):
        w.sup_left[sp] = d.sup_cap[sp]
    w.scal[0] = 0.0
    w.scal[1] = 0.0
    w.scal[2] = 0.0


@jit
def run_waterfall(d, pf, sup_def_t, out):
    """Run one path through the deal. ``pf`` is the path's :class:`PoolFlows`; ``sup_def_t[s]`` the period in
    which support provider s defaults (n_periods = never); ``out`` the :class:`WaterfallOut` to fill (every
    element is written).
    """
    w = waterfall_work(d)
    waterfall_start(d, w)
    waterfall_periods(d, pf, sup_def_t, out, w, 0, d.yf.shape[0], np.int64(REC_ALL))  # int64, not a literal: one compiled version


@jit_inner
def waterfall_periods(d, pf, sup_def_t, out, w, t0, t1, rec):
    """Run periods ``t0 .. t1 - 1`` from the state held in ``w`` (which is left at the start of ``t1``).

    Running [0, n) in one call or in several consecutive calls gives bit-identical results; the Monte Carlo
    restarts paths from the no-default path's state (docs/performance.md). Nothing is allocated.

    ``rec`` says what is written to ``out`` (the state and every payment are computed the same way in each case):
    ``REC_ALL`` every row of every field; ``REC_TRANCHES`` the tranche rows the Monte Carlo statistics read
    (interest and principal paid, shortfall carried, balance at the end, residual) and the support draws;
    ``REC_NONE`` nothing: ``w.track[k]`` becomes 1.0 once tranche k carries an interest shortfall (> EPS) and
    ``w.track[K]`` accumulates the support drawn, period by period and provider by provider (the Monte Carlo's
    loss-only statistics). The coverage ratio is computed only when it is recorded or a trigger tests it.
    """
    n_t = d.yf.shape[0]
    n_k = d.tr_bal0.shape[0]
    n_f = d.fee_basis.shape[0]
    n_s = d.sup_cap.shape[0]
    if w.scal[2] != 0.0:
        return
    use_cov = rec == REC_ALL
    keep_prev = False
    for u in range(n_t):
        if d.fee_bal_lag[u] != 0:
            keep_prev = True
    for g in range(d.trg_cond.shape[0]):
        if d.trg_cond[g] == TRG_COVERAGE:
            use_cov = True
    acct = w.acct
    bal = w.bal
    short = w.short
    fee_carry = w.fee_carry
    sup_left = w.sup_left
    int_due = w.int_due
    int_paid = w.int_paid
    prin_due = w.prin_due
    prin_paid = w.prin_paid
    resid = w.resid
    fee_due = w.fee_due
    fee_paid = w.fee_paid
    sup_draw = w.sup_draw
    caps = w.caps
    alloc_out = w.alloc_out
    cum_def = w.scal[0]
    latched = np.int64(w.scal[1])
    for t in range(t0, t1):
        # 1. collections
        acct[d.route_int] += pf.interest[t]
        acct[d.route_prin] += pf.principal[t]
        acct[d.route_rec] += pf.recoveries[t]
        cash_in = pf.interest[t] + pf.principal[t] + pf.recoveries[t]
        cum_def += pf.defaults[t]
        final = t == n_t - 1
        called = False
        if d.cleanup > 0.0 and pf.bal_end[t] > EPS and pf.bal_end[t] < d.cleanup * d.pool_bal0:
            acct[d.route_prin] += pf.bal_end[t]
            cash_in += pf.bal_end[t]
            called = True
            final = True
        prin_budget = pf.principal[t] + pf.recoveries[t] + (pf.bal_end[t] if called else 0.0)
        # 2. amounts due
        for k in range(n_k):
            accrued = bal[k] * d.tr_rate[t, k] * d.note_yf[t]
            if d.tr_ios[k]:
                accrued += short[k] * d.tr_rate[t, k] * d.note_yf[t]
            int_due[k] = short[k] + accrued
            int_paid[k] = 0.0
            target = 0.0 if final else d.tr_target[k, t]
            prin_due[k] = bal[k] - target if bal[k] > target else 0.0
            prin_paid[k] = 0.0
            resid[k] = 0.0
        accrue_fees(d, t, bal, pf.bal_start[t], pf.interest[t], fee_carry, fee_due, w.scal)
        for f in range(n_f):
            fee_paid[f] = 0.0
        for sp in range(n_s):
            sup_draw[sp] = 0.0
        # 3. triggers
        coverage = -1.0
        if use_cov:
            avail = 0.0
            for a in range(acct.shape[0]):
                if d.acct_reserve[a] == 0:
                    avail += acct[a]
            need = 0.0
            for f in range(n_f):
                need += fee_due[f]
            for k in range(n_k):
                if d.tr_senior[k]:
                    need += int_due[k] + prin_due[k]
            if avail < 0.0:  # rounding dust: no cash is zero cash (a negative ratio would read as "nothing due")
                avail = 0.0
            coverage = avail / need if need > EPS else -1.0
        state, latched = deal_state(d, t, cum_def, coverage, sup_def_t, latched)
        # 4. waterfall
        ms = d.st_op.shape[1]
        mt = d.st_targets.shape[2]
        mc = d.st_cov_kind.shape[2]
        for s in range(d.st_n[state]):
            prin_budget = run_step(d, w.prog, state * ms + s, mt, mc, t, acct, bal, int_due, int_paid, prin_due,
                                   prin_paid, fee_due, fee_paid, resid, sup_left, sup_def_t, sup_draw, prin_budget,
                                   caps, alloc_out)
        # 5. record and carry
        if keep_prev:
            for k in range(n_k):
                w.scal[3 + k] = bal[k]
        for k in range(n_k):
            bal[k] -= prin_paid[k]
            if bal[k] < 0.0:
                bal[k] = 0.0
            short[k] = int_due[k] - int_paid[k]
        for f in range(n_f):
            fee_carry[f] = fee_due[f] - fee_paid[f]
        if rec == REC_NONE:
            for k in range(n_k):
                if short[k] > EPS:
                    w.track[k] = 1.0
            for sp in range(n_s):
                w.track[n_k] += sup_draw[sp]
        else:
            for k in range(n_k):
                out.tr_int_paid[t, k] = int_paid[k]
                out.tr_int_short[t, k] = short[k]
                out.tr_prin_paid[t, k] = prin_paid[k]
                out.tr_bal_end[t, k] = bal[k]
                out.tr_resid[t, k] = resid[k]
            for sp in range(n_s):
                out.sup_draw[t, sp] = sup_draw[sp]
        if rec == REC_ALL:
            for k in range(n_k):
                out.tr_int_due[t, k] = int_due[k]
                out.tr_prin_due[t, k] = prin_due[k]
            for f in range(n_f):
                out.fee_due[t, f] = fee_due[f]
                out.fee_paid[t, f] = fee_paid[f]
            for a in range(acct.shape[0]):
                out.acct_bal[t, a] = acct[a]
            out.state[t] = state
            out.coverage[t] = coverage
            out.cum_def_ratio[t] = cum_def / d.pool_bal0 if d.pool_bal0 > 0.0 else 0.0
            out.cash_in[t] = cash_in
            out.called[t] = 1 if called else 0
        if final and t < n_t - 1:
            # after a clean-up call the deal is wound up: later periods carry the final balances
            if rec != REC_NONE:
                wind_up(out, t, bal, short, acct, state)
            w.scal[2] = 1.0
            break
    w.scal[0] = cum_def
    w.scal[1] = latched


@jit_inner
def wind_up(out, t, bal, short, acct, state):
    """Rows after the clean-up call period ``t``: nothing paid, final balances carried."""
    n_t, n_k = out.tr_bal_end.shape
    for u in range(t + 1, n_t):
        for k in range(n_k):
            out.tr_int_due[u, k] = 0.0
            out.tr_int_paid[u, k] = 0.0
            out.tr_prin_due[u, k] = 0.0
            out.tr_prin_paid[u, k] = 0.0
            out.tr_resid[u, k] = 0.0
            out.tr_bal_end[u, k] = bal[k]
            out.tr_int_short[u, k] = short[k]
        for f in range(out.fee_due.shape[1]):
            out.fee_due[u, f] = 0.0
            out.fee_paid[u, f] = 0.0
        for sp in range(out.sup_draw.shape[1]):
            out.sup_draw[u, sp] = 0.0
        out.cash_in[u] = 0.0
        out.called[u] = 0
        for a in range(acct.shape[0]):
            out.acct_bal[u, a] = acct[a]
        out.state[u] = state
        out.coverage[u] = -1.0
        out.cum_def_ratio[u] = out.cum_def_ratio[t]
