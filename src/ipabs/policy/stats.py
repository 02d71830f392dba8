"""Summary statistics of Monte Carlo samples with their standard errors.

* mean, with standard error ``s / sqrt(n)`` (``s`` the sample standard deviation, ddof 1);
* quantile ``q``: the estimate is ``numpy.quantile(x, q, method="linear")`` (Hyndman–Fan type 7); its uncertainty
  is the distribution-free order-statistic interval: the ranks ``l = floor(nq − z·sqrt(nq(1−q)))`` and
  ``u = ceil(nq + z·sqrt(nq(1−q)))`` (1-based, clipped to 1…n) bound a ``1 − α`` confidence interval
  ``[x_(l), x_(u)]`` for the true quantile (normal approximation to the binomial count of draws below it,
  ``z = Φ⁻¹(1 − α/2) = 1.959964`` for 95%); the reported standard error is its half-width divided by ``z``.
  It needs no density estimate and stays valid for the lumpy distributions caps produce (it is then often 0:
  the quantile sits on an atom).
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054
PROBS = (0.5, 0.9, 0.95, 0.99)


def quantile_with_se(sorted_x: np.ndarray, q: float, z: float = Z95) -> tuple[float, float, float, float]:
    """(estimate, standard error, CI low, CI high) of quantile ``q`` of an already sorted sample."""
    n = sorted_x.shape[0]
    if n == 0:
        return (math.nan,) * 4
    est = float(np.quantile(sorted_x, q, method="linear"))
    half = z * math.sqrt(n * q * (1.0 - q))
    lo = min(max(math.floor(n * q - half), 1), n)
    hi = min(max(math.ceil(n * q + half), 1), n)
    x_lo, x_hi = float(sorted_x[lo - 1]), float(sorted_x[hi - 1])
    return est, (x_hi - x_lo) / (2.0 * z), x_lo, x_hi


def summarize(x: np.ndarray, probs=PROBS, z: float = Z95) -> dict[str, float]:
    """Mean, its SE, standard deviation, max, P(x > 0) and each quantile with SE and 95% interval."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    out: dict[str, float] = {"n": float(n)}
    out["mean"] = float(x.mean()) if n else math.nan
    sd = float(x.std(ddof=1)) if n > 1 else math.nan
    out["mean_se"] = sd / math.sqrt(n) if n > 1 else math.nan
    out["sd"] = sd
    xs = np.sort(x)
    for q in probs:
        key = f"p{round(q * 100):d}"
        est, se, lo, hi = quantile_with_se(xs, q, z)
        out[key] = est
        out[f"{key}_se"] = se
        out[f"{key}_lo"] = lo
        out[f"{key}_hi"] = hi
    out["max"] = float(xs[-1]) if n else math.nan
    out["prob_positive"] = float((x > 0).mean()) if n else math.nan
    return out


def mean_fen(x_fen: np.ndarray) -> float:
    """Exact mean of integer fen amounts, in yuan (integer sum, one division)."""
    n = x_fen.shape[0]
    return int(np.asarray(x_fen, dtype=np.int64).sum(dtype=np.int64)) / n / 100 if n else math.nan
