"""The yield lanes (ipabs.kernels.yields, docs/performance.md item 26) give path_yield's numbers bit for bit.

Eight Newton solves run in lockstep on vector registers; each lane must perform path_yield's operations in the same
order. Checked on random cash flows (zeros inside and at the end, nothing paid, yields near both ends of the bracket,
solves that need many iterations and finish alone), on three period grids (monthly day counts, quarterly day counts
of 64 days or more, and period lengths that are not whole days), through the C function generated for each grid (as
the Monte Carlo calls it) and through the general solver, and with queues that do not fill a batch (flushed at the
end).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from ipabs.compile.codegen import specialised_yield_lanes
from ipabs.kernels.paths import StatInputs
from ipabs.kernels.yields import (
    LANES,
    _cf_sums,
    lanes_flush,
    lanes_push,
    lanes_solve,
    path_yield,
    yield_lanes,
)


def _grid(kind: str, n_t: int, rng: np.random.Generator) -> StatInputs:
    """The yield inputs of a period grid (the engine's own StatInputs: a kernel cached for a type defined here
    would leave that type in numba's on-disk index)."""
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
    hi = np.ones(2)
    return StatInputs(tau, np.array([100.0, 98.5]), freq, idx.astype(np.int64), inc_val.astype(float), inc_units,
                      unit, hi, hi)


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
def _lanes(cf, g, out):
    n, n_t = cf.shape[1], cf.shape[2]
    yl = yield_lanes(2, n_t, g)
    for p in range(n):
        for k in range(2):
            tot, mom, last = _cf_sums(cf[k, p], g.tau_years)
            lanes_push(yl, k, p, cf[k, p], tot, mom, last, g.price[k], out)
    lanes_flush(yl, g, out)
    return yl.ok[0]


@pytest.mark.parametrize("kind", ["monthly", "quarterly", "fractional"])
@pytest.mark.parametrize("n", [LANES * 40, LANES * 40 + 5])
def test_lanes_equal_path_yield_bit_for_bit(kind, n):
    rng = np.random.default_rng(7 + n)
    n_t = 60 if kind != "quarterly" else 24
    g = _grid(kind, n_t, rng)
    g = g._replace(yl_addr=specialised_yield_lanes(g))  # the solver generated for this grid, as the Monte Carlo uses
    assert g.yl_addr != 0
    cf = np.stack([_cash_flows(n, n_t, rng), _cash_flows(n, n_t, rng)])  # [k, p, t]
    out = np.full((n, 2), np.nan)
    assert _lanes(cf, g, out) == 1
    for k in range(2):
        ref = _reference(cf[k], g, k)
        assert np.array_equal(out[:, k].view(np.int64), ref.view(np.int64)), kind
    assert (out == -1.0).sum() >= 2 * (n // 7)  # the rows paying nothing
    assert out.min() > -12.0 and np.isfinite(out).all()


@pytest.mark.parametrize("kind", ["monthly", "fractional"])
def test_the_general_solver_equals_path_yield(kind):
    """lanes_solve with the grid in arrays (the body the generated C function runs with the grid as constants)."""
    rng = np.random.default_rng(3)
    g = _grid(kind, 60, rng)
    cf = _cash_flows(LANES * 20, 60, rng)
    out = np.full((cf.shape[0], 1), np.nan)
    _general(cf, g, out)
    ref = _reference(cf, g, 0)
    assert np.array_equal(out[:, 0].view(np.int64), ref.view(np.int64))


def _late_starters(n: int, n_t: int, rng: np.random.Generator) -> np.ndarray:
    """Cash flows that start late, as a subordinated tranche's do (paid nothing until the seniors are repaid): every
    lane of a batch starts at period 10 or later (a batch's sums add only ±0 for its first periods); some rows carry
    negative zeros before their start, a few pay nothing at all."""
    cf = np.zeros((n, n_t))
    for p in range(n):
        start = rng.integers(10, n_t)
        cf[p, start:] = rng.uniform(0.5, 30.0, n_t - start) * (rng.random(n_t - start) < 0.8)
        cf[p, start] += 1.0
        if p % 5 == 1:
            cf[p, :start] = -0.0
        elif p % 11 == 3:
            cf[p] = 0.0
    return cf


@pytest.mark.parametrize("kind", ["monthly", "quarterly", "fractional"])
def test_lanes_that_all_start_late_equal_path_yield(kind):
    rng = np.random.default_rng(11)
    n_t = 60 if kind != "quarterly" else 24
    g = _grid(kind, n_t, rng)
    cf = _late_starters(LANES * 30 + 3, n_t, rng)
    ref = _reference(cf, g, 0)
    out = np.full((cf.shape[0], 1), np.nan)
    _general(cf, g, out)  # the general solver (full batches)
    n_full = LANES * 30
    assert np.array_equal(out[:n_full, 0].view(np.int64), ref[:n_full].view(np.int64)), kind
    gen = g._replace(yl_addr=specialised_yield_lanes(g))  # the generated one, the last batch flushed part-full
    both = np.stack([cf, _late_starters(cf.shape[0], n_t, rng)])
    out2 = np.full((cf.shape[0], 2), np.nan)
    assert _lanes(both, gen, out2) == 1
    for k in range(2):
        assert np.array_equal(out2[:, k].view(np.int64), _reference(both[k], g, k).view(np.int64)), kind


@nb.njit
def _general(cf, g, out):
    yl = yield_lanes(1, cf.shape[1], g)
    for p in range(cf.shape[0]):
        tot, mom, last = _cf_sums(cf[p], g.tau_years)
        lane = yl.n[0]
        for t in range(cf.shape[1]):
            yl.cf[0, t, lane] = cf[p, t]
        yl.tot[0, lane] = tot
        yl.mom[0, lane] = mom
        yl.last[0, lane] = last
        yl.row[0, lane] = p
        yl.n[0] = lane + 1
        if lane + 1 == LANES:
            lanes_solve(yl, 0, g.price[0], g.tau_years, g.freq, g.inc_idx, g.inc_val, g.inc_units, g.unit, out)


def test_lanes_refused_where_a_discount_factor_could_overflow():
    rng = np.random.default_rng(1)
    short = _grid("monthly", 60, rng)
    long = _grid("monthly", 600, rng)  # 50 years monthly: e^(4.6 · 600) overflows at the bracket's low end
    assert yield_lanes(2, 60, short).ok[0] == 1
    assert yield_lanes(2, 600, long).ok[0] == 0
    assert specialised_yield_lanes(short) != 0
    assert specialised_yield_lanes(long) == 0  # the Monte Carlo then solves two at a time (path_yield2)
