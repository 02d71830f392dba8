"""Rating → default-probability tables and per-obligor PD term structures (docs/methodology/copula.md §PD curves).

A table is a versioned data file ``ipabs/data/rating_pd_<name>.toml`` that states its ``source`` and its
``status`` (``confirmed`` or ``assumption``, as DOMAIN.md §10 marks them) and gives, per rating, either

* ``[annual_pd]``: a flat annual PD p — the cumulative PD after t years is ``1 − (1 − p)^t`` (constant hazard); or
* ``horizons_years = [h_1, …, h_m]`` and ``[cumulative_pd]``: the cumulative PDs ``C(h_j)`` at those horizons. In
  between, the survival ``S = 1 − C`` is interpolated log-linearly from ``S(0) = 1`` (a hazard constant on each
  segment), and the last segment's hazard continues after ``h_m``. A single 10-year horizon is the flat hazard
  that matches the 10-year PD.

The default multiplier of a stress scales each period's annualised conditional PD,
``p_t = 1 − (S_t/S_{t−1})^(1/Δ_t)`` → ``min(1, m·p_t)`` — for a flat table that is the annual PD times m, which
is how the engine applies it to flat PDs.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from ipabs.errors import Issue, ScenarioError

__all__ = ["RatingTable", "load_rating_table", "parse_rating_table", "cumulative_from_horizons", "stressed_cumulative"]

#: Cumulative PDs are capped just below 1 so that the log-survival stays finite.
MAX_CUM_PD = 1.0 - 1e-12


@dataclass(frozen=True)
class RatingTable:
    name: str
    version: str
    status: str
    source: str
    annual_pd: dict[str, float] = field(default_factory=dict)
    horizons_years: tuple[float, ...] = ()
    cumulative_pd: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def __contains__(self, rating: object) -> bool:
        return rating in self.annual_pd or rating in self.cumulative_pd

    def cumulative(self, rating: str, years: np.ndarray) -> np.ndarray:
        """Cumulative PD of ``rating`` at each of ``years`` (years from closing, increasing)."""
        if rating in self.annual_pd:
            return 1.0 - (1.0 - self.annual_pd[rating]) ** np.asarray(years, dtype=np.float64)
        return cumulative_from_horizons(self.horizons_years, self.cumulative_pd[rating], years)


def cumulative_from_horizons(horizons: tuple[float, ...], cum: tuple[float, ...], years: np.ndarray) -> np.ndarray:
    """Cumulative PD at ``years`` from PDs ``cum`` at ``horizons``: log-linear survival from S(0) = 1, the last
    segment's hazard continued past the last horizon."""
    h = np.concatenate([[0.0], np.asarray(horizons, dtype=np.float64)])
    log_s = np.concatenate([[0.0], np.log1p(-np.minimum(np.asarray(cum, dtype=np.float64), MAX_CUM_PD))])
    y = np.asarray(years, dtype=np.float64)
    out = np.interp(y, h, log_s)
    beyond = y > h[-1]
    if beyond.any():
        slope = (log_s[-1] - log_s[-2]) / (h[-1] - h[-2])
        out[beyond] = log_s[-1] + slope * (y[beyond] - h[-1])
    return -np.expm1(out)


def stressed_cumulative(cum: np.ndarray, yf: np.ndarray, multiplier: float) -> np.ndarray:
    """Cumulative PDs by period with each period's annualised conditional PD multiplied by ``multiplier``."""
    if multiplier == 1.0:
        return np.asarray(cum, dtype=np.float64)
    out = np.empty(len(cum))
    s_prev, s_new = 1.0, 1.0
    for t, (c, dt_) in enumerate(zip(cum, yf, strict=True)):
        s = 1.0 - c
        ratio = s / s_prev if s_prev > 0 else 0.0
        p = 1.0 - ratio ** (1.0 / dt_) if dt_ > 0 else 0.0
        p = min(1.0, max(0.0, multiplier * p))
        s_new *= (1.0 - p) ** dt_ if dt_ > 0 else 1.0
        out[t] = 1.0 - s_new
        s_prev = s
    return out


def _table_error(fname: str, msg: str, key: str = "") -> ScenarioError:
    return ScenarioError([Issue(msg, file=f"ipabs/data/{fname}", table="rating table", field=key or None)])


def load_rating_table(name: str) -> RatingTable:
    """The table ``ipabs/data/rating_pd_<name>.toml`` (checked: PDs in [0, 1], horizons increasing, cumulative PDs
    non-decreasing)."""
    fname = f"rating_pd_{name}.toml"
    try:
        text = resources.files("ipabs.data").joinpath(fname).read_text(encoding="utf-8")
    except FileNotFoundError:
        shipped = sorted(p.name[len("rating_pd_"):-len(".toml")] for p in resources.files("ipabs.data").iterdir()
                         if p.name.startswith("rating_pd_"))
        raise ScenarioError([Issue(f"unknown rating table '{name}' (shipped: {', '.join(shipped)})",
                                   table="simulation", field="rating_table")]) from None
    return parse_rating_table(text, fname, name)


def parse_rating_table(text: str, fname: str, name: str) -> RatingTable:
    """A rating table from its TOML text (``fname`` names the file in error messages)."""
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as e:
        raise _table_error(fname, f"not valid TOML: {e or 'nested too deeply'}") from None
    annual = {str(k): float(v) for k, v in doc.get("annual_pd", {}).items()}
    horizons = tuple(float(x) for x in doc.get("horizons_years", ()))
    cumulative = {str(k): tuple(float(x) for x in v) for k, v in doc.get("cumulative_pd", {}).items()}
    if not annual and not cumulative:
        raise _table_error(fname, "the table has neither [annual_pd] nor [cumulative_pd]")
    for r, p in annual.items():
        if not 0.0 <= p <= 1.0:
            raise _table_error(fname, f"annual PD {p} of '{r}' is not in [0, 1]", r)
    if cumulative:
        if not horizons or any(h <= 0 for h in horizons) or any(b <= a for a, b in itertools.pairwise(horizons)):
            raise _table_error(fname, "horizons_years must be positive and increasing", "horizons_years")
        for r, c in cumulative.items():
            if len(c) != len(horizons):
                raise _table_error(fname, f"'{r}' has {len(c)} cumulative PDs for {len(horizons)} horizons", r)
            if any(not 0.0 <= x <= 1.0 for x in c) or any(b < a for a, b in itertools.pairwise(c)):
                raise _table_error(fname, f"cumulative PDs of '{r}' must lie in [0, 1] and not decrease", r)
    return RatingTable(str(doc.get("name", name)), str(doc.get("version", "")), str(doc.get("status", "assumption")),
                       str(doc.get("source", "")), annual, horizons, cumulative)

