"""Stress grids: PD multiplier × recovery haircut × correlation × recovery lag × prepayment × support-provider
default, any subset, on the Monte Carlo or on the batch deterministic engine (docs/methodology/structuring.md §4).

A :class:`StressGrid` lists values per axis; :func:`grid_cells` turns it into :class:`StressCell` s (the cartesian
product, axes not given held at the base), :func:`run_cells` runs any list or range of cells and returns a
:class:`StressResult` (a long table, one row per cell × tranche, plus tornado and heat-map data). Cells are
independent: a grid can be split into cell ranges, run apart (``run_cells(deal, cells[a:b], ...)``) and joined
with :meth:`StressResult.concat`.

Axes and how each is applied (the base is the scenario's ``assumptions`` and ``simulation``):

``default_multiplier``
    multiplies ``assumptions.default_multiplier`` (deterministic: the CDR or cumulative default rate; Monte Carlo:
    every tape obligor's PD — support providers' PDs are not stressed).
``recovery_haircut``
    h: recoveries × (1 − h). Deterministic and fixed-rate recoveries: ``recovery_multiplier`` × (1 − h); IP-disposal
    recoveries (Monte Carlo): the disposal cost rate c becomes 1 − (1 − c)(1 − h), so every recovery is exactly
    (1 − h) times the base one on the same path.
``correlation``
    ``simulation.correlation`` (Monte Carlo only; the sector correlation is kept).
``recovery_lag_periods`` / ``recovery_lag_months``
    extra payment periods added to ``assumptions.recovery_lag_periods`` (months are converted to whole periods
    of the deal's payment frequency, rounded up); a drawn lag range (``simulation.recovery_lag_max_periods``)
    moves by the same amount.
``cpr``
    the annual prepayment rate (absolute; ``cpr_multiplier`` kept).
``support_default``
    True: every support provider is in default from the first period (deterministic: ``support_default_period``
    0; Monte Carlo: its PD set to 1, so it defaults in period 0 on every path).

Monte Carlo cells use the losses-only statistics and one seed for every cell (common random numbers: the latent
variables, haircuts and lags of path p do not depend on the stress, only the thresholds they are compared with).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipabs.compile.lower import CompiledDeal
from ipabs.errors import InputError, Issue
from ipabs.scenario.schema import FREQUENCY_MONTHS, Assumptions

#: Grid axes, in the order of the long table's columns.
AXES = ("default_multiplier", "recovery_haircut", "correlation", "recovery_lag_periods", "cpr", "support_default")
#: Axes that only the Monte Carlo can apply.
MC_ONLY_AXES = ("correlation",)
ENGINES = ("mc", "deterministic")

#: Label of every preset below: DOMAIN.md §5 lists these stresses as typical of Chinese agencies without a
#: retrieved source for the numbers ([U]); they are market-practice assumptions, not published criteria.
MARKET_PRACTICE = "market practice, DOMAIN.md §5 [U]"


# ---- the grid ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StressGrid:
    """Values per axis (an empty axis stays at the base). ``recovery_lag_months`` and ``recovery_lag_periods``
    are alternatives (extra lag); ``source`` says where the numbers come from and goes into every output."""

    default_multiplier: tuple[float, ...] = ()
    recovery_haircut: tuple[float, ...] = ()
    correlation: tuple[float, ...] = ()
    recovery_lag_periods: tuple[int, ...] = ()
    recovery_lag_months: tuple[int, ...] = ()
    cpr: tuple[float, ...] = ()
    support_default: tuple[bool, ...] = ()
    name: str = "stress grid"
    source: str = "user"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, list):
                object.__setattr__(self, f.name, tuple(v))
        issues = _grid_issues(self, None)
        if issues:
            raise InputError(issues, title="invalid stress grid")

    @property
    def axes(self) -> tuple[str, ...]:
        """The stressed axes (canonical names; a months lag counts as ``recovery_lag_periods``)."""
        out = []
        for a in AXES:
            if getattr(self, a) or (a == "recovery_lag_periods" and self.recovery_lag_months):
                out.append(a)
        return tuple(out)

    def __len__(self) -> int:
        n = 1
        for a in self.axes:
            n *= len(self._values(a))
        return n

    def _values(self, axis: str) -> tuple:
        if axis == "recovery_lag_periods" and self.recovery_lag_months:
            return self.recovery_lag_months
        return getattr(self, axis)

    @classmethod
    def from_dict(cls, data: dict, file: str | None = None) -> StressGrid:
        """From the ``[grid]`` table of a stress-grid file (errors name the file and the field)."""
        issues: list[Issue] = []
        allowed = {f.name for f in dataclasses.fields(cls)}
        kw: dict[str, Any] = {}
        for k, v in data.items():
            if k not in allowed:
                issues.append(Issue(f"unknown key; keys are {', '.join(sorted(allowed))}", file=file, table="grid",
                                    field=k))
                continue
            if k in ("name", "source"):
                if not isinstance(v, str) or not v.strip():
                    issues.append(Issue("must be a non-empty string", file=file, table="grid", field=k))
                else:
                    kw[k] = v
                continue
            if not isinstance(v, list) or not v:
                issues.append(Issue("must be a non-empty list of values", file=file, table="grid", field=k))
                continue
            want = _AXIS_TYPES[k]
            bad = [x for x in v if not _is_type(x, want)]
            if bad:
                issues.append(Issue(f"{bad[0]!r} is not {_TYPE_NAMES[want]}", file=file, table="grid", field=k))
                continue
            kw[k] = tuple(want(x) for x in v)
        if not issues:
            grid = object.__new__(cls)
            for f in dataclasses.fields(cls):
                object.__setattr__(grid, f.name, kw.get(f.name, f.default))
            issues = _grid_issues(grid, file)
            if not issues:
                return grid
        raise InputError(issues, title="invalid stress grid")

    @classmethod
    def from_toml(cls, path: str | Path) -> StressGrid:
        """Read the ``[grid]`` of a stress file (format: docs/methodology/structuring.md §4, example:
        scenarios/stress_grid_example.toml)."""
        p, data = _read_stress_file(path, need="grid")
        return cls.from_dict(data["grid"], file=str(p))


def _read_stress_file(path: str | Path, need: str) -> tuple[Path, dict]:
    """Parse a stress file (``version``, ``[grid]``, ``[[stress]]``) and check its top level; ``need`` is the
    table the caller reads."""
    p = Path(path)
    if not p.is_file():
        raise InputError([Issue("file not found", file=str(p))], title="invalid stress file")
    try:
        data = tomllib.loads(p.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InputError([Issue(f"not a UTF-8 TOML file: {e}", file=str(p))], title="invalid stress file") from None
    issues = [Issue("unknown table or key; a stress file has [grid], [[stress]] and an optional version = 1",
                    file=str(p), field=k) for k in data if k not in ("grid", "stress", "version")]
    if data.get("version", 1) != 1:
        issues.append(Issue(f"unsupported version {data.get('version')!r} (expected 1)", file=str(p),
                            field="version"))
    if need == "grid" and not isinstance(data.get("grid"), dict):
        issues.append(Issue("missing [grid] table", file=str(p), table="grid"))
    if need == "stress" and not (isinstance(data.get("stress"), list) and data["stress"]
                                 and all(isinstance(x, dict) for x in data["stress"])):
        issues.append(Issue("missing [[stress]] tables (one per named stress scenario)", file=str(p),
                            table="stress"))
    if issues:
        raise InputError(issues, title="invalid stress file")
    return p, data


_AXIS_TYPES: dict[str, type] = {"default_multiplier": float, "recovery_haircut": float, "correlation": float,
                                "recovery_lag_periods": int, "recovery_lag_months": int, "cpr": float,
                                "support_default": bool}
_TYPE_NAMES = {float: "a number", int: "a whole number", bool: "true or false"}
_BOUNDS = {"default_multiplier": (0.0, 100.0), "recovery_haircut": (0.0, 1.0), "correlation": (0.0, 0.999),
           "recovery_lag_periods": (0, 480), "recovery_lag_months": (0, 480 * 12), "cpr": (0.0, 1.0)}


def _is_type(x: Any, t: type) -> bool:
    if t is bool:
        return isinstance(x, bool)
    if t is int:
        return isinstance(x, int) and not isinstance(x, bool)
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(float(x))


def _grid_issues(g: StressGrid, file: str | None) -> list[Issue]:
    issues = []
    for k, (lo, hi) in _BOUNDS.items():
        for x in getattr(g, k):
            if not lo <= x <= hi:
                issues.append(Issue(f"{x!r} is outside [{lo}, {hi}]", file=file, table="grid", field=k))
                break
    for k in _AXIS_TYPES:
        v = getattr(g, k)
        if len(set(v)) != len(v):
            issues.append(Issue("values must not repeat", file=file, table="grid", field=k))
    if g.recovery_lag_months and g.recovery_lag_periods:
        issues.append(Issue("give recovery_lag_months or recovery_lag_periods, not both", file=file, table="grid",
                            field="recovery_lag_months"))
    return issues


# ---- named stresses and presets ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NamedStress:
    """One named stress scenario (a row group of the prospectus table): moves from the base on each axis."""

    key: str
    default_multiplier: float = 1.0
    recovery_haircut: float = 0.0
    recovery_lag_months: int = 0
    cpr: float | None = None  # None: the scenario's CPR
    support_default: bool = False
    source: str = MARKET_PRACTICE

    @property
    def is_base(self) -> bool:
        return (self.default_multiplier == 1.0 and self.recovery_haircut == 0.0 and self.recovery_lag_months == 0
                and self.cpr is None and not self.support_default)


#: Chinese agency-style named stresses (DOMAIN.md §5: default ×1.5–3 for AAA, recovery haircut, 6–24-month lag,
#: prepayment 0–20% CPR). Every one is labelled :data:`MARKET_PRACTICE`: an assumption, not a published criterion.
AGENCY_STRESSES: tuple[NamedStress, ...] = (
    NamedStress("base"),
    NamedStress("default_x1.5", default_multiplier=1.5),
    NamedStress("default_x2", default_multiplier=2.0),
    NamedStress("default_x3", default_multiplier=3.0),
    NamedStress("recovery_-30%", recovery_haircut=0.3),
    NamedStress("lag_+12m", recovery_lag_months=12),
    NamedStress("cpr_0%", cpr=0.0),
    NamedStress("cpr_20%", cpr=0.2),
    NamedStress("combined_x2_-30%_+12m", default_multiplier=2.0, recovery_haircut=0.3, recovery_lag_months=12),
)


def named_stresses_from_toml(path: str | Path) -> list[NamedStress]:
    """The ``[[stress]]`` tables of a stress file: named stress scenarios for the prospectus table (keys ``key``,
    ``default_multiplier``, ``recovery_haircut``, ``recovery_lag_months``, ``cpr``, ``support_default``,
    ``source``; errors name the file, the table ``stress[i]`` and the field)."""
    p, data = _read_stress_file(path, need="stress")
    out: list[NamedStress] = []
    issues: list[Issue] = []
    types = {"key": str, "default_multiplier": float, "recovery_haircut": float, "recovery_lag_months": int,
             "cpr": float, "support_default": bool, "source": str}
    bounds = {"default_multiplier": (0.0, 100.0), "recovery_haircut": (0.0, 1.0), "recovery_lag_months": (0, 5760),
              "cpr": (0.0, 1.0)}
    seen: set[str] = set()
    for i, raw in enumerate(data["stress"]):
        table = f"stress[{i}]"
        kw: dict[str, Any] = {}
        for k, v in raw.items():
            t = types.get(k)
            if t is None:
                issues.append(Issue(f"unknown key; keys are {', '.join(types)}", file=str(p), table=table, field=k))
            elif t is str:
                if isinstance(v, str) and v.strip():
                    kw[k] = v.strip()
                else:
                    issues.append(Issue("must be a non-empty string", file=str(p), table=table, field=k))
            elif not _is_type(v, t):
                issues.append(Issue(f"{v!r} is not {_TYPE_NAMES[t]}", file=str(p), table=table, field=k))
            elif k in bounds and not bounds[k][0] <= v <= bounds[k][1]:
                issues.append(Issue(f"{v!r} is outside [{bounds[k][0]}, {bounds[k][1]}]", file=str(p), table=table,
                                    field=k))
            else:
                kw[k] = t(v)
        if "key" not in raw:
            issues.append(Issue("missing key (the stress's name)", file=str(p), table=table, field="key"))
        elif kw.get("key") in seen:
            issues.append(Issue(f"duplicate key {kw['key']!r}", file=str(p), table=table, field="key"))
        if "source" not in raw:
            issues.append(Issue("missing source (say where the numbers come from, e.g. a rating report or "
                                f"'{MARKET_PRACTICE}')", file=str(p), table=table, field="source"))
        seen.add(kw.get("key", ""))
        if not issues:
            out.append(NamedStress(**kw))
    if issues:
        raise InputError(issues, title="invalid stress file")
    return out


def agency_grid() -> StressGrid:
    """The agency-style grid: default ×1/1.5/2/3 × recovery −0/−30% × lag +0/+12 months × CPR 0/10/20%
    (48 cells, labelled :data:`MARKET_PRACTICE`); every axis runs on both engines."""
    return StressGrid(default_multiplier=(1.0, 1.5, 2.0, 3.0), recovery_haircut=(0.0, 0.3),
                      recovery_lag_months=(0, 12), cpr=(0.0, 0.1, 0.2), name="agency-style stresses",
                      source=MARKET_PRACTICE)


PRESETS: dict[str, Callable[[], StressGrid]] = {"agency": agency_grid}


def axis_label(axis: str, lang: str = "en") -> str:
    """Display label of an axis (glossary ``stress_axis_<axis>``), for tables, tornado and heat-map axes."""
    from ipabs.glossary import label

    if axis not in AXES:
        raise ValueError(f"unknown axis {axis!r}; axes are {', '.join(AXES)}")
    return label(f"stress_axis_{axis}", lang)


def months_to_periods(deal: CompiledDeal, months: int) -> int:
    """Whole payment periods covering ``months`` (rounded up): 12 months = 4 quarterly or 12 monthly periods."""
    step = FREQUENCY_MONTHS[deal.scenario.deal.payment_frequency]
    return -(-int(months) // step)


# ---- cells ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StressCell:
    """One cell: the value of every axis (base where not stressed) and the inputs the engines need."""

    index: int
    label: str
    values: dict[str, Any]  # every axis of AXES; recovery_lag_periods = the extra periods
    assumptions: Assumptions
    simulation: dict[str, Any] = field(default_factory=dict)  # changes to scenario.simulation (Monte Carlo)
    support_default: bool = False
    base: dict[str, Any] = field(default_factory=dict)  # the base value of every axis


def base_values(deal: CompiledDeal, base: Assumptions | None = None) -> dict[str, Any]:
    """The base of every axis: multiplier 1, no haircut, the scenario's correlation, no extra lag, the base CPR,
    support performing."""
    a = base or deal.scenario.assumptions
    return {"default_multiplier": 1.0, "recovery_haircut": 0.0, "correlation": deal.scenario.simulation.correlation,
            "recovery_lag_periods": 0, "cpr": a.cpr, "support_default": False}


def make_cell(deal: CompiledDeal, values: dict[str, Any], *, index: int = 0, label: str | None = None,
              base: Assumptions | None = None) -> StressCell:
    """A cell from axis values (missing axes at the base; ``recovery_lag_periods`` = extra periods)."""
    a = base or deal.scenario.assumptions
    b = base_values(deal, a)
    unknown = set(values) - set(AXES)
    if unknown:
        raise ValueError(f"unknown axes {sorted(unknown)}; axes are {', '.join(AXES)}")
    v = {**b, **values}
    sim = deal.scenario.simulation
    h = float(v["recovery_haircut"])
    lag = int(a.recovery_lag_periods) + int(v["recovery_lag_periods"])
    assumptions = a.model_copy(update={
        "default_multiplier": a.default_multiplier * float(v["default_multiplier"]),
        "recovery_multiplier": a.recovery_multiplier * (1.0 - h),
        "recovery_lag_periods": lag, "cpr": float(v["cpr"]),
    })
    upd: dict[str, Any] = {}
    if v["correlation"] != sim.correlation:
        upd["correlation"] = float(v["correlation"])
    if h:
        upd["disposal_cost_rate"] = 1.0 - (1.0 - sim.disposal_cost_rate) * (1.0 - h)
    if v["recovery_lag_periods"] and sim.recovery_lag_max_periods is not None:
        upd["recovery_lag_max_periods"] = sim.recovery_lag_max_periods + int(v["recovery_lag_periods"])
    if v["support_default"]:
        upd["support"] = True
    return StressCell(index, label or _cell_label(v), v, assumptions, upd, bool(v["support_default"]), b)


def _cell_label(v: dict[str, Any]) -> str:
    return (f"PD x{v['default_multiplier']:g}, recovery -{v['recovery_haircut']:.0%}, rho {v['correlation']:g}, "
            f"lag +{v['recovery_lag_periods']}, CPR {v['cpr']:.0%}{', support off' if v['support_default'] else ''}")


def grid_cells(deal: CompiledDeal, grid: StressGrid, *, base: Assumptions | None = None) -> list[StressCell]:
    """The cartesian product of the grid's axes (last axis fastest), cells numbered from 0."""
    axes = grid.axes
    vals = []
    for ax in axes:
        xs = grid._values(ax)
        if ax == "recovery_lag_periods" and grid.recovery_lag_months:
            xs = tuple(months_to_periods(deal, m) for m in xs)
        vals.append(xs)
    return [make_cell(deal, dict(zip(axes, combo, strict=True)), index=i, base=base)
            for i, combo in enumerate(itertools.product(*vals))]


def tornado_cells(deal: CompiledDeal, grid: StressGrid, *, base: Assumptions | None = None) -> list[StressCell]:
    """The base cell, then one cell per non-base value of each axis with every other axis at the base."""
    b = base_values(deal, base)
    cells = [make_cell(deal, {}, index=0, label="base", base=base)]
    for ax in grid.axes:
        xs = grid._values(ax)
        if ax == "recovery_lag_periods" and grid.recovery_lag_months:
            xs = tuple(months_to_periods(deal, m) for m in xs)
        for x in xs:
            if x != b[ax]:
                cells.append(make_cell(deal, {ax: x}, index=len(cells), base=base))
    return cells


def named_cells(deal: CompiledDeal, stresses: Sequence[NamedStress], *,
                base: Assumptions | None = None) -> list[StressCell]:
    """One cell per named stress (the label is its key)."""
    a = base or deal.scenario.assumptions
    return [make_cell(deal, {"default_multiplier": s.default_multiplier, "recovery_haircut": s.recovery_haircut,
                             "recovery_lag_periods": months_to_periods(deal, s.recovery_lag_months),
                             "cpr": a.cpr if s.cpr is None else s.cpr, "support_default": s.support_default},
                      index=i, label=s.key, base=base) for i, s in enumerate(stresses)]


# ---- running -------------------------------------------------------------------------------------------------------
def cell_deal(deal: CompiledDeal, cell: StressCell) -> CompiledDeal:
    """The deal with the cell's simulation changes (correlation, disposal cost, drawn lag range, support PDs).

    Only ``scenario.simulation`` and the support providers' ``pd``/``rating`` change, which the Monte Carlo's
    :func:`prepare` reads and compilation does not: the compiled pool and waterfall are shared (a test checks the
    result equals a recompilation with :func:`ipabs.compile.lower.compile_deal`, bit for bit)."""
    if not cell.simulation:
        return deal
    s = deal.scenario
    upd = dict(cell.simulation)
    scen_upd: dict[str, Any] = {}
    if upd.pop("support", False):
        scen_upd["support"] = [x.model_copy(update={"pd": 1.0, "rating": None}) for x in s.support]
    if upd:
        sim = s.simulation.model_validate({**s.simulation.model_dump(), **upd})
        if sim.correlation + sim.sector_correlation >= 1.0:
            raise InputError([Issue(f"correlation {sim.correlation} + sector_correlation {sim.sector_correlation} "
                                    "must be below 1", table="grid", field="correlation")],
                             title="invalid stress grid")
        scen_upd["simulation"] = sim
    return dataclasses.replace(deal, scenario=s.model_copy(update=scen_upd))


def _check_engine(cells: Sequence[StressCell], engine: str, deal: CompiledDeal) -> None:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "deterministic":
        rho = deal.scenario.simulation.correlation
        if any(c.values["correlation"] != rho for c in cells):
            raise InputError([Issue("correlation is a Monte Carlo axis: the deterministic engine has no "
                                    "correlation (run the grid with engine='mc' or drop the axis)", table="grid",
                                    field="correlation")], title="invalid stress grid")


def scenario_table(deal: CompiledDeal, cells: Sequence[StressCell]):
    """The cells as one :class:`~ipabs.structuring.batch.ScenarioTable` (deterministic engine)."""
    from ipabs.engine.deterministic import support_default_periods
    from ipabs.structuring.batch import ScenarioTable

    n_s = len(deal.names.supports)
    base_sup = support_default_periods(deal)
    sup = np.array([np.zeros(n_s, dtype=np.int64) if c.support_default else base_sup for c in cells],
                   dtype=np.int64).reshape(len(cells), n_s)
    return ScenarioTable.from_assumptions(deal, [c.assumptions for c in cells], support_default_period=sup,
                                          labels=[c.label for c in cells])


@dataclass(frozen=True)
class StressResult:
    """Results of a list of cells: ``table`` is the long table (one row per cell × tranche).

    Columns: ``cell``, ``label``, every axis of :data:`AXES`, ``tranche``, then for ``engine = "mc"``:
    ``expected_loss`` (fraction of the tranche's face) and ``expected_loss_se``, ``default_probability`` and
    ``_se``, ``interest_shortfall_probability`` and ``_se``, ``pool_default_rate``, ``pool_loss_rate`` (means),
    ``n_paths``, ``seed``; for ``engine = "deterministic"``: ``loss`` (yuan), ``loss_rate`` (of face),
    ``interest_paid``, ``principal_paid``, ``repaid_in_full``, ``shortfall_any``, ``min_coverage_ratio``,
    ``pool_defaults``.
    """

    table: pd.DataFrame
    cells: tuple[StressCell, ...]
    engine: str
    meta: dict[str, Any] = field(default_factory=dict)
    mc: tuple | None = None  # the MCResult of each cell when run with keep_paths=True
    batch: Any = None  # the BatchResult (deterministic)

    @property
    def metrics(self) -> tuple[str, ...]:
        return _MC_METRICS if self.engine == "mc" else _DET_METRICS

    @staticmethod
    def concat(parts: Sequence[StressResult]) -> StressResult:
        """Join results of cell ranges (in the given order)."""
        first = parts[0]
        if any(p.engine != first.engine for p in parts):
            raise ValueError("parts must come from one engine")
        mc = tuple(x for p in parts for x in (p.mc or ())) if all(p.mc for p in parts) else None
        return StressResult(pd.concat([p.table for p in parts], ignore_index=True),
                            tuple(c for p in parts for c in p.cells), first.engine, dict(first.meta), mc)

    def tornado(self, metric: str | None = None) -> pd.DataFrame:
        """One-at-a-time moves from the base cell: per tranche and axis, the metric at the base, at the lowest and
        the highest stressed value of the axis (other axes at the base) and the changes.

        Columns ``tranche``, ``axis``, ``base_value``, ``low_value``, ``high_value`` (axis values), ``base``,
        ``at_low``, ``at_high``, ``delta_low``, ``delta_high``, ``swing`` (|largest change|); rows sorted by swing
        within a tranche (the tornado's order). Needs the base cell in the results (see :func:`tornado_cells`)."""
        metric = metric or self.metrics[0]
        t = self.table
        b = base_values_from_cells(self.cells)
        is_base = np.ones(len(t), dtype=bool)
        for ax in AXES:
            is_base &= t[ax].to_numpy() == b[ax]
        if not is_base.any():
            raise ValueError("the results have no base cell (every axis at its base): run tornado_cells")
        rows = []
        for tr in dict.fromkeys(t["tranche"]):
            base_val = float(t.loc[is_base & (t["tranche"] == tr), metric].iloc[0])
            for ax in AXES:
                other = np.ones(len(t), dtype=bool)
                for ax2 in AXES:
                    if ax2 != ax:
                        other &= t[ax2].to_numpy() == b[ax2]
                sel = t[other & (t["tranche"] == tr) & (t[ax] != b[ax])]
                if sel.empty:
                    continue
                sel = sel.sort_values(ax)
                lo, hi = sel.iloc[0], sel.iloc[-1]
                d_lo, d_hi = float(lo[metric]) - base_val, float(hi[metric]) - base_val
                rows.append({"tranche": tr, "axis": ax, "base_value": b[ax], "low_value": lo[ax],
                             "high_value": hi[ax], "base": base_val, "at_low": float(lo[metric]),
                             "at_high": float(hi[metric]), "delta_low": d_lo, "delta_high": d_hi,
                             "swing": max(abs(d_lo), abs(d_hi))})
        out = pd.DataFrame(rows, columns=["tranche", "axis", "base_value", "low_value", "high_value", "base", "at_low",
                                          "at_high", "delta_low", "delta_high", "swing"])
        if out.empty:
            return out
        order = {tr: i for i, tr in enumerate(dict.fromkeys(t["tranche"]))}
        out["_o"] = out["tranche"].map(order)
        return out.sort_values(["_o", "swing"], ascending=[True, False], kind="stable").drop(columns="_o") \
            .reset_index(drop=True)

    def heatmap(self, x: str, y: str, tranche: str, metric: str | None = None,
                fixed: dict[str, Any] | None = None) -> pd.DataFrame:
        """The metric of one tranche pivoted on two axes (index ``y``, columns ``x``); every other axis is held at
        ``fixed`` (default: its base value when the results have it, else its first value)."""
        metric = metric or self.metrics[0]
        for ax in (x, y):
            if ax not in AXES:
                raise ValueError(f"unknown axis {ax!r}; axes are {', '.join(AXES)}")
        t = self.table[self.table["tranche"] == tranche]
        if t.empty:
            raise ValueError(f"no results for tranche {tranche!r}")
        b = base_values_from_cells(self.cells)
        fixed = dict(fixed or {})
        for ax in AXES:
            if ax in (x, y) or ax in fixed:
                continue
            present = t[ax].unique()
            fixed[ax] = b[ax] if b[ax] in present else present[0]
        for ax, v in fixed.items():
            t = t[t[ax] == v]
        return t.pivot_table(index=y, columns=x, values=metric, aggfunc="first")


_MC_METRICS = ("expected_loss", "expected_loss_se", "default_probability", "default_probability_se",
               "interest_shortfall_probability", "interest_shortfall_probability_se", "pool_default_rate",
               "pool_loss_rate")
_DET_METRICS = ("loss", "loss_rate", "interest_paid", "principal_paid", "repaid_in_full", "shortfall_any",
                "min_coverage_ratio", "pool_defaults")


def base_values_from_cells(cells: Sequence[StressCell]) -> dict[str, Any]:
    """The base of each axis as the cells were made (multiplier 1, no haircut, the scenario's correlation, …)."""
    if not cells:
        raise ValueError("no cells")
    return dict(cells[0].base)


def run_cells(deal: CompiledDeal, cells: Sequence[StressCell] | range, *, engine: str = "mc",
              n_paths: int | None = None, seed: int | None = None,
              progress: Callable[[int, int], None] | None = None, keep_paths: bool = False,
              threads: int | None = None, grid: StressGrid | None = None) -> StressResult:
    """Run the cells (any list or range of cells of one grid; a ``range`` indexes :func:`grid_cells` of ``grid``).

    Parameters
    ----------
    engine : {"mc", "deterministic"}
        ``"mc"``: one losses-only Monte Carlo run per cell, every cell with the same seed and paths (common random
        numbers); ``"deterministic"``: all cells in one :func:`~ipabs.structuring.batch.run_batch` call.
    n_paths, seed : int, optional
        Monte Carlo paths and seed (default: the scenario's ``simulation``).
    progress : callable(done, total), optional
        Called with the number of cells done (and, within a Monte Carlo cell, again with the same count as its
        paths complete); it may raise :class:`ipabs.errors.Cancelled` to stop the run.
    keep_paths : bool
        Keep each cell's :class:`~ipabs.engine.montecarlo.MCResult` (per-path losses) in ``StressResult.mc``.
    """
    if isinstance(cells, range):
        if grid is None:
            raise ValueError("a range of cells needs the grid")
        all_cells = grid_cells(deal, grid)
        cells = [all_cells[i] for i in cells]
    cells = list(cells)
    _check_engine(cells, engine, deal)
    total = len(cells)
    if engine == "deterministic":
        from ipabs.structuring.batch import run_batch

        res = run_batch(deal, scenario_table(deal, cells), progress=progress, threads=threads)
        rows = []
        face = np.array([t.balance for t in deal.scenario.tranches])
        repaid = res.repaid_in_full()
        for i, c in enumerate(cells):
            for k, name in enumerate(res.tranches):
                rows.append({**_cell_cols(c), "tranche": name, "loss": float(res.loss[i, k]),
                             "loss_rate": float(res.loss[i, k] / face[k]) if face[k] > 0 else 0.0,
                             "interest_paid": float(res.interest_paid[i, k]),
                             "principal_paid": float(res.principal_paid[i, k]),
                             "repaid_in_full": bool(repaid[i, k]), "shortfall_any": bool(res.shortfall_any[i, k]),
                             "min_coverage_ratio": float(res.min_coverage[i]),
                             "pool_defaults": float(res.pool_defaults[i])})
        return StressResult(_frame(rows, _DET_METRICS), tuple(cells), engine,
                            {"engine": "deterministic", "n_cells": total}, batch=res)

    from ipabs.engine.montecarlo import simulate
    from ipabs.prepare.montecarlo import prepare

    sim = deal.scenario.simulation
    n = sim.n_paths if n_paths is None else int(n_paths)
    sd = sim.seed if seed is None else int(seed)
    deals: dict[str, CompiledDeal] = {}
    rows, kept = [], []
    for done, c in enumerate(cells):
        key = repr(sorted(c.simulation.items()))
        if key not in deals:
            deals[key] = cell_deal(deal, c)
        d = deals[key]
        inner = None
        if progress is not None:
            def inner(_d: int, _n: int, done: int = done) -> None:
                progress(done, total)
        r = simulate(d, n, sd, statistics="losses", prepared=prepare(d, c.assumptions), progress=inner,
                     threads=threads)
        pool = r.pool_stats()
        for st in r.tranche_stats():
            rows.append({**_cell_cols(c), "tranche": st["name"],
                         **{m: st[m] for m in _MC_METRICS[:6]},
                         "pool_default_rate": pool["default_rate_mean"], "pool_loss_rate": pool["loss_rate_mean"],
                         "n_paths": n, "seed": sd})
        if keep_paths:
            kept.append(r)
        if progress is not None:
            progress(done + 1, total)
    return StressResult(_frame(rows, _MC_METRICS + ("n_paths", "seed")), tuple(cells), engine,
                        {"engine": "mc", "n_cells": total, "n_paths": n, "seed": sd, "statistics": "losses"},
                        tuple(kept) if keep_paths else None)


def _cell_cols(c: StressCell) -> dict[str, Any]:
    return {"cell": c.index, "label": c.label, **{ax: c.values[ax] for ax in AXES}}


def _frame(rows: list[dict], metrics: tuple[str, ...]) -> pd.DataFrame:
    cols = ["cell", "label", *AXES, "tranche", *metrics]
    return pd.DataFrame(rows, columns=cols)


def run_stress_grid(deal: CompiledDeal, grid: StressGrid, *, engine: str = "mc", tornado: bool = False,
                    base: Assumptions | None = None, **kwargs: Any) -> StressResult:
    """The whole grid (or, with ``tornado``, its one-at-a-time cells) through :func:`run_cells`."""
    cells = tornado_cells(deal, grid, base=base) if tornado else grid_cells(deal, grid, base=base)
    res = run_cells(deal, cells, engine=engine, **kwargs)
    res.meta.update(grid=grid.name, source=grid.source)
    return res
