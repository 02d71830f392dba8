"""Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11, the Random123 generator).

A draw is a pure function of (seed, path, stream, index): ``philox4x32(counter=(index, path_lo, path_hi, stream),
key=(seed_lo, seed_hi))``. No state is carried between draws, so path *p* under seed *s* gets the same numbers
whatever the thread count, block size or number of workers — the reproducibility contract of
docs/methodology/random-numbers.md. One call gives four 32-bit words, i.e. two doubles with 53 random bits.

Streams in use (never reuse a stream for another purpose, or results change):
0 systematic factors, 1 obligor idiosyncratic, 2 recovery haircuts, 3 revenue shocks, 4 copula mixing (Student-t),
5 recovery lags, 8+ reserved for the policy budget.

Within a stream, index k of path p is the k-th uniform: stream 0 gives M = Φ⁻¹(u_0) and S_j = Φ⁻¹(u_{1+j});
stream 1 gives obligor i the uniform u_i; stream 2 gives asset a the indices from a·4·64 (two gamma variates of
≤ 64 attempts each); stream 4 gives the Student-t mixing variate from index 0. Indices are pairs: uniform 2k and
2k+1 come from one Philox call with counter word 0 = k.
"""

from __future__ import annotations

import math

import numpy as np

from ipabs.kernels._jit import jit_inline, jit_inner
from ipabs.kernels.normal import norm_ppf

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint32(0x9E3779B9)
_W1 = np.uint32(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)

STREAM_FACTORS = 0
STREAM_IDIOSYNCRATIC = 1
STREAM_RECOVERY = 2
STREAM_REVENUE = 3
STREAM_MIXING = 4
STREAM_LAG = 5
STREAM_RATES = 6


@jit_inline
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32 with 10 rounds; all arguments and results are np.uint32 (c = counter, k = key)."""
    for _ in range(10):
        p0 = _M0 * np.uint64(c0)
        p1 = _M1 * np.uint64(c2)
        hi0 = np.uint32(p0 >> _S32)
        lo0 = np.uint32(p0 & _MASK32)
        hi1 = np.uint32(p1 >> _S32)
        lo1 = np.uint32(p1 & _MASK32)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = np.uint32(k0 + _W0)
        k1 = np.uint32(k1 + _W1)
    return c0, c1, c2, c3


@jit_inline
def _to_unit(a, b):
    """Two 32-bit words → a double strictly inside (0, 1): x = 53 random bits, u = (x + ½)·2⁻⁵³.

    For x = 2⁵³ − 1 the sum x + ½ rounds to 2⁵³ (u would be exactly 1, Φ⁻¹(u) infinite); that one value is mapped
    to the largest double below 1 instead. Every other x keeps (x + ½)·2⁻⁵³ as before.
    """
    x = (np.uint64(a) >> np.uint64(5)) * np.uint64(67108864) + (np.uint64(b) >> np.uint64(6))
    u = (np.float64(x) + 0.5) * (1.0 / 9007199254740992.0)
    return u if u < 1.0 else 0.9999999999999999


@jit_inline
def uniform_pair(seed, path, stream, index):
    """The two uniforms (0,1) number ``2*index`` and ``2*index+1`` of (seed, path, stream)."""
    s = np.uint64(seed)
    pth = np.uint64(path)
    r0, r1, r2, r3 = philox4x32(
        np.uint32(index),
        np.uint32(pth & _MASK32),
        np.uint32(pth >> _S32),
        np.uint32(stream),
        np.uint32(s & _MASK32),
        np.uint32(s >> _S32),
    )
    return _to_unit(r0, r1), _to_unit(r2, r3)


@jit_inner
def uniform(seed, path, stream, k):
    """Uniform number ``k`` of (seed, path, stream)."""
    u0, u1 = uniform_pair(seed, path, stream, k >> 1)
    return u0 if (k & 1) == 0 else u1


@jit_inner
def fill_uniforms(seed, path, stream, out):
    """Uniforms 0 .. len(out) − 1 of (seed, path, stream) into ``out``, whose length must be even.

    A loop of its own, with a single call site of :func:`uniform_pair`, so that the compiler inlines and
    vectorises the independent Philox calls (measured: 1.0 ns per uniform, against 7.5 ns when the same calls sit
    inside a caller's loop body or the loop has a tail for an odd length).
    """
    for k in range(out.shape[0] >> 1):
        u0, u1 = uniform_pair(seed, path, stream, k)
        out[2 * k] = u0
        out[2 * k + 1] = u1


MAX_GAMMA_TRIES = 64


@jit_inner
def gamma_draw(seed, path, stream, base, shape):
    """Gamma(shape, 1) by Marsaglia–Tsang from the uniform pairs ``base + attempt`` of (seed, path, stream).

    At most 64 attempts (the acceptance rate is above 95%, so the cap is never reached in practice), then the
    mean. For shape < 1 the boost U^(1/shape) uses pair ``base + 64``. Draw indices are fixed per attempt, so the
    variate depends only on (seed, path, stream, base).
    """
    boost = 1.0
    a = shape
    if a < 1.0:
        u0, _ = uniform_pair(seed, path, stream, base + MAX_GAMMA_TRIES)
        boost = u0 ** (1.0 / a)
        a = a + 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    for k in range(MAX_GAMMA_TRIES):
        u1, u2 = uniform_pair(seed, path, stream, base + k)
        x = norm_ppf(u1)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        if math.log(u2) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v * boost
    return a * boost
