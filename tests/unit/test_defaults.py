"""The correlated default sampler: exact agreement with an unscreened reference, chunking invariance, the PD term
structure, independence at zero correlation, and the Student-t copula (quantiles, marginals, tail dependence)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ipabs.credit.defaults import (
    copula_layout,
    group_cmax,
    sample_default_periods,
    sample_default_years,
    threshold_rows,
    thresholds_from_cumulative_pd,
)
from ipabs.credit.student_t import betainc, t_cdf, t_ppf
from ipabs.kernels.defaults import first_crossing, mixing_scale, systematic_factors
from ipabs.kernels.normal import norm_ppf
from ipabs.kernels.rng import STREAM_FACTORS, STREAM_IDIOSYNCRATIC, uniform


def _reference_periods(cum_pd, layout, seed, path, dof=0.0):
    """Unscreened pure-Python default periods of one path, from the same uniforms as the kernel."""
    th = thresholds_from_cumulative_pd(cum_pd, dof)
    n_ob, n_t = th.shape
    factors = [norm_ppf(uniform(np.uint64(seed), path, STREAM_FACTORS, k)) for k in range(1 + layout.n_sectors)]
    r = mixing_scale(np.uint64(seed), path, dof)
    out = []
    for i in range(n_ob):
        g = layout.group[i]
        z = norm_ppf(uniform(np.uint64(seed), path, STREAM_IDIOSYNCRATIC, i))
        y = layout.g_a[g] * factors[0] + layout.g_s[g] * factors[1 + layout.g_sector[g]] + layout.g_b[g] * z
        if dof > 0:
            y = y / r
        out.append(next((t for t in range(n_t) if y < th[i, t]), n_t))
    return out


@pytest.mark.parametrize("n", [1, 2, 5, 6, 9])
def test_systematic_factors_are_the_streams_normals_whatever_the_scratch_length(n):
    """Even lengths take the vectorised path (fill_uniforms, then Φ⁻¹), odd ones one uniform at a time: the same
    numbers, the k-th normal of stream 0."""
    for path in (0, 7, 2**40 + 3):
        out = np.empty(n)
        systematic_factors(np.uint64(5), np.int64(path), out)
        ref = [norm_ppf(uniform(np.uint64(5), np.int64(path), STREAM_FACTORS, k)) for k in range(n)]
        assert out.tolist() == ref


@pytest.mark.slow
@pytest.mark.parametrize("dof", [0.0, 4.0])
def test_screened_kernel_equals_an_unscreened_reference_path_by_path(dof):
    rng = np.random.default_rng(11)
    n_ob, n_t = 37, 12
    cum = np.sort(rng.uniform(0.0, 0.6, (n_ob, n_t)), axis=1)
    cum[0] = 0.0  # never defaults
    cum[1] = 1.0  # defaults in period 0
    layout = copula_layout(rng.integers(0, 4, n_ob), rng.choice([0.05, 0.3], n_ob), 0.1)
    got = sample_default_periods(cum, layout, 60, seed=77, path0=1000, dof=dof)
    for j in range(60):
        assert got[j].tolist() == _reference_periods(cum, layout, 77, 1000 + j, dof)


def test_sample_default_years_is_the_same_whatever_the_split_into_chunks():
    rng = np.random.default_rng(1)
    pd_annual, sector = rng.uniform(0.001, 0.2, 50), rng.integers(0, 5, 50)
    whole = sample_default_years(pd_annual, sector, 0.2, 0.1, 8, 1000, seed=9, path0=500)
    parts = [sample_default_years(pd_annual, sector, 0.2, 0.1, 8, n, seed=9, path0=500 + lo)
             for lo, n in ((0, 1), (1, 254), (255, 257), (512, 488))]
    assert whole.dtype == np.int16 and whole.shape == (1000, 50)
    assert np.array_equal(whole, np.concatenate(parts))
    assert whole.min() >= 0 and whole.max() <= 8


def test_first_crossing_is_the_first_period_below_the_threshold_for_short_and_long_rows():
    rng = np.random.default_rng(2)
    for n_t in (1, 5, 60, 256, 257, 600):
        th = np.sort(rng.normal(size=(3, n_t)), axis=1)
        th[1, : n_t // 2] = -np.inf
        for y in np.concatenate([rng.normal(size=200), th[0, :5], [-np.inf, np.inf]]):
            for i in range(3):
                expected = next((t for t in range(n_t) if y < th[i, t]), n_t)
                assert first_crossing(y, th, i) == expected


def test_obligors_with_equal_pd_curves_share_one_threshold_row():
    th = thresholds_from_cumulative_pd(np.array([[0.1, 0.2], [0.05, 0.1], [0.1, 0.2]]))
    rows, row_of = threshold_rows(th)
    assert rows.shape == (2, 2) and row_of[0] == row_of[2] != row_of[1]
    assert np.array_equal(rows[row_of], th)


def test_default_frequencies_by_period_follow_the_pd_term_structure():
    # three PD curves (constant hazard, rising hazard, a jump), correlated through global and sector factors
    n_t, n_paths = 10, 40_000
    t = np.arange(1, n_t + 1)
    curves = np.array([1 - 0.97**t, 0.002 * t**1.5, np.where(t >= 4, 0.08, 0.01)])
    cum = np.repeat(curves, 10, axis=0)
    layout = copula_layout(np.arange(30) % 3, 0.25, 0.15)
    periods = sample_default_periods(cum, layout, n_paths, seed=2026)
    for c in range(3):
        cols = periods[:, c * 10:(c + 1) * 10]
        for tt in range(n_t):
            freq = (cols <= tt).mean()  # by the end of period tt
            p = curves[c, tt]
            # obligors are correlated: bound the standard error by treating each path's 10 as one draw
            se = math.sqrt(p * (1 - p) / n_paths)
            assert abs(freq - p) < 5 * se + 1e-12, (c, tt, freq, p)


def test_zero_correlation_gives_binomial_default_counts():
    n_ob, p, n_paths = 30, 0.1, 50_000
    layout = copula_layout(np.arange(n_ob) % 3, 0.0, 0.0)
    periods = sample_default_periods(np.full((n_ob, 1), p), layout, n_paths, seed=3)
    k = (periods == 0).sum(axis=1)
    observed = np.bincount(k, minlength=n_ob + 1) / n_paths
    pmf = np.array([math.comb(n_ob, j) * p**j * (1 - p) ** (n_ob - j) for j in range(n_ob + 1)])
    se = np.sqrt(pmf * (1 - pmf) / n_paths)
    assert np.all(np.abs(observed - pmf) < 5 * se + 2e-5)
    # and obligors are pairwise uncorrelated
    d = (periods == 0).astype(float)
    c = np.corrcoef(d[:, :10].T)[np.triu_indices(10, 1)]
    assert np.abs(c).max() < 5 / math.sqrt(n_paths)


# ---- Student-t ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("p", "dof", "expected"), [
    (0.975, 1, 12.706204736174707), (0.95, 1, 6.313751514675043), (0.975, 2, 4.302652729749464),
    (0.975, 5, 2.570581835636314), (0.995, 5, 4.032142983557536), (0.975, 10, 2.228138851986274),
    (0.995, 10, 3.169272672616933), (0.975, 30, 2.042272456301238), (0.95, 4, 2.131846786326649),
    (0.99, 3, 4.540702858568132),
])
def test_t_quantiles_match_tabulated_values(p, dof, expected):
    assert t_ppf(p, dof) == pytest.approx(expected, rel=1e-12)
    assert t_ppf(1 - p, dof) == pytest.approx(-expected, rel=1e-11)


def test_t_quantiles_match_the_closed_forms_for_one_and_two_degrees_of_freedom():
    p = np.array([1e-12, 1e-6, 0.003, 0.2, 0.4999, 0.77, 0.999])
    assert np.allclose(t_ppf(p, 1.0), -1.0 / np.tan(np.pi * p), rtol=1e-12, atol=1e-14)  # Cauchy: −cot(πp)
    assert np.allclose(t_ppf(p, 2.0), (2 * p - 1) / np.sqrt(2 * p * (1 - p)), rtol=1e-12, atol=1e-14)


def test_t_distribution_function_inverts_the_quantile_and_tends_to_the_normal():
    p = np.array([1e-9, 1e-4, 0.01, 0.3, 0.5, 0.9])
    for dof in (0.7, 3.0, 12.0):
        assert np.allclose(t_cdf(t_ppf(p, dof), dof), p, rtol=1e-11)
    assert t_ppf(0.0, 5)[()] == -np.inf and t_ppf(1.0, 5)[()] == np.inf
    assert t_ppf(0.01, 1e3) == pytest.approx(norm_ppf(0.01), rel=2e-3)
    assert betainc(2.0, 3.0, 0.4) == pytest.approx(0.5248, rel=1e-12)  # I_0.4(2,3) = 1 − Σ_{j<2} C(4,j)0.4^j0.6^(4−j)
    with pytest.raises(ValueError):
        t_ppf(0.5, 0.0)


def test_student_t_copula_keeps_the_marginal_pds():
    n_ob, p = 20, 0.05
    layout = copula_layout(np.zeros(n_ob, dtype=int), 0.3, 0.0)
    periods = sample_default_periods(np.full((n_ob, 1), p), layout, 40_000, seed=5, dof=4.0)
    freq = (periods == 0).mean(axis=0)
    assert np.all(np.abs(freq - p) < 5 * math.sqrt(p * (1 - p) / 40_000))


def test_student_t_copula_has_more_joint_defaults_than_the_gaussian_at_equal_correlation():
    # tail dependence: P(both default) / P(one defaults) is larger under t(4) than under the Gaussian
    n_paths, p = 200_000, 0.01
    layout = copula_layout(np.zeros(2, dtype=int), 0.3, 0.0)
    cum = np.full((2, 1), p)
    joint = {}
    for dof in (0.0, 4.0):
        d = sample_default_periods(cum, layout, n_paths, seed=8, dof=dof) == 0
        joint[dof] = (d[:, 0] & d[:, 1]).mean()
    se = math.sqrt(joint[4.0] / n_paths) + math.sqrt(joint[0.0] / n_paths)
    assert joint[4.0] - joint[0.0] > 5 * se
    assert joint[4.0] > 2 * joint[0.0]


def test_invalid_inputs_are_refused():
    layout = copula_layout(np.zeros(2, dtype=int), 0.2, 0.1)
    with pytest.raises(ValueError):
        sample_default_periods(np.array([[0.1], [1.2]]), layout, 10, 1)
    with pytest.raises(ValueError):
        sample_default_periods(np.array([[0.2, 0.1], [0.1, 0.1]]), layout, 10, 1)
    with pytest.raises(ValueError):
        sample_default_periods(np.array([[0.1], [0.1]]), layout, 10, 1, dof=-1.0)
    with pytest.raises(ValueError):
        copula_layout(np.zeros(2, dtype=int), 0.7, 0.3)
    th = thresholds_from_cumulative_pd(np.array([[0.1], [0.3]]))
    assert group_cmax(layout, th)[0] == th[1, 0]
