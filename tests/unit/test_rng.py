"""The counter-based generator (Philox4x32-10) and the inverse normal (AS241): known answers and exact oracles."""

from __future__ import annotations

import ast
import inspect
import math
import statistics

import numpy as np
import pytest

from ipabs.kernels.normal import norm_cdf, norm_ppf
from ipabs.kernels.rng import (
    STREAM_FACTORS,
    STREAM_IDIOSYNCRATIC,
    _to_unit,
    fill_uniforms,
    gamma_draw,
    philox4x32,
    uniform,
    uniform_pair,
)

U32 = np.uint32

# Random123 kat_vectors, philox4x32 with 10 rounds: counter (4 words), key (2 words) -> output (4 words)
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize(("counter", "key", "expected"), KNOWN_ANSWERS)
def test_philox_matches_the_random123_known_answer_vectors(counter, key, expected):
    got = philox4x32(*(U32(c) for c in counter), *(U32(k) for k in key))
    assert tuple(int(x) for x in got) == expected


def test_uniform_pair_is_philox_of_index_path_and_stream_keyed_by_the_seed():
    seed, path, stream, index = 0x1234_5678_9ABC_DEF0, 0x0000_0007_0000_0003, 5, 11
    r = philox4x32(U32(index), U32(path & 0xFFFFFFFF), U32(path >> 32), U32(stream), U32(seed & 0xFFFFFFFF),
                   U32(seed >> 32))
    words = [int(x) for x in r]
    expected = [((words[0] >> 5) * 2**26 + (words[1] >> 6) + 0.5) / 2**53,
                ((words[2] >> 5) * 2**26 + (words[3] >> 6) + 0.5) / 2**53]
    assert uniform_pair(np.uint64(seed), np.int64(path), stream, index) == tuple(expected)


def test_uniforms_lie_strictly_inside_the_unit_interval_even_for_the_extreme_words():
    assert _to_unit(U32(0), U32(0)) == 2.0**-54
    # (2^53 - 1 + 1/2) rounds to 2^53 in double precision: the top word must still give a number below 1
    assert _to_unit(U32(0xFFFFFFFF), U32(0xFFFFFFFF)) == math.nextafter(1.0, 0.0)
    assert _to_unit(U32(0xFFFFFFFF), U32(0xFFFFFF80)) < 1.0
    assert all(0.0 < u < 1.0 for u in uniform_pair(np.uint64(0), 0, 0, 0))


def test_fill_uniforms_gives_the_same_numbers_as_single_draws():
    out = np.empty(10)
    fill_uniforms(np.uint64(99), 12345, STREAM_IDIOSYNCRATIC, out)
    single = [uniform(np.uint64(99), 12345, STREAM_IDIOSYNCRATIC, k) for k in range(10)]
    assert out.tolist() == single


def test_a_draw_changes_with_each_of_seed_path_stream_and_index():
    base = uniform(np.uint64(1), 2, STREAM_FACTORS, 3)
    others = [uniform(np.uint64(2), 2, STREAM_FACTORS, 3), uniform(np.uint64(1), 3, STREAM_FACTORS, 3),
              uniform(np.uint64(1), 2, STREAM_IDIOSYNCRATIC, 3), uniform(np.uint64(1), 2, STREAM_FACTORS, 4)]
    assert len({base, *others}) == 5


def test_uniforms_have_the_moments_and_bin_counts_of_a_uniform_distribution():
    n = 200_000
    out = np.empty(n)
    fill_uniforms(np.uint64(2026), 7, STREAM_IDIOSYNCRATIC, out)
    assert abs(out.mean() - 0.5) < 4 * math.sqrt(1 / 12 / n)
    assert abs(out.var() - 1 / 12) < 4 * math.sqrt(1 / 180 / n)
    counts, _ = np.histogram(out, bins=100, range=(0, 1))
    chi2 = float(((counts - n / 100) ** 2 / (n / 100)).sum())
    assert chi2 < 99 + 5 * math.sqrt(2 * 99)  # chi-square with 99 degrees of freedom, 5 sigma
    # consecutive pairs are not correlated
    assert abs(np.corrcoef(out[:-1], out[1:])[0, 1]) < 4 / math.sqrt(n)


def _pure_python_inv_cdf():
    """CPython's pure-Python ``statistics._normal_dist_inv_cdf``, taken from the module source with ast (the C
    accelerator that replaces it can differ in the last ulp)."""
    tree = ast.parse(inspect.getsource(statistics))
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_normal_dist_inv_cdf")
    namespace = {"fabs": math.fabs, "sqrt": math.sqrt, "log": math.log}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), "<statistics>", "exec"), namespace)
    return namespace["_normal_dist_inv_cdf"]


def test_norm_ppf_is_bit_identical_to_the_pure_python_as241_of_the_statistics_module():
    ref = _pure_python_inv_cdf()
    rng = np.random.default_rng(3)
    ps = list(rng.random(20_000))
    ps += [1e-300, 1e-100, 1e-20, 1e-10, 0.0745, 0.075, 0.0750001, 0.5 - 0.425, 0.5 + 0.425, 0.5, 0.5 + 1e-17,
           0.925, 0.9999999, 1 - 1e-16, math.nextafter(0.0, 1.0)]
    ps += list(10.0 ** -rng.uniform(0, 300, 2000))
    bad = [p for p in ps if norm_ppf(p) != ref(p, 0.0, 1.0)]
    assert bad == []


def test_norm_ppf_is_infinite_at_the_ends_and_inverts_norm_cdf():
    assert norm_ppf(0.0) == -math.inf and norm_ppf(1.0) == math.inf
    for x in (-8.0, -3.1, -0.2, 0.0, 0.7, 2.5):  # right tail: 1 − Φ(x) loses digits, so stay below 3
        assert norm_ppf(norm_cdf(x)) == pytest.approx(x, abs=1e-9 * max(1.0, abs(x)))
    assert norm_cdf(0.0) == 0.5


@pytest.mark.parametrize("shape", [0.4, 1.0, 2.0, 10.0])
def test_gamma_draws_have_the_gamma_mean_and_variance(shape):
    n = 20_000
    x = np.array([gamma_draw(np.uint64(5), p, 4, 0, shape) for p in range(n)])
    assert abs(x.mean() - shape) < 4 * math.sqrt(shape / n)
    # variance of the sample variance of a gamma: (μ4 − σ⁴)/n with μ4 = 3k² + 6k
    assert abs(x.var() - shape) < 4 * math.sqrt((3 * shape**2 + 6 * shape - shape**2) / n)
    assert np.all(x > 0)
