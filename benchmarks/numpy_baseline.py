"""The baseline a good quant would write in plain numpy: the same path model, vectorised over paths, working from
each path's defaulted obligors only.

Same inputs as the engine (thresholds, loadings, per-asset performing flows, tranche terms, fixed-rate recoveries,
all taken from :func:`ipabs.engine.montecarlo.prepare`), same model — one-global-plus-sector Gaussian copula,
default period = first period whose threshold exceeds the latent variable, pool cash = performing flows of the
survivors + recoveries, a sequential senior/subordinate waterfall with interest shortfall carried. Written for
speed within numpy (no numba, no C):

* **default periods** — normals from ``numpy.random.Generator`` (float64 ziggurat); the latent variable is
  compared with each obligor's *last* threshold first (``y < th[:, -1]``: does it default at all?), and only the
  obligors that do (≈16% on the benchmark deals) get their default period, by a binary search in their threshold
  row (one ``np.searchsorted`` per distinct PD curve);
* **pool flows** — every path starts from the all-performing pool's cash per period (one row, computed once); each
  default event (path, asset, period τ) takes away the asset's cash from τ on and adds its recovery at τ + lag.
  The events are sorted by τ, so in period t the assets lost are a prefix of the list: one ``np.bincount`` per
  period sums their cash into the paths. The work is proportional to the defaults × periods, not to
  paths × assets × periods (the dense masks of the earlier baseline);
* **waterfall** — a loop over periods, vectorised over the batch's paths, with preallocated buffers and in-place
  ufuncs (``out=``).

Paths go in batches of about :data:`BATCH_ELEMENTS` latent variables (chosen by measurement: ``python
benchmarks/numpy_baseline.py --batches`` times the batch sizes; without the flag it only runs :func:`check`).

It computes the same losses as the engine: :func:`losses_from_default_periods` takes given default periods, so
:func:`check` feeds it the engine's own (:func:`ipabs.engine.montecarlo.trace_path`) and compares the tranche
losses and pool loss rates path by path. On the synthetic benchmark deals (no fees, no triggers, pass-through
tranches) they agree within 1e-9 of the tranche face (measured: 1e-14); ``make bench`` asserts it. The random
numbers differ from the engine's (Philox), so whole runs agree within Monte Carlo error, not path by path.
"""

from __future__ import annotations

import numpy as np

#: Latent variables per batch (paths × obligors): measured with ``python benchmarks/numpy_baseline.py --batches``
#: on the 50- and 1,000-obligor benchmark deals (2-core EPYC, numpy 2.4, a shared machine, 2026-12-06): at 50
#: obligors 2,048-4,096 paths per batch were best (512 and 16,384 within 10-20%), at 1,000 obligors 1,024 (64-4,096
#: within 20%). Small batches pay numpy's per-call overhead in the period loops; large ones leave the cache.
BATCH_ELEMENTS = 2**20
#: Bounds on the paths per batch.
BATCH_MIN, BATCH_MAX = 256, 4096


def batch_size(n_obligors: int) -> int:
    """Paths per batch for a deal of ``n_obligors`` obligors (see :data:`BATCH_ELEMENTS`)."""
    return int(min(BATCH_MAX, max(BATCH_MIN, BATCH_ELEMENTS // max(1, n_obligors))))


class _Tables:
    """Per-deal tables the batches share (computed once per call of :func:`simulate_numpy`)."""

    def __init__(self, prep) -> None:
        ci, pa, d = prep.credit, prep.pa, prep.d
        self.th = np.ascontiguousarray(ci.thresholds[ci.th_row])  # [O, T]
        self.th_last = np.ascontiguousarray(self.th[:, -1])
        # distinct threshold rows (one per PD curve): default periods by binary search when they are few and rising
        rows, row_of = np.unique(self.th, axis=0, return_inverse=True)
        rising = bool(np.all(np.diff(rows, axis=1) >= 0))
        self.rows, self.row_of = (rows, row_of.ravel()) if rising and len(rows) <= 64 else (None, None)
        self.a = ci.g_a[ci.group]
        self.s = ci.g_s[ci.group]
        self.b = ci.g_b[ci.group]
        self.sector = ci.g_sector[ci.group]
        self.n_sectors = int(ci.n_sectors)
        self.ob = np.asarray(ci.asset_obligor)
        self.n_ob, self.n_t = self.th.shape
        self.n_a = self.ob.shape[0]
        # obligor -> its assets (CSR); one asset per obligor on the synthetic deals
        order = np.argsort(self.ob, kind="stable")
        self.ob_assets = order
        self.ob_start = np.searchsorted(self.ob[order], np.arange(self.n_ob + 1))
        self.one_asset_each = self.n_a == self.n_ob and bool(np.all(self.ob == np.arange(self.n_a)))
        cf = pa.a_int + pa.a_prin  # [N, T] performing cash of each asset
        self.cash_all = cf.sum(axis=0)  # the all-performing pool's cash per period
        t = np.arange(self.n_t)
        self.cf_t = np.ascontiguousarray(cf.T)  # [T, N]: one period's row is contiguous
        self.t = t
        self.bal_start = np.ascontiguousarray(pa.a_bal_start)
        self.rate = float(ci.fixed_rate)
        self.lag = int(ci.lag)
        self.face = np.asarray(d.tr_bal0, dtype=np.float64)
        self.coupon = np.asarray(d.tr_coupon, dtype=np.float64)
        self.yf = np.asarray(d.yf, dtype=np.float64)
        self.pool_bal0 = float(d.pool_bal0)


def _default_events(tb: _Tables, rng: np.random.Generator, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Default events of ``p`` paths: (path, asset, period) for every asset whose obligor defaults in the deal."""
    m = rng.standard_normal(p)
    sf = rng.standard_normal((p, tb.n_sectors))
    y = rng.standard_normal((p, tb.n_ob))
    y *= tb.b
    y += tb.a * m[:, None]
    y += tb.s * sf[:, tb.sector]
    flat = np.flatnonzero(y < tb.th_last)  # defaults by the last period at all
    pi, oi = np.divmod(flat, tb.n_ob)
    # default period: the number of periods whose threshold the latent variable is at or above (thresholds rise
    # with the period: a binary search in the obligor's threshold row, one search per distinct row)
    yv = y.ravel()[flat]
    if tb.row_of is None:
        tau = (yv[:, None] >= tb.th[oi]).sum(axis=1)
    else:
        rows = tb.row_of[oi]
        tau = np.empty(yv.size, dtype=np.int64)
        for r, row in enumerate(tb.rows):
            sel = rows == r if len(tb.rows) > 1 else slice(None)
            tau[sel] = np.searchsorted(row, yv[sel], side="right")
    if tb.one_asset_each:
        return pi, oi, tau
    counts = tb.ob_start[oi + 1] - tb.ob_start[oi]
    pe = np.repeat(pi, counts)
    te = np.repeat(tau, counts)
    first = np.repeat(tb.ob_start[oi], counts)
    within = np.arange(pe.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return pe, tb.ob_assets[first + within], te


def pool_flows(tb: _Tables, p: int, pe: np.ndarray, ae: np.ndarray, te: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cash available per period and path [T, p], and each path's defaulted and recovered amounts [p]."""
    n_t = tb.n_t
    live = te < n_t
    pe, ae, te = pe[live], ae[live], te[live]
    # events sorted by default period: in period t the assets lost are a prefix of the list
    order = np.argsort(te, kind="stable")
    pe, ae, te = pe[order], ae[order], te[order]
    ends = np.searchsorted(te, tb.t, side="right")
    cash = np.empty((n_t, p))
    for t in range(n_t):
        k = ends[t]
        cash[t] = np.bincount(pe[:k], weights=tb.cf_t[t][ae[:k]], minlength=p)
    np.subtract(tb.cash_all[:, None], cash, out=cash)
    dflt = tb.bal_start[ae, te]
    rec_t = te + tb.lag
    on = rec_t < n_t
    rec = tb.rate * dflt[on]
    cash += np.bincount(rec_t[on] * p + pe[on], weights=rec, minlength=n_t * p).reshape(n_t, p)
    defaulted = np.bincount(pe, weights=dflt, minlength=p)
    recovered = np.bincount(pe[on], weights=rec, minlength=p)
    return cash, defaulted, recovered


def waterfall_losses(tb: _Tables, cash: np.ndarray) -> np.ndarray:
    """Tranche loss fractions [p, 2] of a sequential senior/subordinate pass-through pair paid from ``cash`` [T, p]."""
    n_t, p = cash.shape
    b0 = np.full(p, tb.face[0])
    b1 = np.full(p, tb.face[1])
    short = np.zeros(p)
    due, c, x = np.empty(p), np.empty(p), np.empty(p)
    cash_t = cash
    for t in range(n_t):
        np.multiply(b0, tb.coupon[0] * tb.yf[t], out=due)
        due += short
        np.minimum(cash_t[t], due, out=x)  # interest paid
        np.subtract(cash_t[t], x, out=c)
        np.subtract(due, x, out=short)
        np.minimum(c, b0, out=x)  # senior principal
        b0 -= x
        c -= x
        np.minimum(c, b1, out=x)  # subordinate principal, once the senior is repaid
        x *= b0 <= 0.005
        b1 -= x
    return np.stack([b0 / tb.face[0], b1 / tb.face[1]], axis=1)


def simulate_numpy(deal, prep, n_paths: int, seed: int, batch: int | None = None):  # noqa: ARG001
    """Tranche loss fractions f8[n, 2] and pool loss rates f8[n] for ``n_paths`` paths (``deal`` is unused: the
    engine's signature)."""
    tb = _Tables(prep)
    batch = batch or batch_size(tb.n_ob)
    rng = np.random.default_rng(seed)
    losses = np.empty((n_paths, 2))
    pool_loss = np.empty(n_paths)
    for start in range(0, n_paths, batch):
        p = min(batch, n_paths - start)
        pe, ae, te = _default_events(tb, rng, p)
        cash, defaulted, recovered = pool_flows(tb, p, pe, ae, te)
        losses[start:start + p] = waterfall_losses(tb, cash)
        pool_loss[start:start + p] = (defaulted - recovered) / tb.pool_bal0
    return losses, pool_loss


def losses_from_default_periods(prep, asset_default_period: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The baseline's tranche loss fractions [p, 2] and pool loss rates [p] for given default periods i8[p, N]
    (``n_periods`` = survives) — for comparing it with the engine path by path on the engine's own draws."""
    tb = _Tables(prep)
    tau = np.asarray(asset_default_period)
    p = tau.shape[0]
    pe, ae = np.nonzero(tau < tb.n_t)
    cash, defaulted, recovered = pool_flows(tb, p, pe, ae, tau[pe, ae])
    return waterfall_losses(tb, cash), (defaulted - recovered) / tb.pool_bal0


def check(n_obligors: int = 50, n_paths: int = 400, seed: int = 11) -> float:
    """Largest difference, as a fraction of the tranche face, between the baseline's and the engine's tranche losses
    on the engine's own default periods (``n_paths`` paths of the benchmark deal)."""
    from conftest import BASE_CASE
    from ipabs.credit.synthetic import synthetic_deal
    from ipabs.engine.montecarlo import prepare, simulate, trace_path

    deal = synthetic_deal(n_obligors=n_obligors, **BASE_CASE)
    prep = prepare(deal)
    eng = simulate(deal, n_paths, seed, prepared=prep, statistics="losses", threads=1)
    tau = np.stack([trace_path(deal, seed, i, prepared=prep).asset_default_period for i in range(n_paths)])
    loss, pool = losses_from_default_periods(prep, tau)
    return float(max(np.abs(loss - eng.loss).max(), np.abs(pool - eng.pool_loss_rate).max()))


if __name__ == "__main__":  # python benchmarks/numpy_baseline.py [--batches]
    import sys
    import time

    from conftest import base_case
    from ipabs.engine.montecarlo import prepare

    print(f"largest difference from the engine on its own default periods: {check():.2e} of the tranche face")
    if "--batches" in sys.argv:
        for n_ob, n in ((50, 40_000), (1000, 6_000)):
            deal = base_case(n_ob)
            prep = prepare(deal)
            for batch in (512, 1024, 2048, 4096, 8192, 16384, 32768):
                times = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    simulate_numpy(deal, prep, n, 1, batch)
                    times.append(time.perf_counter() - t0)
                print(f"{n_ob:5d} obligors, batch {batch:6d}: {n / min(times):12,.0f} paths/s", flush=True)
