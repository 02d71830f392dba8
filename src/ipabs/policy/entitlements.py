"""Entitlements with reasons: what each firm receives, per item and calendar year, exact to the fen.

This is the readable engine (one financing at a time, Python integers in fen). The budget Monte Carlo
(:mod:`ipabs.policy.budget`) is its vectorised twin; a test checks that the two agree to the fen on sampled paths.

Order of operations (docs/policy.md §2):

1. per financing (a firm's allocation in a deal, one loan, one loan-year of interest): test every exclusion; if
   none applies, form the amount — ``rate × base`` rounded to the fen by the policy's ``rounding``, or a fixed
   amount per patent / per loan — and, in issuer mode, cap it per product;
2. sum the amounts per (item, recipient, entitlement year) and apply ``cap_per_firm_year``;
3. apply ``cap_per_firm`` (all years) in ascending year order;
4. the amount is paid in ``entitlement year + payment_lag_years``.

The entitlement year is the year the financing is obtained (securitization), the year the loan's principal and
interest are settled (pledge items with ``requires_settlement``; else the loan's start year), or the year the
interest is paid (interest subsidy).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import pandas as pd

from ipabs.errors import InputError, Issue
from ipabs.glossary import label
from ipabs.policy import reasons as R
from ipabs.policy.money import Rate, apply_rate, fmt_yuan, to_fen, yuan
from ipabs.policy.schema import Policy

LoanStatus = Literal["settled", "outstanding", "defaulted"]


def _money(x) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


@dataclass(frozen=True)
class Securitization:
    """A firm's allocation in an IP ABS / ABN: the financing it obtained.

    Parameters
    ----------
    firm_id, deal_id : str
        The pooled firm and the product (deal).
    year : int
        Calendar year the financing is obtained.
    amount : Decimal
        Financing actually obtained, yuan (0 when the deal did not complete).
    issuer_id : str, optional
        The product's issuer (发行主体); needed by issuer-mode policies (Guangzhou).
    issuance : Decimal, optional
        The product's size; issuer mode uses it, else the sum of the deal's allocations.
    in_pool : bool
        The firm entered the pool (入池).
    already_funded : bool
        The firm's project was already funded by the municipal IP special fund (四(二)).
    deal_already_funded : bool
        The product itself was already funded (used when the policy pays the issuer).
    """

    firm_id: str
    deal_id: str
    year: int
    amount: Decimal
    issuer_id: str | None = None
    issuance: Decimal | None = None
    in_pool: bool = True
    already_funded: bool = False
    deal_already_funded: bool = False


@dataclass(frozen=True)
class PledgeLoan:
    """An IP-pledge loan and what became of it.

    Parameters
    ----------
    loan_id, firm_id : str
    amount : Decimal
        Loan amount (质押融资额度), yuan.
    start_date : datetime.date
    term_months : int
        Contract term; the loan is settled in the month ``start + term`` unless ``settled_year`` says otherwise.
    cnipa_registered : bool
        The pledge is registered with CNIPA (国家知识产权局质押登记).
    invention_patents : int
        Number of pledged invention patents whose pledge is registered.
    other_ip_types : tuple of str
        Other IP added as collateral or credit enhancement (trademark, copyright, geographic_indication, data_ip,
        trade_secret).
    status : {'settled', 'outstanding', 'defaulted'}
        Principal and interest settled; not yet settled; or defaulted (never settled).
    settled_year : int, optional
        Year of settlement, default the year of ``start_date + term_months``.
    default_year : int, optional
        Year of default (``status='defaulted'``); interest of that year and later is not paid.
    rate : Decimal, optional
        Annual contract rate (interest subsidy).
    lpr : Decimal, optional
        LPR to compare ``rate`` with (overrides the run's LPR).
    interest_paid : mapping of year to Decimal, optional
        Interest actually paid per calendar year; default: monthly accrual (see :func:`interest_by_year`).
    already_funded : bool
    """

    loan_id: str
    firm_id: str
    amount: Decimal
    start_date: dt.date
    term_months: int
    cnipa_registered: bool
    invention_patents: int = 0
    other_ip_types: tuple[str, ...] = ()
    status: LoanStatus = "settled"
    settled_year: int | None = None
    default_year: int | None = None
    rate: Decimal | None = None
    lpr: Decimal | None = None
    interest_paid: Mapping[int, Decimal] | None = None
    already_funded: bool = False

    @property
    def maturity_year(self) -> int:
        return self.start_date.year + (self.start_date.month - 1 + self.term_months) // 12

    @property
    def settlement_year(self) -> int:
        return self.settled_year if self.settled_year is not None else self.maturity_year


def months_by_year(start_date: dt.date, term_months: int) -> dict[int, int]:
    """Months of interest in each calendar year: months ``start.month … start.month + term − 1``."""
    out: dict[int, int] = {}
    m0 = start_date.month - 1
    for j in range(term_months):
        y = start_date.year + (m0 + j) // 12
        out[y] = out.get(y, 0) + 1
    return out


def interest_by_year(amount_fen: int, rate: Rate, start_date: dt.date, term_months: int,
                     default_year: int | None = None) -> dict[int, int]:
    """Interest paid per calendar year, fen: ``amount × rate × months / 12`` rounded half up to the fen.

    Interest-only with bullet repayment: the whole amount accrues each month. Years from ``default_year`` on pay
    nothing (the firm stopped paying).
    """
    out = {}
    for y, n in months_by_year(start_date, term_months).items():
        if default_year is not None and y >= default_year:
            out[y] = 0
        else:
            out[y] = apply_rate(amount_fen * n, rate, "half_up", extra_den=12)
    return out


@dataclass
class Entitlement:
    """One firm's entitlement to one item in one year, with its trail of reasons.

    Amounts are integer fen (``*_fen``); the ``Decimal`` yuan views are properties.
    """

    firm_id: str
    item: str
    year: int
    pay_year: int
    base_fen: int = 0
    rate: Rate | None = None
    gross_fen: int = 0
    payable_fen: int = 0
    reasons: list[R.Reason] = field(default_factory=list)

    @property
    def base(self) -> Decimal:
        return yuan(self.base_fen)

    @property
    def gross(self) -> Decimal:
        return yuan(self.gross_fen)

    @property
    def payable(self) -> Decimal:
        return yuan(self.payable_fen)

    @property
    def cap_reduction_fen(self) -> int:
        return -sum(r.amount_fen for r in self.reasons if r.kind == "cap")

    @property
    def cap_binds(self) -> bool:
        return self.cap_reduction_fen > 0

    @property
    def caps(self) -> list[R.Reason]:
        return [r for r in self.reasons if r.kind == "cap"]

    @property
    def exclusions(self) -> list[R.Reason]:
        return [r for r in self.reasons if r.kind == "exclusion"]


@dataclass(frozen=True)
class EntitlementReport:
    """All entitlements of one policy over one list of financings."""

    policy: str
    entitlements: tuple[Entitlement, ...]

    def payable_fen(self, firm_id: str | None = None, year: int | None = None, item: str | None = None,
                    *, by: Literal["year", "pay_year"] = "year") -> int:
        """Total payable (fen) filtered by firm, year (entitlement year, or pay year with ``by``) and item."""
        return sum(
            e.payable_fen for e in self.entitlements
            if (firm_id is None or e.firm_id == firm_id)
            and (year is None or getattr(e, by) == year)
            and (item is None or e.item == item)
        )

    def payable(self, firm_id: str | None = None, year: int | None = None, item: str | None = None) -> Decimal:
        return yuan(self.payable_fen(firm_id, year, item))

    def get(self, firm_id: str, item: str, year: int) -> Entitlement:
        for e in self.entitlements:
            if (e.firm_id, e.item, e.year) == (firm_id, item, year):
                return e
        raise KeyError((firm_id, item, year))

    def total_by_pay_year(self) -> dict[int, int]:
        out: dict[int, int] = defaultdict(int)
        for e in self.entitlements:
            out[e.pay_year] += e.payable_fen
        return dict(sorted(out.items()))

    def to_frame(self, lang: str = "en") -> pd.DataFrame:
        """One row per firm, item and year: base, rate, gross, caps, payable and the reasons as text."""
        rows = []
        for e in self.entitlements:
            rows.append({
                "firm_id": e.firm_id,
                "item": e.item,
                "item_label": label(e.item, lang),
                "year": e.year,
                "pay_year": e.pay_year,
                "base": float(e.base),
                "rate": float(e.rate.decimal) if e.rate is not None else None,
                "gross": float(e.gross),
                "cap_reduction": float(yuan(e.cap_reduction_fen)),
                "payable": float(e.payable),
                "payable_fen": e.payable_fen,
                "cap_binds": e.cap_binds,
                "n_exclusions": len(e.exclusions),
                "reasons": "; ".join(r.text(lang) for r in e.reasons),
            })
        cols = ["firm_id", "item", "item_label", "year", "pay_year", "base", "rate", "gross", "cap_reduction",
                "payable", "payable_fen", "cap_binds", "n_exclusions", "reasons"]
        df = pd.DataFrame(rows, columns=cols)
        # an amount per patent or per loan has no rate: a missing value (null in Parquet), never NaN
        df["rate"] = df["rate"].astype("Float64")
        return df

    def reasons_frame(self) -> pd.DataFrame:
        """One row per reason, both languages."""
        rows = [
            {"firm_id": e.firm_id, "item": e.item, "year": e.year, "pay_year": e.pay_year, "source_id": r.source_id,
             "code": r.code, "kind": r.kind, "amount": float(yuan(r.amount_fen)) if r.amount_fen >= 0
             else -float(yuan(-r.amount_fen)), "en": r.en, "zh": r.zh}
            for e in self.entitlements for r in e.reasons
        ]
        cols = ["firm_id", "item", "year", "pay_year", "source_id", "code", "kind", "amount", "en", "zh"]
        return pd.DataFrame(rows, columns=cols)


class _Book:
    """Accumulates lines per (item, firm, year)."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str, int], Entitlement] = {}

    def entry(self, item: str, firm: str, year: int, lag: int, rate: Rate | None) -> Entitlement:
        key = (item, firm, year)
        e = self.groups.get(key)
        if e is None:
            e = self.groups[key] = Entitlement(firm, item, year, year + lag, rate=rate)
        return e

    def add(self, e: Entitlement, base_fen: int, amount_fen: int, reason: R.Reason) -> None:
        e.base_fen += base_fen
        e.gross_fen += amount_fen
        e.reasons.append(reason)


def _exact(amount_fen: int, rate: Rate) -> str:
    """The exact product ``amount × rate`` in yuan, without rounding (for the trail)."""
    v = (Decimal(amount_fen) / 100) * rate.decimal
    s = f"{v:,f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
        head, _, tail = s.partition(".")
        s = head + "." + tail.ljust(2, "0") if tail else head + ".00"
    else:
        s += ".00"
    return s


def _rate_line(source: str, base_fen: int, rate: Rate, amount_fen: int, code: str = R.RATE_APPLIED) -> R.Reason:
    exact = _exact(base_fen, rate)
    shown = fmt_yuan(amount_fen)
    detail = f"{fmt_yuan(base_fen)} x {rate.percent()} = {exact}"
    if exact != shown:
        detail += f" -> {shown}"
    return R.Reason(code, source, amount_fen, detail)


def _securitization(policy: Policy, book: _Book, items: Sequence[Securitization]) -> None:
    rule = policy.securitization
    if rule is None:
        return
    item = "securitization_subsidy"
    rate = Rate.of(rule.rate)
    lag = rule.payment_lag_years
    excl_funded = policy.exclusions.already_funded
    if rule.recipient == "firm":
        for s in sorted(items, key=lambda s: (s.firm_id, s.year, s.deal_id)):
            e = book.entry(item, s.firm_id, s.year, lag, rate)
            fen = to_fen(s.amount)
            excluded = []
            if rule.requires_in_pool and not s.in_pool:
                excluded.append(R.NOT_IN_POOL)
            if fen == 0:
                excluded.append(R.NO_FINANCING)
            if excl_funded and s.already_funded:
                excluded.append(R.ALREADY_FUNDED)
            if excluded:
                for code in excluded:
                    e.reasons.append(R.Reason(code, s.deal_id, 0, f"financing {fmt_yuan(fen)}"))
                continue
            amount = apply_rate(fen, rate, policy.rounding)
            book.add(e, fen, amount, _rate_line(s.deal_id, fen, rate, amount))
        return
    # issuer mode: one amount per product, paid to its issuer
    deals: dict[str, list[Securitization]] = defaultdict(list)
    for s in items:
        deals[s.deal_id].append(s)
    for deal_id in sorted(deals):
        rows = deals[deal_id]
        issuers = {s.issuer_id for s in rows}
        years = {s.year for s in rows}
        if None in issuers or len(issuers) != 1 or len(years) != 1:
            raise InputError([Issue(f"deal '{deal_id}' needs one issuer_id and one year for an issuer-mode policy",
                                    table="securitization", field="issuer_id")])
        issuer, year = rows[0].issuer_id, rows[0].year
        sizes = {s.issuance for s in rows if s.issuance is not None}
        if len(sizes) > 1:
            raise InputError([Issue(f"deal '{deal_id}' has more than one issuance", field="issuance")])
        issuance = to_fen(sizes.pop()) if sizes else sum(to_fen(s.amount) for s in rows)
        e = book.entry(item, issuer, year, lag, rate)
        excluded = []
        if issuance == 0:
            excluded.append(R.NO_FINANCING)
        if excl_funded and any(s.deal_already_funded for s in rows):
            excluded.append(R.ALREADY_FUNDED)
        if excluded:
            for code in excluded:
                e.reasons.append(R.Reason(code, deal_id, 0, f"issuance {fmt_yuan(issuance)}"))
            continue
        amount = apply_rate(issuance, rate, policy.rounding)
        book.add(e, issuance, amount, _rate_line(deal_id, issuance, rate, amount))
        e.reasons.append(R.Reason(R.PAID_TO_ISSUER, deal_id, 0, str(issuer)))
        if rule.cap_per_product is not None:
            cap = to_fen(rule.cap_per_product)
            if amount > cap:
                e.gross_fen -= amount - cap
                e.reasons.append(R.Reason(R.CAP_PER_PRODUCT, deal_id, -(amount - cap),
                                          f"{fmt_yuan(amount)} > {fmt_yuan(cap)}"))


def _loan_exclusions(policy: Policy, loan: PledgeLoan, *, registration: bool, settlement: bool,
                     threshold: Decimal | None, need_patent: bool) -> list[tuple[str, str]]:
    fen = to_fen(loan.amount)
    out: list[tuple[str, str]] = []
    if policy.exclusions.already_funded and loan.already_funded:
        out.append((R.ALREADY_FUNDED, f"loan {fmt_yuan(fen)}"))
    if registration and not loan.cnipa_registered:
        out.append((R.PLEDGE_NOT_REGISTERED, f"loan {fmt_yuan(fen)}"))
    if need_patent and loan.invention_patents <= 0:
        out.append((R.NO_INVENTION_PATENT, "0"))
    if threshold is not None and fen <= to_fen(threshold):
        out.append((R.LOAN_NOT_ABOVE_THRESHOLD, f"{fmt_yuan(fen)} <= {fmt_yuan(to_fen(threshold))}"))
    if settlement and loan.status == "outstanding":
        out.append((R.LOAN_NOT_SETTLED, f"due {loan.maturity_year}"))
    if settlement and loan.status == "defaulted":
        out.append((R.LOAN_DEFAULTED, f"default {loan.default_year}" if loan.default_year else ""))
    return out


def _pledge(policy: Policy, book: _Book, loans: Sequence[PledgeLoan]) -> None:
    rule = policy.pledge_patent
    if rule is not None:
        item = "pledge_patent_subsidy"
        for loan in loans:
            year = loan.settlement_year if rule.requires_settlement else loan.start_date.year
            e = book.entry(item, loan.firm_id, year, rule.payment_lag_years, None)
            excluded = _loan_exclusions(policy, loan, registration=rule.requires_registration,
                                        settlement=rule.requires_settlement, threshold=rule.loan_amount_above,
                                        need_patent=True)
            if excluded:
                e.reasons.extend(R.Reason(c, loan.loan_id, 0, d) for c, d in excluded)
                continue
            per = to_fen(rule.amount_per_patent)
            n = loan.invention_patents
            book.add(e, to_fen(loan.amount), n * per,
                     R.Reason(R.PER_PATENT, loan.loan_id, n * per, f"{n} x {fmt_yuan(per)} = {fmt_yuan(n * per)}"))
    rule2 = policy.pledge_other_ip
    if rule2 is not None:
        item = "pledge_other_ip_subsidy"
        for loan in loans:
            types = sorted(set(loan.other_ip_types) & set(rule2.ip_types))
            if not types:
                continue
            year = loan.settlement_year if rule2.requires_settlement else loan.start_date.year
            e = book.entry(item, loan.firm_id, year, rule2.payment_lag_years, None)
            excluded = _loan_exclusions(policy, loan, registration=rule2.requires_registration,
                                        settlement=rule2.requires_settlement, threshold=rule2.loan_amount_above,
                                        need_patent=rule2.requires_invention_patent_pledge)
            if excluded:
                e.reasons.extend(R.Reason(c, loan.loan_id, 0, d) for c, d in excluded)
                continue
            per = to_fen(rule2.amount_per_loan)
            book.add(e, to_fen(loan.amount), per,
                     R.Reason(R.PER_LOAN, loan.loan_id, per, f"{'+'.join(types)}: {fmt_yuan(per)}"))


def resolve_lpr(policy: Policy, loan_lpr: Decimal | None, run_lpr: Decimal | None) -> Decimal | None:
    """The LPR a loan is compared with: the loan's, else the run's, else the policy file's; None if none."""
    rule = policy.interest_subsidy
    for x in (loan_lpr, run_lpr, rule.lpr if rule else None):
        if x is not None:
            return _money(x)
    return None


def interest_rate_eligible(policy: Policy, rate: Decimal, lpr: Decimal | None) -> bool:
    """``rate ≤ LPR × max_rate_lpr_multiple`` exactly (True when the policy sets no multiple)."""
    rule = policy.interest_subsidy
    if rule is None or rule.max_rate_lpr_multiple is None:
        return True
    if lpr is None:
        raise InputError([Issue(
            f"policy '{policy.name}' compares loan rates with LPR × {rule.max_rate_lpr_multiple} but no LPR was "
            "given: pass --lpr, add a column 'lpr', or set interest_subsidy.lpr in a policy file",
            table="interest_subsidy", field="lpr")])
    return _money(rate) <= lpr * rule.max_rate_lpr_multiple


def _interest(policy: Policy, book: _Book, loans: Sequence[PledgeLoan], run_lpr: Decimal | None) -> None:
    rule = policy.interest_subsidy
    if rule is None:
        return
    item = "interest_subsidy"
    share = Rate.of(rule.share)
    for loan in loans:
        if loan.rate is None and loan.interest_paid is None:
            raise InputError([Issue(f"loan '{loan.loan_id}' needs a rate for the interest subsidy", field="rate")])
        lpr = resolve_lpr(policy, loan.lpr, run_lpr)
        eligible_rate = interest_rate_eligible(policy, loan.rate, lpr) if loan.rate is not None else True
        if loan.interest_paid is not None:
            paid = {int(y): to_fen(v) for y, v in loan.interest_paid.items()}
        else:
            dy = loan.default_year if loan.status == "defaulted" else None
            paid = interest_by_year(to_fen(loan.amount), Rate.of(loan.rate), loan.start_date, loan.term_months, dy)
        for y in sorted(paid):
            e = book.entry(item, loan.firm_id, y, rule.payment_lag_years, share)
            excluded = []
            if policy.exclusions.already_funded and loan.already_funded:
                excluded.append((R.ALREADY_FUNDED, f"loan {fmt_yuan(to_fen(loan.amount))}"))
            if rule.requires_registration and not loan.cnipa_registered:
                excluded.append((R.PLEDGE_NOT_REGISTERED, ""))
            if not eligible_rate:
                excluded.append((R.RATE_ABOVE_LPR_LIMIT,
                                 f"{loan.rate} > {lpr} x {rule.max_rate_lpr_multiple}"))
            if paid[y] == 0:
                code = R.LOAN_DEFAULTED if loan.status == "defaulted" else R.NO_INTEREST_PAID
                excluded.append((code, f"{y}"))
            if excluded:
                e.reasons.extend(R.Reason(c, loan.loan_id, 0, d) for c, d in excluded)
                continue
            amount = apply_rate(paid[y], share, policy.rounding)
            book.add(e, paid[y], amount, _rate_line(loan.loan_id, paid[y], share, amount, R.INTEREST_SHARE))


def _caps(policy: Policy, book: _Book) -> list[Entitlement]:
    caps_year = {
        "securitization_subsidy": policy.securitization.cap_per_firm_year if policy.securitization else None,
        "pledge_patent_subsidy": policy.pledge_patent.cap_per_firm_year if policy.pledge_patent else None,
        "pledge_other_ip_subsidy": policy.pledge_other_ip.cap_per_firm_year if policy.pledge_other_ip else None,
        "interest_subsidy": policy.interest_subsidy.cap_per_firm_year if policy.interest_subsidy else None,
    }
    cap_life = policy.securitization.cap_per_firm if policy.securitization else None
    used: dict[tuple[str, str], int] = defaultdict(int)
    out = []
    for key in sorted(book.groups, key=lambda k: (k[1], R.ITEMS.index(k[0]), k[2])):
        e = book.groups[key]
        e.payable_fen = e.gross_fen
        cap = caps_year[e.item]
        if cap is not None and e.payable_fen > to_fen(cap):
            c = to_fen(cap)
            e.reasons.append(R.Reason(R.CAP_PER_FIRM_YEAR, "", -(e.payable_fen - c),
                                      f"{fmt_yuan(e.payable_fen)} > {fmt_yuan(c)}"))
            e.payable_fen = c
        if e.item == "securitization_subsidy" and cap_life is not None:
            c = to_fen(cap_life)
            left = c - used[(e.item, e.firm_id)]
            if e.payable_fen > left:
                e.reasons.append(R.Reason(R.CAP_PER_FIRM, "", -(e.payable_fen - left),
                                          f"{fmt_yuan(e.payable_fen)} > {fmt_yuan(left)} left of {fmt_yuan(c)}"))
                e.payable_fen = left
            used[(e.item, e.firm_id)] += e.payable_fen
        out.append(e)
    return out


def compute_entitlements(
    policy: Policy,
    securitizations: Iterable[Securitization] = (),
    loans: Iterable[PledgeLoan] = (),
    *,
    lpr: Decimal | str | float | None = None,
) -> EntitlementReport:
    """Entitlements per firm, item and year, each with its reasons; exact to the fen and deterministic.

    Parameters
    ----------
    policy : Policy
    securitizations : iterable of Securitization
        Financings obtained through IP ABS / ABN (one per firm and deal).
    loans : iterable of PledgeLoan
    lpr : Decimal, optional
        The LPR for the interest subsidy's rate test (a loan's own ``lpr`` wins); required when the policy
        tests rates against the LPR and neither the loan nor the policy file gives one.

    Returns
    -------
    EntitlementReport
        Sorted by firm, item and year; the result does not depend on the order of the inputs.
    """
    secs = list(securitizations)
    lns = sorted(loans, key=lambda x: (x.firm_id, x.loan_id))
    run_lpr = _money(lpr) if lpr is not None else None
    book = _Book()
    _securitization(policy, book, secs)
    _pledge(policy, book, lns)
    _interest(policy, book, lns, run_lpr)
    return EntitlementReport(policy.name, tuple(_caps(policy, book)))
