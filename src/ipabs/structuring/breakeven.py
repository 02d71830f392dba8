"""Breakeven default rates (BDR), breakeven recovery and breakeven default multiple, per tranche.

A tranche's breakeven level of a measure is the most stressed level at which it is still *repaid in full*
(:meth:`ipabs.structuring.batch.BatchResult.repaid_in_full`: principal repaid by the legal maturity and no interest
shortfall carried after any period), everything else held at the base assumptions:

========================== ================================================================================
measure                    what is varied (stress grows with …)
========================== ================================================================================
``cdr``                    the constant annual default rate (↑); ``cumulative_default_rate`` off,
                           ``default_multiplier`` = 1, so the value is the effective CDR
``cumulative_default_rate`` total defaults / cut-off balance (↑), spread by the base's ``default_timing``
                           (uniform when none); ``cdr`` = 0, ``default_multiplier`` = 1
``recovery_rate``          the recovery rate (↓: the breakeven is the *lowest* rate still repaid);
                           ``recovery_multiplier`` = 1; defaults as in the base
``default_multiplier``     the multiplier on the base's ``cdr`` / ``cumulative_default_rate`` (↑)
========================== ================================================================================

CPR, recovery (except for ``recovery_rate``), recovery lag, timing curve, named obligor defaults and support are
those of ``base`` (default: the scenario's assumptions); ``support=False`` switches every support provider off from
the start (``support_default_period = 0``).

Search (docs/methodology/structuring-breakeven.md): the first batch evaluates a grid of ``points + 2`` levels
spanning the bounds (both ends included); each further batch evaluates ``points`` interior levels of the current
bracket, which therefore shrinks by ``points + 1`` per :func:`ipabs.structuring.batch.run_batch` call (k-section)
until it is no wider than ``tol``. The value returned is the bracket's repaid end, a level at which the batch engine
*has* found the tranche repaid. The search assumes that repayment is monotone in the measure (true for a sequential
waterfall without recoveries, waterfall.md §5); it takes the first break in each grid, so when the assumption fails
it returns the level just below the lowest break it saw and sets ``monotone = False``.

Pure functions over a :class:`ipabs.compile.lower.CompiledDeal`; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ipabs.compile.lower import CompiledDeal
from ipabs.scenario.schema import Assumptions
from ipabs.structuring.batch import ScenarioTable, run_batch

MEASURES = ("cdr", "cumulative_default_rate", "recovery_rate", "default_multiplier")

#: Default grid points per batch call after the first: the bracket shrinks 17-fold per call, so a bracket of width
#: 1 reaches 1e-6 in 5 calls after the first.
POINTS = 16

#: Safety stop on the number of batch calls of one search (a tolerance below the floating-point spacing).
MAX_CALLS = 64


@dataclass(frozen=True)
class Breakeven:
    """The breakeven level of one measure for one tranche.

    ``value`` is the highest CDR / cumulative default rate / default multiple (the lowest recovery rate) at which
    the tranche is still repaid in full with no interest shortfall; ``[lower, upper]`` is the final bracket (the
    tranche is repaid at one end and not at the other; ``value`` is the repaid end). ``breaks`` is False when the
    tranche never breaks inside the search bounds (``value`` is then the most stressed bound and
    ``lower == upper == value``). When it is not repaid even at the least stressed bound, ``breaks`` is True,
    ``value`` is NaN and ``lower == upper`` = that bound. ``evaluations`` counts the scenarios run for this
    tranche, ``batch_calls`` the :func:`run_batch` calls of the search (shared by the tranches of one
    :func:`breakevens` measure). ``base_value`` is the measure's level in the base assumptions (for
    ``cumulative_default_rate`` under a CDR base: the base run's cumulative defaults / cut-off balance; for ``cdr``
    under a cumulative base: NaN). ``monotone`` is False when some grid showed the tranche repaid at a level more
    stressed than one where it was not (the value is then the level below the lowest break seen).
    """

    tranche: str
    measure: str
    value: float
    breaks: bool
    lower: float
    upper: float
    evaluations: int
    base_value: float
    batch_calls: int = 0
    monotone: bool = True
    support: bool = True
    note: str = ""

    @property
    def cushion(self) -> float:
        """Headroom over the base level in the stress direction (value − base; base − value for recovery)."""
        return self.base_value - self.value if self.measure == "recovery_rate" else self.value - self.base_value


# ---- the measures --------------------------------------------------------------------------------------------
def _effective_rate(base: Assumptions) -> float:
    """The base's default rate before its multiplier: cdr, or cumulative_default_rate."""
    return float(base.cumulative_default_rate if base.cumulative_default_rate is not None else base.cdr)


def default_bounds(measure: str, base: Assumptions) -> tuple[float, float]:
    """Search bounds of a measure (its natural range; the multiple stops where the base rate reaches 100%)."""
    _check_measure(measure)
    if measure == "default_multiplier":
        r = _effective_rate(base)
        return 0.0, (min(100.0, 1.0 / r) if r > 0 else 100.0)
    return 0.0, 1.0


def _check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}")


def _columns(measure: str, levels: np.ndarray) -> dict:
    """Scenario-table columns that set the measure to ``levels``."""
    if measure == "cdr":
        return {"cdr": levels, "cumulative_default_rate": np.nan, "default_multiplier": 1.0}
    if measure == "cumulative_default_rate":
        return {"cdr": 0.0, "cumulative_default_rate": levels, "default_multiplier": 1.0}
    if measure == "recovery_rate":
        return {"recovery_rate": levels, "recovery_multiplier": 1.0}
    return {"default_multiplier": levels}


def _sign(measure: str) -> float:
    """+1 when stress grows with the level, −1 when it falls (recovery)."""
    return -1.0 if measure == "recovery_rate" else 1.0


def _base_value(measure: str, base: Assumptions) -> float | None:
    """The measure's level in the base (None: needs the base run's realised cumulative defaults)."""
    if measure == "cdr":
        return math.nan if base.cumulative_default_rate is not None else min(1.0, base.cdr * base.default_multiplier)
    if measure == "cumulative_default_rate":
        if base.cumulative_default_rate is None:
            return None
        return min(1.0, base.cumulative_default_rate * base.default_multiplier)
    if measure == "recovery_rate":
        return min(1.0, base.recovery_rate * base.recovery_multiplier)
    return float(base.default_multiplier)


def tranche_names(deal: CompiledDeal, tranches: Sequence[str | int] | None = None) -> list[str]:
    """Tranche names from names or indices; ``None`` = every rated tranche (senior and mezzanine)."""
    names = deal.names.tranches
    if tranches is None:
        return [t.name for t in deal.scenario.tranches if t.seniority != "subordinate"]
    out = []
    for t in tranches:
        if isinstance(t, str):
            if t not in names:
                raise ValueError(f"unknown tranche {t!r}; tranches are {', '.join(names)}")
            out.append(t)
        else:
            i = int(t)
            if not 0 <= i < len(names):
                raise ValueError(f"tranche index {i} out of range 0..{len(names) - 1}")
            out.append(names[i])
    return out


# ---- the search ----------------------------------------------------------------------------------------------
@dataclass
class _Search:
    """One tranche's bracket in stress space ``u = sign · level`` (``ulo`` repaid, ``uhi`` not)."""

    k: int
    name: str
    ulo: float
    uhi: float
    status: str = "open"  # open | bracketed | never_breaks | never_repaid
    evaluations: int = 0
    monotone: bool = True

    def width(self) -> float:
        return self.uhi - self.ulo

    def grid(self, points: int, first: bool) -> np.ndarray:
        if first:
            return np.linspace(self.ulo, self.uhi, points + 2)
        return self.ulo + (self.uhi - self.ulo) * np.arange(1, points + 1) / (points + 1)

    def update(self, us: np.ndarray, ok: np.ndarray, first: bool) -> None:
        """Shrink the bracket with the results ``ok`` at the ascending stress levels ``us``."""
        self.evaluations += len(us)
        bad = np.flatnonzero(~ok)
        if bad.size == 0:
            if first:
                self.status, self.ulo, self.uhi = "never_breaks", us[-1], us[-1]
            else:
                self.ulo = us[-1]
            return
        j = int(bad[0])
        if ok[j + 1:].any():
            self.monotone = False
        if j == 0 and first:
            self.status, self.ulo, self.uhi = "never_repaid", us[0], us[0]
            return
        self.uhi = us[j]
        if j > 0:
            self.ulo = us[j - 1]
        self.status = "bracketed"


def _template(deal: CompiledDeal, base: Assumptions, support: bool) -> ScenarioTable:
    t = ScenarioTable.from_assumptions(deal, [base])
    if not support:
        t = t.with_columns(support_default_period=0)
    return t


def _rows(template: ScenarioTable, measure: str, levels: np.ndarray) -> ScenarioTable:
    t = template.take(np.zeros(len(levels), dtype=np.int64))
    return t.with_columns(**_columns(measure, levels), labels=[f"{measure}={x:.9g}" for x in levels])


def _run_search(deal: CompiledDeal, names: Sequence[str], measure: str, *, base: Assumptions | None,
                support: bool, tol: float, bounds: tuple[float, float] | None, points: int, engine: str,
                progress: Callable[[int, int], None] | None) -> list[Breakeven]:
    _check_measure(measure)
    if not tol > 0:
        raise ValueError(f"tol must be > 0, not {tol!r}")
    if points < 1:
        raise ValueError(f"points must be >= 1, not {points!r}")
    base = base or deal.scenario.assumptions
    lo, hi = bounds if bounds is not None else default_bounds(measure, base)
    lo, hi = float(lo), float(hi)
    nat_lo, nat_hi = (0.0, 100.0) if measure == "default_multiplier" else (0.0, 1.0)
    if not nat_lo <= lo < hi <= nat_hi:
        raise ValueError(f"bounds for {measure} must satisfy {nat_lo} <= lower < upper <= {nat_hi}, "
                         f"not ({lo}, {hi})")
    sg = _sign(measure)
    ua, ub = sorted((sg * lo, sg * hi))
    template = _template(deal, base, support)
    searches = [_Search(deal.names.tranches.index(n), n, ua, ub) for n in names]
    base_value = _base_value(measure, base)
    # the first call's grid already cuts the bounds into points + 1 intervals, and so does every later call
    est = max(1, math.ceil(math.log((ub - ua) / tol) / math.log(points + 1)))
    reported = (0, 0)
    calls = 0
    first = True
    while True:
        live = [s for s in searches if s.status == "open" or (s.status == "bracketed" and s.width() > tol)]
        if not live or calls >= MAX_CALLS:
            break
        grids = [s.grid(points, first) for s in live]
        us = np.concatenate(grids)
        table = _rows(template, measure, sg * us)
        extra = first and base_value is None
        if extra:  # the base run itself: its realised cumulative defaults are the base level
            table = ScenarioTable.concat([table, template])
        res = run_batch(deal, table, engine=engine)
        calls += 1
        if extra:
            base_value = float(res.pool_defaults[-1] / deal.pool_balance) if deal.pool_balance > 0 else math.nan
        ok = res.repaid_in_full()
        i = 0
        for s, g in zip(live, grids, strict=True):
            s.update(g, ok[i:i + len(g), s.k], first)
            i += len(g)
        first = False
        if progress is not None:
            reported = (calls, max(est, calls))
            progress(*reported)
    if progress is not None and calls and reported != (calls, calls):
        progress(calls, calls)  # finished earlier than expected (brackets closed at once, never breaks)
    if base_value is None:  # no batch ran (cannot happen with valid bounds); keep the contract
        base_value = math.nan

    out = []
    for s in searches:
        lv_lo, lv_hi = sg * s.ulo, sg * s.uhi
        note = ""
        if s.status == "never_breaks":
            value, breaks = lv_lo, False
            note = f"repaid in full up to the bound {measure} = {lv_lo:.9g}"
            if measure == "default_multiplier" and _effective_rate(base) == 0:
                note += " (the base default rate is 0: the multiple changes nothing)"
        elif s.status == "never_repaid":
            value, breaks = math.nan, True
            note = f"not repaid in full even at the least stressed bound {measure} = {lv_lo:.9g}"
        else:
            value, breaks = lv_lo, True
            if s.width() > tol:
                note = f"stopped after {calls} batch calls with a bracket of width {s.width():.3g} > tol"
        if not s.monotone:
            note = (note + "; " if note else "") + ("not monotone: repaid again at a more stressed level than a "
                                                    "break; value is the level below the lowest break found")
        out.append(Breakeven(tranche=s.name, measure=measure, value=float(value), breaks=breaks,
                             lower=float(min(lv_lo, lv_hi)), upper=float(max(lv_lo, lv_hi)),
                             evaluations=s.evaluations, base_value=float(base_value), batch_calls=calls,
                             monotone=s.monotone, support=support, note=note))
    return out


def breakeven(deal: CompiledDeal, tranche: str | int, measure: str = "cdr", *, base: Assumptions | None = None,
              support: bool = True, tol: float = 1e-6, bounds: tuple[float, float] | None = None,
              progress: Callable[[int, int], None] | None = None, points: int = POINTS,
              engine: str = "kernel") -> Breakeven:
    """The breakeven level of ``measure`` for one tranche (name or index), to ``tol``.

    Parameters
    ----------
    deal : CompiledDeal
    tranche : str or int
    measure : {"cdr", "cumulative_default_rate", "recovery_rate", "default_multiplier"}
    base : Assumptions, optional
        CPR, recovery, lag, timing curve, named obligor defaults and (for ``recovery_rate`` and
        ``default_multiplier``) the default rate held fixed; default the scenario's assumptions.
    support : bool
        False: every support provider is off from the first period.
    tol : float
        Width of the final bracket, in the measure's units.
    bounds : (lower, upper), optional
        Search range in the measure's units; default ``[0, 1]`` (``[0, min(100, 1 / base rate)]`` for the
        multiple).
    progress : callable(done, total), optional
        Called after each batch call with the calls done and the calls expected; may raise
        :class:`ipabs.errors.Cancelled`.
    points : int
        Levels per batch call after the first (which has ``points + 2``, the bounds included).
    engine : {"kernel", "reference"}
        Passed to :func:`run_batch`.
    """
    (name,) = tranche_names(deal, [tranche])
    return _run_search(deal, [name], measure, base=base, support=support, tol=tol, bounds=bounds, points=points,
                       engine=engine, progress=progress)[0]


def breakevens(deal: CompiledDeal, measures: Sequence[str] = ("cdr",), tranches: Sequence[str | int] | None = None,
               **kw) -> list[Breakeven]:
    """Breakevens of every measure for every tranche (default: the rated ones — senior and mezzanine; name the
    subordinate to get it). The tranches of one measure are searched together: each batch call holds every open
    bracket's grid, so K tranches cost the calls of one. Keywords as :func:`breakeven`; ``progress`` receives
    calls done / expected summed over the measures."""
    names = tranche_names(deal, tranches)
    for m in measures:
        _check_measure(m)
    progress = kw.pop("progress", None)
    unknown = set(kw) - {"base", "support", "tol", "bounds", "points", "engine"}
    if unknown:
        raise TypeError(f"unknown keyword(s) {', '.join(sorted(unknown))}")
    out: list[Breakeven] = []
    done = 0
    for j, m in enumerate(measures):
        inner = None
        if progress is not None:
            def inner(d: int, t: int, _j: int = j, _done: int = done) -> None:
                progress(_done + d, _done + t + (len(measures) - _j - 1) * t)
        part = _run_search(deal, names, m, base=kw.get("base"), support=kw.get("support", True),
                           tol=kw.get("tol", 1e-6), bounds=kw.get("bounds"), points=kw.get("points", POINTS),
                           engine=kw.get("engine", "kernel"), progress=inner)
        done += part[0].batch_calls if part else 0
        out.extend(part)
    return out


def breakeven_frame(results: Sequence[Breakeven]) -> pd.DataFrame:
    """One row per result: tranche, measure, value, breaks, lower, upper, base_value, cushion, support,
    monotone, evaluations, batch_calls, note."""
    cols = ["tranche", "measure", "value", "breaks", "lower", "upper", "base_value", "cushion", "support",
            "monotone", "evaluations", "batch_calls", "note"]
    rows = [{**asdict(r), "cushion": r.cushion} for r in results]
    return pd.DataFrame(rows, columns=cols)
