"""Period reports as input: the servicer's asset-level report and the trustee's deal-level report.

Both are read like pool tapes (:mod:`ipabs.scenario.tape`, whose file readers are reused): CSV in UTF-8, UTF-8 with
BOM or GBK/GB18030, XLSX or Parquet; headers are canonical English names or their glossary Chinese labels; every
problem of every row is reported with file, row and field, and a rejected row is listed, never dropped silently.
The columns are documented in docs/surveillance.md §1.

* :func:`read_servicer_report` — one row per asset as of one report date (资产服务机构报告).
* :func:`read_trustee_report` — one row per reported item (受托机构报告), long format: ``item``, ``name``,
  ``value`` (e.g. ``tranche_balance_end, 优先A, 152000000.00``).

A report file holds one report date. Cross-checks against a deal (unknown assets, tape assets missing from the
report, unknown tranche or account names) are in :func:`check_against_deal`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ipabs.errors import InputError, Issue, TapeError
from ipabs.glossary import TERMS

# The tape module's file readers and cell parsers (one reading convention for every tabular input).
from ipabs.scenario.tape import (
    _amount,
    _Bad,
    _check_file,
    _date,
    _enum,
    _header_text,
    _is_blank,
    _norm_header,
    _number,
    _read_csv,
    _read_parquet,
    _read_xlsx,
    _split,
    _text,
)

STATUSES = ("performing", "overdue", "defaulted", "prepaid", "repurchased", "written_off")
DISPOSAL_STATUSES = ("not_started", "appraised", "listed", "auctioned", "sold", "via_court")
IP_EVENTS = ("annual_fee_unpaid", "invalidation_request", "licence_terminated", "pledge_released", "ip_expired")
FIRM_EVENTS = ("litigation", "enforcement", "tax_arrears", "rating_downgrade", "guarantor_change")
DEAL_STATES = ("normal", "accelerated", "post_default")

#: Trustee report items: item → whether it names a tranche / fee / account / support / trigger (or nothing).
TRUSTEE_ITEMS: dict[str, str | None] = {
    "collections_interest": None,
    "collections_principal": None,
    "collections_recoveries": None,
    "pool_balance_end": None,
    "cumulative_defaults": None,
    "deal_state": None,
    "tranche_balance_start": "tranche",
    "tranche_interest_paid": "tranche",
    "tranche_principal_paid": "tranche",
    "tranche_residual_paid": "tranche",
    "tranche_interest_shortfall": "tranche",
    "tranche_balance_end": "tranche",
    "fee_paid": "fee",
    "fee_unpaid": "fee",
    "account_balance_start": "account",
    "account_balance_end": "account",
    "support_drawn": "support",
    "support_drawn_to_date": "support",
    "trigger_value": "trigger",
}


class ReportError(InputError):
    """A period report cannot be used (unreadable, wrong columns, mixed dates, rows rejected where none may be)."""

    def __init__(self, issues: Any, *, title: str = "invalid period report"):
        super().__init__(issues, title=title)


def _zh(key: str) -> str:
    return TERMS[key][0]


def _dpd(v: Any) -> int:
    x = _number(v, percent_ok=False)
    if not math.isfinite(x) or not float(x).is_integer():
        raise _Bad(f"is not a whole number of days ({x})")
    if x < 0:
        raise _Bad(f"is negative ({x:g})")
    if x > 36_500:
        raise _Bad(f"is absurd ({x:g} days)")
    return int(x)


def _period_no(v: Any) -> int:
    x = _number(v, percent_ok=False)
    if not math.isfinite(x) or not float(x).is_integer() or x < 1:
        raise _Bad(f"is not a period number ≥ 1 ({_text(v)})")
    return int(x)


def _prefixed_enum(field_: str, vocab: tuple[str, ...], prefix: str) -> Callable[[Any], str]:
    """An enum whose glossary keys carry a prefix (``disposal_sold`` ↔ value ``sold``)."""
    syn = {_zh(prefix + v): v for v in vocab if prefix + v in TERMS}
    return _enum(field_, vocab, syn)


_STATUS = _enum("status", STATUSES, {"written-off": "written_off", "default": "defaulted"})
_DISPOSAL = _prefixed_enum("disposal_status", DISPOSAL_STATUSES, "disposal_")
_IP_EVENT = _enum("ip_events", IP_EVENTS, {"expiry": "ip_expired", "expired": "ip_expired"})
_FIRM_EVENT = _enum("firm_events", FIRM_EVENTS)
_DEAL_STATE = _enum("deal_state", DEAL_STATES)
_ITEM = _enum("item", tuple(TRUSTEE_ITEMS))


def _event_list(parse: Callable[[Any], str]) -> Callable[[Any], tuple[str, ...]]:
    def p(v: Any) -> tuple[str, ...]:
        return tuple(dict.fromkeys(parse(x) for x in _split(v) if not _is_blank(x)))

    return p


@dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[Any], Any]
    required: bool = False
    default: Any = None


SERVICER_COLUMNS: tuple[Column, ...] = (
    Column("report_date", _date, True),
    Column("asset_id", _text, True),
    Column("obligor_id", _text),
    Column("outstanding_principal", _amount, True),
    Column("scheduled_collections", _amount),
    Column("interest_collected", _amount, True),
    Column("principal_collected", _amount, True),
    Column("actual_collections", _amount),
    Column("days_past_due", _dpd, True),
    Column("status", _STATUS, True),
    Column("recoveries_received", _amount, default=0.0),
    Column("recoveries_to_date", _amount, default=0.0),
    Column("default_date", _date),
    Column("default_balance", _amount),
    Column("expected_recovery", _amount),
    Column("disposal_status", _DISPOSAL),
    Column("ip_events", _event_list(_IP_EVENT), default=()),
    Column("firm_events", _event_list(_FIRM_EVENT), default=()),
    Column("collateral_value", _amount),
)

TRUSTEE_COLUMNS: tuple[Column, ...] = (
    Column("report_date", _date, True),
    Column("period", _period_no, True),
    Column("item", _ITEM, True),
    Column("name", _text, default=""),
    Column("value", lambda v: v, True),
)

#: Chinese headers accepted beside the canonical names (glossary labels, plus the trustee report's three).
_ZH_HEADERS = {_norm_header(TERMS[c.name][0]): c.name for c in SERVICER_COLUMNS if c.name in TERMS}
_ZH_HEADERS.update({_norm_header(TERMS[k][0]): k for k in ("asset_id", "obligor_id", "period", "name")})
_ZH_HEADERS[_norm_header(TERMS["asset_status"][0])] = "status"


@dataclass(frozen=True, eq=False)
class ReportResult:
    """A validated period report: accepted rows, every rejected row's problems, and the report date."""

    kind: str  # "servicer" or "trustee"
    rows: pd.DataFrame
    rejected: list[Issue]
    n_rows: int
    file: str
    report_date: dt.date | None
    period: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n_rejected_rows(self) -> int:
        return len({i.row for i in self.rejected})

    def raise_if_rejected(self) -> None:
        if self.rejected:
            raise ReportError(self.rejected, title=f"{self.kind} report {self.file}: "
                                                   f"{self.n_rejected_rows} row(s) rejected")


def _cells(col: Any) -> list[Any]:
    """A column as a list of cells: the tape reader gives Parquet text columns dictionary-encoded (``codes`` into
    ``uniques``, -1 = blank)."""
    if isinstance(col, list):
        return col
    uniques = col.uniques
    return [uniques[k] if k >= 0 else None for k in col.codes.tolist()]


def _read_raw(path: str | Path, sheet: str | None) -> tuple[list[str], list[list[Any]], list[int], dict]:
    file = str(path)
    p = Path(path)
    try:
        kind = _check_file(p, file, sheet)
        if kind == "csv":
            return _read_csv(p.read_bytes(), file)
        if kind == "xlsx":
            h, c, r, _ = _read_xlsx(p, sheet, file)
            return h, c, r, {}
        h, c, r = _read_parquet(p, file)
        return h, [_cells(col) for col in c], r, {}
    except TapeError as e:  # same problems, named as a report's
        raise ReportError(e.issues) from None


def _frame_raw(df: pd.DataFrame) -> tuple[list[str], list[list[Any]], list[int], dict]:
    return ([_header_text(c) for c in df.columns], [df.iloc[:, j].tolist() for j in range(df.shape[1])],
            list(range(1, len(df) + 1)), {})


def _parse(kind: str, spec: tuple[Column, ...], raw: tuple[list[str], list[list[Any]], list[int], dict],
           file: str) -> tuple[pd.DataFrame, list[Issue], int, list[int]]:
    header, columns, row_numbers, pre = raw
    names = {c.name for c in spec}
    index: dict[str, int] = {}
    problems: list[Issue] = []
    for j, h in enumerate(header):
        key = _norm_header(h)
        key = key if key in names else _ZH_HEADERS.get(key, key)
        if key.startswith(("x_", "note")) or not h.strip():
            continue
        if key not in names:
            problems.append(Issue(f"unknown column '{h}' (documented columns: {', '.join(c.name for c in spec)}; "
                                  "prefix a column with x_ to keep it as an extra)", file=file, field=h))
        elif key in index:
            problems.append(Issue(f"duplicate column '{h}'", file=file, field=h))
        else:
            index[key] = j
    missing = [c.name for c in spec if c.required and c.name not in index]
    if missing:
        problems.append(Issue(f"missing required column(s): {', '.join(missing)}", file=file))
    if problems:
        raise ReportError(problems, title=f"invalid {kind} report")
    out: dict[str, list[Any]] = {c.name: [] for c in spec}
    out["source_row"] = []
    rejected: list[Issue] = []
    kept: list[int] = []
    n = 0
    for i, rn in enumerate(row_numbers):
        cells = {c: columns[j][i] for c, j in index.items()}
        if all(_is_blank(v) for v in cells.values()):
            continue
        n += 1
        row_issues = list(pre.get(rn, []))
        vals: dict[str, Any] = {}
        for c in spec:
            v = cells.get(c.name)
            if v is None or _is_blank(v):
                if c.required:
                    row_issues.append(Issue("is blank (required)", file=file, row=rn, field=c.name))
                vals[c.name] = c.default
                continue
            try:
                vals[c.name] = c.parse(v)
            except _Bad as e:
                row_issues.append(Issue(str(e), file=file, row=rn, field=c.name))
                vals[c.name] = None
        if row_issues:
            rejected.extend(row_issues)
            continue
        kept.append(rn)
        for c in spec:
            out[c.name].append(vals[c.name])
        out["source_row"].append(rn)
    return pd.DataFrame(out), rejected, n, kept


def _one_date(df: pd.DataFrame, file: str, kind: str) -> dt.date | None:
    dates = sorted(set(df["report_date"]))
    if len(dates) > 1:
        raise ReportError([Issue(f"a report file holds one report date; this one has {len(dates)}: "
                                 f"{', '.join(d.isoformat() for d in dates)} (split it into one file per date)",
                                 file=file, field="report_date")], title=f"invalid {kind} report")
    return dates[0] if dates else None


def _check_servicer_rows(df: pd.DataFrame, file: str) -> tuple[pd.DataFrame, list[Issue]]:
    """Row-level consistency (status vs days past due, dates in order, …); returns kept rows and new issues."""
    bad: list[Issue] = []
    drop: set[int] = set()
    seen: dict[str, int] = {}
    for r in df.itertuples(index=False):
        rn = r.source_row

        def rej(msg: str, fld: str, rn: int = rn) -> None:
            bad.append(Issue(msg, file=file, row=rn, field=fld))
            drop.add(rn)

        if r.asset_id in seen:
            rej(f"duplicate asset '{r.asset_id}' (first on row {seen[r.asset_id]})", "asset_id")
        else:
            seen[r.asset_id] = rn
        if r.status == "performing" and r.days_past_due > 0:
            rej(f"status performing with {r.days_past_due} days past due (use overdue)", "status")
        if r.status == "overdue" and r.days_past_due == 0:
            rej("status overdue with 0 days past due", "days_past_due")
        if r.status in ("prepaid", "repurchased") and r.outstanding_principal > 0.005:
            rej(f"status {r.status} with outstanding principal {r.outstanding_principal:,.2f}", "outstanding_principal")
        if r.status == "defaulted":
            if r.default_date is None:
                rej("a defaulted asset needs default_date", "default_date")
            if r.default_balance is None:
                rej("a defaulted asset needs default_balance", "default_balance")
        elif r.default_date is not None:
            rej(f"default_date given for a {r.status} asset", "default_date")
        if r.default_date is not None and r.default_date > r.report_date:
            rej(f"default_date {r.default_date} is after the report date {r.report_date} (dates out of order)",
                "default_date")
        if r.recoveries_received > r.recoveries_to_date + 0.005:
            rej(f"recoveries_received {r.recoveries_received:,.2f} exceed recoveries_to_date "
                f"{r.recoveries_to_date:,.2f}", "recoveries_to_date")
        if r.actual_collections is not None and not math.isclose(
                round(r.actual_collections, 2), round(r.interest_collected + r.principal_collected, 2), abs_tol=0.005):
            rej(f"actual_collections {r.actual_collections:,.2f} ≠ interest_collected + principal_collected "
                f"{r.interest_collected + r.principal_collected:,.2f}", "actual_collections")
    return df[~df["source_row"].isin(drop)].reset_index(drop=True), bad


def read_servicer_report(path: str | Path | pd.DataFrame, *, sheet: str | None = None,
                         file: str | None = None) -> ReportResult:
    """Read and validate a servicer (asset-level) report; rejected rows are returned in ``rejected``.

    Raises :class:`ReportError` when the file cannot be used at all (unreadable, undecodable, unknown or missing
    columns, more than one report date).
    """
    name = file or ("<frame>" if isinstance(path, pd.DataFrame) else str(path))
    raw = _frame_raw(path) if isinstance(path, pd.DataFrame) else _read_raw(path, sheet)
    df, rejected, n, _ = _parse("servicer", SERVICER_COLUMNS, raw, name)
    date = _one_date(df, name, "servicer")
    df, more = _check_servicer_rows(df, name)
    rejected = sorted(rejected + more, key=lambda i: (i.row or 0))
    return ReportResult("servicer", df, rejected, n, name, date)


def read_trustee_report(path: str | Path | pd.DataFrame, *, sheet: str | None = None,
                        file: str | None = None) -> ReportResult:
    """Read and validate a trustee (deal-level) report in long format (``report_date, period, item, name, value``)."""
    name = file or ("<frame>" if isinstance(path, pd.DataFrame) else str(path))
    raw = _frame_raw(path) if isinstance(path, pd.DataFrame) else _read_raw(path, sheet)
    df, rejected, n, _ = _parse("trustee", TRUSTEE_COLUMNS, raw, name)
    date = _one_date(df, name, "trustee")
    periods = sorted(set(df["period"]))
    if len(periods) > 1:
        raise ReportError([Issue(f"a trustee report holds one period; this one has {periods}", file=name,
                                 field="period")], title="invalid trustee report")
    bad: list[Issue] = []
    drop: set[int] = set()
    seen: dict[tuple[str, str], int] = {}
    values: list[Any] = []
    for r in df.itertuples(index=False):
        rn = r.source_row
        what = TRUSTEE_ITEMS[r.item]
        v: Any = None
        fld = "name"
        try:
            if what is None and r.name:
                raise _Bad(f"item '{r.item}' takes no name (got '{r.name}')")
            if what is not None and not r.name:
                raise _Bad(f"item '{r.item}' needs the {what}'s name")
            key = (r.item, r.name)
            if key in seen:
                raise _Bad(f"duplicate item '{r.item}' '{r.name}' (first on row {seen[key]})")
            seen[key] = rn
            fld = "value"
            if r.item == "deal_state":
                v = _DEAL_STATE(r.value)
            elif r.item == "trigger_value":
                v = _number(r.value, percent_ok=True)
                if not math.isfinite(v):
                    raise _Bad(f"is not finite ({v})")
            else:
                v = _amount(r.value)
        except _Bad as e:
            bad.append(Issue(str(e), file=name, row=rn, field=fld))
            drop.add(rn)
        values.append(v)
    df = df.assign(value=values)
    df = df[~df["source_row"].isin(drop)].reset_index(drop=True)
    rejected = sorted(rejected + bad, key=lambda i: (i.row or 0))
    return ReportResult("trustee", df, rejected, n, name, date, periods[0] if periods else None)


@dataclass(frozen=True)
class TrusteeView:
    """A trustee report as lookups: ``get(item, name)`` → value (None when not reported)."""

    report: ReportResult

    def get(self, item: str, name: str = "", default: Any = None) -> Any:
        df = self.report.rows
        m = df[(df["item"] == item) & (df["name"] == name)]
        return default if m.empty else m["value"].iloc[0]

    def named(self, item: str) -> dict[str, Any]:
        df = self.report.rows
        m = df[df["item"] == item]
        return dict(zip(m["name"], m["value"], strict=True))


def check_against_deal(servicer: ReportResult, trustee: ReportResult | None, *, asset_ids: tuple[str, ...],
                       asset_obligors: dict[str, str], names: dict[str, tuple[str, ...]],
                       as_of: dt.date | None = None) -> list[Issue]:
    """Problems between the reports and the deal: unknown assets (row issues), tape assets missing from the report,
    an obligor that disagrees with the tape, unknown tranche/fee/account/support/trigger names, report dates that
    differ from each other or follow ``as_of``."""
    issues: list[Issue] = []
    f = servicer.file
    known = set(asset_ids)
    for r in servicer.rows.itertuples(index=False):
        if r.asset_id not in known:
            issues.append(Issue(f"unknown asset '{r.asset_id}': not on the deal's pool tape", file=f, row=r.source_row,
                                field="asset_id"))
        elif r.obligor_id and asset_obligors.get(r.asset_id) not in (None, r.obligor_id):
            issues.append(Issue(f"obligor '{r.obligor_id}' differs from the tape's '{asset_obligors[r.asset_id]}'",
                                file=f, row=r.source_row, field="obligor_id"))
    reported = set(servicer.rows["asset_id"])
    rejected_rows = {i.row for i in servicer.rejected}
    missing = [a for a in asset_ids if a not in reported]
    if missing and not rejected_rows:
        issues.append(Issue(f"{len(missing)} asset(s) of the pool tape are missing from the report: "
                            f"{', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}", file=f, field="asset_id"))
    if as_of is not None and servicer.report_date is not None and servicer.report_date > as_of:
        issues.append(Issue(f"report date {servicer.report_date} is after the as-of date {as_of} (dates out of order)",
                            file=f, field="report_date"))
    if trustee is not None:
        if trustee.report_date != servicer.report_date:
            issues.append(Issue(f"trustee report date {trustee.report_date} ≠ servicer report date "
                                f"{servicer.report_date}", file=trustee.file, field="report_date"))
        for r in trustee.rows.itertuples(index=False):
            what = TRUSTEE_ITEMS[r.item]
            plural = {"tranche": "tranches", "fee": "fees", "account": "accounts", "support": "supports",
                      "trigger": "triggers"}.get(what or "")
            if plural and r.name not in names[plural]:
                issues.append(Issue(f"unknown {what} '{r.name}' (the deal's: {', '.join(names[plural])})",
                                    file=trustee.file, row=r.source_row, field="name"))
        view = TrusteeView(trustee)
        for item, plural in (("tranche_balance_end", "tranches"), ("account_balance_end", "accounts")):
            have = view.named(item)
            gone = [n for n in names[plural] if n not in have]
            if gone:
                issues.append(Issue(f"'{item}' is not reported for {', '.join(gone)}", file=trustee.file, field=item))
    return issues
