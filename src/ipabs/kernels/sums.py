"""numpy's summation orders, reproduced in the kernels so that a kernel's sum has the bits of numpy's.

``x.sum()`` of a float64 vector (contiguous or strided; a column ``a[:, k]`` of a 2-D array) is numpy's pairwise
summation: fewer than 8 terms are added in order from 0.0; up to 128 terms go to 8 interleaved partial sums
(``r[j] += x[i + j]``) that are combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), the remainder then
added in order; longer runs are split in two halves (the first a multiple of 8 long) summed recursively
(``numpy/_core/src/umath/loops_utils.h.src``). ``a.sum(axis=0)`` of a C-ordered 2-D array with more than one
column adds the rows in order (numpy's reduction loops over the rows, each row elementwise); with one column it is
the pairwise sum of that column. Both rules are checked against numpy on random data of many shapes
(tests/unit/structuring/test_batch_kernel.py), so an upgrade of numpy that changes them fails a test rather than
silently breaking the batch engine's equality with its reference.
"""

from __future__ import annotations

from ipabs.kernels._jit import jit_inner

#: numpy's PW_BLOCKSIZE.
PW_BLOCK = 128


@jit_inner
def pairwise_col(x, col, t0, n):
    """numpy's ``x[t0:t0 + n, col].sum()`` of a 2-D array (see the module docstring)."""
    if n < 8:
        res = 0.0
        for j in range(n):
            res += x[t0 + j, col]
        return res
    if n <= PW_BLOCK:
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
    n2 = n // 2
    n2 -= n2 % 8
    return pairwise_col(x, col, t0, n2) + pairwise_col(x, col, t0 + n2, n - n2)


@jit_inner
def pairwise_vec(x, t0, n):
    """numpy's ``x[t0:t0 + n].sum()`` of a 1-D array (see the module docstring)."""
    if n < 8:
        res = 0.0
        for j in range(n):
            res += x[t0 + j]
        return res
    if n <= PW_BLOCK:
        r0 = x[t0]
        r1 = x[t0 + 1]
        r2 = x[t0 + 2]
        r3 = x[t0 + 3]
        r4 = x[t0 + 4]
        r5 = x[t0 + 5]
        r6 = x[t0 + 6]
        r7 = x[t0 + 7]
        i = 8
        lim = n - n % 8
        while i < lim:
            r0 += x[t0 + i]
            r1 += x[t0 + i + 1]
            r2 += x[t0 + i + 2]
            r3 += x[t0 + i + 3]
            r4 += x[t0 + i + 4]
            r5 += x[t0 + i + 5]
            r6 += x[t0 + i + 6]
            r7 += x[t0 + i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += x[t0 + i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return pairwise_vec(x, t0, n2) + pairwise_vec(x, t0 + n2, n - n2)


@jit_inner
def sum_rows(x, out):
    """numpy's ``x.sum(axis=0)`` of a C-ordered 2-D array into ``out`` (see the module docstring)."""
    n_r, n_c = x.shape
    if n_c == 1:
        out[0] = pairwise_col(x, 0, 0, n_r)
        return
    for c in range(n_c):
        out[c] = x[0, c] if n_r > 0 else 0.0
    for r in range(1, n_r):
        for c in range(n_c):
            out[c] += x[r, c]
