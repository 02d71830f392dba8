"""Percentile bands from histograms with point masses (ipabs.engine.bands, decision 019), against exact quantiles."""

from __future__ import annotations

import numpy as np
import pytest

from ipabs.engine import bands


def _hist(x: np.ndarray, width: float, n_hist: int) -> np.ndarray:
    from ipabs.kernels.paths import hist_bin

    h = np.zeros(n_hist, dtype=np.int64)
    for v in x:
        h[hist_bin(float(v), width * n_hist, n_hist)] += 1
    return h


def test_a_point_mass_alone_gives_its_value_to_the_fen_in_every_band():
    values, res = bands.quantiles(np.zeros(10, dtype=np.int64), 1.0, [(189_999_999.994, 500)], 12.0, 12)
    assert values == [189_999_999.99] * 3 and res == 0.0


def test_the_face_bin_holds_the_face_and_nothing_below_it():
    from ipabs.kernels.paths import hist_bin

    for face in (190_000_000.0, 10_000_000.0, 123_456_789.01, 1.0, 0.0):
        hi = bands.balance_hi(face)
        assert hist_bin(max(face, 1.0), hi, bands.N_HIST) == bands.FACE_BIN
        if face >= 1e6:  # half a fen below the face is a regular bin
            assert hist_bin(face - 0.005, hi, bands.N_HIST) == bands.N_REGULAR - 1
        assert hist_bin(0.0, hi, bands.N_HIST) == 0


@pytest.mark.parametrize("seed", range(30))
def test_bands_are_within_their_stated_resolution_of_the_exact_quantiles(seed):
    """Random samples with point masses inside bins, on bin edges and alone: every band value is within its
    resolution of numpy's inverted-CDF quantile, exact ones equal it to the fen, and the bands are ordered."""
    rng = np.random.default_rng(seed)
    n_regular, width = 50, 10.0
    n_hist = n_regular + 2
    cont = rng.uniform(0, n_regular * width, rng.integers(0, 400))
    atoms = []
    for _ in range(rng.integers(1, 3)):
        v = float(rng.choice([rng.uniform(0, n_regular * width), width * rng.integers(0, n_regular), 0.0]))
        atoms.append((round(v, 2), int(rng.integers(1, 600))))
    x = np.concatenate([cont] + [np.full(c, v) for v, c in atoms])
    regular = _hist(cont, width, n_hist)
    values, res = bands.quantiles(regular, width, atoms, width * n_hist, n_hist)
    assert values == sorted(values)
    exact = np.quantile(x, bands.BAND_QUANTILES, method="inverted_cdf")
    for v, e in zip(values, exact, strict=True):
        assert abs(v - e) <= max(res, 0.0) + 0.01, (values, exact, res, atoms)
    if res == 0.0:
        assert np.allclose(values, np.round(exact, 2), atol=0.006)


def test_inexact_values_are_rounded_to_a_power_of_ten_within_the_bin_width():
    regular = np.zeros(1000, dtype=np.int64)
    regular[537] = 10
    values, res = bands.quantiles(regular, 190_000.0, [], 190_000.0 * 1002, 1002)
    assert res == 190_000.0
    assert values == [102_100_000.0] * 3  # bin 537 = [102,030,000, 102,220,000): mid-point 102,125,000 to 100,000
