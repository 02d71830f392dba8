"""Evaluation of a pool tape against a criteria set: a reason for every failure, in Chinese and English.

:func:`evaluate_pool` checks every asset (one tape row and its IP rights) and every firm (the obligor, from its
rows), then the concentration limits of three pools: the whole tape, the eligible assets and the best eligible
pool (:func:`best_pool`). Results are frozen objects; ``*_frame(lang)`` methods build DataFrames for display.

Conventions (docs/eligibility.md):

- the pool balance is the sum of ``principal`` of the pool's assets;
- an asset is eligible when it passes every asset criterion and its firm passes every firm criterion;
- a firm whose rows disagree (two counties, ratings, flags) is judged on its worst row, and the disagreement is
  noted;
- boundaries pass: a value equal to its limit meets it (LTV of exactly 30.0%, a share of exactly 15.0%);
- an IP right is in force on the evaluation date ``as_of`` when its expiry date is after that date.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ipabs.eligibility import formatting as fmt
from ipabs.eligibility.criteria import Criteria, Criterion, ShareLimit, TopObligorsLimit, default_criteria
from ipabs.eligibility.selection import REL_TOL, PoolLimitSpec, Selection, select_pool
from ipabs.errors import InputError, Issue
from ipabs.glossary import TERMS, label

LANGS = ("zh", "en")
#: Pools whose limits the report checks.
POOLS = ("tape", "eligible", "best")

# --- records -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IpRight:
    """One IP right behind an asset (one entry of the tape's ``ip_*`` lists)."""

    index: int
    ip_type: str | None
    registration_no: str | None
    expiry_date: dt.date | None
    appraised_value: float | None
    valuation: str
    owner_id: str | None
    prior_pledge: bool

    def describe(self, lang: str) -> str:
        return fmt.ip_right(self.ip_type, self.registration_no, self.index, lang)


@dataclass(frozen=True)
class AssetRecord:
    """One tape row, normalized (missing optional columns take the tape-format defaults)."""

    asset_id: str
    obligor_id: str
    obligor_name: str
    industry: str | None
    county: str | None
    asset_type: str | None
    principal: float
    start_date: dt.date | None
    maturity_date: dt.date | None
    rating: str | None
    whitelisted: bool
    overdue_history: bool
    blacklisted: bool
    cnipa_pledge_registered: bool
    source_row: int | None
    ips: tuple[IpRight, ...]


def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    try:
        return bool(pd.isna(v)) if not isinstance(v, list | tuple | np.ndarray) else False
    except (TypeError, ValueError):
        return False


def _text(v: Any) -> str | None:
    if _missing(v):
        return None
    s = str(v).strip()
    return s or None


_TRUE = {"true", "t", "yes", "y", "1", TERMS["yes"][0]}
_FALSE = {"false", "f", "no", "n", "0", "", TERMS["no"][0]}


def _bool(v: Any, default: bool = False) -> bool:
    if _missing(v):
        return default
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | float | np.integer | np.floating):
        return bool(v)
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(f"not a boolean: {v!r}")


def _date(v: Any) -> dt.date | None:
    if _missing(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, np.datetime64):
        return pd.Timestamp(v).date()
    s = str(v).strip().replace("/", "-")
    if len(s) == 8 and s.isdigit():
        s = f"{s[:4]}-{s[4:6]}-{s[6:]}"
    return dt.date.fromisoformat(s)


def _float(v: Any) -> float | None:
    if _missing(v):
        return None
    if isinstance(v, str):
        v = v.replace(",", "").strip()
        if not v:
            return None
    return float(v)


def _as_list(v: Any) -> list[Any]:
    if isinstance(v, list | tuple):
        return list(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if _missing(v):
        return []
    if isinstance(v, str):
        return [p.strip() for p in v.split(";")]
    return [v]


def _pick(values: list[Any], i: int) -> Any:
    return values[i] if i < len(values) else None


def records_from_frame(frame: pd.DataFrame, *, file: str | None = None) -> list[AssetRecord]:
    """Normalize a tape DataFrame (canonical columns; ``ip_*`` as lists or ``;`` strings) into records.

    Raises
    ------
    InputError
        Missing required columns or values that cannot be read, every one listed.
    """
    required = ("asset_id", "obligor_id", "principal")
    issues = [Issue("required column is missing", file=file, field=c) for c in required if c not in frame.columns]
    if issues:
        raise InputError(issues, title="invalid pool tape")
    records: list[AssetRecord] = []
    seen: set[str] = set()
    for pos, row in enumerate(frame.to_dict(orient="records")):
        src = row.get("source_row")
        src_row = int(src) if not _missing(src) else pos + 1
        try:
            rec = _record(row, src_row)
        except (TypeError, ValueError) as e:
            issues.append(Issue(f"cannot read the row: {e}", file=file, row=src_row))
            continue
        if rec.asset_id in seen:
            issues.append(Issue(f"duplicate asset_id {rec.asset_id!r}", file=file, row=src_row, field="asset_id"))
            continue
        seen.add(rec.asset_id)
        records.append(rec)
    if issues:
        raise InputError(issues, title="invalid pool tape")
    return records


def _record(row: Mapping[str, Any], src_row: int) -> AssetRecord:
    asset_id = _text(row.get("asset_id"))
    obligor_id = _text(row.get("obligor_id"))
    if asset_id is None or obligor_id is None:
        raise ValueError("asset_id and obligor_id are required")
    principal = _float(row.get("principal"))
    if principal is None or not principal > 0 or not math.isfinite(principal):
        raise ValueError(f"principal must be a positive amount, got {row.get('principal')!r}")
    types = _as_list(row.get("ip_type"))
    regs = _as_list(row.get("ip_registration_no"))
    exps = _as_list(row.get("ip_expiry_date"))
    vals = _as_list(row.get("ip_appraised_value"))
    vmeth = _as_list(row.get("ip_valuation"))
    owners = _as_list(row.get("ip_owner_id"))
    pledges = _as_list(row.get("ip_prior_pledge"))
    n_ip = len(types) or max(len(regs), len(exps), len(vals), 0)
    ips = tuple(
        IpRight(
            index=i,
            ip_type=_text(_pick(types, i)),
            registration_no=_text(_pick(regs, i)),
            expiry_date=_date(_pick(exps, i)),
            appraised_value=_float(_pick(vals, i)),
            valuation=(_text(_pick(vmeth, i)) or "external").lower(),
            owner_id=_text(_pick(owners, i)) or obligor_id,
            prior_pledge=_bool(_pick(pledges, i)),
        )
        for i in range(n_ip)
    )
    return AssetRecord(
        asset_id=asset_id,
        obligor_id=obligor_id,
        obligor_name=_text(row.get("obligor_name")) or obligor_id,
        industry=_text(row.get("industry")),
        county=_text(row.get("county")),
        asset_type=_text(row.get("asset_type")),
        principal=principal,
        start_date=_date(row.get("start_date")),
        maturity_date=_date(row.get("maturity_date")),
        rating=_text(row.get("rating")),
        whitelisted=_bool(row.get("whitelisted")),
        overdue_history=_bool(row.get("overdue_history")),
        blacklisted=_bool(row.get("blacklisted")),
        cnipa_pledge_registered=_bool(row.get("cnipa_pledge_registered")),
        source_row=src_row,
        ips=ips,
    )


# --- dates -------------------------------------------------------------------------------------------------------


def add_months(d: dt.date, n: int) -> dt.date:
    """``d`` plus ``n`` calendar months, the day clamped to the month's end (2026-01-31 + 1 → 2026-02-28)."""
    y, m = divmod(d.month - 1 + n, 12)
    year, month = d.year + y, m + 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(d.day, last))


def months_between(start: dt.date, end: dt.date) -> float:
    """Calendar months from ``start`` to ``end``: whole months plus the fraction of the next one."""
    whole = (end.year - start.year) * 12 + end.month - start.month
    while whole > 0 and add_months(start, whole) > end:
        whole -= 1
    while add_months(start, whole + 1) <= end:
        whole += 1
    a, b = add_months(start, whole), add_months(start, whole + 1)
    return whole + (end - a).days / max((b - a).days, 1)


# --- failures ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """One failed criterion: what was observed, the limit, and the reason in both languages."""

    level: str  # "asset" | "firm"
    criterion: str
    subject: str  # asset_id or obligor_id
    label_zh: str
    label_en: str
    source: str
    observed: Any
    limit: Any
    observed_zh: str
    observed_en: str
    limit_zh: str
    limit_en: str
    message_zh: str
    message_en: str
    ip_index: int | None = None
    source_zh: str | None = None  # the source as Chinese users read it (criteria's source_zh)

    def message(self, lang: str = "en") -> str:
        return self.message_zh if lang == "zh" else self.message_en

    def label(self, lang: str = "en") -> str:
        return self.label_zh if lang == "zh" else self.label_en

    def as_row(self, lang: str) -> dict[str, Any]:
        return {
            "criteria_level": label(f"level_{self.level}", lang),
            "subject": self.subject,
            "criterion_id": self.criterion,
            "criterion": self.label(lang),
            "observed": self.observed_zh if lang == "zh" else self.observed_en,
            "limit": self.limit_zh if lang == "zh" else self.limit_en,
            "reasons": self.message(lang),
            "source_clause": fmt.citation(self.source_zh if lang == "zh" and self.source_zh else self.source, lang),
        }


Formatter = Callable[[Any, str], str]


def _plain(v: Any, lang: str) -> str:
    return label("unknown", lang) if v is None else str(v)


def _fail(
    level: str,
    cid: str,
    crit: Criterion,
    subject: str,
    observed: Any,
    limit: Any,
    *,
    fmt_observed: Formatter = _plain,
    fmt_limit: Formatter | None = None,
    template: str = "reason",
    extra: Callable[[str], Mapping[str, str]] | None = None,
    ip: IpRight | None = None,
) -> Failure:
    fmt_limit = fmt_limit or fmt_observed
    texts: dict[str, tuple[str, str, str]] = {}
    for lang in LANGS:
        o, lim = fmt_observed(observed, lang), fmt_limit(limit, lang)
        values = {"observed": o, "limit": lim}
        if ip is not None:
            values["ip"] = ip.describe(lang)
        if extra is not None:
            values.update(extra(lang))
        texts[lang] = (o, lim, fmt.render(getattr(crit, f"{template}_{lang}"), values))
    return Failure(
        level=level,
        criterion=cid,
        subject=subject,
        label_zh=crit.label_zh,
        label_en=crit.label_en,
        source=crit.source, source_zh=crit.source_zh,
        observed=observed,
        limit=limit,
        observed_zh=texts["zh"][0],
        observed_en=texts["en"][0],
        limit_zh=texts["zh"][1],
        limit_en=texts["en"][1],
        message_zh=texts["zh"][2],
        message_en=texts["en"][2],
        ip_index=ip.index if ip is not None else None,
    )


def _le(value: float, limit: float) -> bool:
    """``value <= limit`` with a relative tolerance (a value equal to its limit passes)."""
    return value <= limit + REL_TOL * max(abs(limit), 1.0)


# --- asset criteria ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What the criteria need besides the record."""

    as_of: dt.date
    legal_maturity: dt.date | None
    criteria: Criteria


def _check_asset_type(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    if r.asset_type in c.allowed:
        return []
    return [_fail("asset", "asset_type", c, r.asset_id, r.asset_type, c.allowed,
                  fmt_observed=lambda v, lang: fmt.term(v, lang) if v else label("unknown", lang),
                  fmt_limit=lambda v, lang: fmt.listing(v, lang))]


def _check_ip_present(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    if len(r.ips) >= c.min_count:
        return []
    return [_fail("asset", "ip_present", c, r.asset_id, len(r.ips), c.min_count)]


def _check_ip_type(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    return [
        _fail("asset", "ip_type", c, r.asset_id, ip.ip_type, c.allowed, ip=ip,
              fmt_observed=lambda v, lang: fmt.term(v, lang) if v else label("unknown", lang),
              fmt_limit=lambda v, lang: fmt.listing(v, lang))
        for ip in r.ips
        if ip.ip_type not in c.allowed
    ]


def _check_ip_not_expired(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    out = []
    for ip in r.ips:
        if ip.expiry_date is None:
            out.append(_fail("asset", "ip_not_expired", c, r.asset_id, None, ctx.as_of, ip=ip,
                             template="reason_missing", fmt_observed=fmt.date))
        elif ip.expiry_date <= ctx.as_of:
            out.append(_fail("asset", "ip_not_expired", c, r.asset_id, ip.expiry_date, ctx.as_of, ip=ip,
                             fmt_observed=fmt.date))
    return out


def _check_ip_remaining_life(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    anchor = ctx.legal_maturity or r.maturity_date
    if anchor is None:
        return []
    required = add_months(anchor, c.buffer_months)
    template = "reason_no_legal" if ctx.legal_maturity is None and c.reason_no_legal_zh and c.reason_no_legal_en \
        else "reason"
    return [
        _fail("asset", "ip_remaining_life", c, r.asset_id, ip.expiry_date, required, ip=ip, fmt_observed=fmt.date,
              extra=lambda lang: {"buffer": str(c.buffer_months)}, template=template)
        for ip in r.ips
        if ip.expiry_date is not None and ip.expiry_date < required
    ]


def _check_ip_owned_by_obligor(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    return [
        _fail("asset", "ip_owned_by_obligor", c, r.asset_id, ip.owner_id, r.obligor_id, ip=ip)
        for ip in r.ips
        if ip.owner_id != r.obligor_id
    ]


def _check_no_prior_pledge(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    return [
        _fail("asset", "no_prior_pledge", c, r.asset_id, True, False, ip=ip,
              fmt_observed=lambda v, lang: label("yes" if v else "no", lang))
        for ip in r.ips
        if ip.prior_pledge
    ]


def _check_cnipa(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    if r.asset_type not in c.asset_types or not any(ip.ip_type in c.ip_types for ip in r.ips):
        return []
    if r.cnipa_pledge_registered:
        return []
    return [_fail("asset", "cnipa_pledge_registration", c, r.asset_id, r.asset_type, True,
                  fmt_observed=lambda v, lang: fmt.term(v, lang) if v else label("unknown", lang),
                  fmt_limit=lambda v, lang: label("yes", lang))]


def _check_appraisal_present(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    return [
        _fail("asset", "appraisal_present", c, r.asset_id, ip.appraised_value, 0.0, ip=ip, fmt_observed=fmt.amount)
        for ip in r.ips
        if ip.appraised_value is None or not ip.appraised_value > 0
    ]


def _check_external_appraisal(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    if _fen(r.principal) < _fen(c.threshold):
        return []
    return [
        _fail("asset", "external_appraisal", c, r.asset_id, r.principal, c.threshold, ip=ip, fmt_observed=fmt.amount)
        for ip in r.ips
        if ip.valuation == "internal"
    ]


def appraisal_total(r: AssetRecord) -> float:
    """Sum of the positive appraised values of the asset's IP rights."""
    return float(sum(ip.appraised_value for ip in r.ips if ip.appraised_value and ip.appraised_value > 0))


def _check_ltv(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    total = appraisal_total(r)
    if total <= 0:
        appraisal = ctx.criteria.criteria("asset").get("appraisal_present")
        if appraisal is not None:  # already reported as a missing appraisal
            return []
        return [_fail("asset", "loan_to_value", c, r.asset_id, None, c.max_ltv, fmt_observed=fmt.share)]
    ltv = r.principal / total
    if _le(ltv, c.max_ltv):
        return []
    return [_fail("asset", "loan_to_value", c, r.asset_id, ltv, c.max_ltv,
                  fmt_observed=lambda v, lang: fmt.share_apart(v, c.max_ltv, lang), fmt_limit=fmt.share)]


def _fen(x: float) -> int:
    return round(x * 100)


def _check_loan_size(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    if _fen(r.principal) < _fen(c.min_principal):
        return [_fail("asset", "loan_size", c, r.asset_id, r.principal, c.min_principal, fmt_observed=fmt.amount,
                      template="reason_below")]
    if c.max_principal is not None and _fen(r.principal) > _fen(c.max_principal):
        return [_fail("asset", "loan_size", c, r.asset_id, r.principal, c.max_principal, fmt_observed=fmt.amount,
                      template="reason_above")]
    return []


def _check_loan_term(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    if r.start_date is None or r.maturity_date is None:
        return []
    observed = months_between(r.start_date, r.maturity_date)
    if c.max_months is not None and r.maturity_date > add_months(r.start_date, c.max_months):
        return [_fail("asset", "loan_term", c, r.asset_id, observed, c.max_months, fmt_limit=fmt.months,
                      fmt_observed=lambda v, lang: fmt.months(v, lang, apart_from=c.max_months),
                      template="reason_above")]
    if r.maturity_date < add_months(r.start_date, c.min_months):
        return [_fail("asset", "loan_term", c, r.asset_id, observed, c.min_months, fmt_limit=fmt.months,
                      fmt_observed=lambda v, lang: fmt.months(v, lang, apart_from=c.min_months),
                      template="reason_below")]
    return []


def _check_matures_before_legal(c, r: AssetRecord, ctx: Context) -> list[Failure]:
    if ctx.legal_maturity is None or r.maturity_date is None:
        return []
    latest = add_months(ctx.legal_maturity, -c.months_before)
    if r.maturity_date <= latest:
        return []
    return [_fail("asset", "matures_before_legal_maturity", c, r.asset_id, r.maturity_date, latest,
                  fmt_observed=fmt.date, extra=lambda lang: {"buffer": str(c.months_before)})]


ASSET_CHECKS: dict[str, Callable[[Any, AssetRecord, Context], list[Failure]]] = {
    "asset_type": _check_asset_type,
    "ip_present": _check_ip_present,
    "ip_type": _check_ip_type,
    "ip_not_expired": _check_ip_not_expired,
    "ip_remaining_life": _check_ip_remaining_life,
    "ip_owned_by_obligor": _check_ip_owned_by_obligor,
    "no_prior_pledge": _check_no_prior_pledge,
    "cnipa_pledge_registration": _check_cnipa,
    "appraisal_present": _check_appraisal_present,
    "external_appraisal": _check_external_appraisal,
    "loan_to_value": _check_ltv,
    "loan_size": _check_loan_size,
    "loan_term": _check_loan_term,
    "matures_before_legal_maturity": _check_matures_before_legal,
}


def check_asset(record: AssetRecord, criteria: Criteria, ctx: Context) -> list[Failure]:
    """Every asset-level failure of one record, in criteria order."""
    out: list[Failure] = []
    for cid, crit in criteria.criteria("asset").items():
        out.extend(ASSET_CHECKS[cid](crit, record, ctx))
    return out


# --- firm criteria -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FirmRecord:
    """A firm (obligor) as seen through its tape rows."""

    obligor_id: str
    obligor_name: str
    counties: tuple[str | None, ...]
    industries: tuple[str | None, ...]
    ratings: tuple[str | None, ...]
    whitelisted: bool  # on every row
    overdue_history: bool  # on any row
    blacklisted: bool  # on any row
    n_assets: int
    balance: float
    inconsistent: tuple[str, ...] = ()


def firms_from_records(records: Iterable[AssetRecord]) -> list[FirmRecord]:
    """Group records by obligor; disagreeing rows give the worst case and are listed in ``inconsistent``."""
    by: dict[str, list[AssetRecord]] = {}
    for r in records:
        by.setdefault(r.obligor_id, []).append(r)
    firms = []
    for oid, rows in by.items():
        def uniq(values: Iterable[Any]) -> tuple[Any, ...]:
            return tuple(dict.fromkeys(values))

        counties, industries, ratings = (uniq(r.county for r in rows), uniq(r.industry for r in rows),
                                         uniq(r.rating for r in rows))
        inconsistent = [name for name, vals in (("county", counties), ("industry", industries), ("rating", ratings),
                                                ("whitelisted", uniq(r.whitelisted for r in rows)),
                                                ("overdue_history", uniq(r.overdue_history for r in rows)),
                                                ("blacklisted", uniq(r.blacklisted for r in rows)))
                        if len(vals) > 1]
        firms.append(FirmRecord(
            obligor_id=oid,
            obligor_name=rows[0].obligor_name,
            counties=counties,
            industries=industries,
            ratings=ratings,
            whitelisted=all(r.whitelisted for r in rows),
            overdue_history=any(r.overdue_history for r in rows),
            blacklisted=any(r.blacklisted for r in rows),
            n_assets=len(rows),
            balance=float(sum(r.principal for r in rows)),
            inconsistent=tuple(inconsistent),
        ))
    return firms


def _check_region(c, f: FirmRecord, ctx: Context) -> list[Failure]:
    out = []
    for county in f.counties:
        if county is None:
            out.append(_fail("firm", "region", c, f.obligor_id, None, c.counties, template="reason_missing",
                             fmt_limit=lambda v, lang: fmt.listing(v, lang, terms=False)))
        elif county not in c.counties:
            out.append(_fail("firm", "region", c, f.obligor_id, county, c.counties,
                             fmt_limit=lambda v, lang: fmt.listing(v, lang, terms=False)))
    return out


def _check_whitelist_or_rating(c, f: FirmRecord, ctx: Context) -> list[Failure]:
    if c.accept_whitelist and f.whitelisted:
        return []
    threshold = c.rank(c.min_rating)
    given = [r for r in f.ratings if r is not None]
    if not given or len(given) < len(f.ratings):
        return [_fail("firm", "whitelist_or_rating", c, f.obligor_id, None, c.min_rating, template="reason_missing")]
    ranks = {r: c.rank(r) for r in given}
    unknown = [r for r, k in ranks.items() if k is None]
    if unknown:
        return [_fail("firm", "whitelist_or_rating", c, f.obligor_id, unknown[0], c.min_rating,
                      template="reason_unknown")]
    worst = max(given, key=lambda r: ranks[r])
    if ranks[worst] <= threshold:
        return []
    return [_fail("firm", "whitelist_or_rating", c, f.obligor_id, worst, c.min_rating)]


def _check_industry(c, f: FirmRecord, ctx: Context) -> list[Failure]:
    return [
        _fail("firm", "industry", c, f.obligor_id, ind, c.allowed,
              fmt_observed=lambda v, lang: fmt.term(v, lang) if v else label("unknown", lang),
              fmt_limit=lambda v, lang: fmt.listing(v, lang))
        for ind in f.industries
        if ind not in c.allowed
    ]


def _check_overdue(c, f: FirmRecord, ctx: Context) -> list[Failure]:
    if not f.overdue_history:
        return []
    return [_fail("firm", "no_overdue_history", c, f.obligor_id, True, False,
                  fmt_observed=lambda v, lang: label("yes" if v else "no", lang))]


def _check_blacklist(c, f: FirmRecord, ctx: Context) -> list[Failure]:
    if not f.blacklisted:
        return []
    return [_fail("firm", "not_blacklisted", c, f.obligor_id, True, False,
                  fmt_observed=lambda v, lang: label("yes" if v else "no", lang))]


FIRM_CHECKS: dict[str, Callable[[Any, FirmRecord, Context], list[Failure]]] = {
    "region": _check_region,
    "whitelist_or_rating": _check_whitelist_or_rating,
    "industry": _check_industry,
    "no_overdue_history": _check_overdue,
    "not_blacklisted": _check_blacklist,
}


def check_firm(firm: FirmRecord, criteria: Criteria, ctx: Context) -> list[Failure]:
    """Every firm-level failure of one firm, in criteria order."""
    out: list[Failure] = []
    for cid, crit in criteria.criteria("firm").items():
        out.extend(FIRM_CHECKS[cid](crit, firm, ctx))
    return out


# --- pool limits ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LimitCheck:
    """One concentration limit on one group of one pool.

    ``excess_amount = group balance - max_share * pool balance`` (the amount above the limit at the current pool
    balance); ``reduction_needed = excess_amount / (1 - max_share)`` is the least that must leave the group to
    meet the limit, the pool shrinking with it (for the top-k limit a lower bound, as another name may move up).
    """

    pool: str
    criterion: str
    label_zh: str
    label_en: str
    source: str
    group: str
    group_balance: float
    pool_balance: float
    share: float
    max_share: float
    breached: bool
    excess_share: float
    excess_amount: float
    reduction_needed: float
    message_zh: str
    message_en: str
    source_zh: str | None = None  # the source as Chinese users read it (criteria's source_zh)

    def message(self, lang: str = "en") -> str:
        return self.message_zh if lang == "zh" else self.message_en


def _obligor_display(oid: str, name: str) -> str:
    return oid if name == oid else f"{name} ({oid})"


def check_pool_limits(records: Sequence[AssetRecord], criteria: Criteria, pool: str = "pool") -> list[LimitCheck]:
    """The concentration limits of the pool made of ``records``: every breaching group, or (when none breaches)
    the largest group so the headroom shows."""
    total = float(sum(r.principal for r in records))
    out: list[LimitCheck] = []
    if total <= 0:
        return out
    names = {r.obligor_id: r.obligor_name for r in records}
    keys: dict[str, Callable[[AssetRecord], str]] = {
        "single_obligor": lambda r: r.obligor_id,
        "top_obligors": lambda r: r.obligor_id,
        "single_industry": lambda r: r.industry or "",
        "single_county": lambda r: r.county or "",
    }
    for cid, lim in criteria.pool.active().items():
        sums: dict[str, float] = {}
        for r in records:
            k = keys[cid](r)
            sums[k] = sums.get(k, 0.0) + r.principal
        ranked = sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))
        if isinstance(lim, TopObligorsLimit):
            top = ranked[: lim.count]
            groups = [(fmt.listing([_obligor_display(k, names[k]) for k, _ in top], "en", terms=False),
                       [(_obligor_display(k, names[k])) for k, _ in top], sum(v for _, v in top))]
        else:
            groups = []
            for k, v in ranked:
                shown = _obligor_display(k, names[k]) if cid == "single_obligor" else (k or "")
                groups.append((shown, None, v))
        rows = []
        for shown, members, value in groups:
            breached = not _le(value / total, lim.max_share)
            if breached or not rows:
                rows.append(_limit_row(pool, cid, lim, shown, members, value, total, breached))
            if not breached:
                break  # groups are sorted: the rest are smaller
        out.extend(rows)
    return out


def _limit_row(pool: str, cid: str, lim: ShareLimit, shown: str, members: list[str] | None, value: float,
               total: float, breached: bool) -> LimitCheck:
    share = value / total
    excess_amount = value - lim.max_share * total
    reduction = excess_amount / (1 - lim.max_share) if lim.max_share < 1 else 0.0
    texts = {}
    for lang in LANGS:
        if not breached:
            texts[lang] = ""
            continue
        group_text = shown
        if members is not None:
            group_text = fmt.listing(members, lang, terms=False)
        elif cid == "single_industry":
            group_text = fmt.term(shown, lang) if shown else label("unknown", lang)
        elif cid == "single_county" and not shown:
            group_text = label("unknown", lang)
        values = {
            "group": group_text,
            "observed": fmt.share_apart(share, lim.max_share),
            "limit": fmt.share(lim.max_share),
            "excess": _points(share - lim.max_share),
            "excess_amount": fmt.amount(excess_amount, lang),
            "count": str(getattr(lim, "count", "")),
        }
        texts[lang] = fmt.render(getattr(lim, f"reason_{lang}"), values)
    return LimitCheck(
        pool=pool, criterion=cid, label_zh=lim.label_zh, label_en=lim.label_en, source=lim.source, source_zh=lim.source_zh, group=shown,
        group_balance=value, pool_balance=total, share=share, max_share=lim.max_share, breached=breached,
        excess_share=max(0.0, share - lim.max_share), excess_amount=max(0.0, excess_amount),
        reduction_needed=max(0.0, reduction), message_zh=texts["zh"], message_en=texts["en"],
    )


def _points(x: float) -> str:
    """Percentage points with one decimal, more when that would show 0.0."""
    for d in range(1, 5):
        if f"{100 * x:.{d}f}".strip("0.-") != "":
            return f"{100 * x:.{d}f}"
    return f"{100 * x:.4f}"


def limit_spec(records: Sequence[AssetRecord], criteria: Criteria) -> PoolLimitSpec:
    """The pool criteria of ``criteria`` as arrays over ``records`` (for :func:`select_pool`)."""

    def codes(values: list[str]) -> np.ndarray:
        index: dict[str, int] = {}
        return np.array([index.setdefault(v, len(index)) for v in values], dtype=np.int64)

    active = criteria.pool.active()
    obligor = codes([r.obligor_id for r in records])
    fams = []
    if "single_obligor" in active:
        fams.append((obligor, active["single_obligor"].max_share))
    if "single_industry" in active:
        fams.append((codes([r.industry or "" for r in records]), active["single_industry"].max_share))
    if "single_county" in active:
        fams.append((codes([r.county or "" for r in records]), active["single_county"].max_share))
    top = active.get("top_obligors")
    return PoolLimitSpec(
        obligor=obligor,
        families=tuple(fams),
        top_count=top.count if isinstance(top, TopObligorsLimit) else None,
        top_share=top.max_share if top is not None else None,
    )


# --- results -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetResult:
    record: AssetRecord
    failures: tuple[Failure, ...]
    firm_failures: tuple[Failure, ...]

    @property
    def asset_id(self) -> str:
        return self.record.asset_id

    @property
    def asset_eligible(self) -> bool:
        return not self.failures

    @property
    def firm_eligible(self) -> bool:
        return not self.firm_failures

    @property
    def eligible(self) -> bool:
        return not self.failures and not self.firm_failures

    def reasons(self, lang: str = "en") -> list[str]:
        """Asset reasons, then the firm's reasons."""
        return [f.message(lang) for f in (*self.failures, *self.firm_failures)]


@dataclass(frozen=True)
class FirmResult:
    firm: FirmRecord
    failures: tuple[Failure, ...]

    @property
    def obligor_id(self) -> str:
        return self.firm.obligor_id

    @property
    def eligible(self) -> bool:
        return not self.failures

    def reasons(self, lang: str = "en") -> list[str]:
        return [f.message(lang) for f in self.failures]


@dataclass(frozen=True)
class BestPool:
    """The best eligible pool: selected asset ids, its balance, and how good the answer is proven to be."""

    asset_ids: tuple[str, ...]
    balance: float
    eligible_balance: float
    upper_bound: float
    status: str  # "optimal" | "feasible"
    method: str
    nodes: int
    seconds: float
    limits: tuple[LimitCheck, ...]

    @property
    def gap(self) -> float:
        return 0.0 if self.upper_bound <= 0 else max(0.0, (self.upper_bound - self.balance) / self.upper_bound)


@dataclass(frozen=True)
class EligibilityReport:
    """Everything :func:`evaluate_pool` found; DataFrames for display come from the ``*_frame`` methods."""

    criteria: Criteria
    as_of: dt.date
    legal_maturity: dt.date | None
    assets: tuple[AssetResult, ...]
    firms: tuple[FirmResult, ...]
    limits: tuple[LimitCheck, ...]
    best: BestPool | None = None
    notes: tuple[tuple[str, str], ...] = field(default=())  # (zh, en)

    # -- quick answers
    @property
    def eligible_ids(self) -> list[str]:
        return [a.asset_id for a in self.assets if a.eligible]

    @property
    def ineligible_ids(self) -> list[str]:
        return [a.asset_id for a in self.assets if not a.eligible]

    @property
    def balance(self) -> float:
        return float(sum(a.record.principal for a in self.assets))

    @property
    def eligible_balance(self) -> float:
        return float(sum(a.record.principal for a in self.assets if a.eligible))

    def failures(self) -> list[Failure]:
        """All asset and firm failures (a firm's failures once, not per asset)."""
        return [f for a in self.assets for f in a.failures] + [f for fr in self.firms for f in fr.failures]

    def breaches(self, pool: str = "eligible") -> list[LimitCheck]:
        return [c for c in self.limits if c.pool == pool and c.breached]

    # -- frames
    def assets_frame(self, lang: str = "en", *, labels: bool = False) -> pd.DataFrame:
        """One row per asset: id, obligor, principal, LTV, eligibility and the reasons (asset and firm)."""
        best = set(self.best.asset_ids) if self.best else set()
        rows = []
        for a in self.assets:
            r = a.record
            total = appraisal_total(r)
            rows.append({
                "asset_id": r.asset_id,
                "source_row": r.source_row,
                "obligor_id": r.obligor_id,
                "obligor_name": r.obligor_name,
                "industry": r.industry,
                "county": r.county,
                "principal": r.principal,
                "appraised_value": total,
                "loan_to_value": r.principal / total if total > 0 else float("nan"),
                "asset_eligible": a.asset_eligible,
                "firm_eligible": a.firm_eligible,
                "eligible": a.eligible,
                "selected": r.asset_id in best,
                "reasons": "; ".join(a.reasons(lang)),
            })
        return _labelled(pd.DataFrame(rows, columns=list(_ASSET_COLUMNS)), lang, labels)

    def firms_frame(self, lang: str = "en", *, labels: bool = False) -> pd.DataFrame:
        rows = [{
            "obligor_id": f.firm.obligor_id,
            "obligor_name": f.firm.obligor_name,
            "county": fmt.listing([c or "" for c in f.firm.counties], lang, terms=False),
            "industry": fmt.listing([i or "" for i in f.firm.industries], lang, terms=False),
            "rating": fmt.listing([r or "" for r in f.firm.ratings], lang, terms=False),
            "n_assets": f.firm.n_assets,
            "balance": f.firm.balance,
            "eligible": f.eligible,
            "reasons": "; ".join(f.reasons(lang)),
        } for f in self.firms]
        return _labelled(pd.DataFrame(rows, columns=list(_FIRM_COLUMNS)), lang, labels)

    def failures_frame(self, lang: str = "en", *, labels: bool = False) -> pd.DataFrame:
        """One row per failed criterion (asset and firm level)."""
        rows = [f.as_row(lang) for f in self.failures()]
        return _labelled(pd.DataFrame(rows, columns=list(_FAILURE_COLUMNS)), lang, labels)

    def limits_frame(self, lang: str = "en", *, labels: bool = False) -> pd.DataFrame:
        rows = [{
            "pool_name": label(f"pool_{c.pool}", lang),
            "criterion_id": c.criterion,
            "criterion": c.label_zh if lang == "zh" else c.label_en,
            "group": c.group,
            "balance": c.group_balance,
            "pool_balance": c.pool_balance,
            "share": c.share,
            "limit_share": c.max_share,
            "breached": c.breached,
            "excess_share": c.excess_share,
            "excess_amount": c.excess_amount,
            "reduction_needed": c.reduction_needed,
            "reasons": c.message(lang),
            "source_clause": fmt.citation(c.source_zh if lang == "zh" and c.source_zh else c.source, lang),
        } for c in self.limits]
        return _labelled(pd.DataFrame(rows, columns=list(_LIMIT_COLUMNS)), lang, labels)

    def best_pool_frame(self, lang: str = "en", *, labels: bool = False) -> pd.DataFrame:
        """The assets of the best eligible pool with their share of it."""
        if self.best is None:
            return _labelled(pd.DataFrame(columns=list(_BEST_COLUMNS)), lang, labels)
        chosen = set(self.best.asset_ids)
        rows = [{
            "asset_id": a.record.asset_id,
            "obligor_id": a.record.obligor_id,
            "obligor_name": a.record.obligor_name,
            "industry": a.record.industry,
            "county": a.record.county,
            "principal": a.record.principal,
            "share": a.record.principal / self.best.balance if self.best.balance > 0 else float("nan"),
        } for a in self.assets if a.asset_id in chosen]
        return _labelled(pd.DataFrame(rows, columns=list(_BEST_COLUMNS)), lang, labels)

    def summary(self) -> dict[str, Any]:
        """Headline numbers (language-neutral)."""
        out: dict[str, Any] = {
            "criteria": self.criteria.name,
            "as_of": self.as_of.isoformat(),
            "legal_maturity": self.legal_maturity.isoformat() if self.legal_maturity else None,
            "n_assets": len(self.assets),
            "n_eligible": len(self.eligible_ids),
            "balance": self.balance,
            "eligible_balance": self.eligible_balance,
            "n_firms": len(self.firms),
            "n_firms_eligible": sum(f.eligible for f in self.firms),
            "ineligible_ids": self.ineligible_ids,
            "breaches_eligible": [c.criterion + ":" + c.group for c in self.breaches("eligible")],
        }
        if self.best is not None:
            out |= {"best_balance": self.best.balance, "best_n_assets": len(self.best.asset_ids),
                    "best_status": self.best.status, "best_upper_bound": self.best.upper_bound,
                    "best_gap": self.best.gap}
        return out

    def summary_lines(self, lang: str = "en") -> list[str]:
        """A short text summary for a terminal (the CLI prints it; the library does not)."""
        s = self.summary()
        lines = [
            f"{label('eligibility', lang)}: {self.criteria.title(lang)}",
            f"{label('n_assets', lang)}: {s['n_assets']} ({fmt.amount(s['balance'], lang)}); "
            f"{label('eligible', lang)}: {s['n_eligible']} ({fmt.amount(s['eligible_balance'], lang)})",
            f"{label('n_firms', lang)}: {s['n_firms']}; {label('firm_eligible', lang)}: {s['n_firms_eligible']}",
        ]
        for a in self.assets:
            if not a.eligible:
                lines.append(f"  ✗ {a.asset_id}: " + "; ".join(a.reasons(lang)))
        for c in self.breaches("eligible"):
            lines.append(f"  ! {label('pool_eligible', lang)}: {c.message(lang)}")
        if self.best is not None:
            b = self.best
            status = label(f"status_{b.status}", lang)
            line = (f"{label('pool_best', lang)}: {label('n_assets', lang)} {len(b.asset_ids)}, "
                    f"{fmt.amount(b.balance, lang)} ({status}")
            if b.status != "optimal":
                line += f"; {label('upper_bound', lang)} {fmt.amount(b.upper_bound, lang)}, " \
                        f"{label('gap', lang)} {fmt.share(b.gap)}"
            lines.append(line + ")")
        lines.extend(zh if lang == "zh" else en for zh, en in self.notes)
        return lines


_ASSET_COLUMNS = ("asset_id", "source_row", "obligor_id", "obligor_name", "industry", "county", "principal",
                  "appraised_value", "loan_to_value", "asset_eligible", "firm_eligible", "eligible", "selected",
                  "reasons")
_FIRM_COLUMNS = ("obligor_id", "obligor_name", "county", "industry", "rating", "n_assets", "balance", "eligible",
                 "reasons")
_FAILURE_COLUMNS = ("criteria_level", "subject", "criterion_id", "criterion", "observed", "limit", "reasons",
                    "source_clause")
_LIMIT_COLUMNS = ("pool_name", "criterion_id", "criterion", "group", "balance", "pool_balance", "share",
                  "limit_share", "breached", "excess_share", "excess_amount", "reduction_needed", "reasons",
                  "source_clause")
_BEST_COLUMNS = ("asset_id", "obligor_id", "obligor_name", "industry", "county", "principal", "share")


def _labelled(df: pd.DataFrame, lang: str, labels: bool) -> pd.DataFrame:
    """Rename canonical columns to their glossary labels when ``labels`` (display only)."""
    if not labels:
        return df
    return df.rename(columns={c: label(c, lang) for c in df.columns})


# --- API -----------------------------------------------------------------------------------------------------------


def best_pool(
    records: Sequence[AssetRecord] | pd.DataFrame,
    criteria: Criteria | None = None,
    *,
    exact_max_assets: int = 25,
    max_nodes: int | None = None,
    time_limit: float | None = None,
) -> BestPool:
    """The largest-balance selection of ``records`` (already eligible) that meets the pool limits.

    Up to ``exact_max_assets`` assets the branch-and-bound runs with a large budget (200,000 nodes, 10 s) and
    normally proves optimality; above it the heuristic's pool is improved by a short branch-and-bound (20,000
    nodes, 3 s) whose open nodes give the upper bound and the gap. See :mod:`ipabs.eligibility.selection`.
    """
    criteria = criteria or default_criteria()
    recs = records_from_frame(records) if isinstance(records, pd.DataFrame) else list(records)
    if not recs:
        return BestPool((), 0.0, 0.0, 0.0, "optimal", "trivial", 0, 0.0, ())
    small = len(recs) <= exact_max_assets
    nodes = max_nodes if max_nodes is not None else (200_000 if small else 20_000)
    seconds = time_limit if time_limit is not None else (10.0 if small else 3.0)
    sel: Selection = select_pool([r.principal for r in recs], limit_spec(recs, criteria), max_nodes=nodes,
                                 time_limit=seconds)
    chosen = [r for r, keep in zip(recs, sel.selected, strict=True) if keep]
    return BestPool(
        asset_ids=tuple(r.asset_id for r in chosen),
        balance=sel.balance,
        eligible_balance=float(sum(r.principal for r in recs)),
        upper_bound=sel.upper_bound,
        status=sel.status,
        method=sel.method,
        nodes=sel.nodes,
        seconds=sel.seconds,
        limits=tuple(check_pool_limits(chosen, criteria, pool="best")),
    )


def evaluate_pool(
    tape_frame: pd.DataFrame | Sequence[AssetRecord],
    criteria: Criteria | None = None,
    *,
    as_of: dt.date | None = None,
    legal_maturity: dt.date | None = None,
    select_best: bool = True,
    best_pool_options: Mapping[str, Any] | None = None,
) -> EligibilityReport:
    """Check a pool tape against a criteria set.

    Parameters
    ----------
    tape_frame : DataFrame or sequence of AssetRecord
        Accepted tape rows in canonical columns (``TapeResult.assets``); ``ip_*`` columns as lists.
    criteria : Criteria, optional
        Default: the bundled Ganzhou set.
    as_of : date, optional
        Evaluation date for "IP in force" (default: today).
    legal_maturity : date, optional
        The deal's legal maturity (法定到期日) for the IP remaining-life and asset-maturity criteria; without it
        each asset's own maturity date stands in for the first and the second is not applied.
    select_best : bool
        Also choose the best eligible pool (:func:`best_pool`).
    best_pool_options : mapping, optional
        Keyword arguments of :func:`best_pool` (``exact_max_assets``, ``max_nodes``, ``time_limit``).

    Returns
    -------
    EligibilityReport
    """
    criteria = criteria or default_criteria()
    as_of = as_of or dt.date.today()
    records = records_from_frame(tape_frame) if isinstance(tape_frame, pd.DataFrame) else list(tape_frame)
    ctx = Context(as_of=as_of, legal_maturity=legal_maturity, criteria=criteria)
    firm_results = {f.obligor_id: FirmResult(f, tuple(check_firm(f, criteria, ctx)))
                    for f in firms_from_records(records)}
    assets = tuple(AssetResult(r, tuple(check_asset(r, criteria, ctx)), firm_results[r.obligor_id].failures)
                   for r in records)
    eligible = [a.record for a in assets if a.eligible]
    limits = check_pool_limits(records, criteria, pool="tape") + check_pool_limits(eligible, criteria,
                                                                                     pool="eligible")
    best = best_pool(eligible, criteria, **dict(best_pool_options or {})) if select_best else None
    if best is not None:
        limits += list(best.limits)
    notes = tuple(
        tuple(label("rows_disagree", lang).format(obligor=f.obligor_id, fields=fmt.listing(f.inconsistent, lang,
                                                                                            terms=False))
              for lang in LANGS)
        for f in (fr.firm for fr in firm_results.values()) if f.inconsistent
    )
    return EligibilityReport(criteria=criteria, as_of=as_of, legal_maturity=legal_maturity, assets=assets,
                             firms=tuple(firm_results.values()), limits=tuple(limits), best=best, notes=notes)
