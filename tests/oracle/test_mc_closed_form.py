"""The Monte Carlo engine against closed forms of the one-factor Gaussian copula (DOMAIN.md §6).

* Large homogeneous pool (1,000 equal obligors) against Vasicek's large-pool limit (LHP): loss quantiles and the
  expected loss of the two tranches.
* A 20-obligor pool against the exact finite-N distribution of the number of defaults, the conditional binomial
  integrated over the factor by Gauss–Hermite quadrature.

The deal is built so that tranche losses are pool-loss tranches exactly: bullet assets at zero interest, no
recovery, zero coupons, a sequential 80/20 senior/subordinate split. Then the pool loss rate is k/N and the
subordinate (senior) tranche loses min(L, 20%)/20% ((L − 20%)⁺/80%). Tolerances are Monte Carlo standard errors;
the LHP comparison adds the exact finite-N granularity term (the LHP is the N → ∞ limit), never a fudge factor.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from ipabs.credit.synthetic import synthetic_deal
from ipabs.engine.montecarlo import cumulative_pd, simulate

N01 = NormalDist()
PHI = np.vectorize(N01.cdf)
PHI_INV = np.vectorize(N01.inv_cdf)


def _deal(n_obligors: int, rho: float, annual_pd: float):
    return synthetic_deal(n_obligors=n_obligors, n_periods=5, frequency="annual", amortization="bullet",
                          asset_rate=0.0, senior_coupon=0.0, recovery_rate=0.0, n_sectors=1, correlation=rho,
                          sector_correlation=0.0, annual_pd=annual_pd, senior_fraction=0.8)


def _horizon_pd(deal, annual_pd: float) -> float:
    return float(cumulative_pd(np.array([annual_pd]), deal.waterfall.yf)[0, -1])


def lhp_quantile(alpha: float, pd: float, rho: float) -> float:
    """α-quantile of the LHP loss fraction: Φ((Φ⁻¹(PD) + √ρ Φ⁻¹(α)) / √(1 − ρ))."""
    return N01.cdf((N01.inv_cdf(pd) + math.sqrt(rho) * N01.inv_cdf(alpha)) / math.sqrt(1 - rho))


def lhp_cdf(x: float, pd: float, rho: float) -> float:
    """P(L ≤ x) = Φ((√(1 − ρ) Φ⁻¹(x) − Φ⁻¹(PD)) / √ρ)."""
    return N01.cdf((math.sqrt(1 - rho) * N01.inv_cdf(x) - N01.inv_cdf(pd)) / math.sqrt(rho))


def _factor_grid(n: int = 8001) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of a fine Simpson rule for E[f(M)], M ~ N(0, 1), on [−10, 10]."""
    m = np.linspace(-10.0, 10.0, n)
    h = m[1] - m[0]
    w = np.full(n, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return m, w * h / 3.0 * np.exp(-0.5 * m * m) / math.sqrt(2 * math.pi)


def conditional_pd(m: np.ndarray, pd: float, rho: float) -> np.ndarray:
    """p(M) = Φ((Φ⁻¹(PD) − √ρ M) / √(1 − ρ))."""
    return PHI((N01.inv_cdf(pd) - math.sqrt(rho) * m) / math.sqrt(1 - rho))


def lhp_tranche_el(lo: float, hi: float, pd: float, rho: float) -> float:
    """E[min((L − lo)⁺, hi − lo)] / (hi − lo) with L = p(M) (the LHP loss)."""
    m, w = _factor_grid()
    loss = conditional_pd(m, pd, rho)
    return float(np.sum(w * np.clip(loss - lo, 0.0, hi - lo)) / (hi - lo))


def _binomial_pmf(n: int, p: np.ndarray) -> np.ndarray:
    """pmf[k, j] = C(n, k) p_j^k (1 − p_j)^(n − k), in log space."""
    k = np.arange(n + 1)[:, None]
    logc = np.array([math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) for j in range(n + 1)])
    with np.errstate(divide="ignore", invalid="ignore"):
        lp, lq = np.log(p)[None, :], np.log1p(-p)[None, :]
        a = np.where(k == 0, 0.0, k * lp)  # 0·log 0 = 0
        b = np.where(k == n, 0.0, (n - k) * lq)
    return np.exp(logc[:, None] + a + b)


def finite_pool_pmf(n: int, pd: float, rho: float, nodes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """P(k defaults) = E_M[C(n, k) p(M)^k (1 − p(M))^(n − k)] with the given quadrature of E_M."""
    return _binomial_pmf(n, conditional_pd(nodes, pd, rho)) @ weights


@pytest.fixture(scope="module")
def large_pool():
    rho, annual = 0.2, 0.02
    deal = _deal(1000, rho, annual)
    res = simulate(deal, 40_000, 20260415)
    return deal, res, _horizon_pd(deal, annual), rho


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9, 0.99, 0.999])
def test_large_pool_loss_quantiles_match_the_vasicek_lhp(large_pool, alpha):
    deal, res, pd, rho = large_pool
    n = res.n_paths
    loss = res.pool_loss_rate
    q = lhp_quantile(alpha, pd, rho)
    # exact finite-N probability of L ≤ q (granularity: the LHP is the N → ∞ limit)
    m, w = _factor_grid()
    pmf = finite_pool_pmf(1000, pd, rho, m, w)
    finite_cdf = float(pmf[: int(math.floor(q * 1000 + 1e-9)) + 1].sum())
    empirical = float((loss <= q + 1e-12).mean())
    se = math.sqrt(alpha * (1 - alpha) / n)
    assert abs(empirical - alpha) <= 4 * se + abs(finite_cdf - alpha), (alpha, empirical, finite_cdf)
    # and the finite-N correction is small: within half a percentage point of probability at N = 1,000
    assert abs(finite_cdf - alpha) < 0.02
    assert lhp_cdf(q, pd, rho) == pytest.approx(alpha, abs=1e-12)


@pytest.mark.slow
def test_large_pool_tranche_expected_losses_match_the_vasicek_lhp(large_pool):
    deal, res, pd, rho = large_pool
    loss = res.pool_loss_rate
    assert np.allclose(res.loss[:, 1], np.minimum(loss, 0.2) / 0.2, atol=1e-9)  # the deal is a pure loss tranche
    assert np.allclose(res.loss[:, 0], np.maximum(loss - 0.2, 0.0) / 0.8, atol=1e-9)
    m, w = _factor_grid()
    pmf = finite_pool_pmf(1000, pd, rho, m, w)
    k = np.arange(1001) / 1000
    for j, (lo, hi) in enumerate(((0.2, 1.0), (0.0, 0.2))):
        el_mc = float(res.loss[:, j].mean())
        se = float(res.loss[:, j].std(ddof=1) / math.sqrt(res.n_paths))
        el_lhp = lhp_tranche_el(lo, hi, pd, rho)
        el_finite = float(np.sum(pmf * np.clip(k - lo, 0.0, hi - lo)) / (hi - lo))
        assert abs(el_mc - el_lhp) <= 4 * se + abs(el_finite - el_lhp), (j, el_mc, el_lhp, el_finite, se)
    # the pool's expected loss is the PD (mean of the LHP = PD)
    assert abs(loss.mean() - pd) < 4 * loss.std(ddof=1) / math.sqrt(res.n_paths)


@pytest.mark.slow
def test_twenty_obligor_default_counts_match_the_finite_pool_integral():
    rho, annual, n_ob = 0.3, 0.03, 20
    deal = _deal(n_ob, rho, annual)
    pd = _horizon_pd(deal, annual)
    res = simulate(deal, 100_000, 7)
    k = np.rint(res.pool_default_rate * n_ob).astype(int)
    assert np.allclose(k / n_ob, res.pool_default_rate, atol=1e-12)
    observed = np.bincount(k, minlength=n_ob + 1) / res.n_paths
    x, wh = np.polynomial.hermite.hermgauss(120)  # ∫ e^(−x²) f(x) dx ≈ Σ w f(x); M = √2 x
    pmf = finite_pool_pmf(n_ob, pd, rho, math.sqrt(2) * x, wh / math.sqrt(math.pi))
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    se = np.sqrt(pmf * (1 - pmf) / res.n_paths)
    assert np.all(np.abs(observed - pmf) <= 4.5 * se + 1e-6), np.c_[observed, pmf, se]
    # chi-square over cells with enough expected counts
    keep = pmf * res.n_paths >= 5
    chi2 = float((((observed - pmf) * res.n_paths) ** 2 / (pmf * res.n_paths))[keep].sum())
    dof = int(keep.sum()) - 1
    assert chi2 < dof + 5 * math.sqrt(2 * dof)
