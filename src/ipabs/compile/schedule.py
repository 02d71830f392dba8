"""Dates → periods with QuantLib: the deal's payment grid and every asset's contractual schedule.

This is one of the two places QuantLib is used (the other is :mod:`ipabs.analytics.bond`). It turns dates into
period indices and year fractions so kernels never see a date.

Conventions (docs/methodology/projection.md):

* Payment dates: ``first_payment_date`` then every ``payment_frequency`` months, up to and including
  ``legal_maturity`` (appended when off the grid), each adjusted on the deal calendar with its business-day
  convention. Period t accrues from the previous payment date (closing date for t = 0) to payment date t; its
  year fraction uses the deal's day count.
* Collection period t holds every asset cash flow dated after the previous collection end (the cut-off date for
  t = 0) and on or before collection end t (计算日). By default (no ``deal.collection``) the collection ends are the
  payment dates and the pool's period lengths are the accrual year fractions (today's calendar, bit for bit); with
  ``deal.collection`` the ends come from its rule or list and the pool's period lengths ``pool_year_fractions`` run
  from the cut-off date (the stub) and between collection ends. Flows on or before the cut-off belong to the seller;
  flows after the last collection end cannot reach investors and are reported as ``after_legal_maturity``.
* Asset schedules run forward from the contract start at the contract frequency to maturity, adjusted on the deal
  calendar. Interest on a period is balance × rate × year fraction (deal day count); a level-payment (等额本息)
  contract uses the periodic rate rate / payments-per-year, as Chinese lenders quote it.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass

import numpy as np
import QuantLib as ql

from ipabs.scenario.schema import FREQUENCY_MONTHS, DealTerms

QL_CHINA_HOLIDAY_DATA_ENDS = 2026  # measured: QuantLib 1.44's China calendars list holidays up to 2026

_CONVENTIONS = {
    "following": ql.Following,
    "modified_following": ql.ModifiedFollowing,
    "preceding": ql.Preceding,
    "unadjusted": ql.Unadjusted,
}


def to_ql(d: dt.date) -> ql.Date:
    return ql.Date(d.day, d.month, d.year)


def from_ql(d: ql.Date) -> dt.date:
    return dt.date(d.year(), d.month(), d.dayOfMonth())


def day_counter(name: str) -> ql.DayCounter:
    """QuantLib day counter for a scenario day-count name."""
    if name == "act/365f":
        return ql.Actual365Fixed()
    if name == "act/360":
        return ql.Actual360()
    if name == "act/act":
        return ql.ActualActual(ql.ActualActual.ISDA)
    if name == "30/360":
        return ql.Thirty360(ql.Thirty360.BondBasis)
    raise ValueError(f"unknown day count {name!r}")


def calendar(name: str, holidays: list[dt.date] | tuple[dt.date, ...] = ()) -> ql.Calendar:
    """The China SSE or IB calendar joined with user holidays.

    Extra holidays go into a fresh ``BespokeCalendar`` joined to the China calendar, never into the China
    calendar itself (``addHoliday`` there is global state shared by every instance).
    """
    base = ql.China(ql.China.IB if name == "china-ib" else ql.China.SSE)
    if not holidays:
        return base
    extra = ql.BespokeCalendar(f"ipabs-extra-{id(holidays)}")
    for h in holidays:
        extra.addHoliday(to_ql(h))
    return ql.JointCalendar(base, extra, ql.JoinHolidays)


@dataclass(frozen=True)
class DealSchedule:
    """The deal's period grid."""

    payment_dates: tuple[dt.date, ...]  # adjusted, one per period
    accrual_start: tuple[dt.date, ...]  # previous payment date (closing for t = 0), adjusted
    year_fractions: np.ndarray  # float64[n_periods]
    collection_bounds: tuple[dt.date, ...]  # cut-off then the collection ends: period t is (b[t], b[t+1]]
    warnings: tuple[str, ...]
    pool_year_fractions: np.ndarray | None = None  # float64[n_periods] collection-period lengths (default: yf)
    note_year_fractions: np.ndarray | None = None  # float64[n_periods] note accrual (default: yf)
    fee_year_fractions: np.ndarray | None = None  # float64[n_periods] fee accrual (default: yf)
    #: int64[n_periods]: 1 where a tranche_balance fee of period t accrues on the balances before payment date t−1's
    #: distribution (``conventions.fee_balance = "collection_period_start"`` and 计算日 t−1 before 兑付日 t−1)
    fee_balance_lag: np.ndarray | None = None
    payment_dates_unadjusted: tuple[dt.date, ...] = ()

    @property
    def collection_ends(self) -> tuple[dt.date, ...]:
        """计算日: the last day of each collection period (the payment dates under the default calendar)."""
        return self.collection_bounds[1:]

    @property
    def note_yf(self) -> np.ndarray:
        """Year fraction of each note accrual period (``conventions.note_day_count`` / ``note_accrual_dates``)."""
        return self.year_fractions if self.note_year_fractions is None else self.note_year_fractions

    @property
    def fee_yf(self) -> np.ndarray:
        """Year fraction over which fees accrue (``conventions.fee_accrual``)."""
        return self.year_fractions if self.fee_year_fractions is None else self.fee_year_fractions

    @property
    def fee_bal_lag(self) -> np.ndarray:
        """Per period, 1 when tranche_balance fees accrue on the balances of the period before (see the field)."""
        if self.fee_balance_lag is None:
            return np.zeros(len(self.payment_dates), dtype=np.int64)
        return self.fee_balance_lag

    @property
    def pool_yf(self) -> np.ndarray:
        """Year fraction of each collection period: the clock of the pool's CDR/CPR, PDs and sales shocks."""
        return self.year_fractions if self.pool_year_fractions is None else self.pool_year_fractions

    @property
    def n_periods(self) -> int:
        return len(self.payment_dates)

    def period_of(self, d: dt.date) -> int:
        """Collection period holding a flow dated ``d``: -1 on or before cut-off, n_periods after the last date."""
        b = self.collection_bounds
        if d <= b[0]:
            return -1
        return bisect.bisect_left(b, d, 1) - 1

    def period_on_or_after(self, d: dt.date) -> int:
        """First period whose payment date is on or after ``d`` (n_periods when none)."""
        return bisect.bisect_left(self.payment_dates, d)


def build_deal_schedule(terms: DealTerms) -> DealSchedule:
    """Payment dates, accrual periods and year fractions of the deal (see module docstring)."""
    cal = calendar(terms.calendar_name, terms.holidays)
    conv = _CONVENTIONS[terms.business_day_convention]
    dc = day_counter(terms.day_count)
    months = FREQUENCY_MONTHS[terms.payment_frequency]
    unadjusted: list[dt.date] = []
    k = 0
    first = to_ql(terms.first_payment_date)
    legal = to_ql(terms.legal_maturity)
    while True:
        d = first + ql.Period(months * k, ql.Months) if k else first
        if d > legal:
            break
        unadjusted.append(from_ql(d))
        k += 1
    if unadjusted[-1] != terms.legal_maturity:
        unadjusted.append(terms.legal_maturity)
    adjusted = [from_ql(cal.adjust(to_ql(d), conv)) for d in unadjusted]
    # adjustment must keep dates strictly increasing
    pay: list[dt.date] = []
    pay_unadj: list[dt.date] = []
    for u, d in zip(unadjusted, adjusted, strict=True):
        if not pay or d > pay[-1]:
            pay.append(d)
            pay_unadj.append(u)
    starts = [terms.closing_date, *pay[:-1]]
    yf = np.array([dc.yearFraction(to_ql(a), to_ql(b)) for a, b in zip(starts, pay, strict=True)], dtype=np.float64)
    warnings = []
    last_year = pay[-1].year
    if last_year > QL_CHINA_HOLIDAY_DATA_ENDS:
        given = {h.year for h in terms.holidays}
        missing = [y for y in range(QL_CHINA_HOLIDAY_DATA_ENDS + 1, last_year + 1) if y not in given]
        if missing:
            warnings.append(
                f"QuantLib's China calendar has no holiday data for {', '.join(map(str, missing))}; payment dates "
                "in those years are adjusted for weekends only — list the official holidays in deal.holidays"
            )
    if terms.collection is None:
        ends, pool_yf = list(pay), None
    else:
        ends = collection_ends(terms, pay_unadj)
        bounds = [terms.cutoff_date, *ends]
        pool_yf = np.array([dc.yearFraction(to_ql(a), to_ql(b)) for a, b in zip(bounds[:-1], ends, strict=True)],
                           dtype=np.float64)
    conv_ = terms.conventions
    note_yf = None
    if conv_.note_day_count is not None or conv_.note_accrual_dates == "unadjusted":
        ndc = day_counter(conv_.note_day_count or terms.day_count)
        ends_n = pay_unadj if conv_.note_accrual_dates == "unadjusted" else pay
        starts_n = [terms.closing_date, *ends_n[:-1]]
        note_yf = np.array([ndc.yearFraction(to_ql(a), to_ql(b)) for a, b in zip(starts_n, ends_n, strict=True)],
                           dtype=np.float64)
    fee_yf = pool_yf if conv_.fee_accrual == "collection_period" else None
    if conv_.fee_accrual == "collection_period" and pool_yf is None:
        fee_yf = yf
    fee_lag = None
    if conv_.fee_balance == "collection_period_start":
        # collection period t runs from just after 计算日 t−1; when that falls before 兑付日 t−1, the notes then
        # still carry the balances the distribution of 兑付日 t−1 reduced (the opening balances of period t−1)
        fee_lag = np.array([1 if t > 0 and ends[t - 1] < pay[t - 1] else 0 for t in range(len(pay))],
                           dtype=np.int64)
    return DealSchedule(
        payment_dates=tuple(pay),
        accrual_start=tuple(starts),
        year_fractions=yf,
        collection_bounds=(terms.cutoff_date, *ends),
        warnings=tuple(warnings),
        pool_year_fractions=pool_yf,
        note_year_fractions=note_yf,
        fee_year_fractions=fee_yf,
        fee_balance_lag=fee_lag,
        payment_dates_unadjusted=tuple(pay_unadj),
    )


def asset_calendar(terms: DealTerms) -> ql.Calendar:
    """The calendar asset instalment dates are adjusted on: the deal's, or none (``asset_dates_adjusted = false``)."""
    if not terms.conventions.asset_dates_adjusted:
        return ql.NullCalendar()
    return calendar(terms.calendar_name, terms.holidays)


def index_fixings(curve, starts: list[dt.date], lag_days: int) -> np.ndarray:
    """Index level in force ``lag_days`` calendar days before each accrual start (a step curve of the scenario)."""
    return np.array([curve.level(d - dt.timedelta(days=int(lag_days))) for d in starts], dtype=np.float64)


def _month_end(y: int, m: int) -> dt.date:
    return dt.date(y + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1)


def _rule_date_before(d: dt.date, rule: int | str) -> dt.date:
    """The last date strictly before ``d`` that ends a collection period under ``rule``."""
    y, m = d.year, d.month
    for _ in range(14):
        if rule == "month_end":
            c = _month_end(y, m)
        elif rule == "quarter_end":
            c = _month_end(y, m) if m % 3 == 0 else None
        else:
            c = dt.date(y, m, min(int(rule), _month_end(y, m).day))
        if c is not None and c < d:
            return c
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    raise ValueError(f"no collection end before {d}")


def collection_ends(terms: DealTerms, pay_unadjusted: list[dt.date]) -> list[dt.date]:
    """计算日 of each payment date from ``deal.collection`` (rule, list or lag); checked to be increasing, after the
    cut-off and not after their payment dates."""
    from ipabs.errors import Issue, ScenarioError

    c = terms.collection
    n = len(pay_unadjusted)
    if c.dates:
        if len(c.dates) != n:
            raise ScenarioError([Issue(f"{len(c.dates)} collection dates for {n} payment dates",
                                       table="deal.collection", field="dates")])
        ends = list(c.dates)
    elif c.payment_lag_days is not None:
        ends = [d - dt.timedelta(days=int(c.payment_lag_days)) for d in pay_unadjusted]
    else:
        ends = [_rule_date_before(d, c.period_end) for d in pay_unadjusted]
    issues = []
    prev = terms.cutoff_date
    for t, (e, p) in enumerate(zip(ends, pay_unadjusted, strict=True)):
        if e <= prev:
            issues.append(Issue(f"collection period {t + 1} ends on {e}, not after {prev} (the cut-off date or the "
                                "previous collection end)", table="deal.collection", field="period_end"))
        if e > p:
            issues.append(Issue(f"collection period {t + 1} ends on {e}, after its payment date {p}",
                                table="deal.collection", field="period_end"))
        prev = e
    if issues:
        raise ScenarioError(issues)
    return ends


@dataclass(frozen=True)
class ContractFlow:
    date: dt.date
    interest: float
    principal: float


def contract_dates(start: dt.date, maturity: dt.date, frequency: str, cal: ql.Calendar) -> list[dt.date]:
    """Adjusted payment dates of a contract, start excluded, maturity included."""
    if frequency == "at_maturity":
        return [from_ql(cal.adjust(to_ql(maturity), ql.Following))]
    months = FREQUENCY_MONTHS[frequency]
    sch = ql.Schedule(
        to_ql(start), to_ql(maturity), ql.Period(months, ql.Months), cal,
        ql.Following, ql.Following, ql.DateGeneration.Forward, False,
    )
    out: list[dt.date] = []
    for d in list(sch)[1:]:
        x = from_ql(d)
        if not out or x > out[-1]:
            out.append(x)
    return out


def contract_flows(
    principal: float,
    rate: float,
    start: dt.date,
    maturity: dt.date,
    frequency: str,
    amortization: str,
    custom: list[tuple[dt.date, float]] | None,
    cal: ql.Calendar,
    dc: ql.DayCounter,
    interest_mode: str = "contract",
    rate_at=None,
    record: list | None = None,
) -> list[ContractFlow]:
    """Contractual cash flows of one asset (interest and principal per payment date), before any default.

    ``bullet`` pays everything at maturity; ``interest_only`` pays interest each period and principal at
    maturity; ``equal_principal`` (等额本金) repays principal / n each period; ``level_payment`` (等额本息) pays a
    constant instalment at the periodic rate; ``custom`` repays the given principal amounts on their dates, with
    interest on each payment date for the time since the previous one.

    ``interest_mode`` (``deal.conventions.asset_interest``): ``contract`` — balance × rate / payments per year for
    level_payment, balance × rate × day-count fraction otherwise; ``day_count`` — always the day-count fraction;
    ``periodic`` — always balance × rate × months of the instalment / 12 (rate / payments per year on a regular
    schedule; whole calendar months between the unadjusted dates for a bullet or a custom date).

    ``rate_at`` (a floating asset, ``pool.floating``): the rate of the instalment period starting on a date, used in
    place of ``rate``; a level-payment instalment is then recomputed at each reset over the remaining instalments.

    ``record`` (a list): each instalment's (payment date, reset date, interest per unit of rate, rate) is appended —
    what the Monte Carlo's simulated index paths move (:mod:`ipabs.prepare.rates`).
    """
    periodic = interest_mode == "periodic" or (interest_mode == "contract" and amortization == "level_payment")
    if amortization == "bullet":
        d = contract_dates(start, maturity, "at_maturity", cal)[0]
        tau = _months(start, maturity) / 12.0 if periodic else dc.yearFraction(to_ql(start), to_ql(maturity))
        rate = rate if rate_at is None else rate_at(start)
        if record is not None:
            record.append((d, start, principal * tau, rate))
        return [ContractFlow(d, principal * rate * tau, principal)]
    if amortization == "custom":
        repay = {d: 0.0 for d, _ in (custom or [])}
        for d, amt in custom or []:
            repay[d] += amt
        grid = set(contract_dates(start, maturity, frequency, cal)) if frequency != "at_maturity" else set()
        adj_repay: dict[dt.date, float] = {}
        for d, amt in repay.items():
            da = from_ql(cal.adjust(to_ql(d), ql.Following))
            adj_repay[da] = adj_repay.get(da, 0.0) + amt
        dates = sorted(grid | set(adj_repay))
    else:
        dates = contract_dates(start, maturity, frequency, cal)
        adj_repay = {}
        grid = set(dates)
    n = len(dates)
    flows: list[ContractFlow] = []
    bal = principal
    prev = start
    if amortization == "level_payment":
        ppy = 12 // FREQUENCY_MONTHS[frequency] if frequency != "at_maturity" else 1
        r = rate / ppy
        pmt = principal / n if r == 0.0 else principal * r / (1.0 - (1.0 + r) ** (-n))
    reg = (FREQUENCY_MONTHS[frequency] / 12.0) if frequency != "at_maturity" else None
    for i, d in enumerate(dates):
        last = i == n - 1
        if rate_at is not None:
            rate = rate_at(prev)
            if amortization == "level_payment":
                r = rate / ppy
                left = n - i
                pmt = bal / left if r == 0.0 else bal * r / (1.0 - (1.0 + r) ** (-left))
        if periodic:
            if amortization == "level_payment":
                interest = bal * r
                acc = 1.0 / ppy
            elif reg is not None and (amortization != "custom" or d in grid):
                interest = bal * rate * reg
                acc = reg
            else:
                acc = _months(prev, d) / 12.0
                interest = bal * rate * acc
        else:
            acc = dc.yearFraction(to_ql(prev), to_ql(d))
            interest = bal * rate * acc
        if record is not None:
            record.append((d, prev, bal * acc, rate))
        if amortization == "level_payment":
            prin = bal if last else min(bal, pmt - interest)
        else:
            if amortization == "interest_only":
                prin = bal if last else 0.0
            elif amortization == "equal_principal":
                prin = bal if last else principal / n
            else:  # custom
                prin = min(bal, adj_repay.get(d, 0.0))
                if last:
                    prin = bal
        bal -= prin
        flows.append(ContractFlow(d, interest, prin))
        prev = d
    return flows


def _months(a: dt.date, b: dt.date) -> int:
    """Whole calendar months from ``a`` to ``b`` (at least 1): the periodic convention's instalment length."""
    return max(1, round((b.year - a.year) * 12 + (b.month - a.month) + (b.day - a.day) / 30.0))
