"""Writing results: JSON summary, Parquet and XLSX, atomically (temporary folder, then rename).

A run either leaves a complete output folder or none: files are written into a temporary sibling folder which is
renamed into place only when everything has been written.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipabs.glossary import TERMS, label


@contextlib.contextmanager
def atomic_dir(out_dir: str | Path, *, command: str = "ipabs", inputs: tuple = ()) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``out_dir``, on failure it is removed.

    Kept for callers of old: the checks and the writing are :func:`ipabs.report.writer.output_folder`'s (an
    existing folder is replaced only when it is an earlier ipabs output; decision 018).
    """
    from ipabs.report.writer import output_folder

    with output_folder(out_dir, command=command, inputs=inputs).writing() as tmp:
        yield tmp


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating | float):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if hasattr(x, "isoformat"):
        return x.isoformat()
    return x


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(_jsonable(data), ensure_ascii=False, indent=2), encoding="utf-8")


def localize(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Column labels from the glossary in the chosen language ('en' keeps canonical snake_case names)."""
    if lang != "zh":
        return df
    return df.rename(columns={c: column_label(str(c), "zh") for c in df.columns})


#: Suffixes of per-name columns (``<fee>_due``, ``<account>_balance``, ``<support>_draw``) and their label keys.
_SUFFIXES = {"_due": "fee_due", "_paid": "fee_paid", "_balance": "account_balance", "_draw": "support_draw"}


def column_label(col: str, lang: str) -> str:
    """A column's display label: a glossary term, or ``<user name> <term>`` for per-name columns."""
    if col in TERMS:
        return label(col, lang)
    for suffix, key in _SUFFIXES.items():
        if col.endswith(suffix) and len(col) > len(suffix):
            return f"{col[: -len(suffix)]} {label(key, lang)}"
    return col


def sheet_name(name: str, used: set[str]) -> str:
    """An Excel-safe, unique sheet name (≤ 31 characters, no []:*?/\\)."""
    s = "".join("_" if ch in '[]:*?/\\' else ch for ch in name)[:31] or "sheet"
    base, i = s, 1
    while s in used:
        i += 1
        s = f"{base[:28]}~{i}"
    used.add(s)
    return s


def write_xlsx(path: Path, sheets: dict[str, pd.DataFrame], lang: str = "en") -> None:
    used: set[str] = set()
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in sheets.items():
            localize(df, lang).to_excel(xw, sheet_name=sheet_name(name, used), index=False)


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object and len(df) and hasattr(df[c].iloc[0], "isoformat"):
            df[c] = pd.to_datetime(df[c])
    df.to_parquet(path, index=False)
