"""Files of the policy engine: policy TOML (presets or user files), input tables (CSV/XLSX), atomic outputs.

No business logic here: parsing, locating problems (file, table, row, field) and writing.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ipabs.defaults import MAX_TAPE_BYTES
from ipabs.errors import InputError, Issue
from ipabs.policy.schema import Policy

if TYPE_CHECKING:
    from ipabs.report.writer import OutputFolder

#: Folder of the shipped presets (package data).
PRESET_DIR = Path(__file__).resolve().parent.parent / "data" / "policies"


# --- policies ----------------------------------------------------------------------------------------------------


def _preset_files() -> dict[str, Path]:
    return {p.stem: p for p in PRESET_DIR.glob("*.toml")}


def list_presets() -> list[str]:
    """Names of the policy presets shipped with ipabs (``ipabs/data/policies/*.toml``)."""
    return sorted(_preset_files())


def pydantic_issues(err: ValidationError, *, file: str | None, table_prefix: str = "",
                    row: int | None = None) -> list[Issue]:
    """One :class:`Issue` per pydantic error; the location path becomes table (all but last) and field (last)."""
    out = []
    for e in err.errors():
        loc = [str(x) for x in e["loc"]]
        if e["type"] == "value_error" and isinstance(e.get("input"), dict):
            loc.append("")  # a check of a whole table (model validator): no single field
        field = loc[-1] or None if loc else None
        parts = ([table_prefix] if table_prefix else []) + loc[:-1]
        table = ".".join(parts) or None
        msg = e["msg"]
        if "input" in e and e["type"] not in ("missing", "extra_forbidden") and not isinstance(e["input"], dict):
            msg += f" (got {e['input']!r})"
        out.append(Issue(msg, file=file, table=table, row=row, field=field))
    return out


def parse_policy(text: str, *, file: str = "<policy>") -> Policy:
    """Validate policy TOML text; every problem is reported in one :class:`InputError`."""
    from ipabs.tomlfile import parse_toml

    data = parse_toml(text, file, title="invalid policy")
    try:
        return Policy.model_validate(data)
    except ValidationError as e:
        raise InputError(pydantic_issues(e, file=file), title="invalid policy") from None


def load_policy(name_or_path: str | os.PathLike) -> Policy:
    """A preset by name (``ganzhou-2025``) or a policy TOML file by path."""
    s = str(name_or_path)
    presets = _preset_files()
    if s in presets and not Path(s).exists():
        return parse_policy(presets[s].read_text(encoding="utf-8"), file=f"preset:{s}")
    p = Path(s)
    if not p.is_file():
        raise InputError([Issue(f"no policy preset or file named '{s}'; presets: {', '.join(sorted(presets))}",
                                file=s)], title="invalid policy")
    from ipabs.tomlfile import read_toml_file

    data = read_toml_file(p, title="invalid policy", what="policy")
    try:
        return Policy.model_validate(data)
    except ValidationError as e:
        raise InputError(pydantic_issues(e, file=s), title="invalid policy") from None


# --- input tables --------------------------------------------------------------------------------------------------


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cell_text(v) -> str:
    """One spreadsheet cell as the text a CSV would hold (dates ISO, whole floats without .0, blank for None)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def read_table(path: str | os.PathLike, *, sheet: str | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows (dicts of stripped strings, '' for blank) of a CSV or XLSX file.

    CSV may be UTF-8 (with or without BOM) or GB18030/GBK; XLSX is read from ``sheet`` or the first sheet.
    Raises :class:`InputError` when the file cannot be read at all.
    """
    p = Path(path)
    f = str(path)
    if not p.is_file():
        raise InputError([Issue("file not found", file=f)], title="invalid input table")
    if p.stat().st_size > MAX_TAPE_BYTES:
        raise InputError([Issue(f"file larger than {MAX_TAPE_BYTES:,} bytes", file=f)], title="invalid input table")
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        except Exception as e:  # openpyxl raises many types for a broken file
            raise InputError([Issue(f"cannot read workbook: {e}", file=f)], title="invalid input table") from None
        try:
            if sheet is not None and sheet not in wb.sheetnames:
                raise InputError([Issue(f"no sheet '{sheet}' (sheets: {wb.sheetnames})", file=f, table=sheet)],
                                 title="invalid input table")
            ws = wb[sheet] if sheet else wb[wb.sheetnames[0]]
            values = [[cell_text(v) for v in r] for r in ws.iter_rows(values_only=True)]
        finally:
            wb.close()
    elif suffix in (".csv", ".txt", ""):
        raw = p.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise InputError([Issue("not UTF-8 or GB18030 text", file=f)], title="invalid input table")
        values = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text))]
    else:
        raise InputError([Issue(f"unsupported file type '{suffix}' (use .csv or .xlsx)", file=f)],
                         title="invalid input table")
    values = [r for r in values if any(c != "" for c in r)] if values else []
    if not values:
        raise InputError([Issue("the file has no header row", file=f)], title="invalid input table")
    header = [h.strip() for h in values[0]]
    rows = []
    for r in values[1:]:
        r = list(r) + [""] * (len(header) - len(r))
        rows.append({h: r[i] for i, h in enumerate(header) if h})
    return header, rows


# --- outputs -------------------------------------------------------------------------------------------------------


def write_atomic(out_dir: str | os.PathLike | OutputFolder, writer: Callable[[Path], None], *,
                 command: str = "policy") -> Path:
    """Write a result folder atomically: ``writer`` fills a temporary folder beside ``out_dir``, which is then
    renamed into place; the folder is checked first (:func:`ipabs.report.writer.output_folder`, decision 018)."""
    from ipabs.report.writer import output_folder

    target = output_folder(out_dir, command=command)
    with target.writing() as tmp:
        writer(tmp)
    return target.path


def write_frames(folder: Path, frames: dict, *, xlsx_name: str) -> None:
    """Each DataFrame as ``<name>.parquet`` plus all of them as sheets of one XLSX workbook."""
    import pandas as pd

    for name, df in frames.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
    with pd.ExcelWriter(folder / xlsx_name, engine="openpyxl") as xw:
        for name, df in frames.items():
            df.to_excel(xw, sheet_name=name[:31], index=False)
