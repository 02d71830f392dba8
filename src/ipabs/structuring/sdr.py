"""Scenario default rates (SDR) and breakeven default rates (BDR) per rating, S&P CDO Evaluator style
(DOMAIN.md §6; docs/methodology/structuring.md §3; decision 016).

* **SDR(R)**: the pool cumulative default rate (defaulted balance over the deal's life / cut-off balance, the
  Monte Carlo's per-path ``pool_default_rate``) that the simulated distribution exceeds with probability at most the
  rating's target probability ``p_R`` — its ``1 − p_R`` quantile (``numpy.quantile``, linear). ``p_R`` is the rating
  table's cumulative PD at the **pool's WAL** (:func:`pool_wal`; same table, flag and horizon rules as
  :mod:`ipabs.structuring.ratings`). Its standard error is the order-statistic one of
  :meth:`ipabs.engine.montecarlo.MCResult.quantiles` (ranks ``n·q ∓ √(n·q(1 − q))``).
* **BDR** of a tranche: the highest pool cumulative default rate it survives (repaid in full, no interest
  shortfall), from :func:`ipabs.structuring.breakeven.breakeven` with ``measure="cumulative_default_rate"`` — or
  numbers the caller passes in (``bdr=``).
* A tranche **passes** rating R when ``BDR ≥ SDR(R)``; the implied rating of this method is the best rating it
  passes, shown beside the PD/EL method of :mod:`ipabs.structuring.ratings`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipabs.engine.montecarlo import _quantile_with_se
from ipabs.errors import Issue, ScenarioError
from ipabs.structuring.ratings import (
    RatingMap,
    TargetTable,
    _ladder,
    load_mapping,
    load_target_table,
    tranche_ratings,
)

__all__ = ["ScenarioDefaultRate", "BdrSdrRow", "BdrSdrImplied", "BdrSdrTable", "pool_wal", "sdr_from_sample",
           "scenario_default_rates", "bdr_vs_sdr", "bdr_sdr_table", "MIN_TAIL_PATHS"]

#: An SDR counts as resolved when at least this many paths are expected beyond it (n · p_R).
MIN_TAIL_PATHS = 10.0


def _err(msg: str, field_: str | None = None) -> ScenarioError:
    return ScenarioError([Issue(msg, table="sdr", field=field_)], title="invalid SDR input")


def pool_wal(deal: Any) -> float:
    """The pool's WAL in years: its scheduled (contractual) principal, no defaults and no prepayments, weighted by
    the time of each payment period on the deal's accrual clock (``cumsum(yf)``, the clock of the PD curves);
    principal still outstanding at the end of the deal counts at the last period."""
    p = np.asarray(deal.pool.sched_prin, dtype=np.float64).sum(axis=0)
    tau = np.cumsum(np.asarray(deal.pool.pool_yf, dtype=np.float64))
    b0 = float(deal.waterfall.pool_bal0)
    if b0 <= 0 or tau.size == 0:
        raise _err("the pool has no balance: no pool WAL", "pool_wal")
    rest = max(0.0, b0 - float(p.sum()))
    return float((tau @ p + tau[-1] * rest) / b0)


def sdr_from_sample(default_rates: np.ndarray, target_pd: float) -> tuple[float, float, float, float]:
    """(SDR, se, lo, hi): the ``1 − target_pd`` quantile of the simulated pool default rates, its order-statistic
    standard error and interval (as ``MCResult.quantiles``)."""
    x = np.asarray(default_rates, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise _err("an SDR needs the default rates of at least two paths", "pool_default_rate")
    if not 0.0 <= target_pd <= 1.0:
        raise _err(f"target probability {target_pd} is not in [0, 1]", "target_pd")
    return _quantile_with_se(x, np.sort(x), 1.0 - target_pd)


@dataclass(frozen=True)
class ScenarioDefaultRate:
    """SDR of one rating (see the module docstring). ``resolved`` is false when fewer than
    :data:`MIN_TAIL_PATHS` paths are expected beyond the quantile: run more paths."""

    rating: str
    rating_cn: str | None
    target_pd: float
    quantile: float
    sdr: float
    se: float
    lo: float
    hi: float
    tail_paths: float
    resolved: bool
    pool_wal_years: float
    pool_wal_source: str
    horizon_rule: str
    table: str
    table_status: str
    mapping: str
    mapping_status: str
    labels: tuple[str, ...]


def _labels(tab: TargetTable, m: RatingMap, rule: str, wal_source: str) -> tuple[str, ...]:
    out = []
    if not tab.confirmed:
        out.append(tab.label())
    if not rule.startswith("tabulated") and not rule.startswith("flat"):
        out.append(f"interpolated horizon: {rule}")
    if m.status != "confirmed":
        out.append(m.label())
    if wal_source != "given":
        out.append(f"horizon: {wal_source}")
    return tuple(out)


def scenario_default_rates(mc: Any, deal: Any = None, *, ratings: Sequence[str] | None = None,
                           table: str | Path | TargetTable = "moodys_idealized",
                           mapping: str | Path | RatingMap | None = None, allow_unconfirmed: bool = False,
                           interpolation: str = "none", pool_wal_years: float | None = None,
                           default_rates: np.ndarray | None = None) -> list[ScenarioDefaultRate]:
    """SDR of every rating of the table (or of ``ratings``, table-scale names) from a Monte Carlo result ``mc``
    (its per-path ``pool_default_rate``; ``default_rates`` replaces it). The horizon is :func:`pool_wal` of
    ``deal`` (default ``mc.deal``) unless ``pool_wal_years`` is given."""
    tab = load_target_table(table, "pd", allow_unconfirmed=allow_unconfirmed)
    m = load_mapping(mapping)
    if default_rates is None:
        default_rates = mc.pool_default_rate
        deal = mc.deal if deal is None else deal
    x = np.asarray(default_rates, dtype=np.float64)
    if pool_wal_years is None:
        if deal is None:
            raise _err("give pool_wal_years or a deal to take the pool's WAL from", "pool_wal_years")
        wal, src = pool_wal(deal), "pool WAL of the scheduled amortisation (no defaults, no prepayments)"
    else:
        wal, src = float(pool_wal_years), "given"
    ladder, rule = _ladder(tab, wal, interpolation)
    labels = _labels(tab, m, rule, src)
    want = list(tab.ratings) if ratings is None else list(ratings)
    unknown = [r for r in want if r not in tab.ratings]
    if unknown:
        raise _err(f"ratings {unknown} are not in table '{tab.name}'", "ratings")
    thr = dict(ladder)
    n = x.size
    out = []
    for r in want:
        p = thr[r]
        v, se, lo, hi = sdr_from_sample(x, p)
        out.append(ScenarioDefaultRate(r, m.map.get(r), p, 1.0 - p, v, se, lo, hi, n * p, n * p >= MIN_TAIL_PATHS,
                                       wal, src, rule, tab.name, tab.status, m.name, m.status, labels))
    return out


@dataclass(frozen=True)
class BdrSdrRow:
    """One tranche at one rating: ``passes`` when ``bdr >= sdr``; ``margin = bdr − sdr`` with the SDR's Monte
    Carlo standard error (the BDR is deterministic); ``flips_within_2se`` when ``|margin| < 2·sdr_se``."""

    tranche: str
    rating: str
    rating_cn: str | None
    target_pd: float
    bdr: float
    sdr: float
    sdr_se: float
    margin: float
    passes: bool
    flips_within_2se: bool
    resolved: bool


@dataclass(frozen=True)
class BdrSdrImplied:
    """Per tranche: the best rating whose SDR its BDR covers (None: not even the lowest) and, beside it, the
    rating of the PD/EL method (:func:`ipabs.structuring.ratings.tranche_ratings`) when it was computed."""

    tranche: str
    bdr: float
    rating: str | None
    rating_cn: str | None
    sdr: float | None
    margin: float | None
    flips_within_2se: bool
    method_rating: str | None = None
    method_rating_cn: str | None = None
    method_basis: str | None = None
    method_flips_within_2se: bool | None = None


def bdr_vs_sdr(bdr: Mapping[str, float], sdrs: Sequence[ScenarioDefaultRate]) -> tuple[list[BdrSdrRow],
                                                                                       list[BdrSdrImplied]]:
    """The BDR-against-SDR rows (every tranche × rating, ratings in table order, best first) and each tranche's
    implied rating: the best rating with ``BDR ≥ SDR``. Pure arithmetic on the numbers given."""
    rows: list[BdrSdrRow] = []
    implied: list[BdrSdrImplied] = []
    for tr, b in bdr.items():
        b = float(b)
        if not math.isfinite(b):
            raise _err(f"BDR of tranche '{tr}' is not a number: {b}", "bdr")
        mine = []
        for s in sdrs:
            mg = b - s.sdr
            mine.append(BdrSdrRow(tr, s.rating, s.rating_cn, s.target_pd, b, s.sdr, s.se, mg, b >= s.sdr,
                                  abs(mg) < 2 * s.se, s.resolved))
        rows += mine
        best = next((r for r in mine if r.passes), None)
        implied.append(BdrSdrImplied(tr, b, best.rating if best else None, best.rating_cn if best else None,
                                     best.sdr if best else None, best.margin if best else None,
                                     bool(best.flips_within_2se) if best else False))
    return rows, implied


@dataclass(frozen=True)
class BdrSdrTable:
    """BDR against SDR per tranche and rating, the SDRs, the implied ratings of both methods, and the labels of
    every assumption they rest on."""

    rows: tuple[BdrSdrRow, ...]
    sdrs: tuple[ScenarioDefaultRate, ...]
    implied: tuple[BdrSdrImplied, ...]
    labels: tuple[str, ...]
    bdr_source: str

    def frame(self) -> pd.DataFrame:
        """One row per tranche and rating."""
        f = pd.DataFrame([asdict(r) for r in self.rows])
        f["labels"] = " | ".join(self.labels)
        return f

    def sdr_frame(self) -> pd.DataFrame:
        f = pd.DataFrame([asdict(s) for s in self.sdrs])
        f["labels"] = f["labels"].map(" | ".join)
        return f

    def implied_frame(self) -> pd.DataFrame:
        """One row per tranche: the BDR/SDR rating beside the PD/EL method's."""
        f = pd.DataFrame([asdict(r) for r in self.implied])
        f["labels"] = " | ".join(self.labels)
        return f


BdrArg = Mapping[str, float] | Callable[[Any, str], Any] | None


def _bdr_values(deal: Any, bdr: BdrArg, base: Any, support: Any) -> tuple[dict[str, float], str]:
    names = list(deal.names.tranches)
    if isinstance(bdr, Mapping):
        missing = [t for t in names if t not in bdr]
        extra = [t for t in bdr if t not in names]
        if extra:
            raise _err(f"BDRs given for unknown tranches {extra} (tranches: {names})", "bdr")
        return {t: float(bdr[t]) for t in names if t not in missing}, "given"
    if bdr is None:
        try:
            from ipabs.structuring.breakeven import breakeven  # type: ignore[import-not-found]
        except ImportError as e:
            raise _err("ipabs.structuring.breakeven is not available on this branch: pass bdr= (a mapping "
                       "tranche → BDR or a callable(deal, tranche))", "bdr") from e

        def fn(d: Any, t: str) -> Any:
            return breakeven(d, t, measure="cumulative_default_rate", base=base, support=support)

        src = f"ipabs.structuring.breakeven.breakeven(measure='cumulative_default_rate', base={base!r}, " \
              f"support={support!r})"
    else:
        fn, src = bdr, f"callable {getattr(bdr, '__name__', repr(bdr))}"
    out = {}
    for t in names:
        v = fn(deal, t)
        out[t] = float(getattr(v, "value", v))
    return out, src


def bdr_sdr_table(mc: Any, deal: Any = None, *, bdr: BdrArg = None, ratings: Sequence[str] | None = None,
                  table: str | Path | TargetTable = "moodys_idealized", mapping: str | Path | RatingMap | None = None,
                  allow_unconfirmed: bool = False, interpolation: str = "none", pool_wal_years: float | None = None,
                  base: Any = None, support: Any = True, method_basis: str | None = "pd",
                  method_kw: Mapping[str, Any] | None = None) -> BdrSdrTable:
    """BDR against SDR for every tranche and rating of a Monte Carlo result.

    ``bdr``: None (call :func:`ipabs.structuring.breakeven.breakeven` with ``measure="cumulative_default_rate"``,
    ``base`` and ``support`` on each tranche), a mapping tranche → BDR (tranches left out are left out of the
    table), or a callable ``(deal, tranche) -> float or an object with .value``. ``method_basis`` (``"pd"``,
    ``"el"`` or None to skip) adds the implied rating of :func:`ipabs.structuring.ratings.tranche_ratings`, with
    the same table flags unless ``method_kw`` overrides them."""
    deal = mc.deal if deal is None else deal
    sdrs = scenario_default_rates(mc, deal, ratings=ratings, table=table, mapping=mapping,
                                  allow_unconfirmed=allow_unconfirmed, interpolation=interpolation,
                                  pool_wal_years=pool_wal_years)
    values, src = _bdr_values(deal, bdr, base, support)
    rows, implied = bdr_vs_sdr(values, sdrs)
    labels = list(sdrs[0].labels) if sdrs else []
    if method_basis is not None:
        kw = {"table": table, "mapping": mapping, "allow_unconfirmed": allow_unconfirmed,
              "interpolation": interpolation, **(method_kw or {})}
        by = {r.tranche: r for r in tranche_ratings(mc, deal, basis=method_basis, **kw)}
        implied = [BdrSdrImplied(i.tranche, i.bdr, i.rating, i.rating_cn, i.sdr, i.margin, i.flips_within_2se,
                                 by[i.tranche].rating, by[i.tranche].rating_cn, method_basis,
                                 by[i.tranche].flips_within_2se) for i in implied]
        for r in by.values():
            labels += [lb for lb in r.labels if lb not in labels]
    return BdrSdrTable(tuple(rows), tuple(sdrs), tuple(implied), tuple(labels), src)
