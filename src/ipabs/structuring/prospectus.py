"""The prospectus stress-test table (cash-flow stress test section of a Chinese IP ABS 计划说明书 or rating report).

:func:`prospectus_table` runs named stress scenarios (default rate up x%, recovery rate down y%, recovery delayed z
months, prepayment, support-provider default, combinations; default: :data:`~ipabs.structuring.stress.AGENCY_STRESSES`,
labelled market practice) on the batch deterministic engine and returns one row per scenario × tranche: amounts paid,
principal loss, whether principal and interest were paid in full, the deal's minimum cash-flow coverage ratio and the
tranche's break point under the scenario's other stresses. :func:`write_prospectus_xlsx` writes it as printed
(Chinese headers, amounts in 万元 with two decimals as number formats, frozen header), :func:`prospectus_markdown`
as Markdown; ``lang="en"`` gives the English variant. Labels come from :mod:`ipabs.glossary`.

The break point comes from :func:`ipabs.structuring.breakeven.breakeven` (k-section over the batch engine; any
function ``f(deal, tranche, measure=..., base=..., support=...)`` returning an object with ``value`` and ``breaks``
can be passed as ``breakeven=``).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ipabs.compile.lower import CompiledDeal
from ipabs.glossary import label
from ipabs.scenario.schema import Assumptions
from ipabs.structuring.stress import (
    AGENCY_STRESSES,
    MARKET_PRACTICE,
    NamedStress,
    named_cells,
    scenario_table,
)

BREAK_MEASURES = ("default_multiplier", "cdr", "recovery_rate")
#: Upper end of the default-multiplier bracket (the scenario table's bound).
MAX_MULTIPLIER = 100.0
#: Columns of :func:`prospectus_table`.
COLUMNS = ("scenario", "stress", "default_multiplier", "recovery_haircut", "recovery_lag_months", "recovery_lag_periods",
           "cpr", "support_default", "source", "tranche", "original_balance", "principal_paid", "interest_paid", "loss",
           "principal_repaid", "interest_repaid", "min_coverage_ratio", "break_measure", "break_point", "breaks")


def default_stresses(deal: CompiledDeal) -> list[NamedStress]:
    """:data:`AGENCY_STRESSES`, plus the support provider's default when the deal has external support."""
    out = list(AGENCY_STRESSES)
    if deal.names.supports:
        out.append(NamedStress("support_default", support_default=True))
    return out


def prospectus_table(deal: CompiledDeal, stresses: Sequence[NamedStress] | None = None, *,
                     base: Assumptions | None = None, breakeven: Callable[..., Any] | None = None,
                     break_measure: str = "default_multiplier",
                     progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """The stress-test table: one row per named stress × tranche (amounts in yuan; the writers convert).

    Parameters
    ----------
    stresses : sequence of NamedStress, optional
        Default :func:`default_stresses` (agency-style, labelled :data:`~ipabs.structuring.stress.MARKET_PRACTICE`).
    base : Assumptions, optional
        The base case the stresses move from (default: the scenario's assumptions).
    breakeven : callable, optional
        ``f(deal, tranche, measure=..., base=..., support=...) -> obj`` with ``obj.value`` and ``obj.breaks``
        (default: :func:`ipabs.structuring.breakeven.breakeven`). Called with each scenario's stressed assumptions (the break point is
        the stress level at which the tranche breaks *given the scenario's other stresses*).
    break_measure : {"default_multiplier", "cdr", "recovery_rate"}
    progress : callable(done, total), optional
        Called after the scenarios run and after each break point; it may raise :class:`ipabs.errors.Cancelled`.

    Columns: ``scenario`` (1-based), ``stress`` (key), the stress parameters (``default_multiplier``,
    ``recovery_haircut``, ``recovery_lag_months``, ``recovery_lag_periods`` extra, ``cpr`` (NaN: the scenario's),
    ``support_default``),
    ``source``, ``tranche``, ``original_balance``, ``principal_paid``, ``interest_paid``, ``loss`` (yuan),
    ``principal_repaid``, ``interest_repaid`` (bool), ``min_coverage_ratio`` (the deal's lowest cash-flow coverage
    ratio over the periods with senior amounts due; NaN if none), ``break_measure``, ``break_point``, ``breaks``.
    ``df.attrs`` records the break measure and the breakeven function used.
    """
    from ipabs.structuring.batch import EPS_REPAID, run_batch

    if break_measure not in BREAK_MEASURES:
        raise ValueError(f"break_measure must be one of {', '.join(BREAK_MEASURES)}, not {break_measure!r}")
    stresses = list(stresses) if stresses is not None else default_stresses(deal)
    if breakeven is None:
        from ipabs.structuring.breakeven import breakeven as shared

        fn, fn_name = shared, "ipabs.structuring.breakeven.breakeven"
    else:
        fn, fn_name = breakeven, getattr(breakeven, "__qualname__", repr(breakeven))
    cells = named_cells(deal, stresses, base=base)
    res = run_batch(deal, scenario_table(deal, cells))
    tranches = deal.names.tranches
    total = 1 + len(cells) * len(tranches)
    if progress is not None:
        progress(1, total)
    cache: dict[tuple, Any] = {}
    rows = []
    done = 1
    for i, (s, c) in enumerate(zip(stresses, cells, strict=True)):
        a = c.assumptions
        key_a = a.model_copy(update={"default_multiplier": 1.0}) if break_measure == "default_multiplier" else a
        for k, name in enumerate(tranches):
            key = (repr(key_a), not c.support_default, name)
            if key not in cache:
                cache[key] = fn(deal, name, measure=break_measure, base=a, support=not c.support_default)
            be = cache[key]
            done += 1
            if progress is not None:
                progress(done, total)
            rows.append({
                "scenario": i + 1, "stress": s.key, "default_multiplier": s.default_multiplier,
                "recovery_haircut": s.recovery_haircut, "recovery_lag_months": s.recovery_lag_months,
                "recovery_lag_periods": int(c.values["recovery_lag_periods"]),
                "cpr": math.nan if s.cpr is None else float(s.cpr),
                "support_default": s.support_default, "source": s.source, "tranche": name,
                "original_balance": float(deal.scenario.tranches[k].balance),
                "principal_paid": float(res.principal_paid[i, k]), "interest_paid": float(res.interest_paid[i, k]),
                "loss": float(res.loss[i, k]), "principal_repaid": bool(res.loss[i, k] <= EPS_REPAID),
                "interest_repaid": bool(not res.shortfall_any[i, k]),
                "min_coverage_ratio": float(res.min_coverage[i]), "break_measure": break_measure,
                "break_point": float(be.value), "breaks": bool(be.breaks),
            })
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df.attrs.update(break_measure=break_measure, breakeven=fn_name)
    return df


# ---- presentation --------------------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{x * 100:.4g}"


def stress_description(row: pd.Series | dict, lang: str = "zh") -> str:
    """The scenario as printed: "违约率上升50%、回收率下降30%…" / "default rate +50%, recovery rate −30%…"."""
    parts = []
    if row["default_multiplier"] != 1.0:
        x = (row["default_multiplier"] - 1.0)
        key = "ps_default_up" if x > 0 else "ps_default_down"
        parts.append(label(key, lang).format(x=_pct(abs(x))))
    if row["recovery_haircut"]:
        parts.append(label("ps_recovery_down", lang).format(x=_pct(row["recovery_haircut"])))
    if row["recovery_lag_months"]:
        parts.append(label("ps_recovery_delay", lang).format(n=int(row["recovery_lag_months"])))
    if not math.isnan(row["cpr"]):
        parts.append(label("ps_cpr", lang).format(x=_pct(row["cpr"])))
    if row["support_default"]:
        parts.append(label("ps_support_default", lang))
    return label("list_separator", lang).join(parts) if parts else label("ps_base_case", lang)


def _source_label(src: str, lang: str) -> str:
    return label("ps_market_practice", lang) if src == MARKET_PRACTICE else src


def _yes_no(b: bool, lang: str) -> str:
    return label("yes" if b else "no", lang)


_BREAK_HEADER = {"default_multiplier": "ps_break_default_multiplier", "cdr": "ps_break_cdr",
                 "recovery_rate": "ps_break_recovery_rate"}
_HEADERS = ("ps_no", "ps_scenario", "tranche", "ps_original_balance", "ps_principal_paid", "ps_interest_paid",
            "ps_loss", "ps_principal_repaid", "ps_interest_repaid", "ps_min_coverage")
_WIDTHS = (6, 44, 12, 14, 14, 14, 14, 12, 12, 14, 18)


def _display_rows(df: pd.DataFrame, lang: str) -> tuple[list[str], list[list[Any]], list[str]]:
    """Headers, rows (numbers in 万元 / ratios as numbers, flags as labels) and the number format of each column."""
    measure = df.attrs.get("break_measure") or (df["break_measure"].iloc[0] if len(df) else "default_multiplier")
    headers = [label(h, lang) for h in _HEADERS] + [label(_BREAK_HEADER[measure], lang)]
    pct = measure != "default_multiplier"
    formats = ["0", "@", "@", "0.00", "0.00", "0.00", "0.00", "@", "@", "0.00", "0.00%" if pct else "0.00"]
    rows = []
    for _, r in df.iterrows():
        rd = dict(r)
        cov = r["min_coverage_ratio"]
        if r["breaks"]:
            bp: Any = float(r["break_point"])
        else:
            shown = f"{r['break_point']:.2%}" if pct else f"{r['break_point']:.2f}"
            bp = label("ps_not_broken", lang).format(x=shown)
        rows.append([int(r["scenario"]), stress_description(rd, lang), str(r["tranche"]),
                     r["original_balance"] / 1e4, r["principal_paid"] / 1e4, r["interest_paid"] / 1e4,
                     r["loss"] / 1e4, _yes_no(r["principal_repaid"], lang), _yes_no(r["interest_repaid"], lang),
                     None if cov is None or math.isnan(cov) else float(cov), bp])
    return headers, rows, formats


def _notes(df: pd.DataFrame, lang: str) -> list[str]:
    sources = list(dict.fromkeys(df["source"])) if len(df) else []
    notes = [label("ps_unit_note", lang)]
    notes += [label("ps_source_note", lang).format(source=_source_label(s, lang)) for s in sources]
    notes.append(label("ps_coverage_note", lang))
    notes.append(label("ps_break_note", lang))
    return notes


def write_prospectus_xlsx(df: pd.DataFrame, path: str | Path, lang: str = "zh") -> Path:
    """Write the table as one sheet laid out as printed: title, notes, a frozen header row, one row per scenario ×
    tranche with the scenario's number, description and coverage ratio merged over its tranches; amounts in 万元
    as numbers with the format ``0.00``. Atomic: written to a temporary file beside ``path``, then renamed."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    path = Path(path)
    headers, rows, formats = _display_rows(df, lang)
    wb = Workbook()
    ws = wb.active
    ws.title = label("ps_sheet", lang)[:31]
    ncol = len(headers)
    ws.cell(row=1, column=1, value=label("ps_title", lang)).font = Font(bold=True, size=13)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
    ws.cell(row=2, column=1, value=_notes(df, lang)[0])
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=ncol)
    head_row = 3
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for j, h in enumerate(headers, start=1):
        c = ws.cell(row=head_row, column=j, value=h)
        c.font = Font(bold=True)
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        c.border = border
    for i, r in enumerate(rows):
        for j, v in enumerate(r, start=1):
            c = ws.cell(row=head_row + 1 + i, column=j, value=v)
            c.border = border
            if isinstance(v, float):
                c.number_format = formats[j - 1]
            if j in (1, 2):
                c.alignment = Alignment(vertical="center", wrap_text=True)
    # merge the scenario's number, description and coverage ratio over its tranche rows
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i][0] != rows[start][0]:
            if i - start > 1:
                for col in (1, 2, 10):
                    ws.merge_cells(start_row=head_row + 1 + start, start_column=col, end_row=head_row + i,
                                   end_column=col)
            start = i
    foot = head_row + len(rows) + 2
    for n, note in enumerate(_notes(df, lang)[1:]):
        ws.cell(row=foot + n, column=1, value=note)
    for j, w in enumerate(_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(j)].width = w
    ws.freeze_panes = ws.cell(row=head_row + 1, column=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def prospectus_markdown(df: pd.DataFrame, lang: str = "zh") -> str:
    """The table as Markdown: a title, the unit and source notes, the pipe table (amounts in 万元, two decimals)."""
    headers, rows, formats = _display_rows(df, lang)

    def cell(v: Any, fmt: str) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.2%}" if fmt == "0.00%" else f"{v:.2f}"
        return str(v).replace("|", "\\|")

    lines = [f"### {label('ps_title', lang)}", ""]
    lines += [f"{n}" + "  " for n in _notes(df, lang)[:2]]
    lines += ["", "| " + " | ".join(headers) + " |", "|" + "|".join("---" if f == "@" else "---:" for f in formats) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(cell(v, f) for v, f in zip(r, formats, strict=True)) + " |")
    lines.append("")
    lines += [f"- {n}" for n in _notes(df, lang)[2:]]
    return "\n".join(lines) + "\n"
