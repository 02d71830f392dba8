"""The bureau's monitoring report (知识产权融资监测报告) over its whole book for one reporting round: every live deal
(re-projected from its reports), the pledge-loan book and the risk-compensation fund, the subsidies expected to
lapse, and one watchlist over all of them. Inputs are listed in a small TOML manifest
(scenarios/reports/monitoring-ganzhou.toml):

.. code-block:: toml

    name = "..."
    [[deals]]                 # one per live deal; relative paths from the manifest's folder
    scenario = "../ganzhou_pledge_2026.toml"
    report = "ganzhou_pledge_2026-servicer-2026-10-20.csv"
    trustee = "ganzhou_pledge_2026-trustee-2026-10-20.csv"     # optional
    history = ["ganzhou_pledge_2026-servicer-2026-07-20.csv"]  # optional, oldest first
    [book]                    # optional
    portfolio = "../fund-portfolio-ganzhou.csv"
    report = "book-ganzhou-servicer-2026-12-31.csv"
    policy = "zhongshan"
    leverage = 10             # or fund_size
    [subsidies]               # optional
    pipeline = "../pipeline-ganzhou-2027.csv"
    report = "pipeline-ganzhou-servicer-2027-09-30.csv"
    policy = "ganzhou-2025"

Each part is as of its own report's date. Written atomically (monitoring-report.html, monitoring-report.xlsx,
monitoring-report.json).
"""

from __future__ import annotations

import html
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ipabs.errors import InputError, Issue
from ipabs.glossary import label
from ipabs.report.export import atomic_dir, localize, write_json, write_xlsx
from ipabs.surveillance.rules import DEFAULT_RULES, watchlist


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class DealEntry(_M):
    scenario: str
    report: str
    trustee: str | None = None
    history: list[str] = Field(default_factory=list)


class BookEntry(_M):
    portfolio: str
    report: str
    policy: str = "zhongshan"
    fund_size: float | None = Field(None, gt=0)
    leverage: float | None = Field(None, gt=0)


class SubsidyEntry(_M):
    pipeline: str
    report: str
    policy: str = "ganzhou-2025"


class Manifest(_M):
    name: str
    rules: str = DEFAULT_RULES
    deals: list[DealEntry] = Field(default_factory=list)
    book: BookEntry | None = None
    subsidies: SubsidyEntry | None = None


def load_manifest(path: str | Path) -> tuple[Manifest, Path]:
    p = Path(path)
    if not p.is_file():
        raise InputError([Issue("file not found", file=str(p))], title="invalid monitoring manifest")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
        m = Manifest.model_validate(data)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError([Issue(f"not valid UTF-8 TOML: {e}", file=str(p))], title="invalid monitoring manifest") \
            from None
    except ValidationError as e:
        raise InputError([Issue(err["msg"], file=str(p), table=".".join(str(x) for x in err["loc"][:-1]) or None,
                                field=str(err["loc"][-1]) if err["loc"] else None) for err in e.errors()],
                         title="invalid monitoring manifest") from None
    return m, p.parent


@dataclass
class BureauReport:
    name: str
    deals: list[Any]  # SurveillanceResult per deal
    book: Any = None  # BookOutlook
    subsidies: pd.DataFrame | None = None
    overview: pd.DataFrame = field(default_factory=pd.DataFrame)
    watch: pd.DataFrame = field(default_factory=pd.DataFrame)
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)


def bureau_report(manifest: str | Path, *, n_paths: int = 2000, seed: int | None = None,
                  breakeven: bool = False) -> BureauReport:
    """Run every part of the manifest (see module docstring); input problems raise :class:`InputError`."""
    from ipabs.surveillance.book import book_outlook, subsidy_lapse
    from ipabs.surveillance.monitor import surveil
    from ipabs.surveillance.reports import read_servicer_report
    from ipabs.surveillance.rules import evaluate_firms, firm_signals, load_rules

    m, base = load_manifest(manifest)
    rf = load_rules(m.rules if Path(m.rules).suffix != ".toml" else base / m.rules)
    deals = []
    for d in m.deals:
        rep = read_servicer_report(base / d.report)
        deals.append(surveil(base / d.scenario, rep, base / d.trustee if d.trustee else None,
                             as_of=rep.report_date, rules=rf, n_paths=n_paths, seed=seed, breakeven=breakeven,
                             history=[base / h for h in d.history] if d.history else None))
    book = None
    alerts = [a for r in deals for a in _alerts(r)]
    if m.book is not None:
        rep = read_servicer_report(base / m.book.report)
        book = book_outlook(base / m.book.portfolio, rep, as_of=rep.report_date, policy=m.book.policy,
                            fund_size=m.book.fund_size, leverage=m.book.leverage, rules=rf,
                            n_paths=max(n_paths, 1), seed=seed if seed is not None else 20260101)
        alerts += evaluate_firms(rf, firm_signals(rep.rows), deal=label("risk_compensation_fund", "en"))
    subs = None
    if m.subsidies is not None:
        rep = read_servicer_report(base / m.subsidies.report)
        subs = subsidy_lapse(base / m.subsidies.pipeline, rep, as_of=rep.report_date, policy=m.subsidies.policy,
                             rules=rf)
    names = {}
    for r in deals:
        names.update(dict(zip(r.rebased.original.info.obligor_ids, r.rebased.original.info.obligor_names,
                              strict=True)))
    watch, table = watchlist(alerts, names)
    overview = pd.DataFrame([_overview(r) for r in deals])
    return BureauReport(m.name, deals, book, subs, overview, watch, table)


def _alerts(r: Any) -> list:
    from ipabs.surveillance.rules import Alert

    return [Alert(**{k: v for k, v in rec.items() if k in Alert.__dataclass_fields__})
            for rec in r.alerts.to_dict("records")]


def _overview(r: Any) -> dict[str, Any]:
    rb = r.rebased
    trig = r.triggers[r.triggers["condition"].isin(["cumulative_default_ratio", "coverage_ratio"])]
    worst = trig.sort_values("headroom").iloc[0] if len(trig) else None
    return {"deal": rb.original.scenario.deal.name, "report_date": rb.as_of, "periods_paid": rb.t0,
            "state": rb.reported_state, "cumulative_default_ratio": rb.cumulative_default_offset,
            "trigger": worst["trigger"] if worst is not None else "", "headroom": worst["headroom"]
            if worst is not None else float("nan"),
            "breach_probability": worst["p_breach_3m"] if worst is not None else float("nan"),
            "reconciliation_break": len(r.reconciliation.breaks) if r.reconciliation is not None else None,
            "alert": len(r.alerts)}


def _table(df: pd.DataFrame | None, lang: str) -> str:
    if df is None or df.empty:
        return f"<p>{html.escape(label('ui_no_alerts', lang))}</p>"
    return localize(df, lang).to_html(index=False, border=0, float_format=lambda x: f"{x:,.6g}", na_rep="–")


def bureau_html(br: BureauReport, lang: str = "zh") -> str:
    from ipabs.surveillance.report import _CSS, monitoring_html

    reasons = "reasons_zh" if lang == "zh" else "reasons_en"
    watch = br.watch[["deal", "subject", "name", "max_severity", "score", reasons]] if not br.watch.empty else None
    parts = [f"<h1>{html.escape(label('monitoring_report', lang))} — {html.escape(br.name)}</h1>",
             f"<h2>{html.escape(label('deal', lang))}</h2>", _table(br.overview, lang),
             f"<h2>{html.escape(label('watchlist', lang))}</h2>", _table(watch, lang)]
    if br.book is not None:
        s = br.book.summary()
        parts += [f"<h2>{html.escape(label('risk_compensation_fund', lang))}</h2>",
                  _table(pd.DataFrame([s]), lang), _table(br.book.fund.by_year(), lang),
                  _table(br.book.known_claims, lang),
                  "".join(f"<p class='note'>{html.escape(n)}</p>" for n in br.book.notes)]
    if br.subsidies is not None:
        parts += [f"<h2>{html.escape(label('subsidy', lang))}</h2>",
                  f"<p>{br.subsidies['payable'].sum():,.2f} → {br.subsidies['expected_lapse'].sum():,.2f}</p>",
                  _table(br.subsidies, lang)]
    for r in br.deals:  # each deal's own report, without its page frame
        body = monitoring_html(r, lang).split("<body>", 1)[1].rsplit("</body>", 1)[0]
        parts.append(f"<hr>{body}")
    return (f"<!DOCTYPE html><html lang='{'zh-CN' if lang == 'zh' else 'en'}'><head><meta charset='utf-8'>"
            f"<title>{html.escape(label('monitoring_report', lang))}</title><style>{_CSS}</style></head>"
            f"<body>{''.join(parts)}</body></html>")


def write_bureau_report(br: BureauReport, out: str | Path, *, lang: str = "zh", provenance: dict | None = None
                        ) -> Path:
    from ipabs.surveillance.report import sheets as deal_sheets

    out = Path(out)
    sheets: dict[str, pd.DataFrame] = {"overview": br.overview, "watchlist": br.watch, "alerts": br.alerts}
    if br.book is not None:
        sheets.update({"fund_summary": pd.DataFrame([br.book.summary()]), "fund_by_year": br.book.fund.by_year(),
                       "book_loans": br.book.loans, "known_claims": br.book.known_claims})
    if br.subsidies is not None:
        sheets["subsidy_lapse"] = br.subsidies
    for i, r in enumerate(br.deals, start=1):
        for k in ("triggers", "tranches", "actual_vs_expected"):
            df = deal_sheets(r).get(k)
            if df is not None:
                sheets[f"d{i}_{k}"] = df
    meta = {"kind": "monitoring-report", "name": br.name, **(provenance or {}),
            "overview": br.overview.to_dict("records"), "watchlist": br.watch.to_dict("records"),
            "fund": br.book.summary() if br.book is not None else None,
            "subsidy_expected_lapse": float(br.subsidies["expected_lapse"].sum()) if br.subsidies is not None
            else None}
    with atomic_dir(out) as tmp:
        (tmp / "monitoring-report.html").write_text(bureau_html(br, lang), encoding="utf-8")
        write_xlsx(tmp / "monitoring-report.xlsx", sheets, lang)
        write_json(tmp / "monitoring-report.json", meta)
    return out
