"""The run's workbook (cashflows.xlsx) in the layout of a 现金流测算表: a cover sheet, one sheet per tranche, the pool,
fees, accounts, and the Monte Carlo statistics and expected cash flows — every sheet name, header and value label in
the chosen language (``zh`` or ``en``), amounts in 万元 with two decimals (the unit in the header), rates as
percentages, dates as dates: number formats set on the cells. Parquet files keep yuan and English column names.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ipabs.glossary import label
from ipabs.report.content import Fact, assumptions_used, deal_facts, term

WAN = 10_000.0
#: Number formats by kind of column.
FORMATS = {
    "amount": "#,##0.00",  # 万元 (the value is divided by 10,000)
    "rate": "0.00%",
    "prob": "0.0000%",  # small probabilities and losses: four decimals of a percent
    "number": "#,##0.00",
    "ratio": "0.00",
    "years": "0.00",
    "int": "#,##0",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
    "text": "@",
}
#: Columns wider than this many characters wrap their header instead.
MAX_WIDTH = 36
QUANTILE_KEYS = (("q0.05", "P5"), ("q0.5", "P50"), ("q0.9", "P90"), ("q0.95", "P95"), ("q0.99", "P99"),
                 ("q0.999", "P99.9"))
PERCENTILE_KEYS = (("p5", "P5"), ("p50", "P50"), ("p95", "P95"))


@dataclass(frozen=True)
class Col:
    header: str
    kind: str
    values: list


def unit_header(text: str, kind: str, lang: str) -> str:
    """A header with its unit: ``实付利息（万元）`` / ``interest paid (CNY 10,000)``; years likewise."""
    unit = {"amount": label("unit_wan_yuan", lang), "years": label("unit_years", lang)}.get(kind)
    if unit is None:
        return text
    return f"{text}（{unit}）" if lang == "zh" else f"{text} ({unit})"


def _cell_value(v: Any, kind: str) -> Any:
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if kind == "amount":
        return round(float(v) / WAN, 6)
    if kind in ("date", "datetime"):
        if isinstance(v, str):
            v = dt.datetime.fromisoformat(v) if "T" in v else dt.date.fromisoformat(v)
        if hasattr(v, "to_pydatetime"):
            v = v.to_pydatetime()
        if isinstance(v, dt.datetime) and v.tzinfo is not None:
            v = v.replace(tzinfo=None)  # UTC, said in the header
        return v
    return v


def _width(text: Any) -> float:
    s = str(text)
    return sum(2.0 if ord(ch) > 0x2E80 else 1.0 for ch in s)


def write_table(ws, cols: list[Col], start_row: int = 1, freeze: bool = True, first_col_frozen: bool = False) -> int:
    """Write ``cols`` as a table with a bold header row at ``start_row``; returns the next free row."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE6F0")
    n = max((len(c.values) for c in cols), default=0)
    for j, c in enumerate(cols, start=1):
        cell = ws.cell(row=start_row, column=j, value=c.header)
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        fmt = FORMATS[c.kind]
        width = _width(c.header) + 2
        for i, v in enumerate(c.values):
            x = _cell_value(v, c.kind)
            cell = ws.cell(row=start_row + 1 + i, column=j, value=x)
            if x is not None:
                cell.number_format = fmt
            shown = f"{x:,.2f}" if isinstance(x, float) else x
            width = max(width, _width(shown if shown is not None else "") + 2)
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = max(ws.column_dimensions[letter].width or 0,
                                                 min(MAX_WIDTH, max(10.0, width)))
    if freeze:
        ws.freeze_panes = ws.cell(row=start_row + 1, column=2 if first_col_frozen else 1)
    return start_row + 1 + n


# ---- sheets ----------------------------------------------------------------------------------------------------------

def _h(key: str, kind: str, lang: str, prefix: str | None = None) -> str:
    text = label(key, lang)
    if prefix:
        text = f"{prefix} · {text}"
    return unit_header(text, kind, lang)


def tranche_cols(det, k: int, lang: str) -> list[Col]:
    f = det.tranche_frame(k)
    cols = [Col(label("period", lang), "int", f["period"].tolist()),
            Col(label("payment_date", lang), "date", f["payment_date"].tolist())]
    for c in ("interest_due", "interest_paid", "interest_shortfall", "principal_paid", "balance_end", "residual_paid"):
        cols.append(Col(_h(c, "amount", lang), "amount", f[c].tolist()))
    return cols


def pool_cols(det, lang: str) -> list[Col]:
    f = det.pool_frame()
    cols = [Col(label("period", lang), "int", f["period"].tolist()),
            Col(label("payment_date", lang), "date", f["payment_date"].tolist())]
    for c in ("pool_balance_start", "interest_collected", "principal_collected", "prepayment", "defaults",
              "recoveries", "pool_balance_end"):
        cols.append(Col(_h(c, "amount", lang), "amount", f[c].tolist()))
    cols.append(Col(label("cumulative_default_ratio", lang), "rate", f["cumulative_default_ratio"].tolist()))
    cov = [None if math.isnan(v) else v for v in f["coverage_ratio"].astype("float64").tolist()]  # none: blank
    cols.append(Col(label("coverage_ratio", lang), "ratio", cov))
    cols.append(Col(label("state", lang), "text", [term(s, lang) for s in f["state"]]))
    cols.append(Col(label("clean_up_call", lang), "text", [term(bool(x), lang) for x in f["clean_up_call"]]))
    return cols


def account_name(name: str, lang: str) -> str:
    """An account's name: the default account ``collection`` by its label, a user's own name as it is."""
    return label("collection_account", lang) if name == "collection" else name


def fees_cols(det, lang: str) -> list[Col]:
    f = det.fees_frame()
    cols = [Col(label("period", lang), "int", f["period"].tolist()),
            Col(label("payment_date", lang), "date", f["payment_date"].tolist())]
    for name in det.deal.names.fees:
        cols.append(Col(_h("fee_due", "amount", lang, name), "amount", f[f"{name}_due"].tolist()))
        cols.append(Col(_h("fee_paid", "amount", lang, name), "amount", f[f"{name}_paid"].tolist()))
    return cols


def accounts_cols(det, lang: str) -> list[Col]:
    f = det.accounts_frame()
    cols = [Col(label("period", lang), "int", f["period"].tolist()),
            Col(label("payment_date", lang), "date", f["payment_date"].tolist())]
    for name in det.deal.names.accounts:
        cols.append(Col(_h("account_balance", "amount", lang, account_name(name, lang)), "amount",
                        f[f"{name}_balance"].tolist()))
    for name in det.deal.names.supports:
        cols.append(Col(_h("support_draw", "amount", lang, name), "amount", f[f"{name}_draw"].tolist()))
    return cols


def rejected_cols(tape, lang: str) -> list[Col]:
    rows = [i.to_dict() for i in tape.rejected]
    keys = ("file", "row", "table", "field", "message")
    return [Col(label(k, lang), "int" if k == "row" else "text", [r.get(k) for r in rows]) for k in keys]


def mc_tranche_cols(det, mc, lang: str) -> list[Col]:
    """One row per tranche; every quantile a column of its own."""
    stats = mc.tranche_stats()
    det_rows = det.tranche_summary()
    full = mc.has_cashflow_statistics
    cols = [Col(label("tranche", lang), "text", [s["name"] for s in stats]),
            Col(label("seniority", lang), "text", [term(r["seniority"], lang) for r in det_rows]),
            Col(_h("original_balance", "amount", lang), "amount", [r["original_balance"] for r in det_rows])]
    for key in ("expected_loss", "default_probability", "interest_shortfall_probability"):
        cols.append(Col(label(key, lang), "prob", [s[key] for s in stats]))
        cols.append(Col(label(f"{key}_se", lang), "prob", [s[f"{key}_se"] for s in stats]))
    loss = label("loss", lang)
    se = label("standard_error", lang)
    for q, p in QUANTILE_KEYS:
        cols.append(Col(f"{loss} {p}", "prob", [s["loss_quantiles"].get(q) for s in stats]))
    for q, p in QUANTILE_KEYS:
        cols.append(Col(f"{loss} {p} {se}", "prob", [s["loss_quantiles_se"].get(q) for s in stats]))
    if full:
        for stat, kind, lab in (("wal", "years", "wal_years"), ("yield", "rate", "yield")):
            name = label(lab, lang) if stat == "yield" else label("wal", lang)
            cols.append(Col(unit_header(f"{name} {label('mean', lang)}", kind, lang), kind,
                            [s[f"{stat}_mean"] for s in stats]))
            cols.append(Col(unit_header(f"{name} {label('mean', lang)} {se}", kind, lang), kind,
                            [s[f"{stat}_mean_se"] for s in stats]))
            for q, p in PERCENTILE_KEYS:
                cols.append(Col(unit_header(f"{name} {p}", kind, lang), kind,
                                [s[f"{stat}_percentiles"].get(q) for s in stats]))
            for q, p in PERCENTILE_KEYS:
                cols.append(Col(unit_header(f"{name} {p} {se}", kind, lang), kind,
                                [s[f"{stat}_percentiles_se"].get(q) for s in stats]))
    return cols


def mc_pool_cols(mc, lang: str) -> list[Col]:
    """One row per pool statistic: mean, its standard error and quantiles as columns."""
    p = mc.pool_stats()
    rows = [("pool_default_rate", "prob", p["default_rate_mean"], p["default_rate_se"],
             p["default_rate_quantiles"]),
            ("pool_loss_rate", "prob", p["loss_rate_mean"], p["loss_rate_se"], p["loss_rate_quantiles"])]
    if "revenue_shortfall_mean" in p:
        rows.append(("revenue_shortfall", "prob", p["revenue_shortfall_mean"], p["revenue_shortfall_se"],
                     p["revenue_shortfall_quantiles"]))
    se = label("standard_error", lang)
    cols = [Col(label("metric", lang), "text", [label(r[0], lang) for r in rows]),
            Col(label("mean", lang), "prob", [r[2] for r in rows]),
            Col(se, "prob", [r[3] for r in rows])]
    for q, name in QUANTILE_KEYS:
        cols.append(Col(label("quantile_column", lang).format(p=name), "prob", [r[4].get(q) for r in rows]))
    return cols


def mc_support_cols(mc, lang: str) -> list[Col]:
    p = mc.pool_stats()
    return [Col(_h("support_draw_mean", "amount", lang), "amount", [p["support_draw_mean"]]),
            Col(_h("support_draw_mean_se", "amount", lang), "amount", [p["support_draw_mean_se"]]),
            Col(label("support_default_probability", lang), "prob", [p["support_default_probability"]]),
            Col(label("support_default_probability_se", lang), "prob", [p["support_default_probability_se"]])]


def expected_cols(mc, lang: str) -> list[Col]:
    ec = mc.expected_cashflows()
    cols = [Col(label("tranche", lang), "text", ec["tranche"].tolist()),
            Col(label("period", lang), "int", ec["period"].tolist()),
            Col(label("payment_date", lang), "date", ec["payment_date"].tolist())]
    for c in ("interest_mean", "principal_mean", "balance_mean", "balance_p5", "balance_p50", "balance_p95",
              "balance_resolution", "payment_p5", "payment_p50", "payment_p95", "payment_resolution"):
        cols.append(Col(_h(c, "amount", lang), "amount", ec[c].tolist()))
    return cols


def index_cols(mc, lang: str) -> list[Col]:
    """The simulated index fixings per period (``simulation.rates``): forward level, mean, std and quantiles."""
    ix = mc.index_summary()
    cols = [Col(label("index", lang), "text", ix["index"].tolist()),
            Col(label("period", lang), "int", ix["period"].tolist()),
            Col(label("fixing_date", lang), "date", ix["fixing_date"].tolist())]
    for c in ("forward", "mean", "std", "p5", "p50", "p95"):
        cols.append(Col(label(f"index_{c}", lang), "rate", ix[c].tolist()))
    return cols


def _facts_table(ws, facts: Iterable[Fact], lang: str, start_row: int, with_source: bool) -> int:
    facts = list(facts)
    cols = [Col(label("item", lang), "text", [f.title(lang) for f in facts])]
    values = Col(label("value", lang), "text", [])
    ws_rows = []
    for f in facts:
        kind = {"amount": "amount", "rate": "rate", "prob": "prob", "int": "int", "number": "number", "date": "date",
                "datetime": "datetime"}.get(f.kind, "text")
        ws_rows.append((f.value, kind))
    cols.append(values)
    if with_source:
        cols.append(Col(label("source", lang), "text", [f.source for f in facts]))
    row = write_table(ws, cols, start_row, freeze=False)
    # the value column mixes kinds: set each cell's own format (amount in 万元: unit in the item's label)
    for i, (v, kind) in enumerate(ws_rows):
        cell = ws.cell(row=start_row + 1 + i, column=2, value=_cell_value(v, kind))
        if v is not None:
            cell.number_format = FORMATS[kind]
        if kind == "amount":
            c0 = ws.cell(row=start_row + 1 + i, column=1)
            c0.value = unit_header(str(c0.value), "amount", lang)
    ws.column_dimensions["B"].width = max(ws.column_dimensions["B"].width or 0, 24)
    return row


def cover_sheet(ws, det, mc, tape, lang: str) -> None:
    from openpyxl.styles import Font

    ws.cell(row=1, column=1, value=label("cashflow_model", lang)).font = Font(bold=True, size=14)
    ws.cell(row=2, column=1, value=det.deal.scenario.deal.name).font = Font(bold=True)
    row = _facts_table(ws, deal_facts(det, mc, tape, lang), lang, 4, with_source=False)
    ws.cell(row=row + 1, column=1, value=label("assumptions", lang)).font = Font(bold=True)
    row = _facts_table(ws, assumptions_used(det, mc, lang), lang, row + 2, with_source=True)
    if det.deal.warnings:
        ws.cell(row=row + 1, column=1, value=label("warnings", lang)).font = Font(bold=True)
        for i, w in enumerate(det.deal.warnings):
            ws.cell(row=row + 2 + i, column=1, value=str(w))
    ws.column_dimensions["A"].width = max(ws.column_dimensions["A"].width or 0, 28)
    ws.column_dimensions["C"].width = MAX_WIDTH + 20
    ws.freeze_panes = "A4"


def sheet_title(name: str, used: set[str]) -> str:
    """An Excel-safe, unique sheet name (≤ 31 characters, none of []:*?/\\)."""
    s = "".join("_" if ch in '[]:*?/\\' else ch for ch in name)[:31] or "sheet"
    base, i = s, 1
    while s in used:
        i += 1
        s = f"{base[:28]}~{i}"
    used.add(s)
    return s


def write_workbook(path: Path, det, mc=None, tape=None, lang: str = "en") -> None:
    """Write cashflows.xlsx: cover, tranches, pool, fees, accounts, rejected rows, Monte Carlo sheets."""
    from openpyxl import Workbook

    wb = Workbook()
    used: set[str] = set()
    ws = wb.active
    ws.title = sheet_title(label("cover", lang), used)
    cover_sheet(ws, det, mc, tape, lang)

    def sheet(key_or_name: str, cols: list[Col], *, name: bool = False, first_col: bool = False) -> None:
        w = wb.create_sheet(sheet_title(key_or_name if name else label(key_or_name, lang), used))
        write_table(w, cols, first_col_frozen=first_col)

    for k, tname in enumerate(det.deal.names.tranches):
        sheet(tname, tranche_cols(det, k, lang), name=True)
    sheet("sheet_pool", pool_cols(det, lang))
    if det.deal.names.fees:
        sheet("sheet_fees", fees_cols(det, lang))
    sheet("sheet_accounts", accounts_cols(det, lang))
    if tape is not None and tape.rejected:
        sheet("sheet_rejected_rows", rejected_cols(tape, lang))
    if mc is not None:
        sheet("sheet_mc_tranches", mc_tranche_cols(det, mc, lang), first_col=True)
        w = wb.create_sheet(sheet_title(label("sheet_mc_pool", lang), used))
        row = write_table(w, mc_pool_cols(mc, lang), first_col_frozen=True)
        write_table(w, mc_support_cols(mc, lang), start_row=row + 1, freeze=False)
        if mc.has_cashflow_statistics:
            sheet("sheet_expected_cashflows", expected_cols(mc, lang), first_col=True)
        if mc.index_levels is not None:
            sheet("sheet_index_paths", index_cols(mc, lang), first_col=True)
    wb.save(path)
