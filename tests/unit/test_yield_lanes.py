"""The yield lanes (ipabs.kernels.yields, docs/performance.md item 26) give path_yield's numbers bit for bit.

Eight Newton solves run in lockstep on vector registers; each lane must perform path_yield's operations in the same
order. Checked on random cash flows (zeros inside and at the end, nothing paid, yields near both ends of the bracket,
solves that need many iterations and finish alone), on three period grids (monthly day counts, quarterly day counts
of 64 days or more, and period lengths that are not whole days), with the base path's prefix, and with queues that
do not fill a batch (flushed at the end).
"""

from __future__ import annotations

from collections import namedtuple

import numba as nb
import numpy as np
import pytest

from ipabs.kernels.yields import LANES, _cf_sums, lanes_flush, lanes_push, path_yield, yield_lanes

Inputs = namedtuple("Inputs", "inc_val inc_units inc_idx freq tau_years price unit")


def _grid(kind: str, n_t: int, rng: np.random.Generator) -> Inputs:
    if kind == "monthly":  # act/365F, 12 a year: whole days
        days = rng.integers(28, 32, n_t)
        freq, unit = 12.0, 12.0 / 365.0
    elif kind == "quarterly":  # 89-92 days: binary powers past 2^6
        days = rng.integers(89, 93, n_t)
        freq, unit = 4.0, 4.0 / 365.0
    else:  # not whole days: one exp per distinct period length
        days = rng.integers(28, 32, n_t) + 0.37
        freq, unit = 12.0, 0.0
    lengths, idx = np.unique(days, return_inverse=True)
    inc_val = lengths * freq / 365.0
    inc_units = lengths.astype(np.int64) if unit > 0.0 else np.zeros(len(lengths), dtype=np.int64)
    tau = np.cumsum(days) / 365.0
    return Inputs(inc_val.astype(float), inc_units, idx.astype(np.int64), freq, tau, np.array([100.0, 98.5]), unit)


def _cash_flows(n: int, n_t: int, rng: np.random.Generator) -> np.ndarray:
    cf = np.zeros((n, n_t))
    for p in range(n):
        kind = p % 7
        coupon = rng.uniform(0.1, 1.5)
        row = np.full(n_t, coupon)
        end = rng.integers(1, n_t + 1)
        row[end - 1] += 100.0 * rng.uniform(0.5, 1.2)
        row[end:] = 0.0
        if kind == 1:
            row[rng.random(n_t) < 0.3] = 0.0  # gaps
        elif kind == 2:
            row *= 1e-4  # almost nothing repaid: a yield near −99%
        elif kind == 3:
            row[:] = 0.0  # nothing paid: −1
        elif kind == 4:
            row[:3] += 400.0  # a yield far above the coupon
        elif kind == 5:
            row = rng.uniform(0.0, 30.0, n_t) * (rng.random(n_t) < 0.5)  # irregular, starts anywhere
        elif kind == 6:
            row[: n_t // 2] = -0.0  # negative zeros before the first payment
        cf[p] = row
    return cf


@nb.njit
def _reference(cf, g, k):
    out = np.empty(cf.shape[0])
    pw = np.empty(g.inc_val.shape[0])
    for p in range(cf.shape[0]):
        out[p] = path_yield(cf[p], g.tau_years, g.price[k], g.freq, g.inc_idx, g.inc_val, g.inc_units, g.unit, pw)
    return out


@nb.njit
def _lanes(cf, true_cf, base_cf, t0, g, out):
    n, n_t = cf.shape[1], cf.shape[2]
    yl = yield_lanes(2, n_t, g)
    for p in range(n):
        for k in range(2):
            tot, mom, last = _cf_sums(true_cf[k, p], g.tau_years)
            lanes_push(yl, k, p, t0[p], base_cf[p], cf[k, p], tot, mom, last, g.price[k], g.tau_years, g.freq,
                       g.inc_idx, g.inc_val, g.inc_units, g.unit, out)
    lanes_flush(yl, g, out)
    return yl.ok[0]


@pytest.mark.parametrize("kind", ["monthly", "quarterly", "fractional"])
@pytest.mark.parametrize("n", [LANES * 40, LANES * 40 + 5])
def test_lanes_equal_path_yield_bit_for_bit(kind, n):
    rng = np.random.default_rng(7 + n)
    n_t = 60 if kind != "quarterly" else 24
    g = _grid(kind, n_t, rng)
    cf = np.stack([_cash_flows(n, n_t, rng), _cash_flows(n, n_t, rng)])  # [k, p, t]
    # the base path's prefix: the lanes read periods before t0 from base_cf[p][t, k], later ones from cf[k, p]
    t0 = rng.integers(0, n_t + 1, n)
    base_cf = np.zeros((n, n_t, 2))
    queued = cf.copy()
    for p in range(n):
        base_cf[p, : t0[p], :] = cf[:, p, : t0[p]].T
        queued[:, p, : t0[p]] = 12345.0  # never read
    out = np.full((n, 2), np.nan)
    assert _lanes(queued, cf, base_cf, t0, g, out) == 1
    for k in range(2):
        ref = _reference(cf[k], g, k)
        assert np.array_equal(out[:, k].view(np.int64), ref.view(np.int64)), kind
    assert (out == -1.0).sum() >= 2 * (n // 7)  # the rows paying nothing
    assert out.min() > -12.0 and np.isfinite(out).all()


def test_lanes_refused_where_a_discount_factor_could_overflow():
    rng = np.random.default_rng(1)
    short = _grid("monthly", 60, rng)
    long = _grid("monthly", 600, rng)  # 50 years monthly: e^(4.6 · 600) overflows at the bracket's low end
    assert yield_lanes(2, 60, short).ok[0] == 1
    assert yield_lanes(2, 600, long).ok[0] == 0
