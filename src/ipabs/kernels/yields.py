"""Per-path yields: the Newton solve of :func:`path_yield`, two solves interleaved (:func:`path_yield2`), and eight
solves in lockstep on vector registers (:func:`lanes_solve`) — every one bit-identical to :func:`path_yield`.

The lanes (docs/performance.md items 26 and 28, decision 023): the Monte Carlo queues each tranche's solves, eight
paths at a time (:func:`lanes_push`), and runs their Newton iterations together. Each lane performs exactly
:func:`path_yield`'s operations in the same order: its start (:func:`_yield_start`), its discount steps (the same
``exp`` and the same repeated squarings and products, on eight lanes at once), its running products and sums over
the periods (one vector multiply or add per period for all eight: IEEE operations without reassociation or fused
multiply-add, so each lane's bits are the scalar ones), and its Newton step (:func:`_newton_step`). Two
differences, neither changing a bit: the period loop runs to the longest lane and does not skip a zero cash flow,
adding c·v = ±0 instead (x + (±0) = x for every x the sums hold, since they start at +0 and no sum of non-zero terms
is −0; this needs every discount factor v finite, which holds when Σ_t δ_t · |x| stays below :data:`EXP_LIMIT` on
the solver's bracket, checked once per block in :func:`yield_lanes`, and otherwise the Monte Carlo uses
:func:`path_yield2`); and when at most :data:`HANDOFF` lanes are still iterating they finish alone
(:func:`_lane_finish`, the scalar loop from the same state). The Monte Carlo calls :func:`lanes_solve` through a C
function generated for the deal's period grid (:func:`ipabs.compile.codegen.yield_lanes_source`), which passes the
grid as constants.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ipabs.kernels._jit import jit, jit_inline, jit_inner
from ipabs.kernels.callptr import call_yield_lanes

__all__ = ["path_yield", "path_yield_sums", "path_yield2", "int_power", "YieldLanes", "yield_lanes", "lanes_push", "lanes_commit",
           "lanes_flush", "LANES"]


@jit_inline
def int_power(q, m):
    """q^m for an integer m ≥ 0 by binary powers (⌈log₂ m⌉ squarings)."""
    r = 1.0
    b = q
    while m > 0:
        if m & 1:
            r *= b
        b *= b
        m >>= 1
    return r


@jit_inner
def path_yield(cf, tau, price, freq, inc_idx, inc_val, inc_units, unit, pw):
    """Yield y (compounded ``freq`` times a year) solving Σ_t cf_t (1 + y/f)^(−f τ_t) = price; −1 when nothing is
    paid.

    Newton on h(x) = ln Σ_t cf_t e^(−f τ_t x) − ln price in x = ln(1 + y/f): h is convex with slope between
    −f τ_max and −f τ_min, so Newton converges quadratically from any start, safeguarded by bisection on the
    bracket y ∈ [−0.99 f, 10]; it stops when a step or the bracket is below 1e-14 in x (about 1e-13 in y). The
    start is the exact root for all cash paid at the cash-weighted mean time D = Σ cf_t τ_t / Σ cf_t,
    x₀ = ln(Σ cf / price)/(f D), a function of the path's own flows (so two or three steps suffice and the result
    does not depend on which paths ran before). Discount factors are running products v_t = v_{t−1}·e^(−δ_t x) over the distinct
    period lengths δ = f·yf (``inc_val``, indexed by ``inc_idx``; scratch ``pw``). When every δ is a whole number
    of a unit (a day under act/365F, 30/360, act/360: ``inc_units``, ``unit`` > 0), e^(−δ x) = q^(δ/unit) with
    q = e^(−unit·x) by binary powers: one ``exp`` per iteration; otherwise one ``exp`` per distinct δ. Relative
    error of a discount factor: about one ulp per day (2e-13 over five years), i.e. ~1e-14 in x.
    """
    total, moment, last = _cf_sums(cf, tau)
    return path_yield_sums(cf, total, moment, last, tau, price, freq, inc_idx, inc_val, inc_units, unit, pw)


@jit_inner
def path_yield_sums(cf, total, moment, last, tau, price, freq, inc_idx, inc_val, inc_units, unit, pw):
    """:func:`path_yield` from the cash flows' sums ``total`` = Σ cf_t, ``moment`` = Σ cf_t τ_t and ``last`` (one
    past the last non-zero cf_t), accumulated in period order as :func:`_cf_sums` does (the path kernel adds them
    up as its row loop goes: the same additions in the same order, so the same bits)."""
    x, xlo, xhi, lp, n = _yield_start(total, moment, last, price, freq)
    if math.isnan(x):
        return -1.0
    for _ in range(200):
        _discount_steps(x, inc_val, inc_units, unit, pw)
        v = 1.0
        pv = 0.0
        dur = 0.0
        for t in range(n):
            v *= pw[inc_idx[t]]
            if cf[t] != 0.0:
                z = cf[t] * v
                pv += z
                dur += tau[t] * z
        x_new, xlo, xhi, conv = _newton_step(x, xlo, xhi, pv, dur, lp, freq)
        if conv:
            return freq * math.expm1(x_new)
        x = x_new
    return freq * math.expm1(x)


@jit_inline
def _cf_sums(cf, tau):
    """(Σ cf_t, Σ cf_t τ_t, one past the last t with cf_t ≠ 0), accumulated in period order."""
    total = 0.0
    moment = 0.0
    last = 0
    for t in range(cf.shape[0]):
        total += cf[t]
        moment += cf[t] * tau[t]
        if cf[t] != 0.0:
            last = t + 1
    return total, moment, last


@jit_inline
def _yield_start(total, moment, last, price, freq):
    """Start of :func:`path_yield`'s Newton iteration from the sums of :func:`_cf_sums`: (x₀, xlo, xhi, ln price,
    n), x₀ = nan when nothing is paid; n = ``last``, one past the last period with a non-zero cash flow (later
    periods add nothing to the sums, so the loop over periods stops there: same result, bit for bit)."""
    xlo = math.log(0.01)
    xhi = math.log1p(10.0 / freq)
    if total <= 0.0:
        return math.nan, xlo, xhi, 0.0, last
    lp = math.log(price)
    x = (math.log(total) - lp) / (freq * moment / total) if moment > 0.0 else 0.0
    if not (xlo < x < xhi):
        x = math.log1p(0.05 / freq)
    return x, xlo, xhi, lp, last


@jit_inline
def _discount_steps(x, inc_val, inc_units, unit, pw):
    """pw[j] = e^(−δ_j x) for the distinct period lengths (see :func:`path_yield`).

    With whole units, pw[j] = q^m_j (m_j = ``inc_units[j]``) is :func:`int_power`'s product, computed without its
    data-dependent branches: the squares q^(2^i) are formed once for all j (the same repeated squaring), and each
    product multiplies the squares of m_j's bits in increasing order, by 1.0 for a zero bit (exact), so every pw[j]
    is bit-identical to ``int_power(q, m_j)``.
    """
    if unit > 0.0:
        q = math.exp(-unit * x)
        m_all = 0
        for j in range(inc_val.shape[0]):
            m_all |= inc_units[j]
        sq0 = q
        sq1 = sq0 * sq0
        sq2 = sq1 * sq1
        sq3 = sq2 * sq2
        sq4 = sq3 * sq3
        sq5 = sq4 * sq4
        if m_all < 64:
            for j in range(inc_val.shape[0]):
                m = inc_units[j]
                r = 1.0
                r *= sq0 if m & 1 else 1.0
                r *= sq1 if m & 2 else 1.0
                r *= sq2 if m & 4 else 1.0
                r *= sq3 if m & 8 else 1.0
                r *= sq4 if m & 16 else 1.0
                r *= sq5 if m & 32 else 1.0
                pw[j] = r
        else:
            for j in range(inc_val.shape[0]):
                pw[j] = int_power(q, inc_units[j])
    else:
        for j in range(inc_val.shape[0]):
            pw[j] = math.exp(-inc_val[j] * x)


@jit_inline
def _newton_step(x, xlo, xhi, pv, dur, lp, freq):
    """One safeguarded Newton step of :func:`path_yield`: (x_new, xlo, xhi, converged)."""
    h = math.log(pv) - lp
    if h > 0.0:
        xlo = x
    else:
        xhi = x
    slope = -freq * dur / pv
    x_new = x - h / slope if slope < 0.0 else 0.5 * (xlo + xhi)
    if not (xlo < x_new < xhi):
        x_new = 0.5 * (xlo + xhi)
    return x_new, xlo, xhi, abs(x_new - x) < 1e-14 or xhi - xlo < 1e-14


@jit_inner
def path_yield2(cf1, cf2, tot1, mom1, last1, tot2, mom2, last2, tau, price1, price2, freq, inc_idx, inc_val,
                inc_units, unit, pw1, pw2, out, k1, k2):
    """:func:`path_yield_sums` of two cash-flow vectors at once, into ``out[k1]`` and ``out[k2]``: the two Newton
    iterations run in lockstep, their serial products and sums interleaved in one loop over the periods (two
    independent dependency chains keep the CPU busy). Each iteration performs exactly the operations of
    :func:`path_yield` in the same order, so both results are bit-identical to it."""
    x1, lo1, hi1, lp1, n1 = _yield_start(tot1, mom1, last1, price1, freq)
    x2, lo2, hi2, lp2, n2 = _yield_start(tot2, mom2, last2, price2, freq)
    a1 = not math.isnan(x1)
    a2 = not math.isnan(x2)
    if not a1:
        out[k1] = -1.0
    if not a2:
        out[k2] = -1.0
    m = n1 if n1 < n2 else n2
    for _ in range(200):
        if not (a1 or a2):
            return
        pv1 = 0.0
        dur1 = 0.0
        pv2 = 0.0
        dur2 = 0.0
        v1 = 1.0
        v2 = 1.0
        t1 = 0
        t2 = 0
        if a1:
            _discount_steps(x1, inc_val, inc_units, unit, pw1)
        if a2:
            _discount_steps(x2, inc_val, inc_units, unit, pw2)
        if a1 and a2:
            for t in range(m):
                j = inc_idx[t]
                v1 *= pw1[j]
                v2 *= pw2[j]
                if cf1[t] != 0.0:
                    z = cf1[t] * v1
                    pv1 += z
                    dur1 += tau[t] * z
                if cf2[t] != 0.0:
                    z = cf2[t] * v2
                    pv2 += z
                    dur2 += tau[t] * z
            t1 = m
            t2 = m
        if a1:
            for t in range(t1, n1):
                v1 *= pw1[inc_idx[t]]
                if cf1[t] != 0.0:
                    z = cf1[t] * v1
                    pv1 += z
                    dur1 += tau[t] * z
        if a2:
            for t in range(t2, n2):
                v2 *= pw2[inc_idx[t]]
                if cf2[t] != 0.0:
                    z = cf2[t] * v2
                    pv2 += z
                    dur2 += tau[t] * z
        if a1:
            x_new, lo1, hi1, conv = _newton_step(x1, lo1, hi1, pv1, dur1, lp1, freq)
            if conv:
                out[k1] = freq * math.expm1(x_new)
                a1 = False
            x1 = x_new
        if a2:
            x_new, lo2, hi2, conv = _newton_step(x2, lo2, hi2, pv2, dur2, lp2, freq)
            if conv:
                out[k2] = freq * math.expm1(x_new)
                a2 = False
            x2 = x_new
    if a1:
        out[k1] = freq * math.expm1(x1)
    if a2:
        out[k2] = freq * math.expm1(x2)



# ---- eight solves in lockstep --------------------------------------------------------------------------------------

#: Solves run together (one 512-bit vector, or two 256-bit ones, of doubles).
LANES = 8
#: The lanes are used when Σ_t δ_t · max |x| over the bracket stays below this (e^600 ≈ 4e260: no discount factor, and
#: no product of them, can overflow, so a zero cash flow times a discount factor is zero).
EXP_LIMIT = 600.0
#: Lanes still iterating at or below this number finish one by one (a rare solve that needs many iterations does not
#: hold seven finished lanes in the vector loop).
HANDOFF = 2


class YieldLanes(NamedTuple):
    """Queued yield solves of a block, per tranche (:func:`lanes_push`), and the lanes' scratch."""

    cf: np.ndarray  # f8[K, T, LANES] cash flows per 100 of face, period-major: lane l of tranche k is cf[k, :, l]
    tot: np.ndarray  # f8[K, LANES] Σ cf_t (_cf_sums)
    mom: np.ndarray  # f8[K, LANES] Σ cf_t τ_t
    last: np.ndarray  # i8[K, LANES] one past the last t with cf_t ≠ 0
    row: np.ndarray  # i8[K, LANES] per-path output row of each queued solve
    n: np.ndarray  # i8[K] solves queued per tranche
    pw: np.ndarray  # f8[J, LANES] discount steps e^(−δ_j x) per lane
    sq: np.ndarray  # f8[B, LANES] q^(2^b), q = e^(−unit·x), per lane (B = bit length of the largest day count)
    st: np.ndarray  # f8[7, LANES] per lane: x, lower and upper bracket, ln price, active, spare, spare
    acc: np.ndarray  # f8[2, LANES] Σ cf_t v_t and Σ τ_t cf_t v_t of the current iteration
    pw1: np.ndarray  # f8[J] discount steps of a lane that finishes alone
    ok: np.ndarray  # i8[3]: [0] 1 when the lanes may be used (EXP_LIMIT), [1] B, [2] the specialised solver's address


@jit
def yield_lanes(n_k, n_t, si):
    """A :class:`YieldLanes` for ``n_k`` tranches over ``n_t`` periods and the yield inputs of ``si``
    (:class:`ipabs.kernels.paths.StatInputs`), with the check that allows the lanes."""
    n_j = si.inc_val.shape[0]
    m_all = 0
    for j in range(n_j):
        m_all |= si.inc_units[j]
    n_b = 1
    while (m_all >> n_b) > 0:
        n_b += 1
    x_max = max(-math.log(0.01), math.log1p(10.0 / si.freq)) if si.freq > 0.0 else math.inf
    span = 0.0
    for t in range(n_t):
        span += si.inc_val[si.inc_idx[t]]
    ok = 1 if span * x_max < EXP_LIMIT else 0
    return YieldLanes(np.zeros((n_k, n_t, LANES)), np.zeros((n_k, LANES)), np.zeros((n_k, LANES)),
                      np.zeros((n_k, LANES), dtype=np.int64), np.zeros((n_k, LANES), dtype=np.int64),
                      np.zeros(n_k, dtype=np.int64), np.ones((n_j, LANES)), np.ones((n_b, LANES)),
                      np.zeros((7, LANES)), np.zeros((2, LANES)), np.ones(n_j),
                      np.array([ok, n_b, si.yl_addr], dtype=np.int64))


def _vec_ptr(builder, ptr, offset, vt):
    """``ptr + offset`` (elements) as a pointer to the vector type ``vt``."""
    return builder.bitcast(builder.gep(ptr, [offset]), vt.as_pointer())


def _check_arrays(name, arrays, dtypes):
    for ty, dt in zip(arrays, dtypes, strict=True):
        if not (isinstance(ty, types.Array) and ty.dtype == dt and ty.layout == "C"):
            raise TypeError(f"{name}: expected a C-contiguous {dt} array, got {ty}")


@intrinsic
def lanes_period_sums(typingctx, n, inc_idx, tau, pw, cf, acc):
    """acc[0] = Σ_{t<n} cf[t]·v_t and acc[1] = Σ_{t<n} τ_t·(cf[t]·v_t), v_t = v_{t−1}·pw[inc_idx[t]], v_{−1} = 1, on
    :data:`LANES` lanes at once (rows of ``pw`` f8[J, LANES], ``cf`` f8[T, LANES], ``acc`` f8[2, LANES]): the
    loop of :func:`path_yield_sums` without its branch on a zero cash flow (see the module's docstring)."""
    _check_arrays("lanes_period_sums", (inc_idx, tau, pw, cf, acc),
                  (types.int64, types.float64, types.float64, types.float64, types.float64))
    if not isinstance(n, types.Integer):
        raise TypeError(f"lanes_period_sums: expected an integer, got {n}")

    def codegen(context, builder, signature, args):
        n_v = context.cast(builder, args[0], signature.args[0], types.int64)
        idx_p, tau_p, pw_p, cf_p, acc_p = (context.make_array(ty)(context, builder, v).data
                                           for ty, v in zip(signature.args[1:], args[1:], strict=True))
        i64 = ir.IntType(64)
        i32 = ir.IntType(32)
        vt = ir.VectorType(ir.DoubleType(), LANES)
        width = ir.Constant(i64, LANES)
        one = ir.Constant(vt, [1.0] * LANES)
        zero = ir.Constant(vt, [0.0] * LANES)
        entry = builder.basic_block
        loop = builder.append_basic_block("lanes.loop")
        done = builder.append_basic_block("lanes.done")
        builder.cbranch(builder.icmp_signed(">", n_v, ir.Constant(i64, 0)), loop, done)
        builder.position_at_end(loop)
        t = builder.phi(i64)
        v = builder.phi(vt)
        pv = builder.phi(vt)
        dur = builder.phi(vt)
        j = builder.load(builder.gep(idx_p, [t]))
        ta = builder.load(builder.gep(tau_p, [t]))
        v1 = builder.fmul(v, builder.load(_vec_ptr(builder, pw_p, builder.mul(j, width), vt), align=8))
        z = builder.fmul(builder.load(_vec_ptr(builder, cf_p, builder.mul(t, width), vt), align=8), v1)
        pv1 = builder.fadd(pv, z)
        tav = builder.insert_element(ir.Constant(vt, ir.Undefined), ta, ir.Constant(i32, 0))
        tav = builder.shuffle_vector(tav, ir.Constant(vt, ir.Undefined), ir.Constant(ir.VectorType(i32, LANES),
                                                                                     [0] * LANES))
        dur1 = builder.fadd(dur, builder.fmul(tav, z))
        t1 = builder.add(t, ir.Constant(i64, 1))
        builder.cbranch(builder.icmp_signed("<", t1, n_v), loop, done)
        for phi, start, nxt in ((t, ir.Constant(i64, 0), t1), (v, one, v1), (pv, zero, pv1), (dur, zero, dur1)):
            phi.add_incoming(start, entry)
            phi.add_incoming(nxt, loop)
        builder.position_at_end(done)
        pv_f = builder.phi(vt)
        dur_f = builder.phi(vt)
        for phi, last in ((pv_f, pv1), (dur_f, dur1)):
            phi.add_incoming(zero, entry)
            phi.add_incoming(last, loop)
        builder.store(pv_f, _vec_ptr(builder, acc_p, ir.Constant(i64, 0), vt), align=8)
        builder.store(dur_f, _vec_ptr(builder, acc_p, width, vt), align=8)
        return context.get_dummy_value()

    return types.void(n, inc_idx, tau, pw, cf, acc), codegen


@intrinsic
def lanes_powers(typingctx, sq, units, pw):
    """The discount steps of :func:`_discount_steps` on :data:`LANES` lanes from q = ``sq[0]`` (f8[B, LANES]):
    ``sq[b]`` = sq[b−1]·sq[b−1], then ``pw[j]`` = the product of the ``sq[b]`` of the bits b of ``units[j]``
    in increasing order, as :func:`int_power` forms it (a clear bit multiplies by 1.0, which is exact)."""
    _check_arrays("lanes_powers", (sq, units, pw), (types.float64, types.int64, types.float64))

    def codegen(context, builder, signature, args):
        sq_ty, units_ty, pw_ty = signature.args
        sq_a = context.make_array(sq_ty)(context, builder, args[0])
        u_a = context.make_array(units_ty)(context, builder, args[1])
        pw_a = context.make_array(pw_ty)(context, builder, args[2])
        i64 = ir.IntType(64)
        vt = ir.VectorType(ir.DoubleType(), LANES)
        width = ir.Constant(i64, LANES)
        one = ir.Constant(vt, [1.0] * LANES)
        n_b = builder.extract_value(sq_a.shape, 0)
        n_j = builder.extract_value(u_a.shape, 0)
        with cgutils.for_range(builder, builder.sub(n_b, ir.Constant(i64, 1))) as loop:
            b = loop.index
            prev = builder.load(_vec_ptr(builder, sq_a.data, builder.mul(b, width), vt), align=8)
            nxt = builder.add(b, ir.Constant(i64, 1))
            builder.store(builder.fmul(prev, prev), _vec_ptr(builder, sq_a.data, builder.mul(nxt, width), vt),
                          align=8)
        r = cgutils.alloca_once(builder, vt)
        with cgutils.for_range(builder, n_j) as jl:
            j = jl.index
            m = builder.load(builder.gep(u_a.data, [j]))
            builder.store(one, r)
            with cgutils.for_range(builder, n_b) as bl:
                b = bl.index
                bit = builder.trunc(builder.and_(builder.lshr(m, b), ir.Constant(i64, 1)), ir.IntType(1))
                fac = builder.select(bit, builder.load(_vec_ptr(builder, sq_a.data, builder.mul(b, width), vt),
                                                       align=8), one)
                builder.store(builder.fmul(builder.load(r), fac), r)
            builder.store(builder.load(r), _vec_ptr(builder, pw_a.data, builder.mul(j, width), vt), align=8)
        return context.get_dummy_value()

    return types.void(sq, units, pw), codegen


@jit_inline
def _lane_finish(cf, lane, x, xlo, xhi, lp, n, tau, freq, inc_idx, inc_val, inc_units, unit, pw, left):
    """The rest of :func:`path_yield_sums`'s iteration for lane ``lane`` of ``cf`` (f8[T, LANES]) from its state,
    at most ``left`` more iterations."""
    for _ in range(left):
        _discount_steps(x, inc_val, inc_units, unit, pw)
        v = 1.0
        pv = 0.0
        dur = 0.0
        for t in range(n):
            v *= pw[inc_idx[t]]
            c = cf[t, lane]
            if c != 0.0:
                z = c * v
                pv += z
                dur += tau[t] * z
        x_new, xlo, xhi, conv = _newton_step(x, xlo, xhi, pv, dur, lp, freq)
        if conv:
            return freq * math.expm1(x_new)
        x = x_new
    return freq * math.expm1(x)


def _lanes_solve(yl, k, price, tau, freq, inc_idx, inc_val, inc_units, unit, yld):
    """Solve the yields queued for tranche ``k`` into ``yld[row, k]`` and empty its queue."""
    n_l = yl.n[k]
    yl.n[k] = 0
    cf = yl.cf[k]
    xs = yl.st[0]
    lo = yl.st[1]
    hi = yl.st[2]
    lps = yl.st[3]
    act = yl.st[4]
    n_act = 0
    n_max = 0
    for lane in range(LANES):
        x0 = math.nan
        if lane < n_l:
            x0, xlo, xhi, lp, n = _yield_start(yl.tot[k, lane], yl.mom[k, lane], yl.last[k, lane], price, freq)
            lo[lane] = xlo
            hi[lane] = xhi
            lps[lane] = lp
            if math.isnan(x0):
                yld[yl.row[k, lane], k] = -1.0
            elif n > n_max:
                n_max = n
        if math.isnan(x0):
            xs[lane] = 0.0
            act[lane] = 0.0
        else:
            xs[lane] = x0
            act[lane] = 1.0
            n_act += 1
    n_j = inc_val.shape[0]
    for it in range(200):
        if n_act == 0:
            return
        if n_act <= HANDOFF:
            for lane in range(LANES):
                if act[lane] != 0.0:
                    yld[yl.row[k, lane], k] = _lane_finish(cf, lane, xs[lane], lo[lane], hi[lane], lps[lane],
                                                           yl.last[k, lane], tau, freq, inc_idx, inc_val, inc_units,
                                                           unit, yl.pw1, 200 - it)
            return
        # discount steps, as _discount_steps: q^m by the squares of m's bits in increasing order (int_power)
        if unit > 0.0:
            for lane in range(LANES):
                yl.sq[0, lane] = math.exp(-unit * xs[lane])
            lanes_powers(yl.sq, inc_units, yl.pw)
        else:
            for j in range(n_j):
                for lane in range(LANES):
                    yl.pw[j, lane] = math.exp(-inc_val[j] * xs[lane])
        lanes_period_sums(n_max, inc_idx, tau, yl.pw, cf, yl.acc)
        for lane in range(LANES):
            if act[lane] != 0.0:
                x_new, xlo, xhi, conv = _newton_step(xs[lane], lo[lane], hi[lane], yl.acc[0, lane], yl.acc[1, lane],
                                                     lps[lane], freq)
                lo[lane] = xlo
                hi[lane] = xhi
                if conv:
                    yld[yl.row[k, lane], k] = freq * math.expm1(x_new)
                    act[lane] = 0.0
                    n_act -= 1
                xs[lane] = x_new
    for lane in range(LANES):
        if act[lane] != 0.0:
            yld[yl.row[k, lane], k] = freq * math.expm1(xs[lane])


#: The solver; the Monte Carlo calls it through the C function generated for the deal's period grid
#: (:func:`ipabs.compile.codegen.yield_lanes_source`), which passes the grid as constants (docs/performance.md item 28).
lanes_solve = jit_inner(_lanes_solve)


@jit_inline
def lanes_push(yl, k, row, cf, tot, mom, last, price, yld):
    """Queue the yield of tranche ``k`` for per-path row ``row``: the cash flows per 100 ``cf`` (every period) and
    their sums; when :data:`LANES` are queued, solve them with the solver generated for the deal's period grid
    (``yl.ok[2]``, :func:`ipabs.compile.codegen.specialised_yield_lanes`; the Monte Carlo queues only when there is
    one). The general :func:`lanes_solve` is not called from here: with it inlined beside the copy, the path loop ran
    0.1 µs per path slower (docs/performance.md item 28)."""
    lane = yl.n[k]
    col = yl.cf[k]
    for t in range(0, col.shape[0]):
        col[t, lane] = cf[t]
    lanes_commit(yl, k, row, tot, mom, last, price, yld)


@jit_inline
def lanes_commit(yl, k, row, tot, mom, last, price, yld):
    """Queue the yield of tranche ``k`` whose cash flows per 100 are already in its next lane,
    ``yl.cf[k, :, yl.n[k]]`` (the statistics waterfall writes them there: docs/performance.md item 29); as
    :func:`lanes_push` otherwise."""
    lane = yl.n[k]
    yl.tot[k, lane] = tot
    yl.mom[k, lane] = mom
    yl.last[k, lane] = last
    yl.row[k, lane] = row
    yl.n[k] = lane + 1
    if lane + 1 == LANES:
        _call(yl, k, price, yld)


@jit_inline
def _call(yl, k, price, yld):
    call_yield_lanes(yl.ok[2], yl.cf, yl.tot, yl.mom, yl.last, yl.row, yl.n, yl.pw, yl.sq, yl.st, yl.acc, yl.pw1,
                     yl.ok, yld, k, price, yl.cf.shape[0], yld.shape[0])


@jit_inline
def lanes_flush(yl, si, yld):
    """Solve every tranche's queued yields (at the end of a block)."""
    for k in range(yl.n.shape[0]):
        if yl.n[k] > 0:
            _call(yl, k, si.price[k], yld)
