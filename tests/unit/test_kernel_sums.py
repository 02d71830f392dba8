"""ipabs.kernels.sums reproduces numpy's summation orders bit for bit (the batch engine's reductions and the
performing-flows kernel rely on it): pairwise sums of vectors and strided columns, and ``sum(axis=0)``."""

from __future__ import annotations

import numpy as np

from ipabs.kernels.sums import PW_STACK, pairwise_col, pairwise_vec, sum_rows


def _data(rng, shape):
    return rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 9, size=shape)


def test_pairwise_sums_of_vectors_and_columns_are_numpys():
    rng = np.random.default_rng(13)
    stk = np.empty(PW_STACK)
    for n in [*range(0, 300), 383, 384, 385, 1000, 1031, 4099, 9000, 100_003]:
        x = _data(rng, n)
        assert pairwise_vec(x, 0, n, stk) == x.sum(), n
        if n > 3:
            assert pairwise_vec(x, 3, n - 3, stk) == x[3:].sum(), n
        for k in (1, 2, 5):
            a = _data(rng, (n, k))
            for c in range(k):
                assert pairwise_col(a, c, 0, n, stk) == a[:, c].sum(), (n, k, c)


def test_sum_over_rows_is_numpys_axis_0_sum():
    rng = np.random.default_rng(14)
    stk = np.empty(PW_STACK)
    for r in [0, 1, 2, 7, 8, 9, 50, 127, 128, 129, 300, 1000]:
        for c in (1, 2, 3, 8, 60):
            a = _data(rng, (r, c))
            out = np.empty(c)
            sum_rows(a, out, stk)
            assert np.array_equal(out, a.sum(axis=0)), (r, c)
