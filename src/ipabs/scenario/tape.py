"""Read and validate a pool tape: one row per asset, CSV / XLSX / Parquet → typed DataFrame.

The format is docs/tape-format.md. Reading happens in two layers:

1. **File level** (:func:`read_tape`): the file must exist, be no larger than ``ipabs.defaults.MAX_TAPE_BYTES``,
   have a supported extension, decode as text (CSV: ``utf-8-sig``, then ``gb18030``; ``utf-16`` when it carries a
   UTF-16 byte-order mark), carry every required column, no unknown column and no duplicate column, and hold at
   least one data row. Any failure raises :class:`ipabs.errors.TapeError` listing every problem found.
2. **Row level** (:func:`validate_tape_frame`, also used by :func:`read_tape`): each cell is parsed forgivingly
   (NFKC-normalised, thousands separators, ``3.5%``, Chinese yes/no, ``2026/1/31``, ``20260131``, Excel dates)
   and checked.
   A row with any problem is rejected, never dropped silently: :attr:`TapeResult.rejected` holds one
   :class:`ipabs.errors.Issue` per problem (a row may have several), each naming file, row and field. With
   ``strict=True`` any rejected row raises :class:`TapeError` instead.

Typed result (:attr:`TapeResult.assets`), one row per accepted asset, columns :data:`TAPE_COLUMNS` in the
documented order, then ``source_row``, then user extras (``x_*``, ``note*``):

- text columns: pandas' default string dtype (``str`` under pandas 3); a blank optional text is missing (NaN);
- amounts, ``rate`` and ``pd``: ``float64`` (``pd`` is NaN when not given: the rating decides);
- ``start_date``, ``maturity_date``: ``datetime.date`` objects (object dtype);
- flags: ``bool``;
- ``ip_*`` columns: Python lists (object dtype), one entry per IP right, all of the row's lists of the same
  length (``ip_type`` decides it; rows with the same cell share one list object: treat them as read-only): ``ip_type``/``ip_valuation``/``ip_owner_id`` → ``str``,
  ``ip_registration_no`` → ``str`` or ``None``, ``ip_expiry_date`` → ``datetime.date`` or ``None``,
  ``ip_appraised_value`` → ``float`` (NaN when not given), ``ip_prior_pledge`` → ``bool``;
- ``custom_schedule``: a list of ``(datetime.date, float)`` principal repayments (empty unless ``custom``);
- ``source_row``: ``int64``, the 1-based data row in the file (header = row 0).

Validation is vectorised (:func:`_validate`): each column is factorised, each distinct cell parsed once, the row checks
run on arrays of codes; CSV (UTF-8) and Parquet text columns are read by pyarrow dictionary-encoded. The row-by-row
:func:`_validate_reference` is kept as the reference the tests compare it with. A tape of more than
``ipabs.defaults.MAX_TAPE_ROWS`` rows or ``MAX_TAPE_BYTES`` bytes is refused before validation.

Row numbers count the data records after the header; fully blank rows are skipped (not counted in
:attr:`TapeResult.n_rows`) but keep their place in the numbering, so ``source_row`` points at the record a user sees.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import difflib
import gc
import io
import math
import numbers
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipabs import defaults
from ipabs.errors import Issue, TapeError
from ipabs.glossary import TAPE_COLUMN_ALIASES, TERMS

__all__ = [
    "ABSURD_AMOUNT",
    "AMORTIZATIONS",
    "ASSET_TYPES",
    "DEFAULTS_BY_ASSET_TYPE",
    "IP_LIST_COLUMNS",
    "IP_TYPES",
    "IP_VALUATIONS",
    "MAX_RATE",
    "PAYMENT_FREQUENCIES",
    "REQUIRED_COLUMNS",
    "TAPE_COLUMNS",
    "TapeResult",
    "read_tape",
    "validate_tape_frame",
]

# ----------------------------------------------------------------------------------------------------------------
# The format (docs/tape-format.md)
# ----------------------------------------------------------------------------------------------------------------

#: Canonical columns in the documented order (the column order of :attr:`TapeResult.assets`).
TAPE_COLUMNS: tuple[str, ...] = (
    "asset_id",
    "obligor_id",
    "obligor_name",
    "industry",
    "county",
    "asset_type",
    "principal",
    "rate",
    "start_date",
    "maturity_date",
    "payment_frequency",
    "amortization",
    "custom_schedule",
    "rating",
    "pd",
    "ip_type",
    "ip_registration_no",
    "ip_expiry_date",
    "ip_appraised_value",
    "ip_valuation",
    "ip_owner_id",
    "ip_prior_pledge",
    "cnipa_pledge_registered",
    "financing_amount",
    "whitelisted",
    "overdue_history",
    "blacklisted",
)
#: Columns a tape must have.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "asset_id",
    "obligor_id",
    "industry",
    "asset_type",
    "principal",
    "start_date",
    "maturity_date",
)
#: Multi-valued columns, one ``;``-separated entry per IP right.
IP_LIST_COLUMNS: tuple[str, ...] = (
    "ip_type",
    "ip_registration_no",
    "ip_expiry_date",
    "ip_appraised_value",
    "ip_valuation",
    "ip_owner_id",
    "ip_prior_pledge",
)
ASSET_TYPES: tuple[str, ...] = ("royalty_licence", "pledge_loan", "finance_lease", "receivable")
PAYMENT_FREQUENCIES: tuple[str, ...] = ("monthly", "quarterly", "semiannual", "annual", "at_maturity")
AMORTIZATIONS: tuple[str, ...] = ("bullet", "interest_only", "equal_principal", "level_payment", "custom")
IP_TYPES: tuple[str, ...] = (
    "invention_patent",
    "utility_model_patent",
    "design_patent",
    "trademark",
    "copyright",
    "geographic_indication",
    "data_ip",
    "trade_secret",
)
IP_VALUATIONS: tuple[str, ...] = ("external", "internal")
#: ``asset_type`` → (payment_frequency, amortization) used when those cells are blank.
DEFAULTS_BY_ASSET_TYPE: dict[str, tuple[str, str]] = {
    "pledge_loan": ("quarterly", "interest_only"),
    "royalty_licence": ("quarterly", "level_payment"),
    "finance_lease": ("monthly", "level_payment"),
    "receivable": ("at_maturity", "bullet"),
}
#: An amount above this (yuan: one hundred billion) is a unit or typing error, not an asset.
ABSURD_AMOUNT = 1e11
#: Highest contract rate accepted (the judicial cap on private lending is about 4×LPR; 36% is the old hard cap).
MAX_RATE = 0.36
#: Dates outside this window are typing errors.
EARLIEST_DATE = dt.date(1990, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)
#: Obligor-level fields that must agree across all assets of one obligor (they drive one default and one
#: eligibility decision per firm).
OBLIGOR_FIELDS: tuple[str, ...] = ("industry", "rating", "pd", "whitelisted", "overdue_history", "blacklisted")

_EXTRA_PREFIXES = ("x_", "note")
_SOURCE_ROW = "source_row"
_SUPPORTED = {".csv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".parquet": "parquet", ".pq": "parquet"}


# ----------------------------------------------------------------------------------------------------------------
# Result
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TapeResult:
    """A validated pool tape.

    Attributes
    ----------
    assets : pandas.DataFrame
        Accepted rows, typed as described in the module docstring, with defaults filled in.
    rejected : list of Issue
        One issue per problem of every rejected row (``file``, ``row`` and ``field`` set).
    n_rows : int
        Data rows read (fully blank rows are not counted).
    n_accepted : int
        Rows in :attr:`assets`.
    file : str
        The file the rows came from (``"<frame>"`` for an in-memory frame).
    """

    assets: pd.DataFrame
    rejected: list[Issue]
    n_rows: int
    n_accepted: int
    file: str

    @property
    def n_rejected_rows(self) -> int:
        """Number of distinct rows rejected."""
        return len({i.row for i in self.rejected})

    def rejection_table(self) -> pd.DataFrame:
        """The rejections as a table with columns ``row``, ``field``, ``message`` (one line per problem)."""
        return pd.DataFrame(
            {
                "row": pd.Series([i.row for i in self.rejected], dtype="int64"),
                "field": pd.Series([i.field for i in self.rejected], dtype=object),
                "message": pd.Series([i.message for i in self.rejected], dtype=object),
            }
        )


# ----------------------------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------------------------


def read_tape(path: str | Path, *, sheet: str | None = None, strict: bool = False) -> TapeResult:
    """Read a pool tape file and validate every row.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.csv`` (UTF-8, UTF-8 with BOM, GBK/GB18030), ``.xlsx`` or ``.parquet`` file.
    sheet : str, optional
        XLSX sheet to read (default: the first sheet). Only valid for XLSX files.
    strict : bool, default False
        Raise :class:`TapeError` if any row is rejected, instead of returning the rejections.

    Returns
    -------
    TapeResult
        Accepted assets, rejections and counts.

    Raises
    ------
    TapeError
        The file cannot be used at all (missing, too large, wrong type, undecodable, missing / unknown / duplicate
        columns, no data rows), or, under ``strict``, a row was rejected. ``issues`` lists every problem.
    """
    file = str(path)
    path = Path(path)
    kind = _check_file(path, file, sheet)
    table = None
    if kind == "csv":
        fast = _read_csv_arrow(path)
        if fast is not None:
            header, columns, row_numbers = fast
            pre_issues = {}
        else:
            header, columns, row_numbers, pre_issues = _read_csv(path.read_bytes(), file)
        _check_rows(len(row_numbers), file)
    elif kind == "xlsx":
        header, columns, row_numbers, table = _read_xlsx(path, sheet, file)
        _check_rows(len(row_numbers), file)
        pre_issues = {}
    else:
        header, columns, row_numbers = _read_parquet(path, file)
        _check_rows(len(row_numbers), file)
        pre_issues = {}
    return _validate(header, columns, row_numbers, file=file, table=table, strict=strict, pre_issues=pre_issues)


def _check_rows(n_rows: int, file: str) -> None:
    """Refuse a tape of more data rows than :data:`ipabs.defaults.MAX_TAPE_ROWS`, before validating any."""
    if n_rows > defaults.MAX_TAPE_ROWS:
        raise TapeError([Issue(f"the tape has {n_rows:,} rows, more than the {defaults.MAX_TAPE_ROWS:,} a tape may "
                               "have (docs/tape-format.md): split the pool", file=file)])


def validate_tape_frame(df: pd.DataFrame, *, file: str = "<frame>", strict: bool = False) -> TapeResult:
    """Validate an in-memory tape (e.g. one edited in the UI) exactly as :func:`read_tape` validates a file.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per asset; headers as in a tape file (canonical or Chinese aliases). Cells may be raw strings or
        already typed values (dates, floats, bools, lists for ``ip_*``), so ``validate_tape_frame(r.assets)``
        reproduces ``r.assets``. A ``source_row`` column of positive integers, when present, gives the row
        numbers; otherwise rows are numbered 1, 2, ... in frame order.
    file : str, default "<frame>"
        Name used in issues.
    strict : bool, default False
        Raise :class:`TapeError` if any row is rejected.

    Returns
    -------
    TapeResult

    Raises
    ------
    TapeError
        Missing / unknown / duplicate columns, no data rows, or (under ``strict``) any rejected row.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"validate_tape_frame expects a pandas DataFrame, got {type(df).__name__}")
    header = [_header_text(c) for c in df.columns]
    columns = [df.iloc[:, j].tolist() for j in range(df.shape[1])]
    row_numbers = list(range(1, len(df) + 1))
    normalized = [_norm_header(h) for h in header]
    if _SOURCE_ROW in normalized:
        j = normalized.index(_SOURCE_ROW)
        given = columns[j]
        if given and all(_is_positive_int(v) for v in given) and len({int(v) for v in given}) == len(given):
            row_numbers = [int(v) for v in given]
        del header[j], columns[j]
    return _validate(header, columns, row_numbers, file=file, table=None, strict=strict, pre_issues={})


# ----------------------------------------------------------------------------------------------------------------
# File readers: each returns (header, columns as lists of raw cells, data row numbers)
# ----------------------------------------------------------------------------------------------------------------

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Excel .xls / OLE document (save it as .xlsx or CSV)"),
    (b"PK\x03\x04", "a ZIP archive (an XLSX workbook? give it the .xlsx extension)"),
    (b"PAR1", "a Parquet file (give it the .parquet extension)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
)


def _check_file(path: Path, file: str, sheet: str | None) -> str:
    """File-level checks before reading; returns the reader kind."""
    if not path.exists():
        raise TapeError([Issue("file not found", file=file)])
    if not path.is_file():
        raise TapeError([Issue("not a regular file (is it a directory?)", file=file)])
    suffix = path.suffix.lower()
    kind = _SUPPORTED.get(suffix)
    if kind is None:
        hint = " (legacy .xls is not supported: save it as .xlsx or CSV UTF-8)" if suffix == ".xls" else ""
        raise TapeError(
            [Issue(f"unsupported file extension '{path.suffix}'{hint}; expected .csv, .xlsx or .parquet", file=file)]
        )
    size = path.stat().st_size
    if size > defaults.MAX_TAPE_BYTES:
        raise TapeError(
            [Issue(f"file is too large: {size:,} bytes, the limit is {defaults.MAX_TAPE_BYTES:,} bytes", file=file)]
        )
    if size == 0:
        raise TapeError([Issue("file is empty (0 bytes)", file=file)])
    if sheet is not None and kind != "xlsx":
        raise TapeError([Issue(f"a sheet ('{sheet}') was given but the file is not an XLSX workbook", file=file)])
    with path.open("rb") as fh:
        head = fh.read(8)
    if kind == "xlsx" and not head.startswith(b"PK\x03\x04"):
        what = _sniff(path.read_bytes()[:4096])
        raise TapeError([Issue(f"not a valid XLSX workbook: it is not a ZIP archive ({what})", file=file)])
    if kind == "parquet" and not head.startswith(b"PAR1"):
        what = _sniff(path.read_bytes()[:4096])
        raise TapeError([Issue(f"not a valid Parquet file: the PAR1 signature is missing ({what})", file=file)])
    return kind


def _sniff(head: bytes) -> str:
    """A short description of what a file's first bytes look like."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return f"it looks like {what}"
    if b"\x00" in head:
        return "it looks like binary data"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "it looks like binary data or text in another encoding"
    return "it looks like plain text"


def _decode(data: bytes, file: str) -> tuple[str, str]:
    """Bytes → text, trying the encodings Chinese Excel produces. Returns (text, encoding)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as e:
            raise TapeError(
                [Issue(f"cannot decode the file as UTF-16 despite its byte-order mark: {e}", file=file)]
            ) from None
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise TapeError([Issue(f"not a CSV text file: it looks like {what}", file=file)])
    if b"\x00" in data[:65536]:
        raise TapeError([Issue("not a CSV text file: it contains NUL bytes (binary data)", file=file)])
    errors = []
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as e:
            errors.append(f"{encoding}: byte 0x{data[e.start]:02x} at offset {e.start}")
    raise TapeError(
        [
            Issue(
                "cannot decode the file as text; tried encodings utf-8-sig, gb18030 ("
                + "; ".join(errors)
                + "). Save it as CSV UTF-8, or check it is not binary data",
                file=file,
            )
        ]
    )


def _read_csv(data: bytes, file: str) -> tuple[list[str], list[list[Any]], list[int], dict[int, list[Issue]]]:
    text, _encoding = _decode(data, file)
    if not text.strip():
        raise TapeError([Issue("file is empty (only blank text)", file=file)])
    first_line = text.lstrip().split("\n", 1)[0]
    delimiter = "\t" if "," not in first_line and "\t" in first_line else ","
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as e:
        raise TapeError([Issue(f"malformed CSV: {e}", file=file)]) from None
    while records and not any(c.strip() for c in records[0]):
        records.pop(0)
    header = records[0]
    n_cols = len(header)
    columns: list[list[Any]] = [[] for _ in range(n_cols)]
    pre_issues: dict[int, list[Issue]] = {}
    for k, record in enumerate(records[1:], start=1):
        if len(record) > n_cols:
            extra = record[n_cols:]
            if any(c.strip() for c in extra):
                pre_issues[k] = [
                    Issue(
                        f"row has {len(record)} cells but the header has {n_cols} columns (a stray comma or a "
                        "missing header?)",
                        file=file,
                        row=k,
                        field=f"column {n_cols + 1}",
                    )
                ]
            record = record[:n_cols]
        elif len(record) < n_cols:
            record = record + [""] * (n_cols - len(record))
        for j, cell in enumerate(record):
            columns[j].append(cell)
    return header, columns, list(range(1, len(records))), pre_issues


def _read_xlsx(path: Path, sheet: str | None, file: str) -> tuple[list[str], list[list[Any]], list[int], str]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # boundary with a third-party parser: any failure means an unusable workbook
        raise TapeError([Issue(f"not a valid XLSX workbook: {type(e).__name__}: {e}", file=file)]) from None
    try:
        names = wb.sheetnames
        if sheet is None:
            if not names:
                raise TapeError([Issue("the workbook has no sheets", file=file)])
            name = names[0]
        else:
            wanted = sheet.strip().lower()
            matches = [n for n in names if n == sheet] or [n for n in names if n.strip().lower() == wanted]
            if not matches:
                raise TapeError(
                    [Issue(f"no sheet named '{sheet}'; the workbook has: {', '.join(names)}", file=file, table=sheet)]
                )
            name = matches[0]
        declared = wb[name].max_row  # from the sheet's dimension: refuse a huge sheet before reading it
        if declared is not None and declared - 1 > defaults.MAX_TAPE_ROWS:
            _check_rows(declared - 1, file)
        try:
            rows = [list(r) for r in wb[name].iter_rows(values_only=True)]
        except Exception as e:  # corrupt sheet XML
            raise TapeError([Issue(f"cannot read sheet '{name}': {type(e).__name__}: {e}", file=file)]) from None
    finally:
        wb.close()
    while rows and all(_is_blank(c) for c in rows[0]):
        rows.pop(0)
    if not rows:
        raise TapeError([Issue(f"sheet '{name}' is empty", file=file, table=name)])
    header = [_header_text(c) for c in rows[0]]
    n_cols = len(header)
    columns: list[list[Any]] = [[] for _ in range(n_cols)]
    for record in rows[1:]:
        record = (record + [None] * n_cols)[:n_cols]
        for j, cell in enumerate(record):
            columns[j].append(cell)
    return header, columns, list(range(1, len(rows))), name


def _read_parquet(path: Path, file: str) -> tuple[list[str], list[Any], list[int]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        columns = [_arrow_strings(table.column(j)) if pa.types.is_string(table.column(j).type)
                   or pa.types.is_large_string(table.column(j).type) else table.column(j).to_pylist()
                   for j in range(table.num_columns)]
    except Exception as e:  # boundary with a third-party parser
        raise TapeError([Issue(f"not a valid Parquet file: {type(e).__name__}: {e}", file=file)]) from None
    return [str(c) for c in table.column_names], columns, list(range(1, table.num_rows + 1))


def _arrow_strings(col: Any) -> _Raw:
    """A pyarrow string column, dictionary-encoded (null → blank): no Python object per cell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(col.combine_chunks().cast(pa.string()))
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    return _blank_out(_Raw(codes, enc.dictionary.to_numpy(zero_copy_only=False).tolist(), enc.dictionary))


# ----------------------------------------------------------------------------------------------------------------
# Headers
# ----------------------------------------------------------------------------------------------------------------


def _nfkc(s: str) -> str:
    """NFKC normal form (full-width digits, commas, colons → ASCII); ASCII text is already normal."""
    return s if s.isascii() else unicodedata.normalize("NFKC", s)


def _header_text(h: Any) -> str:
    return "" if h is None or (isinstance(h, float) and math.isnan(h)) else str(h)


def _norm_header(h: str) -> str:
    """Canonical form of a header: NFKC, trimmed, lower case, runs of spaces/hyphens → ``_``."""
    s = _nfkc(h).replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s\-]+", "_", s)


_CANONICAL = frozenset(TAPE_COLUMNS)
_ALIASES = {_norm_header(zh): key for zh, key in TAPE_COLUMN_ALIASES.items()}


def _resolve_header(
    header: list[str], has_values: list[bool], file: str, table: str | None
) -> tuple[dict[str, int], dict[str, int]]:
    """Map canonical names and extras to column positions; raise TapeError on any header problem."""
    issues: list[Issue] = []
    canonical: dict[str, int] = {}
    extras: dict[str, int] = {}
    seen: dict[str, list[int]] = {}
    for j, raw in enumerate(header):
        key = _norm_header(raw)
        if not key:
            if has_values[j]:
                issues.append(Issue(f"column {j + 1} has values but no header", file=file, table=table))
            continue
        name = key if key in _CANONICAL else _ALIASES.get(key)
        if name is None and key.startswith(_EXTRA_PREFIXES):
            name = key
        if name is None:
            issues.append(Issue(_unknown_column_message(raw, key), file=file, table=table, field=raw.strip()))
            continue
        seen.setdefault(name, []).append(j)
        if name in _CANONICAL:
            canonical.setdefault(name, j)
        else:
            extras.setdefault(raw.strip(), j)
    for name, positions in seen.items():
        if len(positions) > 1:
            where = ", ".join(f"column {j + 1} '{header[j].strip()}'" for j in positions)
            issues.append(Issue(f"duplicate column '{name}': {where}", file=file, table=table, field=name))
    for name in REQUIRED_COLUMNS:
        if name not in canonical:
            issues.append(Issue(f"required column '{name}' is missing", file=file, table=table, field=name))
    if not canonical and header:
        issues.append(
            Issue(
                "no known column in the header row; the first row must be the header (canonical English names or "
                "the Chinese aliases), not a title or data row",
                file=file,
                table=table,
            )
        )
    if issues:
        raise TapeError(issues)
    return canonical, extras


def _unknown_column_message(raw: str, key: str) -> str:
    choices = list(TAPE_COLUMNS) + list(TAPE_COLUMN_ALIASES)
    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    hint = ""
    if close:
        target = close[0] if close[0] in _CANONICAL else f"{close[0]}' ('{TAPE_COLUMN_ALIASES[close[0]]})"
        hint = f"; did you mean '{target}'?"
    return (
        f"unknown column '{raw.strip()}'{hint} (extra columns must start with 'x_' or 'note'; see "
        "docs/tape-format.md)"
    )


# ----------------------------------------------------------------------------------------------------------------
# Cell parsers: each takes a raw non-blank cell and returns a typed value or raises _Bad(reason)
# ----------------------------------------------------------------------------------------------------------------


class _Bad(ValueError):
    """A cell value that cannot be used; the message completes "<field> ..."."""


#: Cell texts meaning "no value" (pandas / Excel export artefacts and the dashes of Chinese reports).
_BLANK_TEXTS = frozenset({"", "nan", "none", "null", "n/a", "#n/a", "na", "nat", "-", "--", "\u2014", "\u2014\u2014"})
# The Chinese yes / have and no / none are written as escapes: Chinese literals live only in glossary.py
# (STYLE.md §24).
_TRUE_TEXTS = frozenset({"true", "t", "yes", "y", "1", "1.0", "\u662f", "\u6709"})
_FALSE_TEXTS = frozenset({"false", "f", "no", "n", "0", "0.0", "\u5426", "\u65e0"})
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED_RE = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_DATE_SEP_RE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")
_DATE_COMPACT_RE = re.compile(r"(\d{4})(\d{2})(\d{2})(?:\.0+)?")
_DATE_ZH_RE = re.compile("(\\d{4})\u5e74(\\d{1,2})\u6708(\\d{1,2})\u65e5")  # Chinese year-month-day form
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def _is_blank(v: Any) -> bool:
    """True for a missing cell: None, NaN, NaT, pd.NA, an empty list, or a blank-meaning text."""
    if isinstance(v, str):
        s = v.strip()
        # NFKC never shortens text to one of the short blank texts, so longer cells are not blank.
        return len(s) <= 8 and _nfkc(s).strip().lower() in _BLANK_TEXTS
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float | np.floating):
        return bool(np.isnan(v))
    if isinstance(v, np.datetime64):
        return bool(np.isnat(v))
    if isinstance(v, list | tuple | np.ndarray):
        return len(v) == 0
    return False


def _show(v: Any) -> str:
    """A short repr of an offending value for messages."""
    s = repr(v.strip() if isinstance(v, str) else v)
    return s if len(s) <= 60 else s[:57] + "..."


def _is_positive_int(v: Any) -> bool:
    if isinstance(v, bool | np.bool_):
        return False
    if isinstance(v, numbers.Integral):
        return int(v) >= 1
    return isinstance(v, float | np.floating) and math.isfinite(v) and float(v).is_integer() and v >= 1


def _number(v: Any, *, percent_ok: bool) -> float:
    """A number from a cell: numeric types, or text with optional thousands separators and ``%``."""
    if isinstance(v, bool | np.bool_):
        raise _Bad(f"is a boolean ({v}), not a number")
    if isinstance(v, numbers.Real | decimal.Decimal):
        try:
            return float(v)
        except OverflowError:
            raise _Bad("is absurdly large") from None
    if not isinstance(v, str):
        raise _Bad(f"is not a number ({type(v).__name__} {_show(v)})")
    s = _nfkc(v).strip()
    pct = s.endswith("%")
    if pct:
        if not percent_ok:
            raise _Bad(f"is a percentage ({_show(v)}); give an amount in yuan")
        s = s[:-1].strip()
    s = s.removeprefix("¥").strip()
    if s.lower().lstrip("+-") in ("inf", "infinity"):
        raise _Bad(f"is infinite ({_show(v)})")
    if "," in s:
        if not _GROUPED_RE.fullmatch(s):
            raise _Bad(f"has misplaced thousands separators ({_show(v)})")
        s = s.replace(",", "")
    if not _NUMBER_RE.fullmatch(s):
        raise _Bad(f"is not a number ({_show(v)})")
    x = float(s)
    return x / 100.0 if pct else x


def _amount(v: Any, *, positive: bool = False) -> float:
    x = _number(v, percent_ok=False)
    if math.isnan(x):
        raise _Bad("is NaN")
    if math.isinf(x):
        raise _Bad(f"is infinite ({x})")
    if x < 0:
        raise _Bad(f"is negative ({x:,.2f})")
    if positive and x == 0:
        raise _Bad("must be positive, got 0")
    if x > ABSURD_AMOUNT:
        raise _Bad(f"is absurd: {x:.4g} yuan is more than {ABSURD_AMOUNT:.0e} (a unit error?)")
    return x


def _positive_amount(v: Any) -> float:
    return _amount(v, positive=True)


def _fraction(v: Any, *, upper: float, closed: bool, what: str) -> float:
    x = _number(v, percent_ok=True)
    if not math.isfinite(x):
        raise _Bad(f"is not finite ({x})")
    ok = 0.0 <= x <= upper if closed else 0.0 <= x < upper
    if not ok:
        interval = f"[0, {upper:g}]" if closed else f"[0, {upper:g})"
        hint = ""
        if upper < x <= 100 * upper:
            hint = f"; it looks like a percentage: write {x:g}% or {x / 100:g}"
        raise _Bad(f"{x:g} is outside {interval} ({what}){hint}")
    return x


def _rate(v: Any) -> float:
    return _fraction(v, upper=MAX_RATE, closed=True, what="annual rate as a decimal")


def _pd(v: Any) -> float:
    return _fraction(v, upper=1.0, closed=False, what="annual default probability as a decimal")


def _date(v: Any) -> dt.date:
    """A date from a date/datetime, an Excel serial number, or text YYYY-MM-DD, YYYY/M/D, YYYYMMDD or the Chinese
    year-month-day form."""
    if isinstance(v, np.datetime64):
        v = pd.Timestamp(v).to_pydatetime()
    if isinstance(v, dt.datetime):
        if v.time() != dt.time(0, 0):
            raise _Bad(f"has a time of day ({v.isoformat(sep=' ')}); give a date")
        d = v.date()
    elif isinstance(v, dt.date):
        d = v
    elif isinstance(v, bool | np.bool_):
        raise _Bad(f"is a boolean ({v}), not a date")
    elif isinstance(v, numbers.Real):
        x = float(v)
        if not math.isfinite(x) or not x.is_integer():
            raise _Bad(f"is not a date ({_show(v)})")
        n = int(x)
        if 10_000_000 <= n <= 99_999_999:
            d = _ymd(n // 10000, n // 100 % 100, n % 100, v)
        elif 1 <= n <= 2_958_465:
            d = _EXCEL_EPOCH + dt.timedelta(days=n)  # Excel serial day number (1900 date system)
        else:
            raise _Bad(f"is not a date ({_show(v)})")
    elif isinstance(v, str):
        s = _nfkc(v).strip()
        m = _DATE_SEP_RE.fullmatch(s) or _DATE_COMPACT_RE.fullmatch(s) or _DATE_ZH_RE.fullmatch(s)
        if m is None:
            raise _Bad(f"is not a date ({_show(v)}); expected YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD")
        d = _ymd(int(m[1]), int(m[2]), int(m[3]), v)
    else:
        raise _Bad(f"is not a date ({type(v).__name__} {_show(v)})")
    if not EARLIEST_DATE <= d <= LATEST_DATE:
        raise _Bad(f"{d.isoformat()} is out of range ({EARLIEST_DATE.year}-{LATEST_DATE.year})")
    return d


def _ymd(y: int, m: int, d: int, raw: Any) -> dt.date:
    try:
        return dt.date(y, m, d)
    except ValueError:
        raise _Bad(f"is not a valid calendar date ({_show(raw)})") from None


def _bool(v: Any) -> bool:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        if v == 1:
            return True
        if v == 0:
            return False
        raise _Bad(f"is not a yes/no value ({_show(v)})")
    if isinstance(v, str):
        s = _nfkc(v).strip().lower()
        if s in _TRUE_TEXTS:
            return True
        if s in _FALSE_TEXTS:
            return False
    raise _Bad(f"is not a yes/no value ({_show(v)}); use true/false, yes/no, 1/0 or Y/N")


def _text(v: Any, *, normalize: bool = True) -> str:
    if isinstance(v, str):
        s = v
    elif isinstance(v, bool | np.bool_):
        raise _Bad(f"is a boolean ({v}), not text")
    elif isinstance(v, numbers.Integral):
        s = str(int(v))
    elif isinstance(v, numbers.Real | decimal.Decimal):
        x = float(v)
        s = str(int(x)) if math.isfinite(x) and x.is_integer() and abs(x) < 1e15 else repr(x)
    else:
        raise _Bad(f"is not text ({type(v).__name__} {_show(v)})")
    if normalize:
        s = _nfkc(s)
    return " ".join(s.split())


def _name(v: Any) -> str:
    return _text(v, normalize=False)


def _enum(field: str, vocab: Sequence[str], synonyms: dict[str, str] | None = None) -> Callable[[Any], str]:
    """A parser accepting the canonical values (case/space/hyphen tolerant) and their glossary Chinese labels."""
    lookup = {v: v for v in vocab} | (synonyms or {}) | {TERMS[v][0]: v for v in vocab if v in TERMS}

    def parse(v: Any) -> str:
        s = _text(v)
        key = re.sub(r"[\s\-]+", "_", s.lower())
        if key in lookup:
            return lookup[key]
        if s in lookup:
            return lookup[s]
        close = difflib.get_close_matches(key, vocab, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise _Bad(f"{_show(s)} is unknown: expected one of {', '.join(vocab)}{hint}")

    parse.__name__ = f"_parse_{field}"
    return parse


def _split(v: Any) -> list[Any]:
    """The entries of a ``;`` list cell (a list/array cell is taken as is; a lone scalar is one entry)."""
    if isinstance(v, list | tuple):
        return list(v)
    if isinstance(v, np.ndarray):
        return list(v.tolist()) if v.dtype.kind not in "mM" else list(v)
    if isinstance(v, str):
        s = _nfkc(v).strip().rstrip(";").strip()
        return [p.strip() for p in s.split(";")]
    return [v]


def _schedule(v: Any) -> list[tuple[dt.date, float]]:
    """``YYYY-MM-DD:amount;...`` (or a list of (date, amount) pairs) → list of (date, amount)."""
    items = _split(v)
    out: list[tuple[dt.date, float]] = []
    problems: list[str] = []
    for k, item in enumerate(items, start=1):
        if isinstance(item, str):
            if ":" not in item:
                problems.append(f"entry {k} {_show(item)} is not DATE:AMOUNT")
                continue
            d_raw, a_raw = item.rsplit(":", 1)
        elif isinstance(item, list | tuple) and len(item) == 2:
            d_raw, a_raw = item
        else:
            problems.append(f"entry {k} {_show(item)} is not a (date, amount) pair")
            continue
        try:
            d = _date(d_raw.strip() if isinstance(d_raw, str) else d_raw)
        except _Bad as e:
            problems.append(f"entry {k} date {e}")
            continue
        try:
            a = _amount(a_raw)
        except _Bad as e:
            problems.append(f"entry {k} amount {e}")
            continue
        out.append((d, a))
    if problems:
        raise _Bad("is malformed: " + "; ".join(problems) + " (expected YYYY-MM-DD:amount;...)")
    return out


_ASSET_TYPE = _enum("asset_type", ASSET_TYPES, {"royalty_license": "royalty_licence", "licence": "royalty_licence"})
_FREQUENCY = _enum(
    "payment_frequency",
    PAYMENT_FREQUENCIES,
    {"semi_annual": "semiannual", "semi_annually": "semiannual", "half_yearly": "semiannual"},
)
_AMORTIZATION = _enum("amortization", AMORTIZATIONS, {"level": "level_payment", "annuity": "level_payment"})
_IP_TYPE = _enum("ip_type", IP_TYPES)
_IP_VALUATION = _enum("ip_valuation", IP_VALUATIONS)

#: Scalar columns: parser. ``None`` marks the list and schedule columns handled separately.
_SCALAR_PARSERS: dict[str, Callable[[Any], Any]] = {
    "asset_id": _text,
    "obligor_id": _text,
    "obligor_name": _name,
    "industry": _text,
    "county": _text,
    "asset_type": _ASSET_TYPE,
    "principal": _positive_amount,
    "rate": _rate,
    "start_date": _date,
    "maturity_date": _date,
    "payment_frequency": _FREQUENCY,
    "amortization": _AMORTIZATION,
    "custom_schedule": _schedule,
    "rating": _text,
    "pd": _pd,
    "cnipa_pledge_registered": _bool,
    "financing_amount": _amount,
    "whitelisted": _bool,
    "overdue_history": _bool,
    "blacklisted": _bool,
}
#: List columns: entry parser, and the value of a blank entry (None = a blank entry is an error).
_LIST_PARSERS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "ip_type": (_IP_TYPE, None),
    "ip_registration_no": (_text, "blank"),
    "ip_expiry_date": (_date, "blank"),
    "ip_appraised_value": (_amount, "blank"),
    "ip_valuation": (_IP_VALUATION, "external"),
    "ip_owner_id": (_text, "obligor"),
    "ip_prior_pledge": (_bool, False),
}
_BLANK_ENTRY = {"ip_registration_no": None, "ip_expiry_date": None, "ip_appraised_value": math.nan}


# ----------------------------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------------------------


class _Missing:
    """Sentinel: the cell is blank (or the column is absent)."""

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "<missing>"


class _Error:
    """Sentinel: the cell could not be parsed (an issue was recorded)."""

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "<error>"


MISSING, ERROR = _Missing(), _Error()


def _parse_column(raw: list[Any], parse: Callable[[Any], Any]) -> tuple[list[Any], dict[int, str]]:
    """Parse a column of raw cells; returns values (MISSING / ERROR sentinels) and {position: reason}."""
    values: list[Any] = []
    errors: dict[int, str] = {}
    cache: dict[tuple[type, Any], Any] = {}
    for i, v in enumerate(raw):
        if _is_blank(v):
            values.append(MISSING)
            continue
        try:
            key = (type(v), v)
            hash(key)
        except TypeError:
            key = None
        if key is not None and key in cache:
            out = cache[key]
        else:
            try:
                out = parse(v)
            except _Bad as e:
                out = e
            except (ValueError, TypeError, OverflowError, ArithmeticError) as e:  # defensive: never escape
                out = _Bad(f"cannot be read ({type(e).__name__}: {e})")
            if key is not None:
                cache[key] = out
        if isinstance(out, _Bad):
            values.append(ERROR)
            errors[i] = str(out)
        else:
            values.append(out)
    return values, errors


def _parse_list_cell(v: Any, column: str) -> tuple[list[Any] | None, list[str]]:
    """Entries of one list cell → (values, problems). Blank entries become placeholders filled later."""
    parse, blank = _LIST_PARSERS[column]
    values: list[Any] = []
    problems: list[str] = []
    entries = _split(v)
    for k, entry in enumerate(entries, start=1):
        if _is_blank(entry):
            if blank is None:
                problems.append(f"entry {k} is blank")
            values.append(MISSING)
            continue
        try:
            values.append(parse(entry))
        except _Bad as e:
            problems.append(f"entry {k} {e}")
            values.append(ERROR)
        except (ValueError, TypeError, OverflowError, ArithmeticError) as e:  # defensive
            problems.append(f"entry {k} cannot be read ({type(e).__name__})")
            values.append(ERROR)
    return values, problems


def _validate_reference(
    header: list[str],
    columns: list[list[Any]],
    row_numbers: list[int],
    *,
    file: str,
    table: str | None,
    strict: bool,
    pre_issues: dict[int, list[Issue]],
) -> TapeResult:
    """The row-by-row validation :func:`_validate` vectorises (kept as the reference it is tested against)."""
    canonical, extras = _resolve_header(header, [any(not _is_blank(v) for v in c) for c in columns], file, table)
    # Drop fully blank rows (they keep their place in the numbering).
    n_physical = len(row_numbers)
    keep = [
        i
        for i in range(n_physical)
        if row_numbers[i] in pre_issues or not all(_is_blank(col[i]) for col in columns)
    ]
    if not keep:
        raise TapeError([Issue("the tape has a header but no data rows", file=file, table=table)])
    rows = [row_numbers[i] for i in keep]
    n = len(keep)

    def raw_column(name: str) -> list[Any] | None:
        j = canonical.get(name)
        return None if j is None else [columns[j][i] for i in keep]

    issues: dict[int, list[Issue]] = {k: [] for k in range(n)}
    for i, phys in enumerate(keep):
        for issue in pre_issues.get(row_numbers[phys], []):
            issues[i].append(issue)

    def reject(k: int, field: str, message: str) -> None:
        issues[k].append(Issue(message, file=file, table=table, row=rows[k], field=field))

    # 1. Scalar cells.
    vals: dict[str, list[Any]] = {}
    for name, parse in _SCALAR_PARSERS.items():
        raw = raw_column(name)
        if raw is None:
            vals[name] = [MISSING] * n
            continue
        vals[name], errors = _parse_column(raw, parse)
        for k, reason in errors.items():
            reject(k, name, f"{name} {reason}")
    for name in REQUIRED_COLUMNS:
        for k, v in enumerate(vals[name]):
            if v is MISSING:
                reject(k, name, f"{name} is missing (blank or NaN)")

    # 2. List cells.
    lists: dict[str, list[Any]] = {}
    for name in IP_LIST_COLUMNS:
        raw = raw_column(name)
        out: list[Any] = []
        cache: dict[str, tuple[list[Any] | None, list[str]]] = {}
        for k in range(n):
            if raw is None or _is_blank(raw[k]):
                out.append(MISSING)
                continue
            cell = raw[k]
            if isinstance(cell, str) and cell in cache:
                entries, problems = cache[cell]
            else:
                try:
                    entries, problems = _parse_list_cell(cell, name)
                except (ValueError, TypeError) as e:  # defensive
                    entries, problems = None, [f"cannot be read ({type(e).__name__})"]
                if isinstance(cell, str):
                    cache[cell] = (entries, problems)
            if problems:
                reject(k, name, f"{name} " + "; ".join(problems))
                out.append(ERROR)
            else:
                out.append(entries)
        lists[name] = out

    # 3. Row-wise defaults and cross-field checks.
    for k in range(n):
        _check_row(k, vals, lists, reject)

    # 4. Across rows: duplicate ids, one profile per obligor.
    first_row: dict[str, int] = {}
    for k, aid in enumerate(vals["asset_id"]):
        if not isinstance(aid, str):
            continue
        if aid in first_row:
            reject(k, "asset_id", f"asset_id {aid!r} is a duplicate (first seen in row {rows[first_row[aid]]})")
        else:
            first_row[aid] = k
    _check_obligors(n, rows, vals, reject)

    # 5. Assemble.
    accepted = [k for k in range(n) if not issues[k]]
    rejected = [issue for k in range(n) for issue in _ordered(issues[k])]
    assets = _frame(accepted, rows, vals, lists, {name: [columns[j][i] for i in keep] for name, j in extras.items()})
    if strict and rejected:
        n_bad = len({i.row for i in rejected})
        raise TapeError(rejected, title=f"pool tape has rejected rows ({n_bad} of {n}; strict)")
    return TapeResult(assets=assets, rejected=rejected, n_rows=n, n_accepted=len(accepted), file=file)


_FIELD_ORDER = {name: i for i, name in enumerate(TAPE_COLUMNS)}


def _ordered(row_issues: list[Issue]) -> list[Issue]:
    """A row's issues in column order (cross-field issues sort with their field), stable otherwise."""
    return sorted(row_issues, key=lambda i: _FIELD_ORDER.get(i.field or "", len(_FIELD_ORDER)))


def _check_row(k: int, vals: dict[str, list[Any]], lists: dict[str, list[Any]], reject: Callable) -> None:
    """Fill row k's defaults in place and record cross-field problems."""
    asset_type = vals["asset_type"][k]
    obligor = vals["obligor_id"][k]
    principal = vals["principal"][k]
    start, maturity = vals["start_date"][k], vals["maturity_date"][k]

    if vals["obligor_name"][k] is MISSING and isinstance(obligor, str):
        vals["obligor_name"][k] = obligor
    if vals["rate"][k] is MISSING:
        vals["rate"][k] = 0.0
    if vals["financing_amount"][k] is MISSING and isinstance(principal, float):
        vals["financing_amount"][k] = principal
    for flag in ("cnipa_pledge_registered", "whitelisted", "overdue_history", "blacklisted"):
        if vals[flag][k] is MISSING:
            vals[flag][k] = False
    if isinstance(asset_type, str):
        frequency, amortization = DEFAULTS_BY_ASSET_TYPE[asset_type]
        if vals["payment_frequency"][k] is MISSING:
            vals["payment_frequency"][k] = frequency
        if vals["amortization"][k] is MISSING:
            vals["amortization"][k] = amortization

    dates_ok = isinstance(start, dt.date) and isinstance(maturity, dt.date)
    if dates_ok and not maturity > start:
        reject(k, "maturity_date", f"maturity_date {maturity} is not after start_date {start}")
        dates_ok = False

    frequency, amortization = vals["payment_frequency"][k], vals["amortization"][k]
    if frequency == "at_maturity" and amortization in ("interest_only", "equal_principal", "level_payment"):
        reject(
            k,
            "payment_frequency",
            f"payment_frequency 'at_maturity' cannot go with amortization {amortization!r} (use 'bullet' or "
            "'custom')",
        )
    schedule = vals["custom_schedule"][k]
    if amortization == "custom" and schedule is MISSING:
        reject(k, "custom_schedule", "custom_schedule is missing: amortization is 'custom'")
    elif isinstance(schedule, list) and isinstance(amortization, str) and amortization != "custom":
        reject(
            k,
            "custom_schedule",
            f"custom_schedule is given but amortization is {amortization!r}: set amortization to 'custom' or clear "
            "the schedule",
        )
    elif isinstance(schedule, list) and amortization == "custom":
        _check_schedule(k, schedule, principal, start if dates_ok else None, maturity if dates_ok else None, reject)
    if schedule is MISSING:
        vals["custom_schedule"][k] = []

    _check_ip_lists(k, obligor, lists, reject)


def _check_schedule(
    k: int,
    schedule: list[tuple[dt.date, float]],
    principal: Any,
    start: dt.date | None,
    maturity: dt.date | None,
    reject: Callable,
) -> None:
    problems = []
    dates = [d for d, _ in schedule]
    if any(b <= a for a, b in zip(dates, dates[1:], strict=False)):
        problems.append("dates are not strictly increasing")
    if start is not None and maturity is not None:
        outside = [d.isoformat() for d in dates if not start < d <= maturity]
        if outside:
            problems.append(f"dates {', '.join(outside)} are outside (start_date {start}, maturity_date {maturity}]")
    if isinstance(principal, float):
        total = math.fsum(a for _, a in schedule)
        if abs(total - principal) > defaults.FEN:
            problems.append(f"repayments sum to {total:,.2f}, not the principal {principal:,.2f}")
    if problems:
        reject(k, "custom_schedule", "custom_schedule " + "; ".join(problems))


def _check_ip_lists(k: int, obligor: Any, lists: dict[str, list[Any]], reject: Callable) -> None:
    """Lengths of a row's ip_* lists must match ip_type's; blanks become defaults."""
    types = lists["ip_type"][k]
    if types is ERROR:
        return
    count = 0 if types is MISSING else len(types)
    for name in IP_LIST_COLUMNS[1:]:
        entries = lists[name][k]
        if entries is ERROR:
            continue
        if entries is MISSING:
            entries = [MISSING] * count
        elif len(entries) != count:
            what = f"ip_type has {count}" if count else "ip_type is blank"
            reject(
                k,
                name,
                f"{name} has {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} but {what}: give one entry "
                "per IP right, separated by ';'",
            )
            lists[name][k] = ERROR
            continue
        lists[name][k] = [_fill_entry(name, e, obligor) for e in entries]
    if types is MISSING:
        lists["ip_type"][k] = []


def _fill_entry(name: str, entry: Any, obligor: Any) -> Any:
    if entry is not MISSING:
        return entry
    if name in _BLANK_ENTRY:
        return _BLANK_ENTRY[name]
    if name == "ip_owner_id":
        return obligor if isinstance(obligor, str) else None
    return _LIST_PARSERS[name][1]


def _check_obligors(n: int, rows: list[int], vals: dict[str, list[Any]], reject: Callable) -> None:
    """Every asset of one obligor must carry the same obligor-level fields (compared with the first seen)."""
    first: dict[tuple[str, str], tuple[int, Any]] = {}
    for k in range(n):
        obligor = vals["obligor_id"][k]
        if not isinstance(obligor, str):
            continue
        for name in OBLIGOR_FIELDS:
            v = vals[name][k]
            if v is ERROR:
                continue
            key = (obligor, name)
            if key not in first:
                first[key] = (k, v)
                continue
            k0, v0 = first[key]
            if not _same(v, v0):
                reject(
                    k,
                    name,
                    f"{name} {_describe(v)} differs from {_describe(v0)} given for obligor {obligor!r} in row "
                    f"{rows[k0]}; all assets of one obligor must agree",
                )


def _same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def _describe(v: Any) -> str:
    return "(blank)" if v is MISSING else repr(v)


def _text_dtype() -> Any:
    return "str" if int(pd.__version__.split(".")[0]) >= 3 else object


def _frame(
    accepted: list[int],
    rows: list[int],
    vals: dict[str, list[Any]],
    lists: dict[str, list[Any]],
    extras: dict[str, list[Any]],
) -> pd.DataFrame:
    """The typed frame of accepted rows (columns in documented order, then source_row, then extras)."""

    def pick(values: list[Any], blank: Any = None) -> list[Any]:
        return [blank if values[k] is MISSING else values[k] for k in accepted]

    text = _text_dtype()
    data: dict[str, pd.Series] = {}
    for name in TAPE_COLUMNS:
        if name in lists or name == "custom_schedule":
            # a fresh list per row: parsed values are cached per distinct cell text
            data[name] = pd.Series([list(v) for v in pick(lists.get(name) or vals[name])], dtype=object)
        elif name in ("start_date", "maturity_date"):
            data[name] = pd.Series(pick(vals[name]), dtype=object)
        elif name in ("principal", "rate", "pd", "financing_amount"):
            data[name] = pd.Series(pick(vals[name], math.nan), dtype="float64")
        elif name in ("cnipa_pledge_registered", "whitelisted", "overdue_history", "blacklisted"):
            data[name] = pd.Series(pick(vals[name]), dtype=bool)
        else:
            data[name] = pd.Series(pick(vals[name], math.nan), dtype=text)
    data[_SOURCE_ROW] = pd.Series([rows[k] for k in accepted], dtype="int64")
    for name, raw in extras.items():
        cells = [None if _is_blank(raw[k]) else raw[k] for k in accepted]
        if all(c is None or isinstance(c, str) for c in cells):
            data[name] = pd.Series([math.nan if c is None else c.strip() for c in cells], dtype=text)
        else:
            data[name] = pd.Series(cells, dtype=object)
    return pd.DataFrame(data)


# ----------------------------------------------------------------------------------------------------------------
# Vectorised validation
# ----------------------------------------------------------------------------------------------------------------
#
# The same checks and the same messages as the row-by-row reference (:func:`_validate_reference`), column by
# column: each column is factorised (row → code of its distinct cell), each distinct cell is parsed once by the cell
# parsers above, and the row-level checks run on numpy arrays of codes. Python code runs per distinct cell and per
# rejected row only; the accepted rows' frame is assembled from arrays (the ip_* list cells are still one Python
# list per row, as documented). A test keeps the two in step on the bad-tape corpus and on random tapes.


@dataclass(frozen=True, eq=False)
class _Raw:
    """A raw column, factorised: ``codes[i]`` indexes ``uniques`` (-1 = a blank cell)."""

    codes: np.ndarray
    uniques: list[Any]
    #: The uniques as a pyarrow string array when they came from the CSV reader (vectorised pre-checks).
    arrow: Any = None


def _arrow_match(raw: _Raw, pattern: str) -> np.ndarray | None:
    """Per unique, whether it fully matches ``pattern`` (RE2, evaluated by pyarrow), or None without arrow data."""
    if raw.arrow is None:
        return None
    import pyarrow.compute as pc

    return pc.match_substring_regex(raw.arrow, "^(?:" + pattern + ")$").to_numpy(zero_copy_only=False)


def _factorize_cells(raw: Sequence[Any]) -> _Raw:
    """Factorise raw cells by (type, value), as the reference's parse cache does; unhashable cells stay distinct."""
    index: dict[Any, int] = {}
    uniques: list[Any] = []
    codes = np.empty(len(raw), dtype=np.int32)
    blank: dict[Any, bool] = {}
    for i, v in enumerate(raw):
        try:
            key = (type(v), v)
            hash(key)
        except TypeError:
            key = None
        if key is not None:
            b = blank.get(key)
            if b is None:
                b = blank[key] = _is_blank(v)
            if b:
                codes[i] = -1
                continue
            u = index.get(key)
            if u is None:
                u = index[key] = len(uniques)
                uniques.append(v)
            codes[i] = u
        elif _is_blank(v):
            codes[i] = -1
        else:
            codes[i] = len(uniques)
            uniques.append(v)
    return _Raw(codes, uniques)


def _blank_out(raw: _Raw) -> _Raw:
    """Blank-meaning uniques (``nan``, ``-``...) → code -1, the others renumbered (text cells from the CSV reader:
    only those of at most 8 characters, or with whitespace at an end, can be blank)."""
    is_blank = np.zeros(len(raw.uniques), dtype=bool)
    if raw.arrow is not None:
        import pyarrow.compute as pc

        ws = r"[\t-\r\x{1c}-\x{1f}\x{85}\p{Z}]"
        cand = (pc.utf8_length(raw.arrow).to_numpy(zero_copy_only=False) <= 8) | pc.match_substring_regex(
            raw.arrow, f"^{ws}|{ws}$").to_numpy(zero_copy_only=False)
        for i in np.nonzero(cand)[0]:
            is_blank[i] = _is_blank(raw.uniques[i])
    else:
        is_blank = np.fromiter((_is_blank(u) for u in raw.uniques), dtype=bool, count=len(raw.uniques))
    if not is_blank.any():
        return raw
    new = np.cumsum(~is_blank) - 1
    new[is_blank] = -1
    remap = np.append(new, -1).astype(np.int32)  # index -1 → the appended -1
    codes = remap[raw.codes]
    arrow = None if raw.arrow is None else raw.arrow.filter(~is_blank)
    return _Raw(codes, [u for u, b in zip(raw.uniques, is_blank, strict=True) if not b], arrow)


def _objects(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array of ``values`` (lists and tuples stay elements)."""
    return np.fromiter(values, dtype=object, count=len(values))


class _Parsed:
    """A parsed column: ``uvals[code]`` per distinct cell (or ERROR), code -1 = blank (MISSING)."""

    def __init__(self, codes: np.ndarray, uvals: list[Any]) -> None:
        self.codes = codes
        self.uvals = uvals
        self.ix = np.where(codes < 0, len(uvals), codes).astype(np.int32)  # index into table(): MISSING last

    def table(self, missing: Any = MISSING) -> np.ndarray:
        return _objects([*self.uvals, missing])

    def mask(self, pred: Callable[[Any], bool]) -> np.ndarray:
        """``pred(value)`` per row, evaluated once per distinct value."""
        t = np.fromiter((pred(v) for v in [*self.uvals, MISSING]), dtype=bool, count=len(self.uvals) + 1)
        return t[self.ix]

    def classes(self, missing: Any = MISSING) -> np.ndarray:
        """Per row, an integer equal for equal values (by :func:`_same`; MISSING is ``missing``)."""
        if all(type(v) is str for v in self.uvals) and isinstance(missing, _Missing):
            codes = pd.factorize(_objects(self.uvals))[0] if self.uvals else np.zeros(0, dtype=np.int64)
            return np.append(codes, len(self.uvals)).astype(np.int64)[self.ix]  # MISSING: a class of its own
        index: dict[Any, int] = {}
        t = np.empty(len(self.uvals) + 1, dtype=np.int64)
        for i, v in enumerate([*self.uvals, missing]):
            key = ("missing",) if v is MISSING else ("nan",) if isinstance(v, float) and math.isnan(v) else (0, v)
            t[i] = index.setdefault(key, len(index))
        return t[self.ix]

    def values(self, rows: np.ndarray | None = None, missing: Any = MISSING) -> np.ndarray:
        return self.table(missing)[self.ix if rows is None else self.ix[rows]]

    def value(self, k: int) -> Any:
        c = int(self.codes[k])
        return MISSING if c < 0 else self.uvals[c]


#: Cells the text parsers return unchanged: printable ASCII words separated by single spaces (NFKC leaves ASCII as
#: it is, and there is no whitespace to collapse).
_PLAIN_TEXT = re.compile(r"[!-~]+(?: [!-~]+)*")
#: List cells of plain ASCII entries, none blank: ``_split`` and ``_text`` give ``cell.split(";")``.
_PLAIN_LIST = re.compile(r"[!-:<-~]+(?:;[!-:<-~]+)*")
#: Plain non-negative decimals: ``_number`` gives ``float(cell)``.
_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?")
_TEXT_PARSERS = ("_text", "_name")


def _parse_uniques(raw: _Raw, parse: Callable[[Any], Any]) -> tuple[list[Any], dict[int, str]]:
    """:func:`_parse_column` over distinct non-blank cells, with exact shortcuts for the common plain cells."""
    uniques = raw.uniques
    name = getattr(parse, "__name__", "")
    if name in _TEXT_PARSERS:
        matched = _arrow_match(raw, _PLAIN_TEXT.pattern)
        if matched is not None:
            todo = np.nonzero(~matched)[0].tolist()
        else:
            plain = _PLAIN_TEXT.fullmatch
            todo = [i for i, u in enumerate(uniques) if not (type(u) is str and plain(u))]
        values = list(uniques)
    elif parse in (_positive_amount, _amount, _rate, _pd):
        lo_open = parse is _positive_amount
        hi = {_rate: MAX_RATE, _pd: 1.0}.get(parse, ABSURD_AMOUNT)
        hi_open = parse is _pd
        plain = _PLAIN_NUMBER.fullmatch
        values = list(uniques)
        todo = []
        for i, u in enumerate(uniques):
            if type(u) is str and plain(u):
                x = float(u)
                if (x > 0 if lo_open else x >= 0) and (x < hi if hi_open else x <= hi):
                    values[i] = x
                    continue
            todo.append(i)
    else:
        return _parse_column(uniques, parse)
    if todo:
        vals, errs = _parse_column([uniques[i] for i in todo], parse)
        errors = {todo[j]: reason for j, reason in errs.items()}
        for j, i in enumerate(todo):
            values[i] = vals[j]
        return values, errors
    return values, {}


def _parse_list_uniques(raw: _Raw, name: str) -> tuple[list[Any], list[list[str]]]:
    """Per distinct list cell: its entries (or ERROR) and its problems, as :func:`_parse_list_cell`."""
    uniques = raw.uniques
    parse = _LIST_PARSERS[name][0]
    plain = _PLAIN_LIST.fullmatch if parse is _text else None
    matched = _arrow_match(raw, _PLAIN_LIST.pattern) if plain is not None else None
    may_blank = None
    if matched is not None:
        may_blank = _arrow_match(raw, r"(?:.*;)?(?i:nan|none|null|n/a|#n/a|na|nat|-|--)(?:;.*)?")
    entries_out: list[Any] = []
    problems_out: list[list[str]] = []
    for i, cell in enumerate(uniques):
        if matched is not None:
            if matched[i] and not may_blank[i]:
                entries_out.append(cell.split(";"))
                problems_out.append([])
                continue
        elif plain is not None and type(cell) is str and plain(cell):
            parts = cell.split(";")
            if not any(len(p) <= 8 and p.lower() in _BLANK_TEXTS for p in parts):
                entries_out.append(parts)
                problems_out.append([])
                continue
        try:
            entries, problems = _parse_list_cell(cell, name)
        except (ValueError, TypeError) as e:  # defensive
            entries, problems = None, [f"cannot be read ({type(e).__name__})"]
        entries_out.append(ERROR if problems else entries)
        problems_out.append(problems)
    return entries_out, problems_out


def _validate(
    header: list[str],
    columns: list[Sequence[Any]] | list[_Raw],
    row_numbers: Sequence[int],
    *,
    file: str,
    table: str | None,
    strict: bool,
    pre_issues: dict[int, list[Issue]],
) -> TapeResult:
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of small acyclic objects: the cyclic collector would rescan them again and again
    try:
        return _validate_columns(header, columns, row_numbers, file=file, table=table, strict=strict,
                                 pre_issues=pre_issues)
    finally:
        if gc_was_enabled:
            gc.enable()


def _validate_columns(
    header: list[str],
    columns: list[Sequence[Any]] | list[_Raw],
    row_numbers: Sequence[int],
    *,
    file: str,
    table: str | None,
    strict: bool,
    pre_issues: dict[int, list[Issue]],
) -> TapeResult:
    raws = [c if isinstance(c, _Raw) else _factorize_cells(c) for c in columns]
    row_numbers = np.asarray(row_numbers, dtype=np.int64)
    canonical, extras = _resolve_header(header, [bool((r.codes >= 0).any()) for r in raws], file, table)
    n_physical = len(row_numbers)
    nonblank = np.zeros(n_physical, dtype=bool)
    for r in raws:
        nonblank |= r.codes >= 0
    if pre_issues:
        nonblank |= np.isin(row_numbers, np.fromiter(pre_issues, dtype=np.int64))
    keep = np.nonzero(nonblank)[0]
    all_kept = len(keep) == n_physical
    if len(keep) == 0:
        raise TapeError([Issue("the tape has a header but no data rows", file=file, table=table)])
    rows = row_numbers[keep]
    n = len(keep)
    issues: dict[int, list[Issue]] = {}

    def reject(k: int, field: str, message: str) -> None:
        issues.setdefault(k, []).append(Issue(message, file=file, table=table, row=int(rows[k]), field=field))

    if pre_issues:
        for k in np.nonzero(np.isin(rows, np.fromiter(pre_issues, dtype=np.int64)))[0]:
            issues.setdefault(int(k), []).extend(pre_issues[int(rows[k])])

    def kept(name: str) -> _Raw | None:
        j = canonical.get(name)
        return None if j is None else raws[j] if all_kept else _Raw(raws[j].codes[keep], raws[j].uniques,
                                                                     raws[j].arrow)

    # 1. Scalar cells: each distinct cell parsed once.
    vals: dict[str, _Parsed] = {}
    for name, parse in _SCALAR_PARSERS.items():
        raw = kept(name)
        if raw is None:
            vals[name] = _Parsed(np.full(n, -1, dtype=np.int64), [])
            continue
        uvals, errors = _parse_uniques(raw, parse)
        vals[name] = _Parsed(raw.codes, uvals)
        if errors:
            bad = np.zeros(len(uvals) + 1, dtype=bool)
            bad[list(errors)] = True
            for k in np.nonzero(bad[raw.codes])[0]:
                reject(int(k), name, f"{name} {errors[int(raw.codes[k])]}")
    for name in REQUIRED_COLUMNS:
        for k in np.nonzero(vals[name].codes < 0)[0]:
            reject(int(k), name, f"{name} is missing (blank or NaN)")

    # 2. List cells: (entries, problems) per distinct cell.
    lists: dict[str, tuple[np.ndarray, list[Any]]] = {}  # name → (codes, per distinct cell: entries or ERROR)
    for name in IP_LIST_COLUMNS:
        raw = kept(name)
        if raw is None:
            lists[name] = (np.full(n, -1, dtype=np.int64), [])
            continue
        uentries, uproblems = _parse_list_uniques(raw, name)
        bad = np.array([bool(p) for p in uproblems] + [False], dtype=bool)
        for k in np.nonzero(bad[raw.codes])[0]:
            reject(int(k), name, f"{name} " + "; ".join(uproblems[int(raw.codes[k])]))
        lists[name] = (raw.codes, uentries)

    # 3. Defaults and cross-field checks, on whole columns.
    at = vals["asset_type"]
    freq = vals["payment_frequency"].values()
    amort = vals["amortization"].values()
    for t, (f_default, a_default) in DEFAULTS_BY_ASSET_TYPE.items():
        is_t = at.mask(lambda v, t=t: isinstance(v, str) and v == t)
        freq[is_t & (vals["payment_frequency"].codes < 0)] = f_default
        amort[is_t & (vals["amortization"].codes < 0)] = a_default

    start, maturity = vals["start_date"], vals["maturity_date"]
    s_ord = _ordinals(start)
    m_ord = _ordinals(maturity)
    both = (s_ord >= 0) & (m_ord >= 0)
    for k in np.nonzero(both & (m_ord <= s_ord))[0]:
        reject(int(k), "maturity_date",
               f"maturity_date {maturity.value(k)} is not after start_date {start.value(k)}")
    dates_ok = both & (m_ord > s_ord)

    for k in np.nonzero(freq == "at_maturity")[0]:
        a = amort[k]
        if a in ("interest_only", "equal_principal", "level_payment"):
            reject(int(k), "payment_frequency",
                   f"payment_frequency 'at_maturity' cannot go with amortization {a!r} (use 'bullet' or 'custom')")
    sched = vals["custom_schedule"]
    principal = vals["principal"]
    for k in np.nonzero((amort == "custom") | (sched.codes >= 0))[0]:
        schedule, a = sched.value(k), amort[k]
        if a == "custom" and schedule is MISSING:
            reject(int(k), "custom_schedule", "custom_schedule is missing: amortization is 'custom'")
        elif isinstance(schedule, list) and isinstance(a, str) and a != "custom":
            reject(int(k), "custom_schedule",
                   f"custom_schedule is given but amortization is {a!r}: set amortization to 'custom' or clear "
                   "the schedule")
        elif isinstance(schedule, list) and a == "custom":
            ok = bool(dates_ok[k])
            _check_schedule(int(k), schedule, principal.value(k), start.value(k) if ok else None,
                            maturity.value(k) if ok else None, reject)

    # ip_* lists: lengths must match ip_type's.
    t_codes, t_entries = lists["ip_type"]
    t_count = np.array([-1 if e is ERROR else len(e) for e in t_entries] + [0], dtype=np.int64)
    count = t_count[t_codes]  # -1: ip_type could not be read (the row is rejected already)
    for name in IP_LIST_COLUMNS[1:]:
        codes, uentries = lists[name]
        ulen = np.array([-1 if e is ERROR else len(e) for e in uentries] + [-2], dtype=np.int64)
        length = ulen[codes]  # -2 blank (filled to the count), -1 unreadable
        for k in np.nonzero((count >= 0) & (length >= 0) & (length != count))[0]:
            m, c = int(length[k]), int(count[k])
            what = f"ip_type has {c}" if c else "ip_type is blank"
            reject(int(k), name,
                   f"{name} has {m} entr{'y' if m == 1 else 'ies'} but {what}: give one entry per IP right, "
                   "separated by ';'")

    # 4. Across rows: duplicate ids, one profile per obligor.
    aid = vals["asset_id"]
    idx = np.nonzero(aid.mask(lambda v: isinstance(v, str)))[0]
    if len(idx):
        k0 = _first_of_group(aid.classes()[idx], idx)
        for k, j in zip(idx[k0 != idx], k0[k0 != idx], strict=True):
            reject(int(k), "asset_id", f"asset_id {aid.value(k)!r} is a duplicate (first seen in row {rows[j]})")
    _check_obligors_vectorised(rows, vals, reject)

    # 5. Assemble.
    rejected_rows = np.zeros(n, dtype=bool)
    if issues:
        rejected_rows[np.fromiter(issues, dtype=np.int64)] = True
    accepted = np.nonzero(~rejected_rows)[0]
    rejected = [issue for k in sorted(issues) for issue in _ordered(issues[k])]
    extra_cols = {name: raws[j] if all_kept else _Raw(raws[j].codes[keep], raws[j].uniques)
                  for name, j in extras.items()}
    assets = _frame_vectorised(accepted, rows, vals, freq, amort, lists, count, extra_cols)
    if strict and rejected:
        n_bad = len({i.row for i in rejected})
        raise TapeError(rejected, title=f"pool tape has rejected rows ({n_bad} of {n}; strict)")
    return TapeResult(assets=assets, rejected=rejected, n_rows=n, n_accepted=len(accepted), file=file)


def _first_of_group(keys: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """For rows ``idx`` (ascending) with group ``keys``: the first row of each one's group."""
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return idx[first[inverse]]


def _ordinals(col: _Parsed) -> np.ndarray:
    """Day numbers of a parsed date column (-1 where not a date)."""
    table = np.array([v.toordinal() if isinstance(v, dt.date) else -1 for v in col.uvals] + [-1], dtype=np.int64)
    return table[col.ix]


def _check_obligors_vectorised(rows: np.ndarray, vals: dict[str, _Parsed], reject: Callable) -> None:
    """As :func:`_check_obligors`: each obligor-level field compared with the obligor's first readable value."""
    ob = vals["obligor_id"]
    ob_ok = ob.mask(lambda v: isinstance(v, str))
    if not ob_ok.any():
        return
    ob_key = ob.classes()
    for name in OBLIGOR_FIELDS:
        col = vals[name]
        missing = False if name in ("whitelisted", "overdue_history", "blacklisted") else MISSING  # filled before
        idx = np.nonzero(ob_ok & col.mask(lambda v: v is not ERROR))[0]
        if len(idx) == 0:
            continue
        k0 = _first_of_group(ob_key[idx], idx)
        vkey = col.classes(missing)
        diff = vkey[idx] != vkey[k0]
        for k, j in zip(idx[diff], k0[diff], strict=True):
            a = col.value(k)
            b = col.value(j)
            a = missing if a is MISSING else a
            b = missing if b is MISSING else b
            reject(int(k), name,
                   f"{name} {_describe(a)} differs from {_describe(b)} given for obligor {ob.value(k)!r} in row "
                   f"{rows[j]}; all assets of one obligor must agree")


def _frame_vectorised(accepted: np.ndarray, rows: np.ndarray, vals: dict[str, _Parsed], freq: np.ndarray,
                      amort: np.ndarray, lists: dict[str, tuple[np.ndarray, list[Any]]], count: np.ndarray,
                      extras: dict[str, _Raw]) -> pd.DataFrame:
    """The typed frame of accepted rows, as :func:`_frame` builds it (columns in documented order, then source_row,
    then extras)."""
    text = _text_dtype()

    def floats(name: str, blank: float) -> np.ndarray:
        return vals[name].values(accepted, blank).astype("float64")

    obligor = vals["obligor_id"].values(accepted)
    principal = floats("principal", math.nan)
    data: dict[str, pd.Series] = {}
    for name in TAPE_COLUMNS:
        col = vals.get(name)
        if name in lists:
            data[name] = pd.Series(_list_column(name, accepted, lists[name], count, obligor), dtype=object)
        elif name == "custom_schedule":
            data[name] = pd.Series([list(v) for v in col.values(accepted, ())], dtype=object)
        elif name in ("start_date", "maturity_date"):
            data[name] = pd.Series(col.values(accepted, None), dtype=object)
        elif name == "principal":
            data[name] = pd.Series(principal, dtype="float64")
        elif name in ("rate", "pd"):
            data[name] = pd.Series(floats(name, 0.0 if name == "rate" else math.nan), dtype="float64")
        elif name == "financing_amount":
            fa = floats(name, math.nan)
            missing = col.codes[accepted] < 0
            fa[missing] = principal[missing]
            data[name] = pd.Series(fa, dtype="float64")
        elif name in ("cnipa_pledge_registered", "whitelisted", "overdue_history", "blacklisted"):
            data[name] = pd.Series(col.values(accepted, False).astype(bool), dtype=bool)
        elif name in ("payment_frequency", "amortization"):
            v = (freq if name == "payment_frequency" else amort)[accepted]
            v[col.codes[accepted] < 0] = _missing_to_nan(v[col.codes[accepted] < 0])
            data[name] = pd.Series(v, dtype=text)
        elif name == "obligor_name":
            v = col.values(accepted, math.nan)
            missing = col.codes[accepted] < 0
            v[missing] = obligor[missing]
            data[name] = pd.Series(v, dtype=text)
        else:
            data[name] = pd.Series(col.values(accepted, math.nan), dtype=text)
    data[_SOURCE_ROW] = pd.Series(rows[accepted], dtype="int64")
    for name, raw in extras.items():
        codes = raw.codes[accepted]
        ix = np.where(codes < 0, len(raw.uniques), codes)
        used = np.unique(codes[codes >= 0])
        if all(isinstance(raw.uniques[u], str) for u in used):
            table = _objects([*(u.strip() if isinstance(u, str) else u for u in raw.uniques), math.nan])
            data[name] = pd.Series(table[ix], dtype=text)
        else:
            data[name] = pd.Series(_objects([*raw.uniques, None])[ix], dtype=object)
    return pd.DataFrame(data, index=pd.RangeIndex(len(accepted)))


def _missing_to_nan(values: np.ndarray) -> np.ndarray:
    out = values.copy()
    for i, v in enumerate(values):
        if v is MISSING:
            out[i] = math.nan
    return out


def _list_column(name: str, accepted: np.ndarray, parsed: tuple[np.ndarray, list[Any]], count: np.ndarray,
                 obligor: np.ndarray) -> np.ndarray:
    """The entries of each accepted row's cell, blanks filled (:func:`_fill_entry`): an object array of lists.

    Rows with the same cell share one list (a tape of a million rows would otherwise hold millions of equal lists);
    treat them as read-only, copy one before changing it.
    """
    codes, uentries = parsed
    codes = codes[accepted]
    n_u = len(uentries)
    if name == "ip_type":
        return _objects([*uentries, []])[np.where(codes < 0, n_u, codes)]
    counts = count[accepted]
    # a cell's filled entries, or None when they depend on the row's obligor (ip_owner_id with blank entries)
    filled: list[Any] = []
    for e in uentries:
        if e is ERROR:
            filled.append([])
        elif not any(x is MISSING for x in e):
            filled.append(e)
        elif name == "ip_owner_id":
            filled.append(None)
        else:
            filled.append([_fill_entry(name, x, None) for x in e])
    max_count = int(counts.max(initial=0))
    for c in range(max_count + 1):  # blank cells: ``count`` default entries
        filled.append(None if name == "ip_owner_id" and c else [_fill_entry(name, MISSING, None) for _ in range(c)])
    key = np.where(codes < 0, n_u + np.maximum(counts, 0), codes)
    out = _objects(filled)[key]
    for k in np.nonzero(np.fromiter((t is None for t in filled), dtype=bool, count=len(filled))[key])[0]:
        entries = [MISSING] * int(counts[k]) if codes[k] < 0 else uentries[codes[k]]
        own = obligor[k] if isinstance(obligor[k], str) else None
        out[k] = [_fill_entry(name, e, own) for e in entries]
    return out


def _read_csv_arrow(path: Path) -> tuple[list[str], list[_Raw], np.ndarray] | None:
    """The common case of :func:`_read_csv` with pyarrow's CSV reader, each column dictionary-encoded (no Python
    object per cell, the file never held whole in Python). ``None`` when the file needs the reference reader:
    another encoding than UTF-8, NUL bytes, a header that is blank, quoted or not on the first line, a row with
    more or fewer cells than the header (reported there per row), or anything pyarrow refuses. Both readers give
    the same cells for the files this one accepts (tested)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    with path.open("rb") as fh:
        head = fh.read(1 << 16)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or any(head.startswith(m) for m, _ in _MAGIC):
            return None
        chunk = head
        while chunk:
            if b"\x00" in chunk:
                return None
            chunk = fh.read(1 << 24)
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    end = body.find(b"\n")
    if end < 0:
        return None
    first = body[:end]
    if not first.strip() or b'"' in first or b"\r" in first.rstrip(b"\r"):
        return None
    try:
        first_text = first.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return None
    delimiter = "\t" if "," not in first_text and "\t" in first_text else ","
    header = first_text.split(delimiter)
    names = [f"c{j}" for j in range(len(header))]
    try:
        table = pacsv.read_csv(
            str(path),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                             escape_char=False, newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), null_values=[],
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False,
                                                 check_utf8=True),
        )
    except (pa.ArrowException, ValueError, OSError):
        return None
    n_rows = table.num_rows
    columns = list(table.columns)
    del table
    raws = []
    for j in range(len(columns)):
        col, columns[j] = columns[j], None
        enc = pc.dictionary_encode(col.combine_chunks())  # one chunk: unifying chunk dictionaries is far slower
        del col
        codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int32)
        raws.append(_blank_out(_Raw(codes, enc.dictionary.to_numpy(zero_copy_only=False).tolist(), enc.dictionary)))
        del enc
    return header, raws, np.arange(1, n_rows + 1, dtype=np.int64)
