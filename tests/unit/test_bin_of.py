"""``bin_of`` (the Monte Carlo's histogram bin without a division, docs/performance.md item 23) gives ``hist_bin``'s
bin for every value: near every bin edge, at the ends, outside the range, for zeros, NaN and infinities, and for
the histogram edges the engine uses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ipabs.engine.bands import N_HIST, balance_hi, cash_hi
from ipabs.kernels._jit import jit
from ipabs.kernels.paths import bin_of, hist_bin


@jit
def _both(xs, hi, nb):
    r = nb / hi if hi > 0.0 else 0.0
    out = np.empty((xs.shape[0], 2), dtype=np.int64)
    for i in range(xs.shape[0]):
        out[i, 0] = bin_of(xs[i], hi, r, nb)
        out[i, 1] = hist_bin(xs[i], hi, nb)
    return out


def _values(hi: float, nb: int, rng: np.random.Generator) -> np.ndarray:
    edges = np.arange(nb + 2) * (hi / nb)
    near = [edges]
    for k in range(1, 4):  # a few ulps either side of every edge
        near.append(np.nextafter(edges, np.inf) if k == 1 else edges * (1 + k * 2.0**-52))
        near.append(np.nextafter(edges, -np.inf) if k == 1 else edges * (1 - k * 2.0**-52))
    near.append(edges * (1 + 1e-10))
    near.append(edges * (1 - 1e-10))
    near.append(rng.uniform(-0.1 * hi, 1.1 * hi, 20_000))
    near.append(rng.uniform(0, hi, 20_000).round(2))  # fen amounts
    near.append(np.array([0.0, -0.0, 1e-300, -1e-300, 5e-324, hi, -hi, 2 * hi, math.inf, -math.inf, math.nan]))
    return np.concatenate(near)


@pytest.mark.parametrize("face", [1.0, 7.0, 10_000_000.0, 190_000_000.0, 123_456_789.37, 4e11])
def test_bin_of_equals_hist_bin(face):
    rng = np.random.default_rng(int(face) % 2**32)
    for hi in (balance_hi(face), cash_hi(face, 1.3 * face), face, face * 1.2):
        for nb in (N_HIST, 1000, 7):
            res = _both(_values(hi, nb, rng), float(hi), nb)
            assert np.array_equal(res[:, 0], res[:, 1])


def test_bin_of_without_range():
    xs = np.array([0.0, 1.0, -1.0, math.nan, math.inf])
    for hi in (0.0, -1.0):
        res = _both(xs, hi, N_HIST)
        assert np.array_equal(res[:, 0], res[:, 1]) and not res.any()
