"""The Monte Carlo engine: correlated defaults of every obligor and support provider, IP-disposal recoveries, and
the deal's waterfall on every path (docs/methodology/monte-carlo.md).

``simulate(deal, n_paths, seed)`` is a pure function of the compiled deal, the seed and the path range
``[path0, path0 + n_paths)``. Path p's random numbers depend only on (seed, p) (counter-based Philox), per-path
results are stored at their path index, and sums over paths use exact integer arithmetic (fen), so results are
bit-identical for any thread count, chunk size or split of the path range across workers; :func:`merge` joins
partial results of consecutive path ranges.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pandas as pd

from ipabs.compile.arrays import empty_pool_flows, empty_waterfall_out
from ipabs.compile.codegen import specialised_waterfall, specialised_yield_lanes
from ipabs.compile.lower import CompiledDeal
from ipabs.defaults import BLOCK_SIZE, MAX_PATHS, MAX_SEED
from ipabs.engine import bands
from ipabs.errors import Issue, ScenarioError
from ipabs.kernels.containers import PoolFlows, WaterfallOut
from ipabs.kernels.paths import (
    N_POOL_SUMS,
    STATS_FULL,
    STATS_LOSSES,
    STATS_LOSSES_NO_BALANCES,
    BlockSums,
    PathOutputs,
    path_scratch,
    simulate_block,
)
from ipabs.kernels.paths import trace_path as _trace_path

# The preparation stage moved to :mod:`ipabs.prepare.montecarlo` (decision 021); its names stay importable from here.
from ipabs.prepare.montecarlo import (  # noqa: F401 — re-exported for callers of the old place
    _FREQ,
    N_BINS,
    BasePath,
    CreditInputs,
    PreparedMC,
    StatInputs,
    _check_horizons,
    _empty_base,
    _period_increments,
    cumulative_pd,
    obligor_assets,
    obligor_pds,
    prepare,
    revenue_inputs,
    revenue_loadings,
)
from ipabs.prepare.rates import simulated_indices
from ipabs.scenario.schema import Assumptions

#: Levels of ``simulation.statistics`` (decision 012).
STATISTICS = ("full", "losses")
#: Waterfall implementations a run can use (bit-identical results; decision 013).
WATERFALL_KERNELS = ("specialised", "general")
#: Paths after which a thread's uint16 histogram counts are flushed into the int64 totals (a count never exceeds it).
_HIST_FLUSH = 2**16 - 1
assert BLOCK_SIZE <= _HIST_FLUSH
QUANTILES = (0.05, 0.5, 0.9, 0.95, 0.99, 0.999)


@dataclass
class MCResult:
    """Per-path scalars for a path range plus exact integer sums and histograms by period."""

    deal: CompiledDeal
    seed: int
    path0: int
    n_paths: int
    loss: np.ndarray  # f8[n, K] principal loss / original balance
    short: np.ndarray  # i1[n, K] any interest shortfall
    wal: np.ndarray  # f8[n, K] years
    yld: np.ndarray  # f8[n, K]
    pool_default_rate: np.ndarray  # f8[n]
    pool_loss_rate: np.ndarray  # f8[n]
    support_draw: np.ndarray  # f8[n]
    support_default: np.ndarray  # i1[n]
    h_bal: np.ndarray  # i8[T, K, NB]
    h_cash: np.ndarray  # i8[T, K, NB]
    s_int: list  # Python ints [T][K], fen
    s_prin: list
    s_bal: list
    s_pool: list  # [T][5] interest, principal, defaults, recoveries, balance end
    bal_hi: np.ndarray
    cash_hi: np.ndarray
    #: The simulation's own time: loading the compiled kernels (a first run in a process, ≈ 0.3 s) or compiling them
    #: (the first run after installation, 30-60 s) is ``meta["compile_seconds"]``, with ``meta["kernels_cold"]``.
    elapsed_seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
    first_default: np.ndarray | None = None  # i2[n] first default period of any obligor or provider (T = none)
    revenue_shortfall_rate: np.ndarray | None = None  # f8[n] sales-linked payments short of schedule / pool balance
    statistics: str = "full"  # "losses": no WAL, yield (NaN) or per-period sums and histograms (zero)
    base_balance: np.ndarray | None = None  # f8[T, K] the base (no-default) path's balances: a point mass of the bands
    base_payment: np.ndarray | None = None  # f8[T, K] its payments (interest + principal + residual)
    #: f4[n, T, I] each path's simulated index fixings per payment period (``simulation.rates``), I = the indices in
    #: ``meta["indices"]``; None without simulated index paths
    index_levels: np.ndarray | None = None

    @property
    def has_cashflow_statistics(self) -> bool:
        """True when WAL, yields and the expected cash flows by period were computed (``statistics = "full"``)."""
        return self.statistics == "full"

    def _need_full(self, what: str) -> None:
        if not self.has_cashflow_statistics:
            raise ValueError(f"{what} needs the full statistics: this run used statistics = '{self.statistics}' "
                             "(set simulation.statistics = \"full\" or run with --statistics full)")

    # ---- statistics ----------------------------------------------------------------------------------------------
    def tranche_stats(self) -> list[dict[str, Any]]:
        """Per tranche: EL, PD, interest-shortfall probability (with standard errors), WAL and yield percentiles."""
        n = self.n_paths
        out = []
        for k, name in enumerate(self.deal.names.tranches):
            loss = self.loss[:, k]
            el = float(loss.mean()) if n else 0.0
            el_se = float(loss.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
            pdef = float((loss > 1e-12).mean()) if n else 0.0
            psh = float(self.short[:, k].mean()) if n else 0.0
            full = self.has_cashflow_statistics
            wal, yld = (self.wal[:, k], self.yld[:, k]) if full else (np.empty(0), np.empty(0))
            row = {
                "name": name,
                "expected_loss": el,
                "expected_loss_se": el_se,
                "default_probability": pdef,
                "default_probability_se": math.sqrt(pdef * (1 - pdef) / n) if n else 0.0,
                "interest_shortfall_probability": psh,
                "interest_shortfall_probability_se": math.sqrt(psh * (1 - psh) / n) if n else 0.0,
                "loss_quantiles": {f"q{q:g}": float(np.quantile(loss, q)) for q in QUANTILES} if n else {},
                "loss_quantiles_se": _quantile_ses(loss, QUANTILES, "q"),
                "wal_mean": float(wal.mean()) if n and full else None,
                "wal_mean_se": _mean_se(wal),
                "wal_percentiles": _pct(wal),
                "wal_percentiles_se": _quantile_ses(wal, PERCENTILES, "p"),
                "yield_mean": float(yld.mean()) if n and full else None,
                "yield_mean_se": _mean_se(yld),
                "yield_percentiles": _pct(yld),
                "yield_percentiles_se": _quantile_ses(yld, PERCENTILES, "p"),
            }
            out.append(row)
        return out

    def pool_stats(self) -> dict[str, Any]:
        """Pool default and loss rates, support draws and defaults (and, with sales-linked royalties, the shortfall
        of royalties against their schedule), each with its standard error."""
        n = self.n_paths
        dr, lr = self.pool_default_rate, self.pool_loss_rate
        out = {
            "default_rate_mean": float(dr.mean()) if n else 0.0,
            "default_rate_se": float(dr.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0,
            "loss_rate_mean": float(lr.mean()) if n else 0.0,
            "loss_rate_se": float(lr.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0,
            "default_rate_quantiles": {f"q{q:g}": float(np.quantile(dr, q)) for q in QUANTILES} if n else {},
            "default_rate_quantiles_se": _quantile_ses(dr, QUANTILES, "q"),
            "loss_rate_quantiles": {f"q{q:g}": float(np.quantile(lr, q)) for q in QUANTILES} if n else {},
            "loss_rate_quantiles_se": _quantile_ses(lr, QUANTILES, "q"),
            "support_draw_mean": float(self.support_draw.mean()) if n else 0.0,
            "support_draw_mean_se": _mean_se(self.support_draw) or 0.0,
            "support_default_probability": (sdp := float(self.support_default.mean()) if n else 0.0),
            "support_default_probability_se": math.sqrt(sdp * (1 - sdp) / n) if n else 0.0,
        }
        rs = self.revenue_shortfall_rate
        if self.deal.scenario.simulation.revenue_risk is not None and rs is not None:
            out.update({
                "revenue_shortfall_mean": float(rs.mean()) if n else 0.0,
                "revenue_shortfall_se": _mean_se(rs) or 0.0,
                "revenue_shortfall_quantiles": {f"q{q:g}": float(np.quantile(rs, q)) for q in QUANTILES} if n else {},
                "revenue_shortfall_quantiles_se": _quantile_ses(rs, QUANTILES, "q"),
            })
        return out

    def quantiles(self, qs: tuple[float, ...] = QUANTILES) -> pd.DataFrame:
        """Quantiles of every per-path statistic with distribution-free standard errors.

        Columns ``series`` (tranche name or ``pool``), ``statistic`` (loss, wal, yield, default_rate, loss_rate),
        ``q``, ``value`` (``numpy.quantile``, linear interpolation), ``se`` and the interval ``lo``/``hi``: the
        order statistics at ranks n·q ∓ √(n·q(1 − q)) (one binomial standard deviation of the rank), ``se`` being
        half their distance — asymptotically √(q(1 − q)/n) / f(x_q) without estimating the density f
        (docs/methodology/monte-carlo.md).
        """
        series: list[tuple[str, str, np.ndarray]] = []
        for k, name in enumerate(self.deal.names.tranches):
            series.append((name, "loss", self.loss[:, k]))
            if self.has_cashflow_statistics:
                series += [(name, "wal", self.wal[:, k]), (name, "yield", self.yld[:, k])]
        series += [("pool", "default_rate", self.pool_default_rate), ("pool", "loss_rate", self.pool_loss_rate)]
        rows = []
        for name, stat, x in series:
            xs = np.sort(x)
            for q in qs:
                value, se, lo, hi = _quantile_with_se(x, xs, q)
                rows.append({"series": name, "statistic": stat, "q": q, "value": value, "se": se, "lo": lo, "hi": hi})
        return pd.DataFrame(rows)

    def loss_distribution(self, bins: int = 100) -> pd.DataFrame:
        """Histogram of each tranche's loss fraction and of the pool loss rate (bins on [0, 1])."""
        edges = np.linspace(0.0, 1.0, bins + 1)
        frames = []
        for k, name in enumerate(self.deal.names.tranches):
            c, _ = np.histogram(np.clip(self.loss[:, k], 0, 1), bins=edges)
            frames.append(pd.DataFrame({"series": name, "bin_lo": edges[:-1], "bin_hi": edges[1:], "count": c,
                                        "probability": c / max(self.n_paths, 1)}))
        for nm, arr in (("pool_default_rate", self.pool_default_rate), ("pool_loss_rate", self.pool_loss_rate)):
            c, _ = np.histogram(np.clip(arr, 0, 1), bins=edges)
            frames.append(pd.DataFrame({"series": nm, "bin_lo": edges[:-1], "bin_hi": edges[1:], "count": c,
                                        "probability": c / max(self.n_paths, 1)}))
        return pd.concat(frames, ignore_index=True)

    def expected_cashflows(self) -> pd.DataFrame:
        """Mean interest, principal and balance per period and tranche, with 5/50/95% bands of the balance and of
        the total payment (decision 019): exact to the fen where the quantile is a point mass of the period's
        distribution (the base path's value, the face), else a histogram bin's mid-point rounded to a power of ten
        within its resolution; ``balance_resolution``/``payment_resolution`` state the bin width (0 = every band
        value of the row is exact)."""
        self._need_full("expected cash flows by period")
        n = max(self.n_paths, 1)
        rows = []
        dates = self.deal.schedule.payment_dates
        faces = self.deal.waterfall.tr_bal0
        for k, name in enumerate(self.deal.names.tranches):
            for t in range(self.deal.n_periods):
                if self.base_balance is not None and self.base_payment is not None:
                    rb, res_b, rc, res_c = bands.period_bands(
                        self.h_bal[t, k], self.h_cash[t, k], float(faces[k]), float(self.bal_hi[k]),
                        float(self.cash_hi[k]), float(self.base_balance[t, k]), float(self.base_payment[t, k]))
                else:  # a result without its base path (made by hand): mid-points of the bins, resolution stated
                    rb, res_b = bands.quantiles(self.h_bal[t, k], self.bal_hi[k] / self.h_bal.shape[2], [],
                                                float(self.bal_hi[k]), self.h_bal.shape[2])
                    rc, res_c = bands.quantiles(self.h_cash[t, k], self.cash_hi[k] / self.h_cash.shape[2], [],
                                                float(self.cash_hi[k]), self.h_cash.shape[2])
                rows.append({
                    "tranche": name, "period": t + 1, "payment_date": dates[t],
                    "interest_mean": self.s_int[t][k] / 100 / n, "principal_mean": self.s_prin[t][k] / 100 / n,
                    "balance_mean": self.s_bal[t][k] / 100 / n,
                    "balance_p5": rb[0], "balance_p50": rb[1], "balance_p95": rb[2], "balance_resolution": res_b,
                    "payment_p5": rc[0], "payment_p50": rc[1], "payment_p95": rc[2], "payment_resolution": res_c,
                })
        return pd.DataFrame(rows)

    def index_summary(self) -> pd.DataFrame:
        """Each simulated index's fixing per payment period (``simulation.rates``): the forward-path level, the mean
        and standard deviation over the paths and the 5/50/95% quantiles (empty without simulated index paths).
        The fixing is read on each note accrual period's first day. The paths' fixings are kept as float32 (7
        significant digits); the statistics are rounded to 1e-8 (a millionth of a basis point), below which float32
        cannot tell levels apart."""
        cols = ["index", "period", "fixing_date", "forward", "mean", "std", "p5", "p50", "p95"]
        if self.index_levels is None or self.index_levels.shape[2] == 0:
            return pd.DataFrame(columns=cols)
        from ipabs.compile.lower import note_accrual_starts

        deal = self.deal
        starts = note_accrual_starts(deal.scenario, deal.schedule)
        rows = []
        for i, name in enumerate(self.meta.get("indices", [])):
            curve = deal.scenario.indices[name]
            x = np.round(self.index_levels[:, :, i].astype(np.float64), 8)
            q = np.quantile(x, [0.05, 0.5, 0.95], axis=0) if len(x) else np.full((3, deal.n_periods), np.nan)
            for t in range(deal.n_periods):
                rows.append({"index": name, "period": t + 1, "fixing_date": starts[t],
                             "forward": curve.level(starts[t]),
                             "mean": round(float(x[:, t].mean()), 8) if len(x) else math.nan,
                             "std": round(float(x[:, t].std()), 8) if len(x) else math.nan,
                             "p5": float(q[0, t]), "p50": float(q[1, t]), "p95": float(q[2, t])})
        return pd.DataFrame(rows, columns=cols)

    def pool_expected_flows(self) -> pd.DataFrame:
        """Mean pool interest, principal, defaults, recoveries and balance per period."""
        self._need_full("expected pool flows by period")
        n = max(self.n_paths, 1)
        names = ["interest", "principal", "defaults", "recoveries", "balance_end"]
        return pd.DataFrame({"period": np.arange(1, self.deal.n_periods + 1),
                             "payment_date": list(self.deal.schedule.payment_dates),
                             **{f"{c}_mean": [self.s_pool[t][i] / 100 / n for t in range(self.deal.n_periods)]
                                for i, c in enumerate(names)}})


#: Percentiles reported for WAL and yield.
PERCENTILES = (0.05, 0.5, 0.95)


def _pct(x: np.ndarray) -> dict[str, float]:
    if x.size == 0:
        return {}
    return {f"p{int(q * 100)}": float(np.quantile(x, q)) for q in PERCENTILES}


def _quantile_with_se(x: np.ndarray, xs: np.ndarray, q: float) -> tuple[float, float, float, float]:
    """(value, se, lo, hi) of the q-quantile of ``x`` (``xs`` = x sorted): ``numpy.quantile`` and the order
    statistics at ranks n·q ∓ √(n·q(1 − q)), ``se`` half their distance (docs/methodology/monte-carlo.md §3)."""
    n = x.shape[0]
    if n == 0:
        return (math.nan, math.nan, math.nan, math.nan)
    half = math.sqrt(n * q * (1 - q))
    lo = xs[min(n - 1, max(0, math.floor(n * q - half)))]
    hi = xs[min(n - 1, max(0, math.ceil(n * q + half) - 1))]
    return float(np.quantile(x, q)), float(hi - lo) / 2.0, float(lo), float(hi)


def _quantile_ses(x: np.ndarray, qs: tuple[float, ...], prefix: str) -> dict[str, float]:
    """Standard errors of the quantiles ``qs`` of ``x``, keyed like the quantiles (``q0.99`` or ``p95``)."""
    if x.shape[0] == 0:
        return {}
    xs = np.sort(x)
    key = (lambda q: f"q{q:g}") if prefix == "q" else (lambda q: f"p{int(q * 100)}")
    return {key(q): _quantile_with_se(x, xs, q)[1] for q in qs}


def _mean_se(x: np.ndarray) -> float | None:
    """s/√n (sample standard deviation, ddof 1); None with fewer than two paths."""
    n = x.shape[0]
    return float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else None


def kernels_cold() -> bool:
    """Whether the next Monte Carlo run must compile its path kernel: neither loaded in this process nor in numba's
    on-disk cache (one ``stat`` of the cache's index file; the cache folder is keyed on the kernels' sources, so an
    index there is for these kernels). A first run after installation compiles for 30-60 s; later ones load the
    compiled code in about 0.3 s (docs/performance.md)."""
    if simulate_block.signatures:
        return False
    try:
        index = simulate_block._cache._cache_file._index_path  # numba's FunctionCache → IndexDataCacheFile
    except AttributeError:  # another numba layout: say nothing rather than guess
        return False
    return not os.path.exists(index)


def simulate(
    deal: CompiledDeal,
    n_paths: int | None = None,
    seed: int | None = None,
    *,
    path0: int = 0,
    threads: int | None = None,
    chunk: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    assumptions: Assumptions | None = None,
    prepared: PreparedMC | None = None,
    statistics: str | None = None,
    waterfall_kernel: str = "specialised",
) -> MCResult:
    """Simulate paths ``[path0, path0 + n_paths)``.

    Parameters
    ----------
    deal : CompiledDeal
    n_paths, seed : int, optional
        Default: the scenario's ``simulation`` settings.
    threads : int, optional
        Threads running blocks of paths (default: ``NUMBA_NUM_THREADS``, i.e. all cores unless the environment
        says otherwise); results do not depend on it.
    chunk : int, optional
        Paths between progress reports and between flushes of a thread's int64 sums into Python integers
        (rounded to a multiple of the block size; results do not depend on it).
    progress : callable(done, total), optional
        Called every ``chunk`` paths and at the end; raise :class:`ipabs.errors.Cancelled` in it to stop the run
        (blocks not yet started are cancelled).
    statistics : {"full", "losses"}, optional
        Default: the scenario's ``simulation.statistics``. ``"losses"`` computes only the per-path losses,
        shortfall flags, support and pool rates (bit-identical to ``"full"``); WAL and yield are NaN and there are
        no per-period sums or bands (decision 012).
    waterfall_kernel : {"specialised", "general"}
        ``"specialised"`` (default) runs each path's waterfall in code generated for this deal's structure
        (:mod:`ipabs.compile.codegen`, decision 013); ``"general"`` in the general kernel. The results are
        bit-identical; only the speed differs. ``meta["waterfall_kernel"]`` says which one ran.
    """
    sim = deal.scenario.simulation
    n = sim.n_paths if n_paths is None else int(n_paths)
    sd = sim.seed if seed is None else int(seed)
    if not 0 <= n <= MAX_PATHS:  # before any allocation (the per-path outputs are allocated whole)
        raise ScenarioError([Issue(f"{n:,} paths: Monte Carlo paths must be 0 to {MAX_PATHS:,} (split larger runs by "
                                   "path range and combine them)", table="simulation", field="n_paths")])
    if not 0 <= sd <= MAX_SEED:
        raise ScenarioError([Issue(f"seed {sd}: seeds are 0 to 2**63 - 1", table="simulation", field="seed")])
    prep = prepared or prepare(deal, assumptions)
    stats_level = sim.statistics if statistics is None else statistics
    if stats_level not in STATISTICS:
        raise ValueError(f"statistics must be one of {', '.join(STATISTICS)}, not {stats_level!r}")
    lean = stats_level == "losses"
    level = STATS_LOSSES if lean else STATS_FULL
    if waterfall_kernel not in WATERFALL_KERNELS:
        raise ValueError(f"waterfall_kernel must be one of {', '.join(WATERFALL_KERNELS)}, not {waterfall_kernel!r}")
    wf_addr, wf_par, wf_key, wf_note = np.int64(0), np.zeros(1), None, None
    bal_end_only = 0
    cold = n > 0 and kernels_cold()
    t_compile = time.perf_counter()
    if waterfall_kernel == "specialised" and n > 0:
        try:
            sw = specialised_waterfall(prep.d, stats=not lean)
            wf_addr, wf_par, wf_key = np.int64(sw.address), sw.params, sw.key
            if lean and not sw.reads_pool_balances:
                level = STATS_LOSSES_NO_BALANCES
            elif not sw.reads_pool_balances:  # the pool's sums need only its balances at the end (item 29)
                bal_end_only = 1
        except Exception as e:  # noqa: BLE001 — an optimisation: the general kernel gives the same numbers
            wf_note = f"generated waterfall unavailable ({type(e).__name__}: {e}); ran the general kernel"
            warnings.warn(wf_note, RuntimeWarning, stacklevel=2)
    stats = prep.stats._replace(bal_end_only=bal_end_only)
    if not lean and n > 0:
        try:  # the yield solver specialised to the period grid (docs/performance.md item 28; the same bits)
            stats = stats._replace(yl_addr=specialised_yield_lanes(stats))
        except Exception as e:  # noqa: BLE001 — an optimisation: the general solver gives the same numbers
            warnings.warn(f"generated yield solver unavailable ({type(e).__name__}: {e}); ran the general one",
                          RuntimeWarning, stacklevel=2)
    k = len(deal.names.tranches)
    n_t = deal.n_periods
    chunk = min(2**24, max(BLOCK_SIZE, (chunk or 16 * BLOCK_SIZE) // BLOCK_SIZE * BLOCK_SIZE))
    po = PathOutputs(np.zeros((n, k)), np.zeros((n, k), dtype=np.int8), np.zeros((n, k)), np.zeros((n, k)),
                     np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int8), np.zeros(n, dtype=np.int16),
                     np.zeros(n), np.zeros((n, n_t, prep.credit.rt.out_g.shape[1]), dtype=np.float32))
    has_rates = prep.credit.rt.out_g.shape[1] > 0
    h_bal = np.zeros((n_t, k, N_BINS), dtype=np.int64)
    h_cash = np.zeros((n_t, k, N_BINS), dtype=np.int64)
    s_int = [[0] * k for _ in range(n_t)]
    s_prin = [[0] * k for _ in range(n_t)]
    s_bal = [[0] * k for _ in range(n_t)]
    s_pool = [[0] * N_POOL_SUMS for _ in range(n_t)]
    n_threads = max(1, int(threads)) if threads else max(1, numba.config.NUMBA_NUM_THREADS)
    n_threads = min(n_threads, max(1, -(-n // BLOCK_SIZE)))
    seed64 = np.uint64(sd)
    lock = threading.Lock()

    def new_acc() -> list:
        # uint16 counts: the two histograms of a 50-obligor, 60-period deal take 480 KB and stay in a core's L2
        # cache (int32: 960 KB, which did not); a bin counts at most one per path, and the accumulator is flushed
        # before it holds more than _HIST_FLUSH paths (< 2^16)
        return [BlockSums(np.zeros((n_t, k, N_BINS), dtype=np.uint16), np.zeros((n_t, k, N_BINS), dtype=np.uint16),
                          np.zeros((n_t, k), dtype=np.int64), np.zeros((n_t, k), dtype=np.int64),
                          np.zeros((n_t, k), dtype=np.int64), np.zeros((N_POOL_SUMS, n_t), dtype=np.int64)), 0]

    def flush(acc: list) -> None:
        """Move an accumulator's integer sums into the totals (Python ints: no overflow) and zero it."""
        bs = acc[0]
        with lock:
            np.add(h_bal, bs.h_bal, out=h_bal)
            np.add(h_cash, bs.h_cash, out=h_cash)
            for arr, tot in ((bs.s_int, s_int), (bs.s_prin, s_prin), (bs.s_bal, s_bal), (bs.s_pool.T, s_pool)):
                for t, row in enumerate(arr.tolist()):
                    dst = tot[t]
                    for j, v in enumerate(row):
                        dst[j] += v
        for arr in bs:
            arr[...] = 0
        acc[1] = 0

    # one accumulator per thread; integer sums make the assignment of blocks to accumulators irrelevant
    free: queue.SimpleQueue = queue.SimpleQueue()
    accs = [new_acc() for _ in range(n_threads)]
    for acc in accs:
        free.put(acc)

    def run_block(lo: int, hi: int) -> int:
        acc = free.get()
        d, par = prep.d, wf_par
        if has_rates:  # the block writes each path's coupons into its own copies (kernels.rates.path_coupons)
            d, par = d._replace(tr_rate=d.tr_rate.copy()), wf_par.copy()
        try:
            simulate_block(seed64, np.int64(path0 + lo), np.int64(path0 + hi), np.int64(0), d, prep.pa,
                           prep.credit, stats, prep.base, prep.base_pf, prep.base_out,
                           PathOutputs(*(x[lo:hi] for x in po)), acc[0], np.int64(level), wf_addr, par)
            acc[1] += hi - lo
            # int64 sums are exact while a flush holds < 9.2e18 fen; uint16 counts while it holds < 2^16 paths
            if acc[1] >= chunk or acc[1] + BLOCK_SIZE > _HIST_FLUSH:
                flush(acc)
        finally:
            free.put(acc)
        return hi - lo

    blocks = [(lo, min(n, lo + BLOCK_SIZE)) for lo in range(0, n, BLOCK_SIZE)]
    if n > 0 and not simulate_block.signatures:
        # the first run in this process loads the path kernel from numba's cache (≈0.3 s) or compiles it (30-60 s on
        # a fresh installation): do it on an empty block, so that elapsed_seconds is the simulation's own time
        simulate_block(seed64, np.int64(path0), np.int64(path0), np.int64(0), prep.d, prep.pa, prep.credit,
                       stats, prep.base, prep.base_pf, prep.base_out, PathOutputs(*(x[:0] for x in po)),
                       accs[0][0], np.int64(level), wf_addr, wf_par)
    compile_seconds = time.perf_counter() - t_compile
    t0 = time.perf_counter()
    done = reported = 0
    if n_threads == 1:
        for lo, hi in blocks:
            done += run_block(lo, hi)
            if progress is not None and (done - reported >= chunk or done == n):
                reported = done
                progress(done, n)
    else:
        pool = ThreadPoolExecutor(n_threads, thread_name_prefix="ipabs-mc")
        try:
            futures = [pool.submit(run_block, lo, hi) for lo, hi in blocks]
            for fut in as_completed(futures):
                done += fut.result()
                if progress is not None and (done - reported >= chunk or done == n):
                    reported = done
                    progress(done, n)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    for acc in accs:
        flush(acc)
    elapsed = time.perf_counter() - t0
    meta = {"block_size": BLOCK_SIZE, "threads": n_threads, "rng": "philox4x32-10",
            "copula": prep.copula, "degrees_of_freedom": prep.dof or None,
            "correlation": sim.correlation, "sector_correlation": sim.sector_correlation,
            "recovery_model": sim.recovery_model, "rating_table": prep.rating_table,
            "paths_per_second": n / elapsed if elapsed > 0 else None, "statistics": stats_level,
            "waterfall_kernel": "specialised" if wf_key else "general", "waterfall_key": wf_key,
            "pool_balances": level != STATS_LOSSES_NO_BALANCES,
            # loading (warm) or compiling (kernels_cold: the first run after installation) the kernels, not in
            # elapsed_seconds
            "compile_seconds": compile_seconds, "kernels_cold": cold}
    if has_rates:
        rm = deal.scenario.simulation.rates
        meta["indices"] = simulated_indices(deal)
        meta["rate_model"] = {"model": rm.model, "mean_reversion": rm.mean_reversion, "volatility": rm.volatility}
    if wf_note:
        meta["waterfall_note"] = wf_note
    return MCResult(deal, sd, path0, n, po.loss, po.short, po.wal, po.yld, po.pool_def, po.pool_loss, po.sup_draw,
                    po.sup_def, h_bal, h_cash, s_int, s_prin, s_bal, s_pool, prep.bal_hi, prep.cash_hi, elapsed, meta,
                    po.first_default, po.rev_short, stats_level, prep.base_out.tr_bal_end.copy(),
                    prep.base_out.tr_int_paid + prep.base_out.tr_prin_paid + prep.base_out.tr_resid,
                    po.index_lv if has_rates else None)


@dataclass(frozen=True)
class PathTrace:
    """One Monte Carlo path in full (see :func:`trace_path`)."""

    path: int
    obligor_default_period: np.ndarray  # i8[O] 0-based, n_periods = survives (support providers after the tape's)
    asset_default_period: np.ndarray  # i8[N]
    support_default_period: np.ndarray  # i8[S]
    recovery_amount: np.ndarray  # f8[N]
    recovery_period: np.ndarray  # i8[N]
    pool: PoolFlows
    waterfall: WaterfallOut


def trace_path(deal: CompiledDeal, seed: int, path: int, *, prepared: PreparedMC | None = None,
               assumptions: Assumptions | None = None) -> PathTrace:
    """Default times, recoveries, pool flows and waterfall of path ``path`` under ``seed``, exactly as
    :func:`simulate` draws them (run from period 0 without the restart shortcut)."""
    prep = prepared or prepare(deal, assumptions)
    n = deal.names
    pf = empty_pool_flows(deal.n_periods)
    out = empty_waterfall_out(deal.n_periods, len(n.tranches), len(n.fees), len(n.accounts), len(n.supports))
    x = path_scratch(prep.d, prep.credit, prep.stats)
    d = prep.d._replace(tr_rate=prep.d.tr_rate.copy())  # the path's own coupons (simulation.rates) are written in d
    _trace_path(np.uint64(seed), np.int64(path), d, prep.pa, prep.credit, prep.stats, pf, out, x)
    return PathTrace(int(path), x.ob_def.copy(), x.a_def.copy(), x.sup_def_t.copy(), x.rec_amt.copy(),
                     x.rec_t.copy(), pf, out)


def path_sample(deal: CompiledDeal, seed: int, paths: range | list[int], *, prepared: PreparedMC | None = None,
                assumptions: Assumptions | None = None) -> pd.DataFrame:
    """Full cash flows of the given paths (``ipabs run --sample-paths``): one row per path, period and tranche.

    Columns: ``path``, ``period`` (1-based), ``payment_date``, ``tranche``, the tranche's ``interest_paid``,
    ``principal_paid``, ``residual_paid``, ``interest_shortfall``, ``balance_end``, and the path's pool
    ``pool_interest``, ``pool_principal``, ``pool_defaults``, ``pool_recoveries``, ``pool_balance_end`` and
    ``support_draw`` (repeated on each tranche's row), from :func:`trace_path` — the same numbers :func:`simulate`
    computes for those paths.
    """
    prep = prepared or prepare(deal, assumptions)
    n_t = deal.n_periods
    names = deal.names.tranches
    dates = list(deal.schedule.payment_dates)
    frames = []
    for p in paths:
        tr = trace_path(deal, seed, int(p), prepared=prep)
        w, pf = tr.waterfall, tr.pool
        for k, name in enumerate(names):
            frames.append(pd.DataFrame({
                "path": np.full(n_t, int(p), dtype=np.int64), "period": np.arange(1, n_t + 1), "payment_date": dates,
                "tranche": name, "interest_paid": w.tr_int_paid[:, k], "principal_paid": w.tr_prin_paid[:, k],
                "residual_paid": w.tr_resid[:, k], "interest_shortfall": w.tr_int_short[:, k],
                "balance_end": w.tr_bal_end[:, k], "pool_interest": pf.interest, "pool_principal": pf.principal,
                "pool_defaults": pf.defaults, "pool_recoveries": pf.recoveries, "pool_balance_end": pf.bal_end,
                "support_draw": w.sup_draw.sum(axis=1),
            }))
    if not frames:
        return pd.DataFrame(columns=["path", "period", "payment_date", "tranche"])
    return pd.concat(frames, ignore_index=True)


def merge(parts: list[MCResult]) -> MCResult:
    """Join results of consecutive path ranges (e.g. from distributed workers) into one, exactly."""
    parts = sorted(parts, key=lambda r: r.path0)
    for a, b in zip(parts, parts[1:], strict=False):
        if a.path0 + a.n_paths != b.path0 or a.seed != b.seed:
            raise ValueError("parts must be consecutive path ranges of one seed")
        if a.statistics != b.statistics:
            raise ValueError("parts must use the same statistics (full or losses)")
    first = parts[0]

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    def add(name: str) -> list:
        acc = [list(r) for r in getattr(first, name)]
        for p in parts[1:]:
            for t, row in enumerate(getattr(p, name)):
                for j, v in enumerate(row):
                    acc[t][j] += v
        return acc

    return MCResult(
        first.deal, first.seed, first.path0, sum(p.n_paths for p in parts), cat("loss"), cat("short"), cat("wal"),
        cat("yld"), cat("pool_default_rate"), cat("pool_loss_rate"), cat("support_draw"), cat("support_default"),
        sum(p.h_bal for p in parts), sum(p.h_cash for p in parts), add("s_int"), add("s_prin"), add("s_bal"),
        add("s_pool"), first.bal_hi, first.cash_hi, sum(p.elapsed_seconds for p in parts), dict(first.meta),
        cat("first_default") if all(p.first_default is not None for p in parts) else None,
        cat("revenue_shortfall_rate") if all(p.revenue_shortfall_rate is not None for p in parts) else None,
        first.statistics, first.base_balance, first.base_payment,
        cat("index_levels") if all(p.index_levels is not None for p in parts) else None,
    )
