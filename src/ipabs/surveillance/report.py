"""The monitoring report of one deal for one period (知识产权融资监测报告, deal part): a printable HTML page and an
XLSX workbook — the watchlist with reasons and interventions, the distance to triggers, tranches since issuance,
reconciliation breaks, actual against expected (chart) and the run's notes and assumptions. Chinese or English
(``lang``); every label comes from :mod:`ipabs.glossary`. Written atomically by :func:`write_monitoring_report`.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from ipabs.glossary import label
from ipabs.report.export import atomic_dir, localize, write_json, write_parquet, write_xlsx
from ipabs.surveillance.monitor import SurveillanceResult

_CSS = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; border-bottom: 1px solid #999; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; }
th { background: #eee; } .sev4 { background: #f8d0d0; } .sev3 { background: #fbe3c8; }
.note { font-size: 0.85em; color: #555; }
@media print { .plotly-graph-div { page-break-inside: avoid; } }
"""


def _table(df: pd.DataFrame, lang: str) -> str:
    if df is None or df.empty:
        return f"<p>{html.escape(label('ui_no_alerts', lang))}</p>" if df is not None else ""
    return localize(df, lang).to_html(index=False, border=0, float_format=lambda x: f"{x:,.6g}", na_rep="–")


def sheets(r: SurveillanceResult) -> dict[str, pd.DataFrame]:
    out = {"watchlist": r.watch, "alerts": r.alerts, "triggers": r.triggers, "tranches": r.tranches,
           "projection": r.projection, "firms": r.firms, "assets": r.rebased.assets}
    if r.reconciliation is not None:
        out["reconciliation"] = r.reconciliation.frame()
    if r.history is not None:
        out["actual_vs_expected"] = r.history
    return out


def monitoring_html(r: SurveillanceResult, lang: str = "zh") -> str:
    rb = r.rebased
    reasons = "reasons_zh" if lang == "zh" else "reasons_en"
    inter = "intervention_zh" if lang == "zh" else "intervention_en"
    watch = r.watch[["subject", "name", "level", "max_severity", "score", reasons]] if not r.watch.empty else r.watch
    alerts = (r.alerts[["subject", "rule_id", "severity", "observed", "threshold", inter, "source", "status"]]
              if not r.alerts.empty else r.alerts)
    parts = [
        f"<h1>{html.escape(label('monitoring_report', lang))} — {html.escape(rb.original.scenario.deal.name)}</h1>",
        f"<p>{html.escape(label('report_date', lang))}: {rb.as_of.isoformat()} · "
        f"{html.escape(label('ui_periods_paid', lang))}: {rb.t0} / {rb.original.n_periods} · "
        f"{html.escape(label('cumulative_default_ratio', lang))}: {rb.cumulative_default_offset:.2%} · "
        f"{html.escape(label('state', lang))}: {html.escape(label(rb.reported_state, lang))}</p>",
        f"<h2>{html.escape(label('watchlist', lang))}</h2>", _table(watch, lang), _table(alerts, lang),
        f"<h2>{html.escape(label('ui_trigger_gauges', lang))}</h2>", _table(r.triggers, lang),
        f"<h2>{html.escape(label('ui_tranche_change', lang))}</h2>", _table(r.tranches, lang),
    ]
    if r.reconciliation is not None:
        parts += [f"<h2>{html.escape(label('reconciliation', lang))}</h2>",
                  f"<p>{len(r.reconciliation.checks)} / {len(r.reconciliation.breaks)}</p>",
                  _table(r.reconciliation.frame(), lang) if r.reconciliation.breaks else
                  f"<p>{html.escape(label('ui_reconciliation_ok', lang))}</p>"]
    if r.history is not None:
        from ipabs.surveillance.charts import actual_vs_expected_chart

        fig = actual_vs_expected_chart(r.history, lang, rb.original.scenario.deal.name)
        parts += [f"<h2>{html.escape(label('actual_vs_expected', lang))}</h2>",
                  fig.to_html(full_html=False, include_plotlyjs=True), _table(r.history, lang)]
    parts += [f"<h2>{html.escape(label('ui_notes', lang))}</h2>",
              "".join(f"<p class='note'>{html.escape(n)}</p>" for n in r.notes)]
    body = "\n".join(parts)
    return (f"<!DOCTYPE html><html lang='{'zh-CN' if lang == 'zh' else 'en'}'><head><meta charset='utf-8'>"
            f"<title>{html.escape(label('monitoring_report', lang))}</title><style>{_CSS}</style></head>"
            f"<body>{body}</body></html>")


def write_monitoring_report(r: SurveillanceResult, out: str | Path, *, lang: str = "zh",
                            provenance: dict | None = None) -> Path:
    """surveillance.xlsx, monitoring-report.html, surveillance.json and projection.parquet into ``out``, atomically."""
    out = Path(out)
    rb = r.rebased
    meta = {"kind": "surveillance", **(provenance or {}), "as_of": rb.as_of, "periods_paid": rb.t0,
            "n_paths": r.n_paths, "seed": r.seed, "notes": list(r.notes),
            "reconciliation_breaks": len(r.reconciliation.breaks) if r.reconciliation is not None else None,
            "cumulative_defaults": rb.cumulative_defaults, "deal_state": rb.reported_state,
            "triggers": r.triggers.to_dict("records"), "tranches": r.tranches.to_dict("records"),
            "watchlist": r.watch.to_dict("records")}
    with atomic_dir(out) as tmp:
        write_xlsx(tmp / "surveillance.xlsx", sheets(r), lang)
        (tmp / "monitoring-report.html").write_text(monitoring_html(r, lang), encoding="utf-8")
        write_parquet(tmp / "projection.parquet", r.projection)
        write_json(tmp / "surveillance.json", meta)
    return out
