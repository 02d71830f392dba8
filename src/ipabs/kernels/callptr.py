"""Calling a generated waterfall (:mod:`ipabs.compile.codegen`) from a compiled kernel through its address.

The address is a run-time integer, so the path kernels are compiled (and cached) once for every deal; numba's
first-class function types would either recompile the caller per function or disable its cache. An array argument
is passed as its data pointer (every array passed is C-contiguous), an integer as int64.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def call_waterfall(typingctx, addr, pi, pp, pr, pdf, pbs, pbe, par, acct, bal, short, fee_carry, sup_left, scal, track,
                   sup_def_t, o_ip, o_ish, o_pp, o_be, o_rs, o_sd, t0, t1, rec):
    """``void waterfall(double* × 14, int64*, double* × 6, int64 × 3)`` at ``addr``: see
    :data:`ipabs.compile.codegen.N_F8_IN` for the order of the arguments."""
    args = (addr, pi, pp, pr, pdf, pbs, pbe, par, acct, bal, short, fee_carry, sup_left, scal, track, sup_def_t, o_ip,
            o_ish, o_pp, o_be, o_rs, o_sd, t0, t1, rec)
    want = [types.float64] * 14 + [types.int64] + [types.float64] * 6
    for ty, dt in zip(args[1:22], want, strict=True):  # the C function reads raw memory: refuse anything else
        if not (isinstance(ty, types.Array) and ty.dtype == dt and ty.layout == "C"):
            raise TypeError(f"call_waterfall: expected a C-contiguous {dt} array, got {ty}")
    for ty in (addr, t0, t1, rec):
        if not isinstance(ty, types.Integer):
            raise TypeError(f"call_waterfall: expected an integer, got {ty}")
    return types.void(*args), _codegen


def _codegen(context, builder, signature, llargs):
    vals = []
    for ty, v in zip(signature.args[1:], llargs[1:], strict=True):
        if isinstance(ty, types.Array):
            vals.append(context.make_array(ty)(context, builder, v).data)
        else:
            vals.append(context.cast(builder, v, ty, types.int64))
    fnty = ir.FunctionType(ir.VoidType(), [v.type for v in vals])
    a = context.cast(builder, llargs[0], signature.args[0], types.int64)
    fn = builder.inttoptr(a, fnty.as_pointer())
    builder.call(fn, vals)
    return context.get_dummy_value()


#: :data:`ipabs.compile.codegen.STATS_TYPES`: "f" double*, "i" int64*, "u" uint16*, "n" int64
_STATS_DTYPES = {"f": types.float64, "i": types.int64, "u": types.uint16}
STATS_TYPES = "ffffffffffiffffiiiuuiiiin"


@intrinsic
def call_waterfall_stats(typingctx, addr, pi, pp, pr, pdf, pbs, pbe, par, acct, bal, short, fee_carry, sup_left, scal,
                         track, sup_def_t, o_ip, o_ish, o_pp, o_be, o_rs, o_sd, t0, t1, rec, b_ip, b_pp, b_rs, b_be,
                         b_cf, tau, sf_face, sf_bhi, sf_chi, cfk, cfo, k_num, k_den, k_tot, k_mom, k_short, k_same,
                         k_last, h_bal, h_cash, s_int, s_prin, s_bal, cnt_same, nb):
    """The statistics version of a generated waterfall (``codegen.waterfall_source(d, stats=True)``): the arguments
    of :func:`call_waterfall`, then those of :data:`ipabs.compile.codegen.STATS_ARGS`."""
    base = (addr, pi, pp, pr, pdf, pbs, pbe, par, acct, bal, short, fee_carry, sup_left, scal, track, sup_def_t, o_ip,
            o_ish, o_pp, o_be, o_rs, o_sd, t0, t1, rec)
    extra = (b_ip, b_pp, b_rs, b_be, b_cf, tau, sf_face, sf_bhi, sf_chi, cfk, cfo, k_num, k_den, k_tot, k_mom,
             k_short, k_same, k_last, h_bal, h_cash, s_int, s_prin, s_bal, cnt_same, nb)
    want = [types.float64] * 14 + [types.int64] + [types.float64] * 6
    for ty, dt in list(zip(base[1:22], want, strict=True)) + [
            (ty, _STATS_DTYPES[c]) for ty, c in zip(extra, STATS_TYPES, strict=True) if c != "n"]:
        if not (isinstance(ty, types.Array) and ty.dtype == dt and ty.layout == "C"):
            raise TypeError(f"call_waterfall_stats: expected a C-contiguous {dt} array, got {ty}")
    for ty in (addr, t0, t1, rec, nb):
        if not isinstance(ty, types.Integer):
            raise TypeError(f"call_waterfall_stats: expected an integer, got {ty}")
    return types.void(*base, *extra), _codegen


#: Argument kinds of a generated yield-lanes solver (:func:`ipabs.compile.codegen.yield_lanes_source`): "f" double*,
#: "i" int64*, "n" int64, "d" double
YIELD_LANES_TYPES = "fffiiifffffifndnn"


@intrinsic
def call_yield_lanes(typingctx, addr, cf, tot, mom, last, row, n, pw, sq, st, acc, pw1, ok, yld, k, price, n_k, n_rows):
    """``void solve(double* cf, tot, mom, int64* last, row, n, double* pw, sq, st, acc, pw1, int64* ok, double* yld,
    int64 k, double price, int64 n_k, int64 n_rows)`` at ``addr``: the arrays of a
    :class:`ipabs.kernels.yields.YieldLanes`, the per-path yields, the tranche, its price and two shapes."""
    args = (cf, tot, mom, last, row, n, pw, sq, st, acc, pw1, ok, yld, k, price, n_k, n_rows)
    for ty, c in zip(args, YIELD_LANES_TYPES, strict=True):
        if c in "fi":
            dt = types.float64 if c == "f" else types.int64
            if not (isinstance(ty, types.Array) and ty.dtype == dt and ty.layout == "C"):
                raise TypeError(f"call_yield_lanes: expected a C-contiguous {dt} array, got {ty}")
        elif c == "n" and not isinstance(ty, types.Integer):
            raise TypeError(f"call_yield_lanes: expected an integer, got {ty}")
        elif c == "d" and not isinstance(ty, types.Float):
            raise TypeError(f"call_yield_lanes: expected a float, got {ty}")
    if not isinstance(addr, types.Integer):
        raise TypeError(f"call_yield_lanes: expected an integer address, got {addr}")

    def codegen(context, builder, signature, llargs):
        vals = []
        for ty, v, c in zip(signature.args[1:], llargs[1:], YIELD_LANES_TYPES, strict=True):
            if c in "fi":
                vals.append(context.make_array(ty)(context, builder, v).data)
            elif c == "n":
                vals.append(context.cast(builder, v, ty, types.int64))
            else:
                vals.append(context.cast(builder, v, ty, types.float64))
        fnty = ir.FunctionType(ir.VoidType(), [v.type for v in vals])
        a = context.cast(builder, llargs[0], signature.args[0], types.int64)
        builder.call(builder.inttoptr(a, fnty.as_pointer()), vals)
        return context.get_dummy_value()

    return types.void(addr, *args), codegen
