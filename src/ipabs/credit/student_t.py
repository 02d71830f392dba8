"""Student-t distribution function and quantiles in numpy (scipy is not a dependency).

The distribution function of Student's t with ν degrees of freedom is, for z ≤ 0,

    F_ν(z) = ½ · I_x(ν/2, ½),    x = ν / (ν + z²),

and F_ν(z) = 1 − F_ν(−z) for z > 0, where I_x(a, b) is the regularized incomplete beta function. I_x is evaluated
by its continued fraction (modified Lentz; Press et al., *Numerical Recipes*, §6.4), using the symmetry
I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly (x > (a + 1)/(a + b + 2)). The lower tail is
computed directly, so small probabilities keep their relative accuracy (about 1e-14).

:func:`t_ppf` inverts F_ν by bisection on a bracket found by doubling, then two safeguarded Newton steps. These
run once per deal (thresholds of the Student-t copula), vectorised over the distinct probabilities.
"""

from __future__ import annotations

import math

import numpy as np

_FPMIN = 1e-300
_EPS = 1e-16
_MAXIT = 2000


def _betacf(a: float, b: float, x: np.ndarray) -> np.ndarray:
    """Continued fraction of the incomplete beta function (vectorised modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < _FPMIN, _FPMIN, d)
    d = 1.0 / d
    h = d.copy()
    active = np.ones(x.shape, dtype=bool)
    for m in range(1, _MAXIT + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < _FPMIN, _FPMIN, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < _FPMIN, _FPMIN, c)
        d = 1.0 / d
        h = np.where(active, h * d * c, h)
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < _FPMIN, _FPMIN, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < _FPMIN, _FPMIN, c)
        d = 1.0 / d
        delta = d * c
        h = np.where(active, h * delta, h)
        active &= np.abs(delta - 1.0) >= _EPS
        if not active.any():
            break
    return h


def betainc(a: float, b: float, x: np.ndarray | float, x1m: np.ndarray | float | None = None) -> np.ndarray:
    """Regularized incomplete beta function I_x(a, b) for x in [0, 1] (a, b > 0).

    ``x1m`` = 1 − x when the caller knows it more accurately than ``1 - x`` (near x = 1).
    """
    x = np.asarray(x, dtype=np.float64)
    y = 1.0 - x if x1m is None else np.broadcast_to(np.asarray(x1m, dtype=np.float64), x.shape)
    out = np.empty_like(x)
    lbeta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    inner = (x > 0.0) & (x < 1.0)
    out[x <= 0.0] = 0.0
    out[x >= 1.0] = 1.0
    xi = x[inner]
    yi = y[inner]
    with np.errstate(divide="ignore"):
        front = np.exp(a * np.log(xi) + b * np.log(yi) - lbeta)
    direct = xi < (a + 1.0) / (a + b + 2.0)
    res = np.empty_like(xi)
    if direct.any():
        res[direct] = front[direct] * _betacf(a, b, xi[direct]) / a
    if (~direct).any():
        res[~direct] = 1.0 - front[~direct] * _betacf(b, a, yi[~direct]) / b
    out[inner] = res
    return out


def t_cdf(z: np.ndarray | float, dof: float) -> np.ndarray:
    """Distribution function F_ν(z) of Student's t with ``dof`` = ν > 0 degrees of freedom."""
    z = np.asarray(z, dtype=np.float64)
    if not dof > 0:
        raise ValueError("degrees of freedom must be > 0")
    z2 = z * z
    with np.errstate(invalid="ignore"):
        x = dof / (dof + z2)
        x1m = np.where(np.isinf(z2), 1.0, z2 / (dof + z2))
    tail = 0.5 * betainc(0.5 * dof, 0.5, x, x1m)  # P(T ≤ −|z|)
    out = np.where(z <= 0.0, tail, 1.0 - tail)
    out = np.where(np.isneginf(z), 0.0, np.where(np.isposinf(z), 1.0, out))
    return out


def t_pdf(z: np.ndarray | float, dof: float) -> np.ndarray:
    """Density of Student's t with ``dof`` degrees of freedom."""
    z = np.asarray(z, dtype=np.float64)
    c = math.lgamma(0.5 * (dof + 1.0)) - math.lgamma(0.5 * dof) - 0.5 * math.log(dof * math.pi)
    return np.exp(c - 0.5 * (dof + 1.0) * np.log1p(z * z / dof))


def _lower_ppf(p: np.ndarray, dof: float) -> np.ndarray:
    """F_ν⁻¹(p) for 0 < p ≤ ½ (a value ≤ 0)."""
    lo = np.full(p.shape, -1.0)
    for _ in range(1100):  # doubling until F(lo) < p (lo reaches −inf, where F = 0, at the latest)
        bad = t_cdf(lo, dof) >= p
        if not bad.any():
            break
        lo = np.where(bad, 2.0 * lo, lo)
    hi = np.zeros_like(p)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.all((mid == lo) | (mid == hi)):
            break
        below = t_cdf(mid, dof) < p
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    z = 0.5 * (lo + hi)
    for _ in range(2):  # Newton polish, kept inside the bracket
        step = (t_cdf(z, dof) - p) / np.maximum(t_pdf(z, dof), 1e-300)
        zn = z - step
        z = np.where((zn >= lo) & (zn <= hi), zn, z)
    return z


def t_ppf(p: np.ndarray | float, dof: float) -> np.ndarray:
    """Quantile F_ν⁻¹(p) of Student's t: −inf at 0, +inf at 1, odd around ½ (relative accuracy ~1e-13)."""
    if not dof > 0 or not math.isfinite(dof):
        raise ValueError("degrees of freedom must be finite and > 0")
    p = np.asarray(p, dtype=np.float64)
    if np.any(~np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError("probabilities must lie in [0, 1]")
    out = np.zeros(p.shape)
    flat_p, flat_o = p.ravel(), out.reshape(-1)
    flat_o[flat_p <= 0.0] = -np.inf
    flat_o[flat_p >= 1.0] = np.inf
    low = (flat_p > 0.0) & (flat_p < 0.5)
    high = (flat_p > 0.5) & (flat_p < 1.0)
    if low.any():
        flat_o[low] = _lower_ppf(flat_p[low], dof)
    if high.any():
        flat_o[high] = -_lower_ppf(1.0 - flat_p[high], dof)
    return out
