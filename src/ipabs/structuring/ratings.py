"""Implied ratings of a deal's tranches from the Monte Carlo (docs/methodology/structuring.md §3, decision 016).

A tranche's **metric** is, on the ``"pd"`` basis, its default probability — the share of paths on which it loses
principal (``loss > 1e-12``, the threshold :meth:`ipabs.engine.montecarlo.MCResult.tranche_stats` uses) *or* carries
an interest shortfall (the MC's ``short`` flag) — and on the ``"el"`` basis its expected loss as a fraction of its
face (``mean(loss)``). It is compared at the tranche's **horizon** (its expected WAL; for a losses-only run, whose
WAL is NaN, the deterministic base case's WAL from :func:`ipabs.api.run_deterministic`) with a **rating table**:
a versioned data file ``ipabs/data/rating_<basis>_<table>.toml`` that names its ``source`` and ``status``.

Rules (DOMAIN.md §10; decisions 011 and 016):

* Only tables with ``status = "confirmed"`` are used without ``allow_unconfirmed=True``; the only confirmed one is
  Moody's idealised 10-year PD column (``rating_pd_moodys_idealized.toml``). Unconfirmed tables live in
  ``ipabs/data/unconfirmed/`` and every output that used one carries a label saying so.
* No horizon is interpolated silently: a horizon not in the table (within :data:`HORIZON_TOL` years) raises
  :class:`ScenarioError` unless ``interpolation="log_linear"`` (log-linear survival between horizons, the last
  segment's hazard continued: :func:`ipabs.credit.pd_curves.cumulative_from_horizons`), and the output names the
  rule used. A flat ``[annual_pd]`` table defines every horizon itself (``1 − (1 − p)^t``).
* The Chinese structured-finance rating (AAAsf, AA+sf, …) comes from a **mapping file**; the shipped one
  (``rating_map_cn_sf.toml``) is an assumption and says so in every output. A user passes their own file path.

The implied rating is the best rating whose threshold (the highest metric the rating allows at that horizon) is at
least the metric. Margins: ``margin_down = threshold − value`` (how far the metric may rise before the rating
falls a notch) and ``margin_up = value − threshold_up`` (how far it must fall to gain one); their Monte Carlo
error band is ±2 standard errors of the metric (thresholds are exact). ``flips_within_2se`` is set when either
margin is within two standard errors.
"""

from __future__ import annotations

import functools
import itertools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipabs.credit.pd_curves import cumulative_from_horizons
from ipabs.errors import Issue, ScenarioError

__all__ = [
    "BASES", "INTERPOLATIONS", "HORIZON_TOL", "LOSS_EPS", "TargetTable", "RatingMap", "ImpliedRating",
    "load_target_table", "parse_target_table", "load_mapping", "parse_mapping", "dump_mapping",
    "rating_threshold", "implied_rating", "tranche_ratings", "tranche_metrics", "ratings_frame",
]

BASES = ("pd", "el")
INTERPOLATIONS = ("none", "log_linear")
#: A horizon within this many years of a tabulated one uses the tabulated value (day counts; as
#: :func:`ipabs.prepare.montecarlo._check_horizons`). The output's ``horizon_rule`` names it.
HORIZON_TOL = 0.02
#: A path's principal loss counts as a default above this fraction of face (as ``MCResult.tranche_stats``).
LOSS_EPS = 1e-12
#: The value key of each basis in a table file.
_VALUE_KEY = {"pd": "cumulative_pd", "el": "expected_loss"}
_METRIC = {"pd": "P(principal loss or interest shortfall)", "el": "expected loss / tranche face"}
DEFAULT_MAPPING = "rating_map_cn_sf.toml"
#: Default-event definitions for the "pd" basis (tranche_ratings).
DEFAULT_EVENTS = ("loss_or_shortfall", "loss")


def _err(msg: str, field_: str | None = None, file: str | None = None) -> ScenarioError:
    return ScenarioError([Issue(msg, file=file, table="rating", field=field_)], title="invalid rating input")


# ---- tables -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TargetTable:
    """A rating → cumulative PD (or EL) table at one or more horizons, ratings best first."""

    name: str
    version: str
    status: str
    source: str
    basis: str
    ratings: tuple[str, ...]
    horizons_years: tuple[float, ...] = ()
    values: dict[str, tuple[float, ...]] = field(default_factory=dict)  # per rating, one per horizon
    annual_pd: dict[str, float] = field(default_factory=dict)  # flat tables (pd basis only)
    file: str = ""

    @property
    def confirmed(self) -> bool:
        return self.status == "confirmed"

    def label(self) -> str:
        return f"{self.status.upper()} {self.basis} table '{self.name}' v{self.version} ({self.source})"


def parse_target_table(text: str, basis: str, file: str = "<text>", name: str | None = None) -> TargetTable:
    """A table from TOML text: ``[cumulative_pd]`` (pd) or ``[expected_loss]`` (el) with ``horizons_years``, or,
    for pd, a flat ``[annual_pd]``. Values in [0, 1], non-decreasing over horizons and down the rating order."""
    if basis not in BASES:
        raise _err(f"basis must be one of {BASES}, not {basis!r}", "basis")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _err(f"not valid TOML: {e}", file=file) from None
    if "basis" in doc and doc["basis"] != basis:
        raise _err(f"the table is on the '{doc['basis']}' basis, not '{basis}'", "basis", file)
    annual = {str(k): float(v) for k, v in doc.get("annual_pd", {}).items()} if basis == "pd" else {}
    horizons = tuple(float(x) for x in doc.get("horizons_years", ()))
    vals = {str(k): tuple(float(x) for x in v) for k, v in doc.get(_VALUE_KEY[basis], {}).items()}
    if not annual and not vals:
        raise _err(f"the table has no [{_VALUE_KEY[basis]}]" + (" or [annual_pd]" if basis == "pd" else ""),
                   _VALUE_KEY[basis], file)
    if vals:
        if not horizons or any(h <= 0 for h in horizons) or any(b <= a for a, b in itertools.pairwise(horizons)):
            raise _err("horizons_years must be positive and increasing", "horizons_years", file)
        for r, c in vals.items():
            if len(c) != len(horizons):
                raise _err(f"'{r}' has {len(c)} values for {len(horizons)} horizons", r, file)
            if any(not 0.0 <= x <= 1.0 for x in c) or any(b < a for a, b in itertools.pairwise(c)):
                raise _err(f"the values of '{r}' must lie in [0, 1] and not decrease with the horizon", r, file)
        cols = list(zip(*vals.values(), strict=True))
        for j, col in enumerate(cols):
            if any(b < a for a, b in itertools.pairwise(col)):
                raise _err(f"at {horizons[j]:g} years the values must not decrease down the rating order "
                           "(ratings are listed best first)", _VALUE_KEY[basis], file)
    for r, p in annual.items():
        if not 0.0 <= p <= 1.0:
            raise _err(f"annual PD {p} of '{r}' is not in [0, 1]", r, file)
    if annual and any(b < a for a, b in itertools.pairwise(annual.values())):
        raise _err("annual PDs must not decrease down the rating order (best first)", "annual_pd", file)
    ratings = tuple(vals) if vals else tuple(annual)
    return TargetTable(str(doc.get("name", name or "")), str(doc.get("version", "")),
                       str(doc.get("status", "assumption")), str(doc.get("source", "")), basis, ratings, horizons,
                       vals, annual, file)


@functools.lru_cache(maxsize=32)
def _shipped(fname: str) -> tuple[str, str] | None:
    """(text, name) of a shipped data file (cached: sizing loops ask for thresholds many times)."""
    for parts in (("data",), ("data", "unconfirmed")):
        p = resources.files("ipabs").joinpath(*parts, fname)
        if p.is_file():
            return p.read_text(encoding="utf-8"), "ipabs/" + "/".join((*parts, fname))
    return None


def load_target_table(table: str | Path | TargetTable = "moodys_idealized", basis: str = "pd", *,
                      allow_unconfirmed: bool = False) -> TargetTable:
    """The table ``table`` on ``basis``: a shipped name (``ipabs/data/rating_<basis>_<table>.toml``, then
    ``ipabs/data/unconfirmed/``), a path to a TOML file, or a :class:`TargetTable`. A table whose status is not
    ``confirmed`` is refused unless ``allow_unconfirmed``."""
    if isinstance(table, TargetTable):
        tab = table
        if tab.basis != basis:
            raise _err(f"table '{tab.name}' is on the '{tab.basis}' basis, not '{basis}'", "basis")
    elif isinstance(table, Path) or str(table).endswith(".toml"):
        p = Path(table)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise _err(f"cannot read rating table: {e}", "table", str(p)) from None
        tab = parse_target_table(text, basis, str(p), p.stem)
    else:
        if basis not in BASES:
            raise _err(f"basis must be one of {BASES}, not {basis!r}", "basis")
        fname = f"rating_{basis}_{table}.toml"
        got = _shipped(fname)
        if got is None:
            raise _err(f"no shipped {basis} rating table '{table}' (looked for {fname} in ipabs/data and "
                       "ipabs/data/unconfirmed); pass a file path for your own", "table")
        tab = parse_target_table(got[0], basis, got[1], str(table))
        if "/unconfirmed/" in got[1] and tab.confirmed:
            raise _err("a table under data/unconfirmed must not say status = 'confirmed'", "status", got[1])
    if not tab.confirmed and not allow_unconfirmed:
        raise _err(f"{basis} rating table '{tab.name}' has status '{tab.status}' ({tab.source}); DOMAIN.md §10: "
                   "it is used only with allow_unconfirmed=True, and every output then says so", "allow_unconfirmed",
                   tab.file or None)
    return tab


def _threshold(tab: TargetTable, rating: str, wal: float, interpolation: str) -> tuple[float, str]:
    """The table's value for ``rating`` at ``wal`` years and the rule that gave it."""
    if not (wal > 0 and math.isfinite(wal)):
        raise _err(f"the horizon (WAL) must be a positive number of years, not {wal}", "wal_years")
    if interpolation not in INTERPOLATIONS:
        raise _err(f"interpolation must be one of {INTERPOLATIONS}, not {interpolation!r}", "interpolation")
    if rating in tab.annual_pd:
        p = tab.annual_pd[rating]
        return 1.0 - (1.0 - p) ** wal, f"flat annual PD: 1 − (1 − p)^{wal:.4g} (the table's own definition)"
    if rating not in tab.values:
        raise _err(f"rating '{rating}' is not in table '{tab.name}' ({', '.join(tab.ratings)})", "rating")
    hs = tab.horizons_years
    j = int(np.argmin([abs(h - wal) for h in hs]))
    if abs(hs[j] - wal) <= HORIZON_TOL:
        rule = f"tabulated {hs[j]:g}y" + ("" if hs[j] == wal else f" (horizon {wal:.4g}y within {HORIZON_TOL}y)")
        return tab.values[rating][j], rule
    if interpolation == "none":
        raise _err(f"table '{tab.name}' gives values at {[f'{h:g}y' for h in hs]} only; a {wal:.4g}-year horizon "
                   "would be interpolated: pass interpolation='log_linear' to accept log-linear survival (constant "
                   "hazard between the table's horizons, the last one's continued)", "interpolation")
    vals = tab.values[rating]
    full = next((i for i, v in enumerate(vals) if v >= 1.0), None)
    if full is not None and wal > (hs[full - 1] if full > 0 else 0.0):
        c = 1.0  # survival 0 at the end of the segment: an infinite hazard on it (pd_curves caps it below 1)
    else:
        c = float(cumulative_from_horizons(hs, vals, np.array([wal]))[0])
    if len(hs) == 1:
        rule = f"log_linear: constant hazard from the {hs[0]:g}y value, 1 − (1 − v)^({wal:.4g}/{hs[0]:g})"
    elif wal < hs[0]:
        rule = f"log_linear: constant hazard from 0 to {hs[0]:g}y"
    elif wal > hs[-1]:
        rule = f"log_linear: the {hs[-2]:g}–{hs[-1]:g}y hazard continued to {wal:.4g}y"
    else:
        lo = max(h for h in hs if h < wal)
        hi = min(h for h in hs if h > wal)
        rule = f"log_linear: constant hazard between {lo:g}y and {hi:g}y"
    return c, rule


# ---- mapping ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RatingMap:
    """Table-scale rating → Chinese structured-finance rating (``scale`` best first)."""

    name: str
    version: str
    status: str
    source: str
    from_scale: str
    scale: tuple[str, ...]
    map: dict[str, str]
    file: str = ""

    def label(self) -> str:
        return f"{self.status.upper()} mapping '{self.name}' v{self.version} ({self.source})"


def parse_mapping(text: str, file: str = "<text>") -> RatingMap:
    """A mapping from TOML text (``name``, ``version``, ``status``, ``source``, ``from_scale``, ``scale``, ``[map]``);
    every mapped value must be on ``scale`` and the map must keep its order."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _err(f"not valid TOML: {e}", file=file) from None
    scale = tuple(str(x) for x in doc.get("scale", ()))
    mp = {str(k): str(v) for k, v in doc.get("map", {}).items()}
    if not scale or not mp:
        raise _err("a mapping needs a non-empty scale = [...] (best first) and a [map] table", "map", file)
    if len(set(scale)) != len(scale):
        raise _err("scale lists a rating twice", "scale", file)
    bad = [f"{k} → {v}" for k, v in mp.items() if v not in scale]
    if bad:
        raise _err(f"mapped to ratings not on the scale: {', '.join(bad)}", "map", file)
    idx = [scale.index(v) for v in mp.values()]
    if any(b < a for a, b in itertools.pairwise(idx)):
        raise _err("the map must keep the order: listed best first, it may not map a worse rating to a better one",
                   "map", file)
    return RatingMap(str(doc.get("name", "")), str(doc.get("version", "")), str(doc.get("status", "assumption")),
                     str(doc.get("source", "")), str(doc.get("from_scale", "")), scale, mp, file)


def load_mapping(mapping: str | Path | RatingMap | None = None) -> RatingMap:
    """The shipped mapping (``None``; an assumption), a path to the user's own TOML file, or a :class:`RatingMap`."""
    if isinstance(mapping, RatingMap):
        return mapping
    if mapping is None:
        got = _shipped(DEFAULT_MAPPING)
        assert got is not None, "the shipped mapping file is missing"
        return parse_mapping(*got)
    p = Path(mapping)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise _err(f"cannot read rating mapping: {e}", "mapping", str(p)) from None
    return parse_mapping(text, str(p))


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dump_mapping(m: RatingMap) -> str:
    """TOML text of a mapping; ``parse_mapping(dump_mapping(m))`` equals ``m`` (apart from ``file``)."""
    lines = [f"name = {_toml_str(m.name)}", f"version = {_toml_str(m.version)}", f"status = {_toml_str(m.status)}",
             f"source = {_toml_str(m.source)}", f"from_scale = {_toml_str(m.from_scale)}",
             "scale = [" + ", ".join(_toml_str(s) for s in m.scale) + "]", "", "[map]"]
    lines += [f"{_toml_str(k)} = {_toml_str(v)}" for k, v in m.map.items()]
    return "\n".join(lines) + "\n"


# ---- thresholds ---------------------------------------------------------------------------------------------------
def _ladder(tab: TargetTable, wal: float, interpolation: str) -> tuple[list[tuple[str, float]], str]:
    """Every rating's threshold at ``wal`` (best first) and the horizon rule (the same for every rating)."""
    out = [(r, _threshold(tab, r, wal, interpolation)) for r in tab.ratings]
    return [(r, v) for r, (v, _) in out], out[0][1][1]


def _cn_ladder(ladder: list[tuple[str, float]], m: RatingMap) -> list[tuple[str, float]]:
    """The mapped scale's ladder: each label's threshold is the highest of the table ratings mapped to it."""
    best: dict[str, float] = {}
    for r, v in ladder:
        if r in m.map:
            c = m.map[r]
            best[c] = max(best.get(c, -math.inf), v)
    return [(c, best[c]) for c in m.scale if c in best]


def rating_threshold(rating: str, wal_years: float, *, basis: str = "pd", table: str | Path | TargetTable =
                     "moodys_idealized", mapping: str | Path | RatingMap | None = None, allow_unconfirmed: bool = False,
                     interpolation: str = "none") -> float:
    """The highest PD (or EL) a tranche with a ``wal_years`` horizon may have to be rated ``rating``: a rating on the
    table's scale, or a label of the mapping's scale (``"AAAsf"``: the highest threshold among the table ratings
    mapped to it). Raises :class:`ScenarioError` when the horizon is not in the table and ``interpolation`` is
    ``"none"``, when the table is unconfirmed and ``allow_unconfirmed`` is false, or when the rating is unknown."""
    tab = load_target_table(table, basis, allow_unconfirmed=allow_unconfirmed)
    if rating in tab.ratings:
        return _threshold(tab, rating, wal_years, interpolation)[0]
    m = load_mapping(mapping)
    if rating not in m.scale:
        raise _err(f"rating '{rating}' is neither in table '{tab.name}' nor on mapping '{m.name}'s scale", "rating")
    ladder, _ = _ladder(tab, wal_years, interpolation)
    for c, v in _cn_ladder(ladder, m):
        if c == rating:
            return v
    raise _err(f"no rating of table '{tab.name}' is mapped to '{rating}' by mapping '{m.name}'", "rating")


# ---- implied rating -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImpliedRating:
    """One tranche's implied rating (see the module docstring for the definitions).

    ``rating`` is None when the metric exceeds every threshold of the table (below its lowest rating). Thresholds
    and margins of a notch that does not exist (up from the best rating, down from the worst) are None. ``labels``
    lists every assumption the result rests on (unconfirmed table, interpolated horizon, mapping, WAL source)."""

    tranche: str | None
    basis: str
    metric: str
    value: float
    se: float
    wal_years: float
    wal_source: str
    rating: str | None
    rating_up: str | None
    rating_down: str | None
    threshold: float | None
    threshold_up: float | None
    threshold_down: float | None
    margin_down: float | None
    margin_up: float | None
    flips_within_2se: bool
    rating_cn: str | None
    rating_cn_up: str | None
    rating_cn_down: str | None
    threshold_cn: float | None
    threshold_cn_up: float | None
    margin_cn_down: float | None
    margin_cn_up: float | None
    flips_within_2se_cn: bool
    table: str
    table_version: str
    table_status: str
    table_source: str
    interpolation: str
    horizon_rule: str
    mapping: str
    mapping_version: str
    mapping_status: str
    mapping_source: str
    labels: tuple[str, ...]
    n_paths: int | None = None
    n_events: int | None = None
    se_note: str = ""

    @property
    def margin_down_band(self) -> tuple[float, float] | None:
        """The Monte Carlo ±2 SE band of ``margin_down``."""
        return None if self.margin_down is None else (self.margin_down - 2 * self.se, self.margin_down + 2 * self.se)

    @property
    def margin_up_band(self) -> tuple[float, float] | None:
        return None if self.margin_up is None else (self.margin_up - 2 * self.se, self.margin_up + 2 * self.se)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels"] = " | ".join(self.labels)
        for nm in ("margin_down", "margin_up"):
            band = getattr(self, f"{nm}_band")
            d[f"{nm}_lo"], d[f"{nm}_hi"] = band if band else (None, None)
        return d

    def frame(self) -> pd.DataFrame:
        """One row: every field, the ±2 SE margin bands as ``margin_*_lo/hi``, labels joined by ' | '."""
        return pd.DataFrame([self.as_dict()])


def ratings_frame(ratings: list[ImpliedRating]) -> pd.DataFrame:
    """One row per :class:`ImpliedRating`."""
    return pd.DataFrame([r.as_dict() for r in ratings])


def _notch(ladder: list[tuple[str, float]], value: float, se: float) -> tuple:
    """(rating, up, down, threshold, threshold_up, threshold_down, margin_down, margin_up, flips) on a ladder."""
    i = next((j for j, (_, t) in enumerate(ladder) if value <= t), None)
    if i is None:  # below the scale
        r_up, t_up = ladder[-1]
        m_up = value - t_up
        return None, r_up, None, None, t_up, None, None, m_up, m_up <= 2 * se
    r, t = ladder[i]
    r_up, t_up = ladder[i - 1] if i > 0 else (None, None)
    r_dn, t_dn = ladder[i + 1] if i + 1 < len(ladder) else (None, None)
    m_dn = t - value
    m_up = None if t_up is None else value - t_up
    flips = m_dn < 2 * se or (m_up is not None and m_up <= 2 * se)
    return r, r_up, r_dn, t, t_up, t_dn, m_dn, m_up, bool(flips)


def implied_rating(value: float, se: float, wal_years: float, *, basis: str = "pd",
                   table: str | Path | TargetTable = "moodys_idealized", mapping: str | Path | RatingMap | None = None,
                   allow_unconfirmed: bool = False, interpolation: str = "none", tranche: str | None = None,
                   wal_source: str = "given", n_paths: int | None = None, n_events: int | None = None,
                   se_note: str = "") -> ImpliedRating:
    """The implied rating of a metric ``value`` (PD or EL at ``wal_years``) with Monte Carlo standard error ``se``,
    on the table's scale and, through the mapping, on the Chinese sf scale. Keywords as :func:`rating_threshold`;
    ``tranche``, ``wal_source``, ``n_paths``, ``n_events`` and ``se_note`` are carried into the result."""
    if not (math.isfinite(value) and value >= 0):
        raise _err(f"the {basis} metric must be a finite number >= 0, not {value}", basis)
    if not (math.isfinite(se) and se >= 0):
        raise _err(f"the standard error must be a finite number >= 0, not {se}", "se")
    tab = load_target_table(table, basis, allow_unconfirmed=allow_unconfirmed)
    m = load_mapping(mapping)
    ladder, rule = _ladder(tab, wal_years, interpolation)
    missing = [r for r in tab.ratings if r not in m.map]
    if missing:
        raise _err(f"mapping '{m.name}' does not map the table's ratings {missing}", "mapping", m.file or None)
    r, r_up, r_dn, t, t_up, t_dn, m_dn, m_up, flips = _notch(ladder, value, se)
    cl = _cn_ladder(ladder, m)
    c, c_up, c_dn, ct, ct_up, _, cm_dn, cm_up, cflips = _notch(cl, value, se)
    labels = []
    if not tab.confirmed:
        labels.append(tab.label())
    if not rule.startswith("tabulated") and not rule.startswith("flat"):
        labels.append(f"interpolated horizon: {rule}")
    if m.status != "confirmed":
        labels.append(m.label())
    if wal_source != "mc_expected_wal" and wal_source != "given":
        labels.append(f"horizon: {wal_source}")
    return ImpliedRating(
        tranche, basis, _METRIC[basis], float(value), float(se), float(wal_years), wal_source,
        r, r_up, r_dn, t, t_up, t_dn, m_dn, m_up, flips,
        c, c_up, c_dn, ct, ct_up, cm_dn, cm_up, cflips,
        tab.name, tab.version, tab.status, tab.source, interpolation, rule,
        m.name, m.version, m.status, m.source, tuple(labels), n_paths, n_events, se_note)


# ---- from a Monte Carlo result ------------------------------------------------------------------------------------
def tranche_metrics(mc: Any, basis: str = "pd", default_event: str = "loss_or_shortfall") -> list[dict[str, Any]]:
    """Per tranche: the metric, its standard error, the number of paths with the event and a note when the
    standard error was floored (no path with the event: the binomial SE would be 0; it is floored at the SE of
    one event in n paths, √((1/n)(1 − 1/n)/n), so that a rating resting on zero events among too few paths is
    flagged)."""
    if basis not in BASES:
        raise _err(f"basis must be one of {BASES}, not {basis!r}", "basis")
    if default_event not in DEFAULT_EVENTS:
        raise _err(f"default_event must be one of {DEFAULT_EVENTS}, not {default_event!r}", "default_event")
    n = int(mc.n_paths)
    if n < 2:
        raise _err("implied ratings need at least two Monte Carlo paths", "n_paths")
    floor = math.sqrt((1.0 / n) * (1.0 - 1.0 / n) / n)
    out = []
    for k, name in enumerate(mc.deal.names.tranches):
        loss = np.asarray(mc.loss[:, k], dtype=np.float64)
        if basis == "pd":
            ev = loss > LOSS_EPS
            if default_event == "loss_or_shortfall":
                ev = ev | (np.asarray(mc.short[:, k]) != 0)
            k_ev = int(ev.sum())
            v = k_ev / n
            se = math.sqrt(v * (1 - v) / n)
        else:
            k_ev = int((loss > LOSS_EPS).sum())
            v = float(loss.mean())
            se = float(loss.std(ddof=1) / math.sqrt(n))
        note = ""
        if k_ev == 0:
            se = floor
            note = f"no path with the event among {n}: SE floored at that of one event, {floor:.3g}"
        out.append({"tranche": name, "value": v, "se": se, "n_paths": n, "n_events": k_ev, "se_note": note})
    return out


def _tranche_wals(mc: Any, deal: Any, wal: Mapping[str, float] | None) -> list[tuple[float, str]]:
    names = mc.deal.names.tranches
    if wal is not None:
        return [(float(wal[nm]), "given") for nm in names]
    out: list[tuple[float, str] | None] = [None] * len(names)
    if mc.statistics == "full":
        for k in range(len(names)):
            w = np.asarray(mc.wal[:, k], dtype=np.float64)
            w = w[np.isfinite(w) & (w > 0)]  # the kernel records 0 on a path that repays no principal
            if w.size:
                out[k] = (float(w.mean()), "mc_expected_wal")
    if any(o is None for o in out):
        from ipabs.api import run_deterministic

        why = ("losses-only Monte Carlo has no WAL" if mc.statistics != "full" else
               "no Monte Carlo path repays any principal of the tranche")
        rows = run_deterministic(deal).tranche_summary()
        out = [o if o is not None else (float(r["wal_years"]), f"deterministic base-case WAL ({why})")
               for o, r in zip(out, rows, strict=True)]
    return out  # type: ignore[return-value]


def tranche_ratings(mc: Any, deal: Any = None, *, basis: str = "pd", table: str | Path | TargetTable =
                    "moodys_idealized", mapping: str | Path | RatingMap | None = None, allow_unconfirmed: bool = False,
                    interpolation: str = "none", wal: Mapping[str, float] | None = None,
                    default_event: str = "loss_or_shortfall") -> list[ImpliedRating]:
    """Implied rating of every tranche of a Monte Carlo result ``mc`` (:class:`ipabs.engine.montecarlo.MCResult`).

    The horizon is each tranche's expected WAL from a full-statistics run (mean over the paths that repay some of
    its principal: the kernel records WAL 0 on a path that repays none); from a losses-only run (WAL NaN), or
    when no path repays any principal, the deterministic base case's WAL of ``deal`` (default ``mc.deal``;
    :func:`ipabs.api.run_deterministic` with the scenario's own assumptions), labelled so. ``wal`` (tranche name → years) overrides both. ``default_event``
    ``"loss"`` counts principal losses only (``MCResult.tranche_stats()['default_probability']``)."""
    deal = mc.deal if deal is None else deal
    mets = tranche_metrics(mc, basis, default_event)
    wals = _tranche_wals(mc, deal, wal)
    out = []
    for mt, (w, src) in zip(mets, wals, strict=True):
        out.append(implied_rating(mt["value"], mt["se"], w, basis=basis, table=table, mapping=mapping,
                                  allow_unconfirmed=allow_unconfirmed, interpolation=interpolation,
                                  tranche=mt["tranche"], wal_source=src, n_paths=mt["n_paths"],
                                  n_events=mt["n_events"], se_note=mt["se_note"]))
    return out
