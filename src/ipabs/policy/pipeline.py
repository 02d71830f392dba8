"""The bureau's pipeline: planned IP ABS/ABN deals (one row per firm allocation) and planned IP-pledge loans.

One table (CSV or XLSX), one row per allocation or loan, column ``kind`` telling which. Every row is validated;
every problem is reported with file, row (1-based data row; the header is row 0) and field. By default any
problem stops the run (:class:`ipabs.errors.InputError`, CLI exit 2); with ``skip_invalid_rows`` the rows with
problems are left out and listed in :attr:`Pipeline.rejected` — never dropped silently. docs/policy.md §4 lists
the columns.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ipabs.errors import InputError, Issue
from ipabs.glossary import label
from ipabs.policy.entitlements import PledgeLoan, Securitization
from ipabs.policy.io import cell_text, file_sha256, pydantic_issues, read_table
from ipabs.policy.schema import OTHER_IP_TYPES

_TRUE = {"true", "yes", "y", "1", "t", label("yes", "zh")}
_FALSE = {"false", "no", "n", "0", "f", label("no", "zh")}


def parse_bool(v):
    """A table cell as a bool: true/false, yes/no, y/n, 1/0, t/f, or the glossary's Chinese yes/no."""
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise ValueError("expected true/false, yes/no or 1/0")
    return v


def parse_date(v):
    """A table cell as a date: YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD."""
    if isinstance(v, str):
        s = v.strip()
        for pat, fmt in ((r"^\d{4}-\d{1,2}-\d{1,2}$", "%Y-%m-%d"), (r"^\d{4}/\d{1,2}/\d{1,2}$", "%Y/%m/%d"),
                         (r"^\d{8}$", "%Y%m%d")):
            if re.match(pat, s):
                try:
                    return dt.datetime.strptime(s, fmt).date()
                except ValueError:
                    raise ValueError("not a valid calendar date") from None
        raise ValueError("expected a date YYYY-MM-DD")
    return v


def parse_list(v):
    """A ``;``-separated table cell as a list of stripped, non-empty strings."""
    if isinstance(v, str):
        return [x.strip() for x in v.split(";") if x.strip()]
    return v


def parse_amount(v):
    """An amount cell with thousands separators removed (``1,000,000.00`` → ``1000000.00``)."""
    if isinstance(v, str):
        return v.replace(",", "").strip()
    return v


Bool = Annotated[bool, BeforeValidator(parse_bool)]
Date = Annotated[dt.date, BeforeValidator(parse_date)]
Money = Annotated[Decimal, BeforeValidator(parse_amount),
                  Field(ge=0, le=Decimal(10) ** 11, decimal_places=2, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
OtherIp = Literal["trademark", "copyright", "geographic_indication", "data_ip", "trade_secret"]

KINDS = ("securitization", "pledge_loan")


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    source_row: int = Field(0, description="1-based data row in the file (set by the reader)")
    kind: Literal["securitization", "pledge_loan"]
    firm_id: str = Field(min_length=1)
    firm_name: str | None = None
    sector: str = Field("unspecified", min_length=1, description="sector: loans in one sector share a factor")
    project_id: str | None = None
    already_funded: Bool = Field(False, description="project already funded by the municipal IP special fund")
    planned_date: Date = Field(description="planned closing (deal) or drawdown (loan) date")
    amount: Annotated[Decimal, BeforeValidator(parse_amount)] = Field(
        gt=0, le=Decimal(10) ** 11, decimal_places=2, allow_inf_nan=False,
        description="planned allocation to the firm (deal) or loan amount, yuan")
    completion_probability: Probability = Field(1.0, description="probability the deal / loan happens")
    size_sd: float = Field(0.0, ge=0, le=2, allow_inf_nan=False,
                           description="relative standard deviation of the amount (lognormal, mean 1)")
    slip_probability: Probability = Field(0.0, description="probability of slipping each further calendar year")
    max_slip_years: int = Field(1, ge=0, le=5)
    note: str | None = None


class SecuritizationRow(_Row):
    """A firm's planned allocation in a planned IP ABS / ABN."""

    kind: Literal["securitization"]
    deal_id: str = Field(min_length=1)
    issuer_id: str | None = Field(None, description="the product's issuer (issuer-mode policies)")
    deal_size: Money | None = Field(None, description="planned issuance of the product (default: sum of rows)")
    in_pool: Bool = True
    deal_already_funded: Bool = Field(
        False, description="the product itself was already funded (issuer-mode policies); same on every row")


class PledgeLoanRow(_Row):
    """A planned IP-pledge loan."""

    kind: Literal["pledge_loan"]
    loan_id: str = Field(min_length=1)
    term_months: int = Field(ge=1, le=120)
    cnipa_pledge_registered: Bool
    invention_patents: int = Field(0, ge=0, le=1000, description="pledged invention patents registered with CNIPA")
    other_ip_types: Annotated[list[OtherIp], BeforeValidator(parse_list)] = Field(default_factory=list)
    pd: float = Field(ge=0, lt=1, allow_inf_nan=False, description="the firm's annual default probability")
    rate: Decimal | None = Field(None, ge=0, le=Decimal("0.36"), decimal_places=6, allow_inf_nan=False)
    lpr: Decimal | None = Field(None, ge=0, le=1, decimal_places=6, allow_inf_nan=False)


_SEC_FIELDS = set(SecuritizationRow.model_fields) - {"source_row"}
_LOAN_FIELDS = set(PledgeLoanRow.model_fields) - {"source_row"}
COLUMNS = sorted(_SEC_FIELDS | _LOAN_FIELDS)
#: Deal-level columns: every row of one deal must agree.
DEAL_FIELDS = ("planned_date", "completion_probability", "size_sd", "slip_probability", "max_slip_years",
               "issuer_id", "deal_size", "deal_already_funded")
#: Firm-level columns of pledge rows: every loan of one firm must agree (the firm is the obligor).
FIRM_FIELDS = ("pd", "sector")


@dataclass(frozen=True)
class Pipeline:
    """A validated pipeline."""

    source: str
    securitizations: tuple[SecuritizationRow, ...]
    loans: tuple[PledgeLoanRow, ...]
    rejected: tuple[Issue, ...] = ()
    fingerprint: str = ""
    firm_names: dict[str, str] = field(default_factory=dict)

    @property
    def deal_ids(self) -> list[str]:
        return list(dict.fromkeys(r.deal_id for r in self.securitizations))

    @property
    def firm_ids(self) -> list[str]:
        return list(dict.fromkeys([r.firm_id for r in self.securitizations] + [r.firm_id for r in self.loans]))

    def planned_financings(self) -> tuple[list[Securitization], list[PledgeLoan]]:
        """Everything as planned: every deal and loan happens on its planned date at its planned size, and every
        loan is settled at maturity."""
        secs = [
            Securitization(r.firm_id, r.deal_id, r.planned_date.year, r.amount, r.issuer_id, r.deal_size,
                           r.in_pool, r.already_funded, r.deal_already_funded)
            for r in self.securitizations
        ]
        loans = [
            PledgeLoan(r.loan_id, r.firm_id, r.amount, r.planned_date, r.term_months, r.cnipa_pledge_registered,
                       r.invention_patents, tuple(r.other_ip_types), "settled", None, None, r.rate, r.lpr, None,
                       r.already_funded)
            for r in self.loans
        ]
        return secs, loans


def _validate_rows(rows: list[dict[str, str]], file: str, table: str | None) -> tuple[list, list[Issue]]:
    good, issues = [], []
    for i, raw in enumerate(rows, start=1):
        vals = {k: v for k, v in raw.items() if v != "" and not k.startswith("x_")}
        kind = vals.get("kind", "")
        if kind not in KINDS:
            msg = "missing" if not kind else f"'{kind}' is not one of {', '.join(KINDS)}"
            issues.append(Issue(f"kind: {msg}", file=file, table=table, row=i, field="kind"))
            continue
        model, allowed = (SecuritizationRow, _SEC_FIELDS) if kind == "securitization" else (PledgeLoanRow,
                                                                                              _LOAN_FIELDS)
        row_issues = []
        for k in list(vals):
            if k not in allowed:
                if k in COLUMNS:
                    row_issues.append(Issue(f"column '{k}' is not used by {kind} rows (leave it blank)",
                                            file=file, table=table, row=i, field=k))
                vals.pop(k)
        try:
            good_row = model.model_validate({**vals, "source_row": i})
        except ValidationError as e:
            row_issues.extend(pydantic_issues(e, file=file, table_prefix=table or "", row=i))
            good_row = None
        if row_issues:
            issues.extend(row_issues)
        else:
            good.append(good_row)
    return good, issues


def _cross_checks(rows: list, file: str, table: str | None) -> list[Issue]:
    issues: list[Issue] = []
    seen_loan: dict[str, int] = {}
    seen_alloc: dict[tuple[str, str], int] = {}
    first_deal: dict[str, SecuritizationRow] = {}
    first_firm: dict[str, PledgeLoanRow] = {}
    names: dict[str, tuple[str, int]] = {}
    for r in rows:
        if r.firm_name:
            if r.firm_id in names and names[r.firm_id][0] != r.firm_name:
                issues.append(Issue(f"firm '{r.firm_id}' is named '{names[r.firm_id][0]}' in row "
                                    f"{names[r.firm_id][1]}", file=file, table=table, row=r.source_row,
                                    field="firm_name"))
            names.setdefault(r.firm_id, (r.firm_name, r.source_row))
        if isinstance(r, SecuritizationRow):
            key = (r.deal_id, r.firm_id)
            if key in seen_alloc:
                issues.append(Issue(f"firm '{r.firm_id}' already has an allocation in deal '{r.deal_id}' (row "
                                    f"{seen_alloc[key]})", file=file, table=table, row=r.source_row,
                                    field="firm_id"))
            seen_alloc.setdefault(key, r.source_row)
            f0 = first_deal.setdefault(r.deal_id, r)
            for fld in DEAL_FIELDS:
                if getattr(r, fld) != getattr(f0, fld):
                    issues.append(Issue(f"deal '{r.deal_id}' has {fld} = {getattr(f0, fld)} in row {f0.source_row} "
                                        f"but {getattr(r, fld)} here; every row of a deal must agree", file=file,
                                        table=table, row=r.source_row, field=fld))
        else:
            if r.loan_id in seen_loan:
                issues.append(Issue(f"duplicate loan_id '{r.loan_id}' (first in row {seen_loan[r.loan_id]})",
                                    file=file, table=table, row=r.source_row, field="loan_id"))
            seen_loan.setdefault(r.loan_id, r.source_row)
            f0 = first_firm.setdefault(r.firm_id, r)
            for fld in FIRM_FIELDS:
                if getattr(r, fld) != getattr(f0, fld):
                    issues.append(Issue(f"firm '{r.firm_id}' has {fld} = {getattr(f0, fld)} in row {f0.source_row} "
                                        f"but {getattr(r, fld)} here; a firm has one {fld}", file=file,
                                        table=table, row=r.source_row, field=fld))
    return issues


def pipeline_from_rows(rows: list[dict[str, str]], *, source: str = "<pipeline>", header: list[str] | None = None,
                       table: str | None = None, skip_invalid_rows: bool = False,
                       fingerprint: str = "") -> Pipeline:
    """Validate raw rows (dicts of strings, '' for blank); see :func:`read_pipeline`."""
    issues: list[Issue] = []
    header = header if header is not None else list(dict.fromkeys(k for r in rows for k in r))
    for h in header:
        if h and h not in COLUMNS and not h.startswith("x_") and not h.startswith("note"):
            issues.append(Issue(f"unknown column '{h}' (known: {', '.join(COLUMNS)}; prefix extras with x_)",
                                file=source, table=table, row=0, field=h))
    if "kind" not in header:
        issues.append(Issue("missing column 'kind'", file=source, table=table, row=0, field="kind"))
    if issues:
        raise InputError(issues, title="invalid pipeline")
    rows = [{k: v for k, v in r.items() if not k.startswith("note") or k == "note"} for r in rows]
    good, row_issues = _validate_rows(rows, source, table)
    cross = _cross_checks(good, source, table)
    all_issues = row_issues + cross
    if not good and not all_issues:
        all_issues.append(Issue("the pipeline has no rows", file=source, table=table))
    if all_issues and not skip_invalid_rows:
        raise InputError(all_issues, title="invalid pipeline")
    bad_rows = {i.row for i in all_issues}
    kept = [r for r in good if r.source_row not in bad_rows]
    if not kept:
        raise InputError(all_issues or [Issue("no valid rows", file=source)], title="invalid pipeline")
    names = {}
    for r in kept:
        if r.firm_name:
            names.setdefault(r.firm_id, r.firm_name)
    return Pipeline(
        source=source,
        securitizations=tuple(r for r in kept if isinstance(r, SecuritizationRow)),
        loans=tuple(r for r in kept if isinstance(r, PledgeLoanRow)),
        rejected=tuple(all_issues),
        fingerprint=fingerprint,
        firm_names=names,
    )


def read_pipeline(path: str | os.PathLike, *, sheet: str | None = None, skip_invalid_rows: bool = False) -> Pipeline:
    """Read and validate a pipeline file (CSV or XLSX).

    Parameters
    ----------
    path : path-like
    sheet : str, optional
        XLSX sheet (default: the first).
    skip_invalid_rows : bool
        Leave out rows with problems (listed in ``Pipeline.rejected``) instead of failing.

    Raises
    ------
    InputError
        Listing every problem with file, row and field.
    """
    header, rows = read_table(path, sheet=sheet)
    return pipeline_from_rows(rows, source=str(path), header=header, table=sheet,
                              skip_invalid_rows=skip_invalid_rows, fingerprint=file_sha256(path))


def pipeline_from_frame(df, *, source: str = "<frame>", skip_invalid_rows: bool = False) -> Pipeline:
    """Validate a pandas DataFrame laid out like the pipeline file (the UI's editable table)."""
    header = [str(c) for c in df.columns]
    rows = [{h: ("" if v is None or (isinstance(v, float) and v != v) else cell_text(v)) for h, v in zip(header, rec,
                                                                                                     strict=True)}
            for rec in df.itertuples(index=False, name=None)]
    return pipeline_from_rows(rows, source=source, header=header, skip_invalid_rows=skip_invalid_rows)


__all__ = ["Pipeline", "SecuritizationRow", "PledgeLoanRow", "read_pipeline", "pipeline_from_rows",
           "pipeline_from_frame", "OTHER_IP_TYPES", "COLUMNS"]
