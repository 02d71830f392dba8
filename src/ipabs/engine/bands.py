"""Per-period percentile bands of the Monte Carlo: histogram layout and quantiles exact at point masses (decision 019).

Each path adds one count per period and tranche to a balance histogram and a payment histogram (the kernel's
``simulate_path``/``add_base_counts``; integer counts, so the bands do not depend on threads or chunking). The layout of
those histograms is chosen here, without changing the kernel:

* **balance**: ``N_REGULAR`` equal bins on [0, face) (width face / 1,000), one bin holding the balances equal to the
  face (``FACE_BIN``: a balance never exceeds its face, and ``hi`` is set so that the face falls exactly into it),
  and one bin no balance can reach (``BASE_BIN``) into which the base path's bin index is redirected — so it counts
  exactly the rows equal to the base (no-default) path's, which the kernel counts apart (``cnt_same``) anyway;
* **payment**: ``N_REGULAR + 2`` equal bins on [0, hi), hi from the larger of 1.2 × face and 1.2 × the base path's
  largest payment (a residual tranche's last payment can be many times its face), values above in the last bin. The
  rows equal to the base path are in the base payment's bin; their number is the balance histogram's ``BASE_BIN``
  count, so they are taken out of that bin and become a point mass at the base payment.

The quantile of a period's distribution is then exact — the value itself, to the fen — when it falls on a point
mass (the base path's value, the face), even when the histogram bin around that value also holds other paths (both
orders of the point mass and that bin's paths are tried; only a value both give is exact). Otherwise it is the
mid-point of its bin (0 in the first bin, where repaid balances and unpaid periods lie), rounded to a power of ten
no larger than the bin width, and the row states its resolution: the bin width, a bound on the distance to the
exact sample quantile.
"""

from __future__ import annotations

import math

import numpy as np

#: Equal-width bins of each histogram (the resolution of a band value that is not a point mass: 0.1% of the face).
N_REGULAR = 1000
#: Bins of each histogram as allocated: the regular bins, the face bin and the base-path bin (balance histogram).
N_HIST = N_REGULAR + 2
FACE_BIN = N_REGULAR
BASE_BIN = N_REGULAR + 1
#: Payment histogram range: this multiple of the larger of the face and the base path's largest payment.
CASH_HEADROOM = 1.2
#: Quantiles of the bands (columns ``*_p5``, ``*_p50``, ``*_p95``).
BAND_QUANTILES = (0.05, 0.5, 0.95)


def _bin(x: float, hi: float, nb: int) -> int:
    """The kernel's ``hist_bin`` (same floating-point operations)."""
    from ipabs.kernels.paths import hist_bin

    return int(hist_bin(float(x), float(hi), int(nb)))


def balance_hi(face: float) -> float:
    """Upper edge of the balance histogram: ``N_REGULAR`` bins of width face/N_REGULAR below the face, the face
    itself in ``FACE_BIN`` (the largest such edge, found by stepping down from face · N_HIST / N_REGULAR)."""
    f = max(float(face), 1.0)
    hi = f * N_HIST / N_REGULAR
    while _bin(f, hi, N_HIST) < FACE_BIN:
        hi = math.nextafter(hi, 0.0)
    return hi


def cash_hi(face: float, base_max_payment: float) -> float:
    """Upper edge of the payment histogram (regular bins of width scale · CASH_HEADROOM / N_REGULAR)."""
    scale = max(float(face), float(base_max_payment), 1.0)
    return scale * CASH_HEADROOM * N_HIST / N_REGULAR


def layout(stats, base, base_out, faces: np.ndarray):
    """``stats`` with the bands' histogram edges and ``base`` with its balance bins redirected to ``BASE_BIN`` and
    its payment bins placed by those edges (after the kernel's ``base_path``, which does not read the edges for
    anything else)."""
    from ipabs.kernels.paths import hist_bin

    paid = base_out.tr_int_paid + base_out.tr_prin_paid + base_out.tr_resid
    face = np.asarray(faces, dtype=np.float64)
    n_tranches = face.shape[0]
    b_hi = np.array([balance_hi(face[k]) for k in range(n_tranches)], dtype=np.float64)
    c_hi = np.array([cash_hi(face[k], float(paid[:, k].max()) if paid.shape[0] else 0.0) for k in range(n_tranches)],
                    dtype=np.float64)
    stats = stats._replace(bal_hi=b_hi, cash_hi=c_hi)
    base.bin_bal[...] = BASE_BIN
    for t in range(paid.shape[0]):
        for k in range(n_tranches):
            base.bin_cash[t, k] = hist_bin(float(paid[t, k]), float(c_hi[k]), np.int64(N_HIST))
    return stats, base


def _fen(x: float) -> float:
    return math.floor(x * 100.0 + 0.5) / 100.0


def _step(width: float) -> float:
    """A power of ten no larger than ``width`` (at least a fen): the rounding of an inexact band value."""
    if not width > 0.0:
        return 0.01
    return max(0.01, 10.0 ** math.floor(math.log10(width)))


def quantiles(regular: np.ndarray, width: float, atoms: list[tuple[float, int]], hi: float, n_hist: int,
              qs: tuple[float, ...] = BAND_QUANTILES) -> tuple[list[float], float]:
    """Quantiles of a distribution given as counts of equal bins (``regular``, bin j = [j·width, (j+1)·width),
    the last one open above) and point masses ``atoms`` (value, count), placed in the bins of the kernel's
    ``hist_bin(value, hi, n_hist)``, and the resolution of the values returned
    (0 when every one is a point mass, else ``width``).

    A quantile is the lowest value whose cumulative count reaches q × total (as ``numpy.quantile(method=
    "inverted_cdf")`` on the paths). Point masses inside a bin are placed before and after that bin's own paths; a
    quantile is exact when both orders give the same point mass, else it is the bin's mid-point (0 in the first
    bin) rounded to a power of ten ≤ width. Values are non-decreasing in q."""
    regular = np.asarray(regular, dtype=np.int64)
    atoms = [(float(v), int(c)) for v, c in atoms if c > 0]
    total = int(regular.sum()) + sum(c for _, c in atoms)
    if total == 0:
        return [0.0] * len(qs), 0.0
    nb = regular.shape[0]
    step = _step(width)

    def bin_value(j: int) -> float:
        return 0.0 if j == 0 else round(((j + 0.5) * width) / step) * step

    def order(before: bool) -> list[tuple[float, float, int, int]]:
        # (bin, tie, count, atom index or -1): a point mass inside bin j sorts before (tie 0) or after (tie 1) the
        # bin's own paths; one on the bin's lower edge, or beyond every regular bin, is never ambiguous
        nz = np.flatnonzero(regular)
        items = [(float(j), 0.5, int(c), -1) for j, c in zip(nz.tolist(), regular[nz].tolist(), strict=True)]
        for i, (v, c) in enumerate(atoms):
            j = _bin(v, hi, n_hist)  # the kernel's bin of v (the histogram's layout)
            on_edge = j < nb and v <= j * width
            items.append((float(j), 0.0 if (before or on_edge) else 1.0, c, i))
        items.sort(key=lambda x: (x[0], x[1], atoms[x[3]][0] if x[3] >= 0 else 0.0))
        return items

    def pick(items, q: float) -> tuple[int, int]:
        need = q * total
        cum = 0
        for j, _, c, i in items:
            cum += c
            if cum >= need:
                return int(j), i
        j, _, _, i = items[-1]
        return int(j), i

    a_items, b_items = order(True), order(False)
    values: list[float] = []
    exact: list[bool] = []
    for q in qs:
        (ja, ia), (jb, ib) = pick(a_items, q), pick(b_items, q)
        if ia >= 0 and ib >= 0 and atoms[ia][0] == atoms[ib][0]:  # one value (the face may also be the base's)
            values.append(_fen(atoms[ia][0]))
            exact.append(True)
        else:
            j = ja if ia < 0 else jb if ib < 0 else min(ja, nb - 1)
            values.append(bin_value(min(j, nb - 1)))
            exact.append(False)
    # an inexact value lies within its bin: keep the bands ordered without moving an exact value
    for i in range(1, len(values)):
        if not exact[i]:
            values[i] = max(values[i], values[i - 1])
    for i in range(len(values) - 2, -1, -1):
        if not exact[i]:
            values[i] = min(values[i], values[i + 1])
    return values, (0.0 if all(exact) else float(width))


def period_bands(h_bal: np.ndarray, h_cash: np.ndarray, face: float, bal_hi: float, cash_hi_: float,
                 base_balance: float, base_payment: float) -> tuple[list[float], float, list[float], float]:
    """Balance and payment quantiles (5/50/95%) of one period and tranche with their resolutions."""
    h_bal = np.asarray(h_bal, dtype=np.int64)
    h_cash = np.asarray(h_cash, dtype=np.int64).copy()
    w_bal = bal_hi / N_HIST
    w_cash = cash_hi_ / N_HIST
    n_base = int(h_bal[BASE_BIN])
    bal_atoms = [(max(float(face), 0.0), int(h_bal[FACE_BIN])), (float(base_balance), n_base)]
    bq, bres = quantiles(h_bal[:N_REGULAR], w_bal, bal_atoms, bal_hi, N_HIST)
    if n_base:
        j = _bin(base_payment, cash_hi_, N_HIST)
        h_cash[j] -= n_base
    cq, cres = quantiles(h_cash, w_cash, [(float(base_payment), n_base)], cash_hi_, N_HIST)
    return bq, bres, cq, cres
