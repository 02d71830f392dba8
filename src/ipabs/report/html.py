"""The printable report of a run: one self-contained HTML file (``ipabs run --report`` writes report.html; the app
offers it as a download) with the deal summary, the tranche table, the Monte Carlo results and charts, the coverage
ratio, the assumptions with their sources and the provenance — in Chinese or English.

Self-contained: plotly.js is inlined once and each chart is the figure the app shows (:mod:`ipabs.report.charts`);
no script, style or font is fetched from the network (some firms' users have none). Print it to PDF from the
browser: the page is laid out for A4 (``@page``), tables repeat their headers and charts are not split.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from typing import Any

import pandas as pd

from ipabs.glossary import label
from ipabs.report import charts
from ipabs.report.content import Fact, assumptions_used, deal_facts, term

WAN = 10_000.0
#: Chart width in CSS pixels: the printable width of an A4 page with 12 mm margins (186 mm at 96 dpi ≈ 700 px).
CHART_WIDTH = 700

CSS = """
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "SimHei", Arial,
       sans-serif; font-size: 10pt; color: #1a1a1a; max-width: 190mm; margin: 0 auto; padding: 8mm 0; }
h1 { font-size: 17pt; margin: 0 0 2mm 0; }
h2 { font-size: 12.5pt; margin: 7mm 0 2mm 0; border-bottom: 1.5px solid #1f4e79; color: #1f4e79;
     page-break-after: avoid; break-after: avoid; }
.subtitle { color: #555; margin-bottom: 4mm; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 3mm 0; font-size: 9pt; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; break-inside: avoid; }
th, td { border: 0.5pt solid #b8c4d0; padding: 1.2mm 1.6mm; vertical-align: top; }
th { background: #dde6f0; font-weight: 600; text-align: center; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td { white-space: nowrap; }
table.facts td { white-space: normal; }
table.facts td:first-child { width: 38%; color: #333; }
.chart { page-break-inside: avoid; break-inside: avoid; margin: 2mm 0; }
.note { color: #555; font-size: 8.5pt; }
.warn { color: #8a4b00; }
@media print { body { padding: 0; max-width: none; } .pagebreak { page-break-before: always; } }
"""


def _heading(key: str, lang: str) -> str:
    """A section heading: the glossary label, capitalised in English."""
    text = label(key, lang)
    return _e(text if lang == "zh" else text[:1].upper() + text[1:])


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _num(x: float | None, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:,.{nd}f}"


def _wan(yuan: float | None) -> str:
    return "–" if yuan is None else _num(float(yuan) / WAN, 2)


def _pct(x: float | None, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{100 * float(x):.{nd}f}%"


def _date(d: Any, lang: str) -> str:
    if d is None or d == "":
        return "–"
    if isinstance(d, dt.datetime):
        s = d.strftime("%Y-%m-%d %H:%M:%S")
        return f"{s} UTC" if d.tzinfo is not None else s
    return charts.fmt_date(d, lang)


def _fact_value(f: Fact, lang: str) -> str:
    if f.kind == "amount":  # zh: 万元, as the tables; en: millions, as an English reader counts
        if lang == "zh":
            return f"{_wan(f.value)} {label('unit_wan_yuan', lang)}"
        return f"CNY {_num(float(f.value) / 1e6, 2)}m"
    if f.kind == "rate":
        return _pct(f.value, 2)
    if f.kind == "prob":
        return _pct(f.value, 4)
    if f.kind == "int":
        return f"{int(f.value):,}"
    if f.kind == "number":
        return _num(float(f.value), 2)
    if f.kind in ("date", "datetime"):
        return _date(f.value, lang)
    return str(f.value)


def _table(headers: list[str], rows: list[list[tuple[str, bool]]], cls: str = "") -> str:
    """A table; each cell is (text, numeric) — numeric cells are right-aligned. Text is escaped here."""
    head = "".join(f"<th>{_e(x)}</th>" for x in headers)
    body = "".join("<tr>" + "".join(f'<td class="num">{_e(v)}</td>' if num else f"<td>{_e(v)}</td>" for v, num in r)
                   + "</tr>" for r in rows)
    c = f' class="{cls}"' if cls else ""
    return f"<table{c}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _facts(facts: list[Fact], lang: str, with_source: bool = False) -> str:
    headers = [label("item", lang), label("value", lang)] + ([label("source", lang)] if with_source else [])
    rows = [[(f.title(lang), False), (_fact_value(f, lang), f.kind not in ("text", "date", "datetime"))]
            + ([(f.source, False)] if with_source else []) for f in facts]
    return _table(headers, rows, "facts")


def _u(key: str, lang: str) -> str:
    unit = label("unit_wan_yuan", lang)
    return f"{label(key, lang)}（{unit}）" if lang == "zh" else f"{label(key, lang)} ({unit})"


def tranche_table(det, lang: str) -> str:
    """The tranches' terms and base-case analytics."""
    headers = [label("tranche", lang), label("seniority", lang), _u("original_balance", lang), label("coupon", lang),
               label("expected_maturity", lang), label("wal_years", lang), label("yield", lang),
               label("modified_duration", lang), _u("base_case_loss", lang)]
    rows = []
    for d in det.tranche_summary():
        rows.append([(d["name"], False), (term(d["seniority"], lang), False), (_wan(d["original_balance"]), True),
                     (_pct(d["coupon"], 3), True), (_date(d["expected_maturity"], lang), False),
                     (_num(d["wal_years"], 3), True), (_pct(d["yield"], 3), True),
                     (_num(d["modified_duration"], 3), True), (_wan(d["loss"]), True)])
    return _table(headers, rows)


def tranche_risk_table(mc, lang: str) -> str:
    """The tranches' Monte Carlo expected loss, default and interest-shortfall probabilities ± standard errors."""
    headers = [label("tranche", lang), label("expected_loss", lang), label("default_probability", lang),
               label("interest_shortfall_probability", lang), f"{label('loss', lang)} P99"]
    rows = []
    for m in mc.tranche_stats():
        rows.append([(m["name"], False),
                     (f"{_pct(m['expected_loss'], 4)} ± {_pct(m['expected_loss_se'], 4)}", True),
                     (f"{_pct(m['default_probability'], 3)} ± {_pct(m['default_probability_se'], 3)}", True),
                     (f"{_pct(m['interest_shortfall_probability'], 3)} ± "
                      f"{_pct(m['interest_shortfall_probability_se'], 3)}", True),
                     (_pct(m["loss_quantiles"].get("q0.99"), 3), True)])
    return _table(headers, rows)


def pool_table(mc, lang: str) -> str:
    p = mc.pool_stats()
    qs = (("q0.5", "P50"), ("q0.95", "P95"), ("q0.99", "P99"), ("q0.999", "P99.9"))
    headers = [label("metric", lang), label("mean", lang), label("standard_error", lang)] + [
        label("quantile_column", lang).format(p=name) for _, name in qs]
    series = [("pool_default_rate", "default_rate"), ("pool_loss_rate", "loss_rate")]
    if "revenue_shortfall_mean" in p:
        series.append(("revenue_shortfall", "revenue_shortfall"))
    rows = []
    for key, stem in series:
        mean = p[f"{stem}_mean"]
        se = p.get(f"{stem}_se")
        qd = p.get(f"{stem}_quantiles", {})
        rows.append([(label(key, lang), False), (_pct(mean, 3), True), (_pct(se, 3), True)]
                    + [(_pct(qd.get(q), 3), True) for q, _ in qs])
    rows.append([(_u("support_draw_mean", lang), False), (_wan(p["support_draw_mean"]), True),
                 (_wan(p["support_draw_mean_se"]), True)] + [("", False)] * len(qs))
    rows.append([(label("support_default_probability", lang), False), (_pct(p["support_default_probability"], 3), True),
                 (_pct(p["support_default_probability_se"], 3), True)] + [("", False)] * len(qs))
    return _table(headers, rows)


def bands_table(mc, lang: str) -> str:
    """Each tranche's balance by period: mean and the 5/50/95% band with its resolution (decision 019)."""
    ec = mc.expected_cashflows()
    headers = [label("tranche", lang), label("period", lang), label("payment_date", lang), _u("balance_mean", lang),
               _u("balance_p5", lang), _u("balance_p50", lang), _u("balance_p95", lang),
               _u("balance_resolution", lang)]
    rows = [[(r.tranche, False), (str(r.period), True), (_date(r.payment_date, lang), False),
             (_wan(r.balance_mean), True), (_wan(r.balance_p5), True), (_wan(r.balance_p50), True),
             (_wan(r.balance_p95), True), (_wan(r.balance_resolution), True)] for r in ec.itertuples()]
    return _table(headers, rows)


def index_table(mc, lang: str) -> str:
    """The simulated index fixings per period (``simulation.rates``): forward level, mean and 5/50/95%."""
    ix = mc.index_summary()
    headers = [label("index", lang), label("period", lang), label("fixing_date", lang)] + [
        label(f"index_{c}", lang) for c in ("forward", "mean", "p5", "p50", "p95")]
    rows = [[(r.index, False), (str(r.period), True), (_date(r.fixing_date, lang), False)]
            + [(_pct(getattr(r, c), 3), True) for c in ("forward", "mean", "p5", "p50", "p95")]
            for r in ix.itertuples()]
    return _table(headers, rows)


def coverage_table(det, lang: str) -> str:
    pf = det.pool_frame()
    headers = [label("period", lang), label("payment_date", lang), label("coverage_ratio", lang), label("state", lang)]
    rows = []
    for r in pf.itertuples():
        cov = None if pd.isna(r.coverage_ratio) else float(r.coverage_ratio)
        rows.append([(str(r.period), True), (_date(r.payment_date, lang), False), (_num(cov, 2), True),
                     (term(r.state, lang), False)])
    return _table(headers, rows)


def provenance_facts(det, mc, lang: str) -> list[Fact]:
    m = det.meta
    libs = (f"numba {m.get('numba_version', '?')}, numpy {m.get('numpy_version', '?')}, "
            f"QuantLib {m.get('quantlib_version', '?')}, Python {m.get('python_version', '?')}")
    out = [Fact("scenario_file", m.get("scenario_file") or ""), Fact("scenario_hash", m.get("scenario_hash", "")),
           Fact("ipabs_version", m.get("ipabs_version", "")), Fact("library_versions", libs)]
    if mc is not None:
        meta = mc.meta or {}
        out += [Fact("seed", int(mc.seed), "int"), Fact("n_paths", int(mc.n_paths), "int"),
                Fact("rng", str(meta.get("rng", ""))),
                Fact("statistics", label(f"statistics_{mc.statistics}", lang))]
    created = m.get("created_utc")
    if created:
        out.append(Fact("run_date", dt.datetime.fromisoformat(created), "datetime"))
    return out


def _figure_div(fig, div_id: str) -> str:
    import plotly.io as pio

    fig.update_layout(width=CHART_WIDTH, autosize=False)
    return ('<div class="chart">' + pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id,
                                                config={"displaylogo": False, "responsive": False,
                                                        "displayModeBar": False}) + "</div>")


def render_report(det, mc=None, lang: str = "en", *, tape=None) -> str:
    """The printable report of a run (deterministic result ``det``, Monte Carlo ``mc`` or None) as one HTML page."""
    from plotly.offline import get_plotlyjs

    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    name = det.deal.scenario.deal.name
    parts: list[str] = []
    parts.append(f"<h1>{_e(name)}</h1>")
    parts.append(f'<div class="subtitle">{_heading("report_title", lang)} · '
                 f'{_e(_date(dt.datetime.fromisoformat(det.meta["created_utc"]), lang) if det.meta.get("created_utc") else "")}'
                 "</div>")
    parts.append(f"<h2>{_heading('deal_summary', lang)}</h2>")
    facts = [f for f in deal_facts(det, mc, tape, lang)
             if f.key not in ("scenario_file", "scenario_hash", "ipabs_version", "run_date", "seed", "n_paths",
                              "statistics")]
    psum = det.pool_summary()
    if psum.get("min_coverage_ratio") is not None:
        facts.append(Fact("min_coverage_ratio", float(psum["min_coverage_ratio"]), "number"))
    parts.append(_facts(facts, lang))
    if det.deal.warnings:
        parts.append("".join(f'<p class="warn">{_e(w)}</p>' for w in det.deal.warnings))
    parts.append(f"<h2>{_heading('tranches_heading', lang)}</h2>")
    parts.append(tranche_table(det, lang))
    charts_html: list[str] = []
    if mc is not None:
        parts.append(f"<h2>{_heading('mc_results', lang)}</h2>")
        parts.append(f'<p class="note">{_e(label("mc_results_note", lang).format(n=f"{mc.n_paths:,}", seed=mc.seed))}'
                     "</p>")
        parts.append(tranche_risk_table(mc, lang))
        parts.append(pool_table(mc, lang))
        charts_html.append(_figure_div(charts.loss_chart(mc, lang), "chart-loss"))
        if mc.has_cashflow_statistics:
            charts_html.append(_figure_div(charts.paydown_chart(mc, lang), "chart-paydown"))
        parts += charts_html
        if mc.has_cashflow_statistics:
            parts.append(f"<h2>{_heading('expected_paydown_heading', lang)}</h2>")
            parts.append(bands_table(mc, lang))
            parts.append(f'<p class="note">{_e(label("bands_note", lang))}</p>')
        if mc.index_levels is not None:
            parts.append(f"<h2>{_heading('sheet_index_paths', lang)}</h2>")
            rm = mc.meta.get("rate_model", {})
            parts.append(f'<p class="note">{_e(label("hull_white", lang))}: a = {rm.get("mean_reversion")}, '
                         f'σ = {rm.get("volatility")}</p>')
            parts.append(_figure_div(charts.index_chart(mc, lang), "chart-index"))
            parts.append(index_table(mc, lang))
    parts.append(f"<h2>{_heading('coverage_ratio_heading', lang)}</h2>")
    parts.append(_figure_div(charts.coverage_chart(det, lang), "chart-coverage"))
    parts.append(coverage_table(det, lang))
    parts.append(f"<h2>{_heading('assumptions', lang)}</h2>")
    parts.append(_facts(assumptions_used(det, mc, lang), lang, with_source=True))
    parts.append(f"<h2>{_heading('provenance', lang)}</h2>")
    parts.append(_facts(provenance_facts(det, mc, lang), lang))
    title = f"{name} · {label('report_title', lang)}"
    return ("<!DOCTYPE html>\n"
            f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f"<title>{_e(title)}</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{CSS}</style>"
            f'<script type="text/javascript">{get_plotlyjs()}</script>'
            "</head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
