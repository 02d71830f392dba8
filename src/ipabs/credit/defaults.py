"""The correlated default model as a library: PD curves → thresholds → default periods per path.

Thin Python over :mod:`ipabs.kernels.defaults`; see that module for the copula and docs/methodology/copula.md.
Student-t thresholds use :func:`ipabs.credit.student_t.t_ppf` (no scipy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ipabs.credit.student_t import t_ppf
from ipabs.kernels.defaults import default_periods_paths
from ipabs.kernels.normal import norm_ppf


@dataclass(frozen=True)
class CopulaLayout:
    """Loading groups of a one-global-plus-sector-factors Gaussian copula (arrays for the kernel)."""

    group: np.ndarray  # int64[n_obligors]
    g_a: np.ndarray  # float64[n_groups] global loading sqrt(rho)
    g_s: np.ndarray  # float64[n_groups] sector loading sqrt(rho_sector)
    g_b: np.ndarray  # float64[n_groups] idiosyncratic loading
    g_sector: np.ndarray  # int64[n_groups]
    n_sectors: int


def copula_layout(sector: np.ndarray, rho: np.ndarray | float, sector_rho: np.ndarray | float) -> CopulaLayout:
    """Group obligors by (sector, rho, sector_rho).

    ``rho`` is the asset correlation with the global factor (loading ``sqrt(rho)``); ``sector_rho`` the extra
    correlation within a sector. ``rho + sector_rho`` must be below 1.
    """
    sector = np.asarray(sector, dtype=np.int64)
    n = sector.shape[0]
    rho_a = np.broadcast_to(np.asarray(rho, dtype=np.float64), (n,))
    srho_a = np.broadcast_to(np.asarray(sector_rho, dtype=np.float64), (n,))
    if np.any(rho_a < 0) or np.any(srho_a < 0) or np.any(rho_a + srho_a >= 1.0):
        raise ValueError("correlations must satisfy 0 <= rho, 0 <= sector_rho and rho + sector_rho < 1")
    if n and sector.min() < 0:
        raise ValueError("sector indices must be >= 0")
    keys: dict[tuple[int, float, float], int] = {}
    group = np.empty(n, dtype=np.int64)
    for i in range(n):
        k = (int(sector[i]), float(rho_a[i]), float(srho_a[i]))
        group[i] = keys.setdefault(k, len(keys))
    ks = sorted(keys, key=keys.get)
    g_a = np.sqrt(np.array([k[1] for k in ks], dtype=np.float64))
    g_s = np.sqrt(np.array([k[2] for k in ks], dtype=np.float64))
    g_b = np.sqrt(np.maximum(0.0, 1.0 - g_a**2 - g_s**2))
    g_sector = np.array([k[0] for k in ks], dtype=np.int64)
    n_sectors = int(sector.max()) + 1 if n else 0
    return CopulaLayout(group, g_a, g_s, g_b, g_sector, n_sectors)


def thresholds_from_cumulative_pd(cum_pd: np.ndarray, dof: float = 0.0) -> np.ndarray:
    """c[i, t] = Φ⁻¹(cumPD[i, t]) (or the Student-t(``dof``) quantile when ``dof`` > 0); checks that each row is
    non-decreasing and inside [0, 1]."""
    cum_pd = np.asarray(cum_pd, dtype=np.float64)
    if cum_pd.ndim != 2:
        raise ValueError("cum_pd must be 2-D [n_obligors, n_periods]")
    if np.any(~np.isfinite(cum_pd)) or np.any(cum_pd < 0) or np.any(cum_pd > 1):
        raise ValueError("cumulative PDs must lie in [0, 1]")
    if np.any(np.diff(cum_pd, axis=1) < 0):
        raise ValueError("cumulative PDs must not decrease with time")
    if dof > 0:
        values, inverse = np.unique(cum_pd, return_inverse=True)
        return t_ppf(values, dof)[inverse].reshape(cum_pd.shape)
    out = np.empty_like(cum_pd)
    flat_in, flat_out = cum_pd.ravel(), out.ravel()
    for k in range(flat_in.shape[0]):
        flat_out[k] = norm_ppf(flat_in[k])
    return out


def threshold_rows(thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a threshold matrix and the row of each obligor (equal PD curves share a row)."""
    if thresholds.shape[0] == 0:
        return np.zeros((0, thresholds.shape[1])), np.zeros(0, dtype=np.int64)
    rows, inverse = np.unique(thresholds, axis=0, return_inverse=True)
    return np.ascontiguousarray(rows), inverse.reshape(-1).astype(np.int64)


def group_cmax(layout: CopulaLayout, thresholds: np.ndarray) -> np.ndarray:
    """Largest final threshold per loading group (the screening bound)."""
    n_groups = layout.g_a.shape[0]
    cmax = np.full(n_groups, -np.inf)
    if thresholds.shape[1]:
        np.maximum.at(cmax, layout.group, thresholds[:, -1])
    return cmax


def sample_default_periods(
    cum_pd: np.ndarray, layout: CopulaLayout, n_paths: int, seed: int, path0: int = 0, dof: float = 0.0
) -> np.ndarray:
    """Default period per path and obligor, int16[n_paths, n_obligors]; ``n_periods`` means no default.

    Path p's draws depend only on (seed, p): any split of [path0, path0 + n_paths) into chunks gives the same rows.
    ``dof`` > 0 selects the Student-t copula with that many degrees of freedom.
    """
    if dof < 0 or not np.isfinite(dof):
        raise ValueError("degrees of freedom must be finite and > 0 (0 = Gaussian copula)")
    th = thresholds_from_cumulative_pd(cum_pd, dof)
    n_obligors, n_periods = th.shape
    if n_periods >= np.iinfo(np.int16).max:
        raise ValueError("too many periods for int16 output")
    out = np.empty((n_paths, n_obligors), dtype=np.int16)
    if n_paths == 0 or n_obligors == 0:
        out[:] = n_periods
        return out
    rows, th_row = threshold_rows(th)
    default_periods_paths(
        np.uint64(seed), np.int64(path0), rows, th_row, layout.group, layout.g_a, layout.g_s, layout.g_b,
        layout.g_sector, group_cmax(layout, th), np.int64(layout.n_sectors), float(dof), out,
    )
    return out


def sample_default_years(
    pd_annual: np.ndarray,
    sector: np.ndarray,
    rho: float,
    sector_rho: float,
    n_years: int,
    n_paths: int,
    seed: int,
    path0: int = 0,
    dof: float = 0.0,
) -> np.ndarray:
    """0-based year in which each obligor defaults, or ``n_years`` if it survives; int16[n_paths, n_obligors].

    Constant annual PD per obligor: cumPD(y) = 1 − (1 − pd)^(y + 1). ``dof`` > 0: Student-t copula.
    """
    pd_annual = np.asarray(pd_annual, dtype=np.float64)
    if np.any(~np.isfinite(pd_annual)) or np.any(pd_annual < 0) or np.any(pd_annual > 1):
        raise ValueError("annual PDs must lie in [0, 1]")
    years = np.arange(1, n_years + 1, dtype=np.float64)
    cum = 1.0 - (1.0 - pd_annual[:, None]) ** years[None, :]
    return sample_default_periods(cum, copula_layout(sector, rho, sector_rho), n_paths, seed, path0, dof)
