"""Early-warning rules as data, the five-category loan classification and the delinquency → default table.

A rules file (TOML; the Ganzhou default set is src/ipabs/data/warning_rules/ganzhou-default.toml) has
``[[rules]]`` — each a signal, a comparison, a threshold, a severity, reasons and a recommended early intervention in
Chinese and English, and the source it rests on — and a ``[transition]`` table of 12-month default probabilities by
days past due used by the re-projection (an assumption, and labelled so). docs/surveillance.md §4 lists the rules.

Signals (``signal`` key):

* firm level, from the servicer report: ``days_past_due`` (worst asset), ``defaulted`` (1 when any asset is
  defaulted or written off), ``ip_event.<event>`` / ``firm_event.<event>`` (1 when reported), ``collateral_cover``
  (Σ current collateral value ÷ Σ outstanding principal of the live assets), ``pool_share`` (the firm's share of the
  live outstanding principal: concentration drift), ``disposal_stalled`` (1 when a defaulted asset's pledged IP
  disposal has not started);
* deal level, from the re-projection: ``trigger_headroom`` (per trigger: threshold − value for a cumulative default
  ratio, value − threshold for a coverage ratio), ``trigger_breach_probability_3m`` (Monte Carlo probability of a
  breach within 3 months), ``delinquency_ratio`` (overdue outstanding ÷ live outstanding),
  ``defaults_vs_base_case`` (cumulative default ratio now minus the issuance base case's at the same period).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ipabs.errors import InputError, Issue

DEFAULT_RULES = "ganzhou-default"
SEVERITY_LABELS = {1: "low", 2: "medium", 3: "high", 4: "critical"}

#: Five-category classification by days past due (正常/关注/次级/可疑/损失): upper bounds of 正常, 关注, 次级, 可疑
#: (days); beyond the last, 损失. 商业银行金融资产风险分类办法 (CBIRC/PBoC 2023 No. 1); the boundaries 90/270/360
#: are recalled, not retrieved [U] — the rules file states them again with the same label.
LOAN_CLASS_BOUNDS = (0, 90, 270, 360)
LOAN_CLASSES = ("normal", "special_mention", "substandard", "doubtful", "loss")


def loan_class(days_past_due: int, status: str = "performing") -> str:
    """The five-category class of an asset (``loan_class_<x>`` in the glossary): by days past due; a defaulted
    asset is at least substandard, a written-off one is loss."""
    if status == "written_off":
        return "loss"
    k = next((i for i, b in enumerate(LOAN_CLASS_BOUNDS) if days_past_due <= b), len(LOAN_CLASS_BOUNDS))
    if status == "defaulted":
        k = max(k, 2)
    return LOAN_CLASSES[k]


class RulesError(InputError):
    def __init__(self, issues: Any, *, title: str = "invalid warning rules"):
        super().__init__(issues, title=title)


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


FIRM_SIGNALS = ("days_past_due", "defaulted", "collateral_cover", "pool_share", "disposal_stalled")
DEAL_SIGNALS = ("trigger_headroom", "trigger_breach_probability_3m", "delinquency_ratio", "defaults_vs_base_case")


class Rule(_M):
    id: str = Field(min_length=1)
    level: Literal["firm", "deal"]
    signal: str
    op: Literal[">=", ">", "<=", "<", "between"]
    threshold: float | list[float]
    severity: int = Field(ge=1, le=4)
    reason_zh: str
    reason_en: str
    intervention_zh: str
    intervention_en: str
    source: str = Field(min_length=1)
    source_kind: Literal["policy", "five_category", "market_practice", "assumption"]
    status: Literal["C", "U", "P", "assumption"]

    @model_validator(mode="after")
    def _check(self) -> Rule:
        from ipabs.surveillance.reports import FIRM_EVENTS, IP_EVENTS

        ok = (self.signal in FIRM_SIGNALS if self.level == "firm" else self.signal in DEAL_SIGNALS)
        if self.level == "firm" and "." in self.signal:
            kind, _, ev = self.signal.partition(".")
            ok = (kind == "ip_event" and ev in IP_EVENTS) or (kind == "firm_event" and ev in FIRM_EVENTS)
        if not ok:
            raise ValueError(f"unknown {self.level} signal '{self.signal}'")
        if self.op == "between" and not (isinstance(self.threshold, list) and len(self.threshold) == 2):
            raise ValueError("op 'between' needs threshold = [low, high]")
        if self.op != "between" and isinstance(self.threshold, list):
            raise ValueError(f"op '{self.op}' needs one threshold")
        return self

    def fires(self, x: float) -> bool:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return False
        t = self.threshold
        if self.op == "between":
            return t[0] <= x <= t[1]
        return {">=": x >= t, ">": x > t, "<=": x <= t, "<": x < t}[self.op]

    def threshold_text(self) -> str:
        t = self.threshold
        return f"[{t[0]:g}, {t[1]:g}]" if isinstance(t, list) else f"{self.op} {t:g}"


class Bucket(_M):
    min_dpd: int = Field(ge=1)
    max_dpd: int | None = Field(None, ge=1)
    pd_12m: float = Field(ge=0, le=1)


class TransitionTable(_M):
    name: str
    status: Literal["C", "U", "P", "assumption"]
    source: str
    buckets: list[Bucket] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> TransitionTable:
        prev = 0
        for b in self.buckets:
            if b.min_dpd != prev + 1:
                raise ValueError(f"buckets must be contiguous from 1 day: bucket from {b.min_dpd} after {prev}")
            if b.max_dpd is None:
                prev = 10**9
            else:
                if b.max_dpd < b.min_dpd:
                    raise ValueError(f"bucket {b.min_dpd}–{b.max_dpd} is empty")
                prev = b.max_dpd
        return self

    def pd_12m(self, dpd: int) -> float | None:
        for b in self.buckets:
            if dpd >= b.min_dpd and (b.max_dpd is None or dpd <= b.max_dpd):
                return b.pd_12m
        return None


class RulesFile(_M):
    name: str
    version: str
    description: str = ""
    rules: list[Rule] = Field(min_length=1)
    transition: TransitionTable | None = None


def load_rules(name_or_path: str | Path = DEFAULT_RULES) -> RulesFile:
    """A bundled rule set by name (``ganzhou-default``) or a TOML file; every problem raised as one RulesError."""
    p = Path(name_or_path)
    if p.suffix.lower() != ".toml" and not p.exists():
        res = resources.files("ipabs").joinpath("data", "warning_rules", f"{name_or_path}.toml")
        if not res.is_file():
            raise RulesError([Issue(f"no bundled rule set '{name_or_path}' and no such file", file=str(name_or_path))])
        text, file = res.read_text(encoding="utf-8"), f"ipabs/data/warning_rules/{name_or_path}.toml"
    else:
        if not p.is_file():
            raise RulesError([Issue("file not found", file=str(p))])
        try:
            text = p.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            raise RulesError([Issue(f"not UTF-8 text: {e}", file=str(p))]) from None
        file = str(p)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RulesError([Issue(f"not valid TOML: {e}", file=file)]) from None
    try:
        rf = RulesFile.model_validate(data)
    except ValidationError as e:
        raise RulesError([Issue(err["msg"], file=file, table=".".join(str(x) for x in err["loc"][:-1]) or None,
                                field=str(err["loc"][-1]) if err["loc"] else None) for err in e.errors()]) from None
    ids = [r.id for r in rf.rules]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise RulesError([Issue(f"duplicate rule id(s) {dup}", file=file, table="rules", field="id")])
    return rf


# ---- signals -------------------------------------------------------------------------------------------------
def firm_signals(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per firm (obligor) of a servicer report with every firm-level signal (see module docstring)."""
    from ipabs.surveillance.reports import FIRM_EVENTS, IP_EVENTS

    df = rows.copy()
    if "obligor_id" not in df or df["obligor_id"].isna().any():
        df["obligor_id"] = df["obligor_id"].fillna(df["asset_id"]) if "obligor_id" in df else df["asset_id"]
    live = df["status"].isin(["performing", "overdue"])
    total_live = float(df.loc[live, "outstanding_principal"].sum())
    out = []
    for oid, g in df.groupby("obligor_id", sort=False):
        gl = g[g["status"].isin(["performing", "overdue"])]
        owed = float(gl["outstanding_principal"].sum())
        coll = gl["collateral_value"].dropna() if "collateral_value" in gl else pd.Series(dtype=float)
        cover = float(coll.sum()) / owed if owed > 0.005 and len(coll) == len(gl) and len(coll) else math.nan
        defaulted = g["status"].isin(["defaulted", "written_off"])
        stalled = bool((g["status"].eq("defaulted") & g["disposal_status"].isin([None, "not_started"])).any())
        rec: dict[str, Any] = {
            "obligor_id": oid,
            "days_past_due": int(g["days_past_due"].max()),
            "defaulted": 1.0 if defaulted.any() else 0.0,
            "collateral_cover": cover,
            "pool_share": owed / total_live if total_live > 0 else math.nan,
            "disposal_stalled": 1.0 if stalled else 0.0,
            "outstanding_principal": float(g["outstanding_principal"].sum()),
            "loan_class": loan_class(int(g["days_past_due"].max()),
                                     "written_off" if g["status"].eq("written_off").any() else
                                     ("defaulted" if defaulted.any() else "performing")),
        }
        ip = {e for evs in g["ip_events"] for e in (evs or ())}
        fe = {e for evs in g["firm_events"] for e in (evs or ())}
        for e in IP_EVENTS:
            rec[f"ip_event.{e}"] = 1.0 if e in ip else 0.0
        for e in FIRM_EVENTS:
            rec[f"firm_event.{e}"] = 1.0 if e in fe else 0.0
        out.append(rec)
    return pd.DataFrame(out)


@dataclass(frozen=True)
class Alert:
    subject: str  # firm id, or the deal / trigger name
    level: str
    rule_id: str
    severity: int
    observed: float
    threshold: str
    reason_zh: str
    reason_en: str
    intervention_zh: str
    intervention_en: str
    source: str
    status: str
    deal: str = ""
    probability_3m: float | None = None


def _fmt(rule: Rule, x: float) -> tuple[str, str]:
    val = f"{x:.4g}" if isinstance(x, float) else str(x)
    return rule.reason_zh.format(value=val), rule.reason_en.format(value=val)


def evaluate_firms(rules: RulesFile, signals: pd.DataFrame, *, deal: str = "") -> list[Alert]:
    alerts = []
    for rec in signals.to_dict("records"):
        for r in rules.rules:
            if r.level != "firm":
                continue
            x = rec.get(r.signal)
            if x is not None and r.fires(float(x)):
                zh, en = _fmt(r, float(x))
                alerts.append(Alert(str(rec["obligor_id"]), "firm", r.id, r.severity, float(x), r.threshold_text(),
                                    zh, en, r.intervention_zh, r.intervention_en, r.source, r.status, deal))
    return alerts


def evaluate_deal(rules: RulesFile, signals: list[dict[str, Any]], *, deal: str = "") -> list[Alert]:
    """``signals``: dicts with ``subject`` (e.g. a trigger's name), ``signal``, ``value`` and optionally
    ``probability_3m`` (shown beside the alert)."""
    alerts = []
    for s in signals:
        for r in rules.rules:
            if r.level == "deal" and r.signal == s["signal"] and r.fires(float(s["value"])):
                zh, en = _fmt(r, float(s["value"]))
                alerts.append(Alert(str(s["subject"]), "deal", r.id, r.severity, float(s["value"]), r.threshold_text(),
                                    zh, en, r.intervention_zh, r.intervention_en, r.source, r.status, deal,
                                    s.get("probability_3m")))
    return alerts


def watchlist(alerts: list[Alert], names: dict[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-subject scores, alerts) sorted by severity: a subject's score is the sum of its alerts' severities;
    subjects are ordered by their worst severity, then score, then name."""
    names = names or {}
    cols = ["deal", "subject", "name", "level", "max_severity", "severity_label", "score", "n_alerts",
            "reasons_zh", "reasons_en"]
    if not alerts:
        return pd.DataFrame(columns=cols), pd.DataFrame(columns=[f.name for f in Alert.__dataclass_fields__.values()])
    a = pd.DataFrame([x.__dict__ for x in alerts])
    a["name"] = a["subject"].map(lambda s: names.get(s, ""))
    a = a.sort_values(["severity", "deal", "subject", "rule_id"], ascending=[False, True, True, True],
                      kind="stable").reset_index(drop=True)
    subj = []
    for (deal, s), g in a.groupby(["deal", "subject"], sort=False):
        ms = int(g["severity"].max())
        subj.append({"deal": deal, "subject": s, "name": names.get(s, ""), "level": g["level"].iloc[0],
                     "max_severity": ms, "severity_label": SEVERITY_LABELS[ms], "score": int(g["severity"].sum()),
                     "n_alerts": len(g), "reasons_zh": "; ".join(g["reason_zh"]),
                     "reasons_en": "; ".join(g["reason_en"])})
    s = pd.DataFrame(subj, columns=cols).sort_values(["max_severity", "score", "deal", "subject"],
                                                     ascending=[False, False, True, True], kind="stable")
    return s.reset_index(drop=True), a


def unconfirmed_note(alerts: pd.DataFrame) -> str | None:
    """A note naming the alerts whose rule rests on a recalled (U) or assumed threshold (never a silent default)."""
    if alerts is None or alerts.empty:
        return None
    weak = alerts[alerts["status"].isin(["U", "assumption"])]
    if weak.empty:
        return None
    ids = ", ".join(sorted(set(weak["rule_id"])))
    return (f"{len(weak)} of {len(alerts)} alert(s) rest on thresholds that are recalled (U) or assumptions, not "
            f"confirmed sources: {ids} (see the rules file's status and source)")
