"""What the workbook's cover sheet and the printable report say about a run: the deal, its provenance and the
assumptions that were used, each with its source. Labels come from :mod:`ipabs.glossary`; no formatting here.

Every row is a :class:`Fact`: a glossary key (or a user's own name), a value and its kind — ``text``, ``amount``
(yuan), ``rate`` (a fraction, shown as a percentage), ``prob`` (a small one: more decimals), ``number``, ``int``, ``date`` or ``datetime`` — so that the
workbook sets a number format and the report formats the text.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from ipabs.glossary import TERMS, label


@dataclass(frozen=True)
class Fact:
    key: str  # glossary key of the label (or a user's name, shown as it is)
    value: Any
    kind: str = "text"
    source: str = ""  # where the value comes from, already in the output language
    name: str | None = None  # a user's name put before the label (a support provider's)

    def title(self, lang: str) -> str:
        text = label(self.key, lang)
        return f"{self.name} · {text}" if self.name else text


def term(value: Any, lang: str) -> str:
    """A canonical value (``normal``, ``senior``, ``quarterly``, True/False …) in the output language."""
    if isinstance(value, bool):
        return label("yes" if value else "no", lang)
    return label(str(value), lang)


def _date(x: Any) -> Any:
    if isinstance(x, str):
        try:
            return dt.datetime.fromisoformat(x) if "T" in x else dt.date.fromisoformat(x)
        except ValueError:
            return x
    return x


def rating_table_source(rt: dict | None, lang: str) -> str:
    """``<name> v<version>（<status>）: <source>`` of the rating table used (its status in the output language)."""
    if not rt:
        return ""
    status = rt.get("status") or ""
    key = f"table_status_{status}"
    shown = label(key, lang) if key in TERMS else status
    head = f"{rt.get('name', '')} v{rt.get('version')}" if rt.get("version") is not None else str(rt.get("name", ""))
    if shown:
        head += f"（{shown}）" if lang == "zh" else f" ({shown})"
    return f"{head}: {rt['source']}" if rt.get("source") else head


def deal_facts(det, mc=None, tape=None, lang: str = "en") -> list[Fact]:
    """The deal, the pool and the run's provenance (cover sheet and report header)."""
    s = det.deal.scenario
    meta = det.meta
    facts = [
        Fact("deal_name", s.deal.name),
        Fact("market", term(s.deal.market, lang)),
        Fact("cutoff_date", s.deal.cutoff_date, "date"),
        Fact("closing_date", s.deal.closing_date, "date"),
        Fact("legal_maturity", s.deal.legal_maturity, "date"),
        Fact("payment_frequency", term(s.deal.payment_frequency, lang)),
        Fact("n_periods", det.deal.n_periods, "int"),
        Fact("pool_balance", float(det.deal.pool_balance), "amount"),
        Fact("n_assets", len(det.deal.info.asset_ids), "int"),
        Fact("n_obligors", len(det.deal.info.obligor_ids), "int"),
    ]
    if tape is not None:
        facts.append(Fact("tape_rows", f"{tape.n_rows} / {tape.n_accepted} / {tape.n_rows - tape.n_accepted}"))
    facts += [
        Fact("scenario_file", meta.get("scenario_file") or ""),
        Fact("scenario_hash", meta.get("scenario_hash", "")),
        Fact("ipabs_version", meta.get("ipabs_version", "")),
        Fact("run_date", _date(meta.get("created_utc", "")), "datetime"),
    ]
    if mc is not None:
        facts += [
            Fact("seed", int(mc.seed), "int"),
            Fact("n_paths", int(mc.n_paths), "int"),
            Fact("statistics", label(f"statistics_{mc.statistics}", lang)),
        ]
    else:
        facts.append(Fact("n_paths", 0, "int"))
    return facts


def assumptions_used(det, mc=None, lang: str = "en") -> list[Fact]:
    """The assumptions of the run with their sources: the scenario's own settings are assumptions of the scenario
    file; obligor PDs come from the tape or the named rating table (with its own status and source)."""
    s = det.deal.scenario
    a = s.assumptions
    assumed = label("source_scenario_assumption", lang)
    out = [
        Fact("cdr", a.cdr, "rate", assumed) if a.cumulative_default_rate is None
        else Fact("cumulative_default_rate", a.cumulative_default_rate, "rate", assumed),
        Fact("cpr", a.cpr, "rate", assumed),
        Fact("recovery_rate", a.recovery_rate, "rate", assumed),
        Fact("recovery_lag_periods", a.recovery_lag_periods, "int", assumed),
    ]
    for key in ("default_multiplier", "recovery_multiplier", "cpr_multiplier"):
        if getattr(a, key) != 1.0:
            out.append(Fact(key, float(getattr(a, key)), "number", assumed))
    if a.obligor_defaults:
        out.append(Fact("obligor_defaults", label("list_separator", lang).join(
            f"{d.obligor_id}@{d.period}" for d in a.obligor_defaults), "text", assumed))
    if mc is None:
        return out
    sim = s.simulation
    info = det.deal.info
    n_tape = int(sum(1 for x in info.obligor_pd if math.isfinite(x)))
    n_ob = len(info.obligor_pd)
    rt = (mc.meta or {}).get("rating_table")
    if n_tape:
        out.append(Fact("obligor_pd_source", label("pd_from_tape", lang).format(n=n_tape), "text",
                        label("source_tape", lang)))
    src = rating_table_source(rt, lang)
    if rt is not None and n_ob - n_tape:
        out.append(Fact("rating_table", label("pd_from_rating_table", lang).format(n=n_ob - n_tape), "text", src))
    elif sim.default_pd is not None and n_ob - n_tape:
        out.append(Fact("default_pd", sim.default_pd, "prob", assumed))
    out += [
        Fact("correlation", sim.correlation, "rate", assumed),
        Fact("sector_correlation", sim.sector_correlation, "rate", assumed),
        Fact("copula", term(sim.copula, lang), "text", assumed),
    ]
    if sim.copula == "student_t":
        out.append(Fact("degrees_of_freedom", float(sim.degrees_of_freedom), "number", assumed))
    out.append(Fact("recovery_model", term(sim.recovery_model, lang), "text", assumed))
    if sim.recovery_model == "ip_disposal":
        out += [Fact("haircut_mean", sim.haircut.mean, "rate", assumed),
                Fact("haircut_std", sim.haircut.std, "rate", assumed),
                Fact("disposal_cost_rate", sim.disposal_cost_rate, "rate", assumed)]
        for ip, h in sim.haircut_by_ip_type.items():
            out.append(Fact("haircut_mean", h.mean, "rate", assumed, name=term(ip, lang)))
        if sim.recovery_downturn:
            out.append(Fact("recovery_downturn", float(sim.recovery_downturn), "number", assumed))
    if sim.revenue_risk is not None:
        out += [Fact("revenue_volatility", sim.revenue_risk.volatility, "rate", assumed),
                Fact("revenue_floor", sim.revenue_risk.floor, "rate", assumed)]
    for x in s.support:
        if x.pd is not None:
            out.append(Fact("support_pd", x.pd, "prob", assumed, name=x.name))
        elif x.rating is not None:
            out.append(Fact("support_rating", x.rating, "text", src, name=x.name))
    return out
