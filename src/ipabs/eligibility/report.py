"""The eligibility report as files: an XLSX workbook and a JSON summary, written atomically.

Sheets: ``summary``, ``assets``, ``firms``, ``failures``, ``pool limits``, ``best pool`` and ``criteria``; column
headers in the chosen language (glossary labels). Files are written into a temporary folder beside the target and
moved into place with ``os.replace`` (or the whole folder renamed when it is new), so a reader never sees a
half-written report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ipabs.eligibility.evaluate import EligibilityReport
from ipabs.eligibility.formatting import citation
from ipabs.glossary import label
from ipabs.report.writer import OutputFolder, output_folder

XLSX_NAME = "eligibility.xlsx"
JSON_NAME = "eligibility.json"

_SHARE_COLUMNS = {"loan_to_value", "share", "limit_share", "excess_share"}
_AMOUNT_COLUMNS = {"principal", "appraised_value", "balance", "pool_balance", "excess_amount", "reduction_needed"}


def criteria_frame(report: EligibilityReport, lang: str = "en") -> pd.DataFrame:
    """Every enabled criterion with its parameters and source."""
    rows = []
    for level, cid, crit in report.criteria.all_criteria():
        params = {k: v for k, v in crit.model_dump().items()
                  if k not in ("enabled", "label_zh", "label_en", "source", "source_zh") and not k.startswith("reason_")}
        rows.append({
            "criteria_level": label(f"level_{level}", lang),
            "criterion_id": cid,
            "criterion": crit.label(lang),
            "parameters": json.dumps(params, ensure_ascii=False, default=str),
            "source_clause": citation(crit.source_zh if lang == "zh" and crit.source_zh else crit.source, lang),
        })
    return pd.DataFrame(rows, columns=["criteria_level", "criterion_id", "criterion", "parameters", "source_clause"])


def summary_frame(report: EligibilityReport, lang: str = "en") -> pd.DataFrame:
    lines = report.summary_lines(lang)
    return pd.DataFrame({label("eligibility", lang): lines})


def _sheets(report: EligibilityReport, lang: str) -> dict[str, pd.DataFrame]:
    return {
        "summary": summary_frame(report, lang),
        "assets": report.assets_frame(lang),
        "firms": report.firms_frame(lang),
        "failures": report.failures_frame(lang),
        "pool limits": report.limits_frame(lang),
        "best pool": report.best_pool_frame(lang),
        "criteria": criteria_frame(report, lang),
    }


def write_xlsx(report: EligibilityReport, path: str | Path, lang: str = "en") -> Path:
    """Write the workbook to ``path`` (not atomic by itself; :func:`write_report` is)."""
    path = Path(path)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in _sheets(report, lang).items():
            shown = df.rename(columns={c: label(c, lang) for c in df.columns})
            shown.to_excel(xw, sheet_name=name, index=False)
            ws = xw.sheets[name]
            for j, col in enumerate(df.columns, start=1):
                letter = ws.cell(row=1, column=j).column_letter
                width = max([len(str(shown.columns[j - 1]))] + [len(str(v)) for v in df[col].head(200)]) + 2
                ws.column_dimensions[letter].width = min(max(width, 8), 80)
                number_format = "0.0%" if col in _SHARE_COLUMNS else "#,##0.00" if col in _AMOUNT_COLUMNS else None
                if number_format:
                    for row in range(2, len(df) + 2):
                        ws.cell(row=row, column=j).number_format = number_format
            ws.freeze_panes = "A2"
    return path


def _json_default(o: Any) -> Any:
    if hasattr(o, "isoformat"):
        return o.isoformat()
    return str(o)


def write_report(report: EligibilityReport, out_dir: str | Path | OutputFolder, lang: str = "en",
                 provenance: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write ``eligibility.xlsx`` and ``eligibility.json`` into ``out_dir`` atomically; return their paths.

    The folder is checked and written by :func:`ipabs.report.writer.output_folder` (an existing folder is replaced
    only when it is an earlier ipabs output; decision 018).
    """
    target = output_folder(out_dir, command="eligibility")
    with target.writing() as tmp:
        write_xlsx(report, tmp / XLSX_NAME, lang)
        summary = report.summary() | {"provenance": provenance or {}}
        (tmp / JSON_NAME).write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=_json_default),
                                     encoding="utf-8")
    return {"xlsx": target.path / XLSX_NAME, "json": target.path / JSON_NAME}
