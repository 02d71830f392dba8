"""The Monte Carlo preparation stage: compiled deal (+ assumptions) → the Monte Carlo's inputs.

Between :mod:`ipabs.compile` (scenario → :class:`~ipabs.compile.lower.CompiledDeal`) and the engine
(:mod:`ipabs.engine.montecarlo`, which only runs paths and merges results): each obligor's and support provider's PD
curve and default thresholds, the copula's layout, recovery and sales-linked revenue inputs, the statistics'
period grid and the base (no-default) path, gathered in :class:`PreparedMC` (pure data, picklable; decision 021).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ipabs.compile.arrays import empty_pool_flows, empty_waterfall_out
from ipabs.compile.codegen import layout
from ipabs.compile.lower import CompiledDeal, performing_flows
from ipabs.credit.defaults import copula_layout, group_cmax, threshold_rows, thresholds_from_cumulative_pd
from ipabs.credit.pd_curves import RatingTable, load_rating_table, stressed_cumulative
from ipabs.engine import bands
from ipabs.errors import Issue, ScenarioError
from ipabs.kernels.containers import PoolFlows, WaterfallOut
from ipabs.kernels.paths import N_POOL_SUMS, BasePath, CreditInputs, StatInputs, base_path
from ipabs.kernels.pool import asset_activity, pack_performing
from ipabs.prepare.rates import rate_arrays
from ipabs.scenario.schema import Assumptions

#: Bins of the per-period balance and payment histograms (layout: :mod:`ipabs.engine.bands`, decision 019).
N_BINS = bands.N_HIST
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
        z((t + 1, a)), z((t + 1, k)), z((t + 1, k)), z((t + 1, f)), z((t + 1, sp)), z((t + 1, 3 + k)),
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
    yf = np.asarray(deal.pool.pool_yf, dtype=np.float64)  # collection periods: the sales shocks' clock
    mu = np.empty((len(assets), n_t))
    sig = np.empty((len(assets), n_t))
    for c, i in enumerate(assets):
        sector = info.obligor_industry[int(info.asset_obligor[i])]
        r = rr.by_sector.get(sector, rr)
        mu[c] = (r.drift - 0.5 * r.volatility**2) * yf
        sig[c] = r.volatility * np.sqrt(yf)
    return (np.array(assets, dtype=np.int64), mu, sig, float(rr.floor),
            float(rr.cap) if rr.cap is not None else math.inf)


def revenue_loadings(deal: CompiledDeal, rev_asset: np.ndarray, lay: Any
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Loadings of each sales-linked asset's shock on the copula's factors (docs/methodology/copula.md §5):
    Z = w·(a·M + s·F)/√(a² + s²) + √(1 − w²)·ε with w = ``revenue_risk.factor_loading`` and a, s the global and
    sector loadings of the asset's obligor (w·M when the obligor has neither). Returns (cm, cs, ce, sector); w = 0
    gives cm = cs = 0, which the kernel takes as "Z = ε" exactly (today's draws, bit for bit)."""
    n = rev_asset.shape[0]
    cm, cs, ce = np.zeros(n), np.zeros(n), np.ones(n)
    sec = np.zeros(n, dtype=np.int64)
    rr = deal.scenario.simulation.revenue_risk
    w = 0.0 if rr is None else float(rr.factor_loading)
    for c in range(n):
        g = int(lay.group[int(deal.info.asset_obligor[int(rev_asset[c])])])
        a, s = float(lay.g_a[g]), float(lay.g_s[g])
        sec[c] = int(lay.g_sector[g])
        if w == 0.0:
            continue
        norm = math.sqrt(a * a + s * s)
        cm[c], cs[c] = (w * a / norm, w * s / norm) if norm > 0.0 else (w, 0.0)
        ce[c] = math.sqrt(max(0.0, 1.0 - w * w))
    return cm, cs, ce, sec


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
    pa = performing_flows(deal.pool, a_perf)
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
    yf = np.asarray(deal.pool.pool_yf, dtype=np.float64)  # collection periods: a default in t stops t's flows
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
    rev_load = revenue_loadings(deal, rev_asset, lay)
    credit = CreditInputs(
        deal.info.asset_obligor.astype(np.int64), th_rows, th_row, lay.group, lay.g_a, lay.g_s, lay.g_b, lay.g_sector,
        group_cmax(lay, th), int(lay.n_sectors), dof, sup_obligor, deal.info.asset_appraisal.astype(np.float64),
        hc_mean, hc_std, float(sim.disposal_cost_rate), float(fixed_rate), int(a.recovery_lag_periods),
        sim.recovery_model == "ip_disposal", a_end, packed, width, packed2, int(flags[0]), int(flags[1]),
        float(sim.recovery_downturn),
        int(sim.recovery_lag_max_periods - a.recovery_lag_periods) if sim.recovery_lag_max_periods is not None else 0,
        rev_asset, rev_mu, rev_sig, rev_floor, rev_cap, *obligor_assets(deal.info.asset_obligor, len(th_row)),
        *rev_load, rate_arrays(deal, pa, layout(deal.waterfall).cpn),
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
