"""numpy's summation orders, reproduced in the kernels so that a kernel's sum has the bits of numpy's.

``x.sum()`` of a float64 vector (contiguous or strided; a column ``a[:, k]`` of a 2-D array) is numpy's pairwise
summation: fewer than 8 terms are added in order from 0.0; up to 128 terms go to 8 interleaved partial sums
(``r[j] += x[i + j]``) that are combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), the remainder then
added in order; longer runs are split in two halves (the first a multiple of 8 long) summed recursively
(``numpy/_core/src/umath/loops_utils.h.src``). ``a.sum(axis=0)`` of a C-ordered 2-D array with more than one
column adds the rows in order (numpy's reduction loops over the rows, each row elementwise); with one column it is
the pairwise sum of that column. Both rules are checked against numpy on random data of many shapes
(tests/unit/test_kernel_sums.py), so an upgrade of numpy that changes them fails a test rather than
silently breaking the batch engine's equality with its reference.
"""

from __future__ import annotations

import numpy as np

from ipabs.kernels._jit import jit_inner

#: numpy's PW_BLOCKSIZE.
PW_BLOCK = 128


#: Length of the scratch ``stk`` of the pairwise sums: four values per level of the recursion (64 levels; a run of
#: n > 128 terms needs about log2(n / 128) + 1).
PW_STACK = 256


@jit_inner
def _block_col(x, col, t0, n):
    """numpy's pairwise sum of at most 128 terms ``x[t0:t0 + n, col]``."""
    if n < 8:
        res = 0.0
        for j in range(n):
            res += x[t0 + j, col]
        return res
    r0 = x[t0, col]
    r1 = x[t0 + 1, col]
    r2 = x[t0 + 2, col]
    r3 = x[t0 + 3, col]
    r4 = x[t0 + 4, col]
    r5 = x[t0 + 5, col]
    r6 = x[t0 + 6, col]
    r7 = x[t0 + 7, col]
    i = 8
    lim = n - n % 8
    while i < lim:
        r0 += x[t0 + i, col]
        r1 += x[t0 + i + 1, col]
        r2 += x[t0 + i + 2, col]
        r3 += x[t0 + i + 3, col]
        r4 += x[t0 + i + 4, col]
        r5 += x[t0 + i + 5, col]
        r6 += x[t0 + i + 6, col]
        r7 += x[t0 + i + 7, col]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += x[t0 + i, col]
        i += 1
    return res


@jit_inner
def _half(m):
    """Length of the first half numpy's pairwise sum splits a run of ``m`` > 128 terms into (a multiple of 8)."""
    h = m // 2
    return h - h % 8


@jit_inner
def pairwise_col(x, col, t0, n, stk):
    """numpy's ``x[t0:t0 + n, col].sum()`` of a 2-D array (see the module docstring); ``stk`` is scratch of length
    :data:`PW_STACK`, used for more than 128 terms.

    numpy's recursion S(s, m) = S(s, h) + S(s + h, m − h) is evaluated with an explicit stack of frames (start,
    length, whether the left half is done, the left half's sum): numba's on-disk cache does not keep recursive
    functions safely, and the sum is the same tree of the same additions.
    """
    if n <= PW_BLOCK:
        return _block_col(x, col, t0, n)
    stk[0] = t0
    stk[1] = n
    stk[2] = 0.0
    sp = 1
    while True:
        f = 4 * (sp - 1)
        s = np.int64(stk[f])
        m = np.int64(stk[f + 1])
        if m > PW_BLOCK:
            g = 4 * sp  # push the left half
            stk[g] = s
            stk[g + 1] = _half(m)
            stk[g + 2] = 0.0
            sp += 1
            continue
        v = _block_col(x, col, s, m)
        sp -= 1
        while sp > 0:  # hand v to the parent frames
            p = 4 * (sp - 1)
            if stk[p + 2] == 0.0:  # v is the left half: push the right half
                stk[p + 2] = 1.0
                stk[p + 3] = v
                ps = np.int64(stk[p])
                pm = np.int64(stk[p + 1])
                h = _half(pm)
                g = 4 * sp
                stk[g] = ps + h
                stk[g + 1] = pm - h
                stk[g + 2] = 0.0
                sp += 1
                break
            v = stk[p + 3] + v
            sp -= 1
        if sp == 0:
            return v


@jit_inner
def pairwise_vec(x, t0, n, stk):
    """numpy's ``x[t0:t0 + n].sum()`` of a 1-D array (see :func:`pairwise_col`)."""
    return pairwise_col(x.reshape((x.shape[0], 1)), 0, t0, n, stk)


@jit_inner
def sum_rows(x, out, stk):
    """numpy's ``x.sum(axis=0)`` of a C-ordered 2-D array into ``out`` (see the module docstring)."""
    n_r, n_c = x.shape
    if n_c == 1:
        out[0] = pairwise_col(x, 0, 0, n_r, stk)
        return
    for c in range(n_c):
        out[c] = x[0, c] if n_r > 0 else 0.0
    for r in range(1, n_r):
        for c in range(n_c):
            out[c] += x[r, c]
