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

from ipabs.compile.arrays import PoolFlows, WaterfallOut, empty_pool_flows, empty_waterfall_out
from ipabs.compile.codegen import specialised_waterfall
from ipabs.compile.lower import CompiledDeal, performing_flows
from ipabs.credit.defaults import copula_layout, group_cmax, threshold_rows, thresholds_from_cumulative_pd
from ipabs.credit.pd_curves import RatingTable, load_rating_table, stressed_cumulative
from ipabs.defaults import BLOCK_SIZE
from ipabs.engine import bands
from ipabs.errors import Issue, ScenarioError
from ipabs.kernels.paths import (
    N_POOL_SUMS,
    STATS_FULL,
    STATS_LOSSES,
    STATS_LOSSES_NO_BALANCES,
    BasePath,
    BlockSums,
    CreditInputs,
    PathOutputs,
    StatInputs,
    base_path,
    path_scratch,
    simulate_block,
)
from ipabs.kernels.paths import trace_path as _trace_path
from ipabs.kernels.pool import asset_activity, pack_performing
from ipabs.scenario.schema import Assumptions

#: Bins of the per-period balance and payment histograms (layout: :mod:`ipabs.engine.bands`, decision 019).
N_BINS = bands.N_HIST
#: Levels of ``simulation.statistics`` (decision 012).
STATISTICS = ("full", "losses")
#: Waterfall implementations a run can use (bit-identical results; decision 013).
WATERFALL_KERNELS = ("specialised", "general")
#: Paths after which a thread's uint16 histogram counts are flushed into the int64 totals (a count never exceeds it).
_HIST_FLUSH = 2**16 - 1
assert BLOCK_SIZE <= _HIST_FLUSH
QUANTILES = (0.05, 0.5, 0.9, 0.95, 0.99, 0.999)
_FREQ = {"monthly": 12, "quarterly": 4, "semiannual": 2, "annual": 1}


def obligor_pds(deal: CompiledDeal, table: RatingTable | None) -> tuple[np.ndarray, list[str | None]]:
    """Each obligor's PD source: its annual PD (tape ``pd``, else a flat rating-table entry, else
    ``simulation.default_pd``), or NaN and its rating when the table gives that rating a PD term structure."""
    sim = deal.scenario.simulation
    out = np.empty(len(deal.info.obligor_ids))
    curve: list[str | None] = [None] * len(out)
    missing = []
    for i, oid in enumerate(deal.info.obligor_ids):
        pd_i = deal.info.obligor_pd[i]
        rating = deal.info.obligor_rating[i]
        if math.isfinite(pd_i):
            out[i] = pd_i
        elif table is not None and rating is not None and rating in table.annual_pd:
            out[i] = table.annual_pd[rating]
        elif table is not None and rating is not None and rating in table.cumulative_pd:
            out[i] = math.nan
            curve[i] = rating
        elif sim.default_pd is not None:
            out[i] = sim.default_pd
        else:
            missing.append(oid)
    if missing:
        hint = (" (its rating is not in the table)" if sim.rating_table else
                "; give pd on the tape, name simulation.rating_table, or set simulation.default_pd")
        raise ScenarioError([Issue(f"no default probability for obligors {', '.join(missing[:10])}"
                                   f"{' …' if len(missing) > 10 else ''}{hint}", file=deal.source,
                                   table="simulation", field="default_pd")])
    return out, curve


def _check_horizons(table: RatingTable, deal_years: float, interpolation: str, source: str | None) -> None:
    """DOMAIN.md §9.5: never interpolate missing horizons of a PD table without the scenario's say-so."""
    need = range(1, math.ceil(deal_years - 0.02) + 1)  # a few days past a whole year (day counts) do not count
    missing = [y for y in need if float(y) not in table.horizons_years]
    if missing and interpolation != "log_linear":
        raise ScenarioError([Issue(
            f"rating table '{table.name}' gives cumulative PDs at {list(table.horizons_years)} years only; this "
            f"{deal_years:.2f}-year deal would need years {missing} interpolated: set simulation.pd_interpolation = "
            "'log_linear' to accept a constant hazard between the table's horizons", file=source,
            table="simulation", field="pd_interpolation")])


def cumulative_pd(annual: np.ndarray, yf: np.ndarray) -> np.ndarray:
    """cumPD[i, t] = 1 − (1 − pd_i)^(Σ_{u≤t} yf_u): constant hazard over the deal's periods."""
    years = np.cumsum(yf)
    return 1.0 - (1.0 - annual[:, None]) ** years[None, :]


@dataclass(frozen=True)
class PreparedMC:
    """Everything the path kernel needs, derived once from the compiled deal (pure data, picklable)."""

    d: Any  # WaterfallArrays
    pa: Any  # PerformingArrays
    credit: CreditInputs
    stats: StatInputs
    base: BasePath
    base_pf: PoolFlows
    base_out: WaterfallOut
    n_obligors: int
    sectors: tuple[str, ...]
    copula: str
    dof: float
    rating_table: dict[str, str] | None = None  # name, version, status and source of the rating table used

    @property
    def bal_hi(self) -> np.ndarray:
        return self.stats.bal_hi

    @property
    def cash_hi(self) -> np.ndarray:
        return self.stats.cash_hi


def _period_increments(yf: np.ndarray, freq: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Distinct values of freq × yf (``inc_val``), the index of each period's value (``inc_idx``) and, when every
    value is a whole number of days of a 365-, 360- or 366-day year, those numbers and the unit freq/basis."""
    vals, idx = np.unique(freq * np.asarray(yf, dtype=np.float64), return_inverse=True)
    units, unit = np.zeros(vals.shape[0], dtype=np.int64), 0.0
    for basis in (365.0, 360.0, 366.0):
        m = vals / (freq / basis)
        r = np.rint(m)
        if vals.size and np.all(np.abs(m - r) < 1e-9 * np.maximum(1.0, m)) and np.all(r >= 1):
            units, unit = r.astype(np.int64), freq / basis
            break
    return idx.astype(np.int64).reshape(-1), vals.astype(np.float64), units, float(unit)


def _empty_base(deal: CompiledDeal) -> BasePath:
    n = deal.names
    t, k = deal.n_periods, len(n.tranches)
    a, f, sp = len(n.accounts), len(n.fees), len(n.supports)
    z = np.zeros
    return BasePath(
        0, t,
        z((t + 1, a)), z((t + 1, k)), z((t + 1, k)), z((t + 1, f)), z((t + 1, sp)), z((t + 1, 3)),
        z((t, k)), z((t + 1, k), dtype=np.int64), z((t + 1, k)), z((t + 1, k)), z(t + 1), z(t + 1), z(t + 1),
        z(k), z(k), z((t, k), dtype=np.int64), z((t, k), dtype=np.int64), z((t, k), dtype=np.int64),
        z((t, k), dtype=np.int64), z((t, k), dtype=np.int64), z((t, N_POOL_SUMS), dtype=np.int64),
        z((t + 1, k)), z((t + 1, k)), z((t + 1, k), dtype=np.int64),
    )


def revenue_inputs(deal: CompiledDeal, a_end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """The sales-linked assets of ``simulation.revenue_risk`` and their per-period drift (μ − σ²/2)·Δ_t and volatility
    σ·√Δ_t by the sector (tape industry) of their obligor (docs/methodology/monte-carlo.md §1.3)."""
    rr = deal.scenario.simulation.revenue_risk
    n_t = deal.n_periods
    none = (np.zeros(0, dtype=np.int64), np.zeros((0, n_t)), np.zeros((0, n_t)), 0.0, math.inf)
    if rr is None:
        return none
    info = deal.info
    types = set(rr.asset_types)
    assets = [i for i, t in enumerate(info.asset_type) if t in types and a_end[i] > 0]
    yf = np.asarray(deal.waterfall.yf, dtype=np.float64)
    mu = np.empty((len(assets), n_t))
    sig = np.empty((len(assets), n_t))
    for c, i in enumerate(assets):
        sector = info.obligor_industry[int(info.asset_obligor[i])]
        r = rr.by_sector.get(sector, rr)
        mu[c] = (r.drift - 0.5 * r.volatility**2) * yf
        sig[c] = r.volatility * np.sqrt(yf)
    return (np.array(assets, dtype=np.int64), mu, sig, float(rr.floor),
            float(rr.cap) if rr.cap is not None else math.inf)


def obligor_assets(asset_obligor: np.ndarray, n_obligors: int) -> tuple[np.ndarray, np.ndarray]:
    """The assets of each obligor as (ptr, assets): obligor o's assets are ``assets[ptr[o]:ptr[o + 1]]``, in
    increasing order (obligors beyond the tape's, the support providers, have none)."""
    ao = np.asarray(asset_obligor, dtype=np.int64)
    order = np.argsort(ao, kind="stable").astype(np.int64)
    ptr = np.zeros(n_obligors + 1, dtype=np.int64)
    np.cumsum(np.bincount(ao, minlength=n_obligors)[:n_obligors], out=ptr[1:])
    return ptr, order


def prepare(deal: CompiledDeal, assumptions: Assumptions | None = None) -> PreparedMC:
    """Compile the credit model: thresholds, copula groups, recovery parameters, the base path (pure, cacheable)."""
    s = deal.scenario
    sim = s.simulation
    a = assumptions or s.assumptions
    # the MC draws defaults from the copula: no fractional CDR, but the deterministic CPR still applies
    a_perf = a.model_copy(update={"cdr": 0.0, "cumulative_default_rate": None, "default_timing": [],
                                  "obligor_defaults": []})
    pa = performing_flows(deal.pool, a_perf, deal.waterfall.yf)
    table = load_rating_table(sim.rating_table) if sim.rating_table else None
    annual, curve = obligor_pds(deal, table)
    annual = annual * a.default_multiplier
    mult = [float(a.default_multiplier)] * len(curve)
    sectors = list(dict.fromkeys(deal.info.obligor_industry))
    sector = np.array([sectors.index(x) for x in deal.info.obligor_industry], dtype=np.int64)
    # support providers are obligors of the same copula (wrong-way risk)
    sup_obligor = np.full(len(s.support), -1, dtype=np.int64)
    extra_pd, extra_sector = [], []
    for j, x in enumerate(s.support):
        if x.pd is not None:
            p = x.pd
        elif x.rating is not None:
            if table is None or x.rating not in table:
                raise ScenarioError([Issue(f"rating '{x.rating}' of support provider '{x.name}' is not in the rating "
                                           "table", file=deal.source, table=f"support[{j}]", field="rating")])
            p = table.annual_pd.get(x.rating, math.nan)
        else:
            continue  # no PD: the provider never defaults in the simulation
        if x.sector is not None:
            if x.sector not in sectors:
                sectors.append(x.sector)
            sec = sectors.index(x.sector)
        else:
            sec = len(sectors)
            sectors.append(f"__support_{x.name}")
        sup_obligor[j] = len(annual) + len(extra_pd)
        extra_pd.append(p)
        extra_sector.append(sec)
        curve.append(x.rating if math.isnan(p) else None)
        mult.append(1.0)  # support providers' PDs are not stressed by the default multiplier
    all_pd = np.minimum(1.0, np.concatenate([annual, np.array(extra_pd)]))
    all_sector = np.concatenate([sector, np.array(extra_sector, dtype=np.int64)])
    dof = float(sim.degrees_of_freedom) if sim.copula == "student_t" else 0.0
    yf = np.asarray(deal.waterfall.yf, dtype=np.float64)
    cum = cumulative_pd(np.nan_to_num(all_pd), yf)
    if any(r is not None for r in curve):
        _check_horizons(table, float(np.sum(yf)), sim.pd_interpolation, deal.source)
    for i, rating in enumerate(curve):  # PD term structures of the rating table
        if rating is not None:
            cum[i] = stressed_cumulative(table.cumulative(rating, np.cumsum(yf)), yf, mult[i])
    th = thresholds_from_cumulative_pd(cum, dof)
    lay = copula_layout(all_sector, sim.correlation, sim.sector_correlation)
    # recoveries
    n_a = len(deal.info.asset_ids)
    hc_mean, hc_std = np.empty(n_a), np.empty(n_a)
    for i, types in enumerate(deal.info.asset_ip_types):
        h = sim.haircut_by_ip_type.get(types[0], sim.haircut) if types else sim.haircut
        hc_mean[i], hc_std[i] = h.mean, h.std
    fixed_rate = min(1.0, a.recovery_rate * a.recovery_multiplier)
    a_end = np.empty(n_a, dtype=np.int64)
    flags = np.zeros(3, dtype=np.int64)
    asset_activity(pa, a_end, flags)
    width = 3 if flags[2] else 4
    packed = np.empty(n_a * deal.n_periods * width)
    pack_performing(pa, packed, width)
    packed2 = np.empty(n_a * deal.n_periods * 2)
    pack_performing(pa, packed2, 2)
    th_rows, th_row = threshold_rows(th)
    rev_asset, rev_mu, rev_sig, rev_floor, rev_cap = revenue_inputs(deal, a_end)
    credit = CreditInputs(
        deal.info.asset_obligor.astype(np.int64), th_rows, th_row, lay.group, lay.g_a, lay.g_s, lay.g_b, lay.g_sector,
        group_cmax(lay, th), int(lay.n_sectors), dof, sup_obligor, deal.info.asset_appraisal.astype(np.float64),
        hc_mean, hc_std, float(sim.disposal_cost_rate), float(fixed_rate), int(a.recovery_lag_periods),
        sim.recovery_model == "ip_disposal", a_end, packed, width, packed2, int(flags[0]), int(flags[1]),
        float(sim.recovery_downturn),
        int(sim.recovery_lag_max_periods - a.recovery_lag_periods) if sim.recovery_lag_max_periods is not None else 0,
        rev_asset, rev_mu, rev_sig, rev_floor, rev_cap, *obligor_assets(deal.info.asset_obligor, len(th_row)),
    )
    d = deal.waterfall
    freq = float(_FREQ[s.deal.payment_frequency])
    inc_idx, inc_val, inc_units, unit = _period_increments(d.yf, freq)
    stats = StatInputs(
        np.cumsum(d.yf), np.array([t.price for t in s.tranches], dtype=np.float64), freq, inc_idx, inc_val,
        inc_units, unit,
        # provisional histogram edges: bands.layout sets the bands' own after the base path (decision 019)
        np.maximum(d.tr_bal0, 1.0) * (1.0 + 1e-9), np.maximum(d.tr_bal0, 1.0) * 1.2,
    )
    base = _empty_base(deal)
    n = deal.names
    bpf = empty_pool_flows(deal.n_periods)
    bout = empty_waterfall_out(deal.n_periods, len(n.tranches), len(n.fees), len(n.accounts), len(n.supports))
    ok, wound = base_path(d, pa, credit, stats, base, bpf, bout, N_BINS)
    base = base._replace(restart_ok=int(ok), wound_up=int(wound))
    stats, base = bands.layout(stats, base, bout, d.tr_bal0)  # the bands' histogram edges and base-path bin
    used = None if table is None else {"name": table.name, "version": table.version, "status": table.status,
                                       "source": table.source}
    return PreparedMC(d, pa, credit, stats, base, bpf, bout, len(all_pd), tuple(sectors), sim.copula, dof, used)


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
    elapsed_seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
    first_default: np.ndarray | None = None  # i2[n] first default period of any obligor or provider (T = none)
    revenue_shortfall_rate: np.ndarray | None = None  # f8[n] sales-linked payments short of schedule / pool balance
    statistics: str = "full"  # "losses": no WAL, yield (NaN) or per-period sums and histograms (zero)
    base_balance: np.ndarray | None = None  # f8[T, K] the base (no-default) path's balances: a point mass of the bands
    base_payment: np.ndarray | None = None  # f8[T, K] its payments (interest + principal + residual)

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
    if n < 0:
        raise ValueError("n_paths must be >= 0")
    prep = prepared or prepare(deal, assumptions)
    stats_level = sim.statistics if statistics is None else statistics
    if stats_level not in STATISTICS:
        raise ValueError(f"statistics must be one of {', '.join(STATISTICS)}, not {stats_level!r}")
    lean = stats_level == "losses"
    level = STATS_LOSSES if lean else STATS_FULL
    if waterfall_kernel not in WATERFALL_KERNELS:
        raise ValueError(f"waterfall_kernel must be one of {', '.join(WATERFALL_KERNELS)}, not {waterfall_kernel!r}")
    wf_addr, wf_par, wf_key, wf_note = np.int64(0), np.zeros(1), None, None
    if waterfall_kernel == "specialised" and n > 0:
        try:
            sw = specialised_waterfall(prep.d)
            wf_addr, wf_par, wf_key = np.int64(sw.address), sw.params, sw.key
            if lean and not sw.reads_pool_balances:
                level = STATS_LOSSES_NO_BALANCES
        except Exception as e:  # noqa: BLE001 — an optimisation: the general kernel gives the same numbers
            wf_note = f"generated waterfall unavailable ({type(e).__name__}: {e}); ran the general kernel"
            warnings.warn(wf_note, RuntimeWarning, stacklevel=2)
    k = len(deal.names.tranches)
    n_t = deal.n_periods
    chunk = min(2**24, max(BLOCK_SIZE, (chunk or 16 * BLOCK_SIZE) // BLOCK_SIZE * BLOCK_SIZE))
    po = PathOutputs(np.zeros((n, k)), np.zeros((n, k), dtype=np.int8), np.zeros((n, k)), np.zeros((n, k)),
                     np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int8), np.zeros(n, dtype=np.int16),
                     np.zeros(n))
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
        try:
            simulate_block(seed64, np.int64(path0 + lo), np.int64(path0 + hi), np.int64(0), prep.d, prep.pa,
                           prep.credit, prep.stats, prep.base, prep.base_pf, prep.base_out,
                           PathOutputs(*(x[lo:hi] for x in po)), acc[0], np.int64(level), wf_addr, wf_par)
            acc[1] += hi - lo
            # int64 sums are exact while a flush holds < 9.2e18 fen; uint16 counts while it holds < 2^16 paths
            if acc[1] >= chunk or acc[1] + BLOCK_SIZE > _HIST_FLUSH:
                flush(acc)
        finally:
            free.put(acc)
        return hi - lo

    blocks = [(lo, min(n, lo + BLOCK_SIZE)) for lo in range(0, n, BLOCK_SIZE)]
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
            "pool_balances": level != STATS_LOSSES_NO_BALANCES}
    if wf_note:
        meta["waterfall_note"] = wf_note
    return MCResult(deal, sd, path0, n, po.loss, po.short, po.wal, po.yld, po.pool_def, po.pool_loss, po.sup_draw,
                    po.sup_def, h_bal, h_cash, s_int, s_prin, s_bal, s_pool, prep.bal_hi, prep.cash_hi, elapsed, meta,
                    po.first_default, po.rev_short, stats_level, prep.base_out.tr_bal_end.copy(),
                    prep.base_out.tr_int_paid + prep.base_out.tr_prin_paid + prep.base_out.tr_resid)


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
    _trace_path(np.uint64(seed), np.int64(path), prep.d, prep.pa, prep.credit, prep.stats, pf, out, x)
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
    )
