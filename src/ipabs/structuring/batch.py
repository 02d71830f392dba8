"""The batch deterministic engine: many deterministic scenarios of one compiled deal in one call.

A :class:`ScenarioTable` holds n scenarios as columns (CDR, CPR, recovery, recovery lag, default timing, stress
multipliers, obligor default overrides, support-provider default periods). :func:`run_batch` runs every one of them
through the deal's waterfall and returns a :class:`BatchResult` with, per scenario and tranche, the interest and
principal paid, the loss, WAL, yield, whether an interest shortfall was ever carried, the minimum cash-flow coverage
ratio and the period each trigger first fired.

Every structuring method (breakeven, largest-obligor test, deterministic stress grids, the prospectus table) is a
function of :func:`run_batch`. Scenario ``i`` of a batch gives the same numbers as the same scenario run alone
(bit for bit, whatever the batch and the thread count).

``engine="reference"`` runs the scenarios one at a time through :func:`ipabs.engine.deterministic.run_path` (the
deterministic engine's own kernels; QuantLib yields): the slow twin that the fast engine is tested against.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ipabs.compile.lower import CompiledDeal
from ipabs.kernels._jit import TRG_COVERAGE, TRG_CUM_DEFAULT, TRG_SUPPORT_DEFAULT
from ipabs.kernels.batch import BatchOutputs
from ipabs.kernels.waterfall import EPS
from ipabs.scenario.schema import Assumptions

#: Amounts below this (yuan) count as zero when deciding "repaid in full" / "no interest shortfall" (the
#: waterfall's own EPS).
EPS_REPAID = EPS

#: Sentinel of "never" in the period columns (replaced by n_periods when a table is bound to a deal).
NEVER = -1

ENGINES = ("kernel", "reference")



@dataclass(frozen=True)
class ScenarioTable:
    """n deterministic scenarios of one deal, as columns.

    Columns (length n unless stated; periods are 0-based payment periods, ``n_periods`` = never):

    ``cdr``, ``cpr``, ``recovery_rate``
        annual default rate, annual prepayment rate, recovery rate (before the multipliers), decimals.
    ``recovery_lag``
        payment periods from default to recovery (int).
    ``default_multiplier``, ``recovery_multiplier``, ``cpr_multiplier``
        stresses applied as in :class:`ipabs.scenario.schema.Assumptions`.
    ``cumulative_default_rate``
        NaN to use ``cdr``; otherwise total defaults as a fraction of the cut-off balance spread by
        ``default_timing``.
    ``default_timing``
        f8[n, T] timing weights (each row normalised by the engine; a row of zeros means uniform).
    ``obligor_default_period``
        i8[n, O] period in which each obligor defaults outright (``n_periods`` = does not default).
    ``support_default_period``
        i8[n, S] period in which each support provider defaults (0 = support off from the start;
        ``n_periods`` = never).
    ``labels``
        one name per scenario (for tables and the prospectus).
    """

    cdr: np.ndarray
    cpr: np.ndarray
    recovery_rate: np.ndarray
    recovery_lag: np.ndarray
    default_multiplier: np.ndarray
    recovery_multiplier: np.ndarray
    cpr_multiplier: np.ndarray
    cumulative_default_rate: np.ndarray
    default_timing: np.ndarray
    obligor_default_period: np.ndarray
    support_default_period: np.ndarray
    labels: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.cdr.shape[0])

    # ---- construction ----------------------------------------------------------------------------------------
    @classmethod
    def from_assumptions(cls, deal: CompiledDeal, assumptions: Sequence[Assumptions], *,
                         support_default_period: Sequence[Sequence[int]] | np.ndarray | None = None,
                         labels: Sequence[str] | None = None) -> ScenarioTable:
        """One row per :class:`Assumptions` (obligor defaults included); support default periods from the deal's
        scenario (``support[].default_period``) unless given (0-based, ``n_periods`` = never)."""
        from ipabs.engine.deterministic import asset_default_periods, support_default_periods

        n, n_t = len(assumptions), deal.n_periods
        n_o, n_s = len(deal.info.obligor_ids), len(deal.names.supports)
        timing = np.zeros((n, n_t))
        obl = np.full((n, n_o), n_t, dtype=np.int64)
        for i, a in enumerate(assumptions):
            if a.default_timing:
                m = min(n_t, len(a.default_timing))
                timing[i, :m] = a.default_timing[:m]
            if a.obligor_defaults:
                asset_t = asset_default_periods(deal, a)  # validates the obligor ids and periods
                for j, o in enumerate(deal.info.asset_obligor):
                    obl[i, o] = min(obl[i, o], asset_t[j])
        if support_default_period is None:
            sup = np.tile(support_default_periods(deal), (n, 1)).reshape(n, n_s)
        else:
            sup = np.asarray(support_default_period, dtype=np.int64).reshape(n, n_s)

        def col(name: str) -> np.ndarray:
            return np.array([float(getattr(a, name)) for a in assumptions], dtype=np.float64)

        return cls(
            cdr=col("cdr"), cpr=col("cpr"), recovery_rate=col("recovery_rate"),
            recovery_lag=np.array([a.recovery_lag_periods for a in assumptions], dtype=np.int64),
            default_multiplier=col("default_multiplier"), recovery_multiplier=col("recovery_multiplier"),
            cpr_multiplier=col("cpr_multiplier"),
            cumulative_default_rate=np.array([math.nan if a.cumulative_default_rate is None
                                              else a.cumulative_default_rate for a in assumptions]),
            default_timing=timing, obligor_default_period=obl, support_default_period=sup,
            labels=tuple(labels) if labels is not None else tuple(f"scenario {i + 1}" for i in range(n)),
        )

    @classmethod
    def repeat(cls, deal: CompiledDeal, n: int, base: Assumptions | None = None, **columns: Any) -> ScenarioTable:
        """``n`` copies of ``base`` (default: the scenario's assumptions), then ``columns`` set (each a scalar or an
        array broadcast to the column's shape), e.g. ``ScenarioTable.repeat(deal, 1000, cdr=np.linspace(0, .5,
        1000))``."""
        t = cls.from_assumptions(deal, [base or deal.scenario.assumptions])
        rows = {name: np.repeat(getattr(t, name), n, axis=0) for name in _COLUMNS}
        for name, v in columns.items():
            if name == "labels":
                continue
            if name not in _COLUMNS:
                raise TypeError(f"unknown scenario column {name!r}; columns are {', '.join(_COLUMNS)}")
            rows[name] = np.broadcast_to(np.asarray(v, dtype=rows[name].dtype), rows[name].shape).copy()
        labels = tuple(columns["labels"]) if "labels" in columns else tuple(f"scenario {i + 1}" for i in range(n))
        return cls(**rows, labels=labels)

    def take(self, idx: np.ndarray | slice | Sequence[int]) -> ScenarioTable:
        """The scenarios at ``idx`` (a slice gives a scenario range, for splitting a batch across workers)."""
        if isinstance(idx, slice):
            labels = self.labels[idx]
        else:
            idx = np.asarray(idx, dtype=np.int64)
            labels = tuple(self.labels[i] for i in idx) if self.labels else ()
        return ScenarioTable(**{name: getattr(self, name)[idx] for name in _COLUMNS}, labels=labels)

    def with_columns(self, **columns: Any) -> ScenarioTable:
        """A copy with some columns replaced (scalars and arrays broadcast to the column's shape)."""
        rows = {name: np.broadcast_to(np.asarray(v, dtype=getattr(self, name).dtype),
                                      getattr(self, name).shape).copy()
                for name, v in columns.items() if name != "labels"}
        if "labels" in columns:
            rows["labels"] = tuple(columns["labels"])
        return replace(self, **rows)

    @staticmethod
    def concat(tables: Sequence[ScenarioTable]) -> ScenarioTable:
        return ScenarioTable(**{name: np.concatenate([getattr(t, name) for t in tables]) for name in _COLUMNS},
                             labels=tuple(x for t in tables for x in t.labels))

    def assumptions(self, i: int) -> Assumptions:
        """Scenario ``i`` as :class:`Assumptions` (without obligor defaults, which are ``obligor_default_period``)."""
        cdr_cum = float(self.cumulative_default_rate[i])
        timing = [float(x) for x in self.default_timing[i]] if not math.isnan(cdr_cum) else []
        if timing and sum(timing) <= 0:
            timing = []
        return Assumptions(
            cdr=float(self.cdr[i]) if math.isnan(cdr_cum) else 0.0,
            cumulative_default_rate=None if math.isnan(cdr_cum) else cdr_cum,
            default_timing=timing, cpr=float(self.cpr[i]), recovery_rate=float(self.recovery_rate[i]),
            recovery_lag_periods=int(self.recovery_lag[i]),
            default_multiplier=float(self.default_multiplier[i]),
            recovery_multiplier=float(self.recovery_multiplier[i]),
            cpr_multiplier=float(self.cpr_multiplier[i]),
        )

    def validate(self, deal: CompiledDeal) -> None:
        """Shapes and ranges, once per batch (raises :class:`ipabs.errors.ScenarioError` naming column and row)."""
        from ipabs.errors import Issue, ScenarioError

        n, n_t = len(self), deal.n_periods
        n_o, n_s = len(deal.info.obligor_ids), len(deal.names.supports)
        shapes = {name: (n,) for name in _COLUMNS}
        shapes.update(default_timing=(n, n_t), obligor_default_period=(n, n_o), support_default_period=(n, n_s))
        issues = [Issue(f"shape {getattr(self, c).shape}, expected {s}", table="scenario table", field=c)
                  for c, s in shapes.items() if getattr(self, c).shape != s]
        if issues:
            raise ScenarioError(issues)
        bounds = {"cdr": (0, 1), "cpr": (0, 1), "recovery_rate": (0, 1), "default_multiplier": (0, 100),
                  "recovery_multiplier": (0, 10), "cpr_multiplier": (0, 100), "recovery_lag": (0, 480),
                  "obligor_default_period": (0, n_t), "support_default_period": (0, n_t)}
        for c, (lo, hi) in bounds.items():
            x = getattr(self, c)
            bad = ~np.isfinite(x) | (x < lo) | (x > hi)
            for i in np.flatnonzero(bad.reshape(n, -1).any(axis=1))[:20]:
                issues.append(Issue(f"{x[i]!r} is outside [{lo}, {hi}]", table="scenario table", row=int(i) + 1,
                                    field=c))
        cum = self.cumulative_default_rate
        bad = ~np.isnan(cum) & ((cum < 0) | (cum > 1) | ~np.isfinite(cum))
        for i in np.flatnonzero(bad)[:20]:
            issues.append(Issue(f"{cum[i]!r} is outside [0, 1]", table="scenario table", row=int(i) + 1,
                                field="cumulative_default_rate"))
        both = ~np.isnan(cum) & (self.cdr > 0)
        for i in np.flatnonzero(both)[:20]:
            issues.append(Issue("give either cdr or cumulative_default_rate, not both", table="scenario table",
                                row=int(i) + 1, field="cumulative_default_rate"))
        tm = self.default_timing
        for i in np.flatnonzero(~np.isfinite(tm).all(axis=1) | (tm < 0).any(axis=1))[:20]:
            issues.append(Issue("timing weights must be finite and >= 0", table="scenario table", row=int(i) + 1,
                                field="default_timing"))
        if issues:
            raise ScenarioError(issues)


_COLUMNS = ("cdr", "cpr", "recovery_rate", "recovery_lag", "default_multiplier", "recovery_multiplier",
            "cpr_multiplier", "cumulative_default_rate", "default_timing", "obligor_default_period",
            "support_default_period")


@dataclass(frozen=True)
class BatchResult:
    """Per scenario (rows) and tranche (columns) results of :func:`run_batch`.

    Amounts in yuan. ``loss`` is the principal unpaid after the last period; ``interest_shortfall`` the interest
    unpaid then; ``shortfall_any`` is True when the tranche carried unpaid interest after any period
    (> :data:`EPS_REPAID`). ``wal_years`` and ``yield_`` are NaN where undefined (no principal / no cash).
    ``min_coverage`` is the lowest cash-flow coverage ratio over the periods with senior amounts due (NaN if none).
    ``trigger_period`` is the 0-based period in which each trigger first fired (-1 = never).
    """

    table: ScenarioTable
    tranches: tuple[str, ...]
    triggers: tuple[str, ...]
    supports: tuple[str, ...]
    interest_paid: np.ndarray  # f8[n, K]
    principal_paid: np.ndarray  # f8[n, K]
    residual_paid: np.ndarray  # f8[n, K]
    loss: np.ndarray  # f8[n, K]
    interest_shortfall: np.ndarray  # f8[n, K]
    shortfall_any: np.ndarray  # bool[n, K]
    wal_years: np.ndarray  # f8[n, K]
    yield_: np.ndarray  # f8[n, K]
    min_coverage: np.ndarray  # f8[n]
    trigger_period: np.ndarray  # i8[n, G]
    pool_defaults: np.ndarray  # f8[n]
    pool_recoveries: np.ndarray  # f8[n]
    support_draws: np.ndarray  # f8[n, S]
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.loss.shape[0])

    def tranche_index(self, k: int | str) -> int:
        return self.tranches.index(k) if isinstance(k, str) else int(k)

    def repaid_in_full(self, k: int | str | None = None) -> np.ndarray:
        """bool[n] (or bool[n, K] when ``k`` is None): principal repaid and no interest shortfall ever carried."""
        ok = (self.loss <= EPS_REPAID) & ~self.shortfall_any
        return ok if k is None else ok[:, self.tranche_index(k)]

    def frame(self) -> pd.DataFrame:
        """Long table: one row per (scenario, tranche)."""
        n, k = self.loss.shape
        labels = self.table.labels or tuple(f"scenario {i + 1}" for i in range(n))
        df = pd.DataFrame({
            "scenario": np.repeat(np.arange(n), k),
            "label": np.repeat(np.array(labels, dtype=object), k),
            "tranche": np.tile(np.array(self.tranches, dtype=object), n),
            "interest_paid": self.interest_paid.ravel(),
            "principal_paid": self.principal_paid.ravel(),
            "residual_paid": self.residual_paid.ravel(),
            "loss": self.loss.ravel(),
            "interest_shortfall": self.interest_shortfall.ravel(),
            "shortfall_any": self.shortfall_any.ravel(),
            "repaid_in_full": self.repaid_in_full().ravel(),
            "wal_years": self.wal_years.ravel(),
            "yield": self.yield_.ravel(),
            "min_coverage_ratio": np.repeat(self.min_coverage, k),
        })
        return df

    @staticmethod
    def concat(parts: Sequence[BatchResult]) -> BatchResult:
        """Join results of consecutive scenario ranges (in order)."""
        first = parts[0]
        arrays = {name: np.concatenate([getattr(p, name) for p in parts]) for name in _RESULT_ARRAYS}
        return BatchResult(table=ScenarioTable.concat([p.table for p in parts]), tranches=first.tranches,
                           triggers=first.triggers, supports=first.supports, meta=dict(first.meta), **arrays)


#: The per-scenario arrays of a result: the fields the kernel fills (one list, the kernel's).
_RESULT_ARRAYS = BatchOutputs._fields


def empty_result(deal: CompiledDeal, table: ScenarioTable) -> BatchResult:
    n, k = len(table), len(deal.names.tranches)
    g, s = len(deal.names.triggers), len(deal.names.supports)
    return BatchResult(
        table=table, tranches=deal.names.tranches, triggers=deal.names.triggers, supports=deal.names.supports,
        interest_paid=np.zeros((n, k)), principal_paid=np.zeros((n, k)), residual_paid=np.zeros((n, k)),
        loss=np.zeros((n, k)), interest_shortfall=np.zeros((n, k)), shortfall_any=np.zeros((n, k), dtype=bool),
        wal_years=np.full((n, k), np.nan), yield_=np.full((n, k), np.nan), min_coverage=np.full(n, np.nan),
        trigger_period=np.full((n, g), -1, dtype=np.int64), pool_defaults=np.zeros(n), pool_recoveries=np.zeros(n),
        support_draws=np.zeros((n, s)),
    )


def trigger_first_periods(deal: CompiledDeal, out, sup_def_t: np.ndarray) -> np.ndarray:
    """Period in which each trigger's condition first held (-1 = never), from one path's recorded waterfall
    (the same tests as :func:`ipabs.kernels.waterfall.deal_state`)."""
    d = deal.waterfall
    n_t = deal.n_periods
    res = np.full(d.trg_cond.shape[0], -1, dtype=np.int64)
    for g in range(d.trg_cond.shape[0]):
        for t in range(n_t):
            c = d.trg_cond[g]
            if c == TRG_CUM_DEFAULT:
                hit = d.pool_bal0 > 0.0 and out.cum_def_ratio[t] >= d.trg_thr[g]
            elif c == TRG_COVERAGE:
                hit = 0.0 <= out.coverage[t] < d.trg_thr[g]
            elif c == TRG_SUPPORT_DEFAULT:
                hit = sup_def_t[d.trg_sup[g]] <= t
            else:
                hit = t >= d.trg_period[g]
            if hit:
                res[g] = t
                break
    return res


def _run_reference(deal: CompiledDeal, table: ScenarioTable, progress: Callable[[int, int], None] | None,
                   ) -> BatchResult:
    """Scenario by scenario through the deterministic engine's kernels and QuantLib (the slow twin)."""
    from ipabs.analytics.bond import bond_metrics
    from ipabs.engine.deterministic import run_path

    res = empty_result(deal, table)
    s = deal.scenario
    dates = list(deal.schedule.payment_dates)
    n = len(table)
    asset_obligor = deal.info.asset_obligor
    for i in range(n):
        a = table.assumptions(i)
        asset_t = table.obligor_default_period[i][asset_obligor].astype(np.int64)
        sup_t = table.support_default_period[i].astype(np.int64)
        pf, out = run_path(deal, a, asset_t, sup_t)
        for k, tr in enumerate(s.tranches):
            res.interest_paid[i, k] = out.tr_int_paid[:, k].sum()
            res.principal_paid[i, k] = out.tr_prin_paid[:, k].sum()
            res.residual_paid[i, k] = out.tr_resid[:, k].sum()
            res.loss[i, k] = out.tr_bal_end[-1, k]
            res.interest_shortfall[i, k] = out.tr_int_short[-1, k]
            res.shortfall_any[i, k] = bool((out.tr_int_short[:, k] > EPS_REPAID).any())
            m = bond_metrics(s.deal.closing_date, dates, out.tr_int_paid[:, k], out.tr_prin_paid[:, k],
                             out.tr_resid[:, k], tr.balance, tr.price, s.deal.day_count, s.deal.payment_frequency)
            res.wal_years[i, k] = np.nan if m.wal_years is None else m.wal_years
            res.yield_[i, k] = np.nan if m.yield_at_price is None else m.yield_at_price
        cov = out.coverage[out.coverage >= 0]
        res.min_coverage[i] = cov.min() if cov.size else np.nan
        res.trigger_period[i] = trigger_first_periods(deal, out, sup_t)
        res.pool_defaults[i] = pf.defaults.sum()
        res.pool_recoveries[i] = pf.recoveries.sum()
        res.support_draws[i] = out.sup_draw.sum(axis=0)
        if progress is not None and ((i + 1) % 64 == 0 or i + 1 == n):
            progress(i + 1, n)
    return res


def run_batch(deal: CompiledDeal, table: ScenarioTable, *, engine: str = "kernel",
              progress: Callable[[int, int], None] | None = None, threads: int | None = None) -> BatchResult:
    """Run every scenario of ``table`` through ``deal`` (validation once per batch).

    Parameters
    ----------
    deal : CompiledDeal
    table : ScenarioTable
    engine : {"kernel", "reference"}
        ``"kernel"``: blocks of scenarios in a numba kernel (:mod:`ipabs.kernels.batch`) on a pool of threads, each
        scenario through the deterministic engine's own kernels (decision 015); ``"reference"``: one at a time
        through the deterministic engine (QuantLib yields) — the twin the kernel is tested against (every amount
        bit-identical, WAL and yield within 1e-9).
    progress : callable(done, total), optional
        Called as scenarios complete (kernel: after each block of 256); it may raise :class:`ipabs.errors.Cancelled`
        to stop the run (blocks not yet started are dropped).
    threads : int, optional
        Threads for the kernel engine (results do not depend on it).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    table.validate(deal)
    if engine == "reference" or len(table) == 0:
        res = _run_reference(deal, table, progress)
    else:
        from ipabs.structuring._batch_kernel import run_batch_kernel

        res = run_batch_kernel(deal, table, progress=progress, threads=threads)
    res.meta.update(engine=engine, n_scenarios=len(table))
    return res
