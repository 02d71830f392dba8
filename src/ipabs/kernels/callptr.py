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
    sig = types.void(*args)

    def codegen(context, builder, signature, llargs):
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

    return sig, codegen
