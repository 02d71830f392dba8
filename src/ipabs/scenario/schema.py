"""The scenario file schema (version 1): English keys, amounts in yuan, rates as decimals.

A scenario is one TOML file. Its tables are validated here with pydantic v2 (frozen models); every problem is
collected and turned into :class:`ipabs.errors.ScenarioError` by :func:`ipabs.scenario.io.load_scenario`, each
naming the file, the table and the key. Cross-references (names used by waterfall steps, triggers and fees) are
checked in :func:`check_references`, which also collects every problem before raising.

The JSON Schema of :class:`Scenario` (``ipabs schema``) is the machine-readable form of docs/scenario-format.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ipabs.defaults import MAX_PATHS, MAX_SEED
from ipabs.errors import Issue

SCHEMA_VERSION = 1

Amount = Annotated[float, Field(ge=0, le=1e13, allow_inf_nan=False, description="yuan")]
Rate = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, description="decimal")]

Frequency = Literal["monthly", "quarterly", "semiannual", "annual"]
FREQUENCY_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class CollectionCalendar(_Model):
    """回收款归集期间: the collection-period end dates (计算日), one per payment date (docs/methodology/projection.md §1).

    Exactly one of ``period_end``, ``dates`` or ``payment_lag_days``. Without this table the collection periods end
    on the payment dates (the legacy calendar, docs/decisions/020-deal-calendar-defaults.md).
    """

    period_end: int | Literal["month_end", "quarter_end"] | None = Field(
        None, description="rule: the last such date strictly before each (unadjusted) payment date; an integer is a "
        "day of the month 1-31 (clamped to the month's last day)"
    )
    dates: list[dt.date] = Field(default_factory=list, description="explicit 计算日, one per payment date, increasing")
    payment_lag_days: int | None = Field(
        None, ge=0, le=366, description="calendar days from the period end to the unadjusted payment date"
    )

    @model_validator(mode="after")
    def _one_rule(self) -> CollectionCalendar:
        given = [k for k in ("period_end", "dates", "payment_lag_days")
                 if getattr(self, k) not in (None, [])]
        if len(given) != 1:
            raise ValueError("give exactly one of period_end, dates or payment_lag_days")
        if isinstance(self.period_end, int) and not 1 <= self.period_end <= 31:
            raise ValueError(f"period_end day {self.period_end} is not a day of the month 1-31")
        if any(b <= a for a, b in zip(self.dates, self.dates[1:], strict=False)):
            raise ValueError("collection dates must be strictly increasing")
        return self


DayCount = Literal["act/365f", "act/360", "act/act", "30/360"]


class Conventions(_Model):
    """Accrual conventions of the deal's documents (docs/methodology/projection.md §2, waterfall.md §1); every
    default reproduces the former behaviour (docs/decisions/020-deal-calendar-defaults.md)."""

    asset_interest: Literal["contract", "day_count", "periodic"] = Field(
        "contract", description="asset interest per instalment: day_count = balance × rate × day-count fraction; "
        "periodic = balance × rate / payments per year; contract = periodic for level_payment, day_count otherwise"
    )
    asset_dates_adjusted: bool = Field(
        True, description="move asset instalment dates to the next business day of the deal calendar"
    )
    note_day_count: DayCount | None = Field(None, description="day count of tranche interest (default deal.day_count)")
    note_accrual_dates: Literal["adjusted", "unadjusted"] = Field(
        "adjusted", description="tranche interest accrues between adjusted or unadjusted payment dates"
    )
    fee_accrual: Literal["payment_period", "collection_period"] = Field(
        "payment_period", description="fees accrue over the payment (accrual) period or over the collection period"
    )
    fee_balance: Literal["payment_period_start", "collection_period_start"] = Field(
        "payment_period_start", description="tranche_balance fees accrue on the tranche balances at the start of the "
        "payment period (after the previous payment date's distribution) or at the start of the collection period "
        "(before the previous payment date's distribution when the collection period ends before its payment date)"
    )


class DealTerms(_Model):
    """Dates and conventions of the special plan (专项计划) or ABN."""

    name: str = Field(min_length=1, description="deal name; Chinese allowed")
    market: Literal["exchange", "interbank"] = Field(
        "exchange", description="exchange ABS (SSE/SZSE 资产支持专项计划) or interbank ABN (NAFMII 资产支持票据)"
    )
    cutoff_date: dt.date = Field(description="初始起算日: pool balances are measured at this date")
    closing_date: dt.date = Field(description="设立日: tranches are issued and start accruing interest")
    first_payment_date: dt.date = Field(description="first 兑付日 (unadjusted)")
    payment_frequency: Frequency = "quarterly"
    calendar: Literal["china-sse", "china-ib"] | None = Field(
        None, description="QuantLib calendar; default china-sse for exchange, china-ib for interbank"
    )
    holidays: list[dt.date] = Field(
        default_factory=list,
        description="extra holidays for years QuantLib's China calendar does not cover yet (its tables stop at 2026)",
    )
    business_day_convention: Literal["following", "modified_following", "preceding", "unadjusted"] = "following"
    day_count: DayCount = "act/365f"
    legal_maturity: dt.date = Field(description="法定到期日: last payment date; unpaid principal then is a loss")
    conventions: Conventions = Field(default_factory=Conventions, description="accrual conventions")
    collection: CollectionCalendar | None = Field(
        None, description="collection-period calendar (回收款归集期间); default: periods end on the payment dates"
    )
    clean_up_call: Rate = Field(
        0.0, description="清仓回购: the originator buys the performing pool when it falls below this fraction of the "
        "cut-off balance (0 = no call)"
    )

    @property
    def calendar_name(self) -> str:
        if self.calendar:
            return self.calendar
        return "china-ib" if self.market == "interbank" else "china-sse"

    @model_validator(mode="after")
    def _dates_in_order(self) -> DealTerms:
        if not self.cutoff_date <= self.closing_date:
            raise ValueError(f"cutoff_date {self.cutoff_date} must not be after closing_date {self.closing_date}")
        if not self.closing_date < self.first_payment_date:
            raise ValueError(
                f"first_payment_date {self.first_payment_date} must be after closing_date {self.closing_date}"
            )
        if not self.first_payment_date <= self.legal_maturity:
            raise ValueError(
                f"legal_maturity {self.legal_maturity} must not be before first_payment_date {self.first_payment_date}"
            )
        if (self.legal_maturity - self.closing_date).days > 366 * 40:
            raise ValueError("legal_maturity is more than 40 years after closing_date")
        return self


class FloatingAssets(_Model):
    """Assets whose contract rate floats: index + spread, reset at the start of each instalment period."""

    index: str = Field(min_length=1, description="name of a curve in [indices], e.g. LPR_1Y")
    asset_ids: list[str] = Field(default_factory=list, description="the floating assets (empty: by asset_types)")
    asset_types: list[str] = Field(default_factory=list, description="every asset of these types floats")
    spread: float | None = Field(
        None, ge=-0.2, le=0.2, allow_inf_nan=False,
        description="added to the index; omitted: the tape rate minus the index level at the contract start"
    )
    floor: float | None = Field(None, ge=-0.2, le=1, allow_inf_nan=False, description="minimum rate (omit = none)")
    cap: float | None = Field(None, ge=-0.2, le=1, allow_inf_nan=False, description="maximum rate (omit = none)")

    @model_validator(mode="after")
    def _which(self) -> FloatingAssets:
        if not self.asset_ids and not self.asset_types:
            raise ValueError("name the floating assets by asset_ids or asset_types")
        return self

    def rate(self, curve: IndexCurve, tape_rate: float, start: dt.date, reset: dt.date) -> float:
        """The asset's rate for an instalment period starting on ``reset``."""
        spread = tape_rate - curve.level(start) if self.spread is None else self.spread
        r = curve.level(reset) + spread
        if self.floor is not None:
            r = max(r, self.floor)
        if self.cap is not None:
            r = min(r, self.cap)
        return r


class PoolSpec(_Model):
    """Where the pool tape is; relative paths are taken from the scenario file's folder."""

    tape: str = Field(min_length=1, description="CSV (UTF-8, UTF-8-BOM, GBK/GB18030), XLSX or Parquet")
    sheet: str | None = Field(None, description="XLSX sheet name (default: the first sheet)")
    strict: bool = Field(False, description="fail on any rejected row instead of reporting and dropping it")
    floating: list[FloatingAssets] = Field(default_factory=list,
                                           description="assets with floating rates (index + spread)")


class ObligorDefault(_Model):
    """A named obligor defaults in a given period (1-based) — the largest-obligor test."""

    obligor_id: str = Field(min_length=1)
    period: int = Field(ge=1, description="1-based payment period in which the obligor stops paying")


class Assumptions(_Model):
    """Deterministic performance assumptions (one scenario, no randomness)."""

    cdr: Rate = Field(0.0, description="constant annual default rate, converted to a period rate 1-(1-cdr)^(yf)")
    cumulative_default_rate: Rate | None = Field(
        None, description="alternative to cdr: total defaults as a fraction of the cut-off balance, spread by "
        "default_timing"
    )
    default_timing: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=list, description="weights per period for cumulative_default_rate (normalised to sum to 1)"
    )
    cpr: Rate = Field(0.0, description="constant annual prepayment rate")
    recovery_rate: Rate = Field(0.0, description="fraction of the defaulted balance recovered")
    recovery_lag_periods: int = Field(0, ge=0, le=480, description="payment periods from default to recovery")
    default_multiplier: float = Field(1.0, ge=0, le=100, allow_inf_nan=False, description="stress on cdr / CDR")
    recovery_multiplier: float = Field(1.0, ge=0, le=10, allow_inf_nan=False, description="stress on recovery_rate")
    cpr_multiplier: float = Field(1.0, ge=0, le=100, allow_inf_nan=False, description="stress on cpr")
    obligor_defaults: list[ObligorDefault] = Field(default_factory=list)

    @model_validator(mode="after")
    def _timing(self) -> Assumptions:
        if self.default_timing and self.cumulative_default_rate is None:
            raise ValueError("default_timing needs cumulative_default_rate")
        if self.cumulative_default_rate is not None and self.cdr > 0:
            raise ValueError("give either cdr or cumulative_default_rate, not both")
        if self.default_timing and sum(self.default_timing) <= 0:
            raise ValueError("default_timing weights must not all be zero")
        return self


class ScheduledBalance(_Model):
    date: dt.date
    balance: Amount


class FloatingCoupon(_Model):
    """A floating coupon: the index level fixed at the start of each accrual period plus a spread, floored and
    capped (docs/methodology/waterfall.md §1)."""

    index: str = Field(min_length=1, description="name of a curve in [indices], e.g. LPR_1Y, LPR_5Y, SHIBOR_3M")
    spread: float = Field(0.0, ge=-0.2, le=0.2, allow_inf_nan=False, description="added to the index, decimal")
    floor: float | None = Field(None, ge=-0.2, le=1, allow_inf_nan=False, description="minimum coupon (omit = none)")
    cap: float | None = Field(None, ge=-0.2, le=1, allow_inf_nan=False, description="maximum coupon (omit = none)")
    fixing_lag_days: int = Field(0, ge=0, le=31, description="calendar days before the accrual start the index is read")


class IndexCurve(_Model):
    """A deterministic forward path of a rate index: levels from their dates on (step-wise)."""

    dates: list[dt.date] = Field(min_length=1, description="dates the levels apply from, strictly increasing")
    levels: list[float] = Field(min_length=1, description="index level (decimal) from each date until the next")
    tenor_years: float | None = Field(
        None, gt=0, le=30, allow_inf_nan=False,
        description="term of the rate the index quotes, in years (LPR 1Y: 1, Shibor 3M: 0.25); needed only by the "
        "Monte Carlo's Hull–White index paths (simulation.rates)",
    )

    @model_validator(mode="after")
    def _same_length(self) -> IndexCurve:
        if len(self.dates) != len(self.levels):
            raise ValueError(f"{len(self.dates)} dates but {len(self.levels)} levels")
        if any(b <= a for a, b in zip(self.dates, self.dates[1:], strict=False)):
            raise ValueError("index curve dates must be strictly increasing")
        if any(not -0.2 <= x <= 1.0 for x in self.levels):
            raise ValueError("index levels must be decimals between -0.2 and 1")
        return self

    def level(self, d: dt.date) -> float:
        """The level in force on ``d`` (the first level before the first date)."""
        import bisect

        return self.levels[max(0, bisect.bisect_right(self.dates, d) - 1)]


class Tranche(_Model):
    """A class of securities (优先级 / 中间级 / 次级)."""

    name: str = Field(min_length=1, description="e.g. 优先A; referred to by waterfall steps")
    seniority: Literal["senior", "mezzanine", "subordinate"]
    balance: Amount = Field(description="original face, yuan")
    coupon: Rate = Field(0.0, description="fixed annual coupon (subordinate usually 0: it takes the residual)")
    amortization: Literal["bullet", "pass_through", "scheduled"] = Field(
        "pass_through",
        description="bullet: all principal due on expected_maturity; pass_through: nothing due before legal "
        "maturity (pays what the waterfall gives); scheduled: due down to the target balances in schedule",
    )
    expected_maturity: dt.date | None = Field(None, description="预期到期日 (bullet); default legal maturity")
    schedule: list[ScheduledBalance] = Field(default_factory=list, description="target balance after each date")
    interest_on_shortfall: bool = Field(False, description="unpaid interest itself accrues at the coupon")
    floating: FloatingCoupon | None = Field(None, description="floating coupon (index + spread); coupon then unused")
    price: float = Field(100.0, gt=0, le=200, allow_inf_nan=False, description="dirty price, % of par, for yield")

    @model_validator(mode="after")
    def _amortization(self) -> Tranche:
        if self.amortization == "scheduled" and not self.schedule:
            raise ValueError("amortization 'scheduled' needs a schedule of target balances")
        if self.schedule and self.amortization != "scheduled":
            raise ValueError("schedule is only used with amortization = 'scheduled'")
        if self.schedule:
            dates = [s.date for s in self.schedule]
            if dates != sorted(dates) or len(set(dates)) != len(dates):
                raise ValueError("schedule dates must be strictly increasing")
            bals = [s.balance for s in self.schedule]
            if any(b2 > b1 for b1, b2 in zip(bals, bals[1:], strict=False)) or bals[0] > self.balance:
                raise ValueError("schedule target balances must not increase")
        return self


class Fee(_Model):
    """Taxes and fees (税费): accrue each period, unpaid amounts carry forward."""

    name: str = Field(min_length=1)
    basis: Literal["fixed", "pool_balance", "tranche_balance", "interest_collections"] = Field(
        description="fixed: annual_amount accrued by year fraction; pool_balance / tranche_balance: rate p.a. on the "
        "balance at the start of the period; interest_collections: rate × interest collected (e.g. VAT 增值税)"
    )
    rate: Rate = 0.0
    annual_amount: Amount = 0.0
    tranches: list[str] = Field(default_factory=list, description="tranches whose balance is the basis")

    @model_validator(mode="after")
    def _basis(self) -> Fee:
        if self.basis == "fixed" and self.rate:
            raise ValueError("a fixed fee takes annual_amount, not rate")
        if self.basis != "fixed" and self.annual_amount:
            raise ValueError(f"a {self.basis} fee takes rate, not annual_amount")
        if self.basis == "tranche_balance" and not self.tranches:
            raise ValueError("a tranche_balance fee needs tranches")
        if self.basis != "tranche_balance" and self.tranches:
            raise ValueError("tranches is only used with basis = 'tranche_balance'")
        return self


CollectionKind = Literal["interest", "principal", "recoveries"]


class Account(_Model):
    """A plan account: a collection account receives pool cash; a reserve account holds cash to a target."""

    name: str = Field(min_length=1)
    kind: Literal["collection", "reserve"] = "collection"
    receives: list[CollectionKind] = Field(default_factory=list, description="which collections are paid in")
    initial_balance: Amount = 0.0
    target_amount: Amount = Field(0.0, description="reserve target, yuan")
    target_rate: Rate = Field(0.0, description="reserve target as a fraction of the target_tranches' balance")
    target_tranches: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _kind(self) -> Account:
        if self.kind == "reserve" and self.receives:
            raise ValueError("a reserve account receives no collections (fund it with a transfer step)")
        if self.target_rate and not self.target_tranches:
            raise ValueError("target_rate needs target_tranches")
        return self


class Support(_Model):
    """External credit support: 差额支付承诺 (shortfall commitment) or 担保 (guarantee).

    Both are drawn by ``draw_support`` steps against the shortfall of named amounts due, up to ``cap`` over the life
    of the deal. The provider can default (deterministically in ``default_period``; in the Monte Carlo as an obligor
    of the copula with probability ``pd``): from then on it pays nothing.
    """

    name: str = Field(min_length=1)
    kind: Literal["shortfall_commitment", "guarantee"] = "shortfall_commitment"
    cap: Amount | None = Field(None, description="total it will pay over the deal's life; omit for unlimited")
    default_period: int = Field(0, ge=0, description="deterministic: provider defaults in this period (0 = never)")
    pd: Rate | None = Field(None, description="annual default probability of the provider (Monte Carlo)")
    rating: str | None = Field(None, description="provider rating, mapped through the rating table (Monte Carlo)")
    sector: str | None = Field(None, description="sector whose factor the provider loads on (Monte Carlo)")


class Trigger(_Model):
    """A condition tested each period before the waterfall; when it holds the deal moves to ``effect``."""

    name: str = Field(min_length=1)
    condition: Literal["cumulative_default_ratio", "coverage_ratio", "support_default", "on_date"]
    threshold: float = Field(0.0, ge=0, le=1000, allow_inf_nan=False)
    support: str | None = None
    date: dt.date | None = None
    effect: Literal["accelerated", "post_default"]
    curable: bool = False

    @model_validator(mode="after")
    def _params(self) -> Trigger:
        if self.condition == "support_default" and not self.support:
            raise ValueError("condition 'support_default' needs support")
        if self.condition == "on_date" and self.date is None:
            raise ValueError("condition 'on_date' needs date")
        if self.condition in ("cumulative_default_ratio", "coverage_ratio") and self.threshold <= 0:
            raise ValueError(f"condition '{self.condition}' needs a positive threshold")
        return self


Action = Literal["pay_fees", "pay_interest", "pay_principal", "transfer", "draw_support", "pay_residual"]


class Step(_Model):
    """One step of a waterfall (分配顺序). See docs/methodology/waterfall.md for each action's semantics."""

    action: Action
    account: str | None = Field(None, description="source account (default: the first collection account)")
    fees: list[str] = Field(default_factory=list, description="pay_fees: which fees (default all, in order)")
    tranches: list[str] = Field(default_factory=list, description="pay_interest / pay_principal targets")
    tranche: str | None = Field(None, description="pay_residual: the tranche receiving the residual")
    allocation: Literal["sequential", "pro_rata"] = "sequential"
    amount: Literal["due", "all", "collected", "to_target", "shortfall"] | None = Field(
        None,
        description="pay_principal: due (default) | all | collected; transfer: all | to_target | shortfall",
    )
    to: str | None = Field(None, description="transfer / draw_support: destination account")
    support: str | None = Field(None, description="draw_support: the provider")
    covers: list[str] = Field(
        default_factory=list,
        description="shortfall basis: 'fees', 'fee:NAME', 'interest:TRANCHE', 'principal:TRANCHE'",
    )
    require_repaid: list[str] = Field(
        default_factory=list, description="the step runs only once these tranches have zero balance"
    )

    @model_validator(mode="after")
    def _params(self) -> Step:
        a = self.action
        if a in ("pay_interest", "pay_principal") and not self.tranches:
            raise ValueError(f"{a} needs tranches")
        if a == "pay_residual" and not self.tranche:
            raise ValueError("pay_residual needs tranche")
        if a == "transfer" and not self.to:
            raise ValueError("transfer needs to")
        if a == "draw_support" and not self.support:
            raise ValueError("draw_support needs support")
        if a == "draw_support" and not self.covers:
            raise ValueError("draw_support needs covers (the amounts whose shortfall it pays)")
        allowed = {
            "pay_principal": {None, "due", "all", "collected"},
            "transfer": {None, "all", "to_target", "shortfall"},
        }.get(a, {None})
        if self.amount not in allowed:
            raise ValueError(f"amount '{self.amount}' is not valid for {a}")
        if a == "transfer" and self.amount == "shortfall" and not self.covers:
            raise ValueError("transfer with amount 'shortfall' needs covers")
        return self


class Waterfalls(_Model):
    """One ordered list of steps per deal state; states without a list use the normal one."""

    normal: list[Step] = Field(min_length=1)
    accelerated: list[Step] = Field(default_factory=list)
    post_default: list[Step] = Field(default_factory=list)


class Haircut(_Model):
    """Beta-distributed disposal haircut on the appraised value of the IP behind an asset."""

    mean: Rate
    std: float = Field(ge=0, le=0.5, allow_inf_nan=False)

    @model_validator(mode="after")
    def _feasible(self) -> Haircut:
        if self.std > 0 and self.std**2 >= self.mean * (1 - self.mean):
            raise ValueError("std too large for a beta distribution with this mean (need std² < mean(1 − mean))")
        return self


class SectorRevenue(_Model):
    """Drift and volatility of the sales index of the firms of one sector (sales-linked royalties)."""

    volatility: float = Field(ge=0, le=3, allow_inf_nan=False,
                              description="annual volatility σ of the log sales index")
    drift: float = Field(0.0, ge=-1, le=1, allow_inf_nan=False,
                         description="annual drift μ: expected sales grow as e^(μ·t)")


class RevenueRisk(_Model):
    """Sales-linked royalties: each firm's royalties move with its own lognormal sales index (Monte Carlo only)."""

    volatility: float = Field(ge=0, le=3, allow_inf_nan=False,
                              description="annual volatility σ of a firm's log sales index (sectors not in by_sector)")
    drift: float = Field(0.0, ge=-1, le=1, allow_inf_nan=False,
                         description="annual drift μ (sectors not in by_sector): E[S_t] = e^(μ·t)")
    by_sector: dict[str, SectorRevenue] = Field(default_factory=dict,
                                                description="volatility and drift per sector (the tape's industry)")
    asset_types: list[str] = Field(default_factory=lambda: ["royalty_licence"], min_length=1,
                                   description="asset types whose payments are sales-linked")
    floor: float = Field(0.0, ge=0, le=1, allow_inf_nan=False,
                         description="guaranteed minimum royalty, as a fraction of the scheduled payment")
    cap: float | None = Field(None, ge=1, allow_inf_nan=False,
                              description="maximum royalty as a multiple of the scheduled payment (omit = none)")
    factor_loading: float = Field(
        0.0, ge=0, le=1, allow_inf_nan=False,
        description="loading w of each firm's sales shock on its obligor's systematic copula factor (0 = independent)"
    )

    @field_validator("asset_types")
    @classmethod
    def _known_types(cls, v: list[str]) -> list[str]:
        from ipabs.scenario.tape import ASSET_TYPES

        bad = [x for x in v if x not in ASSET_TYPES]
        if bad:
            raise ValueError(f"unknown asset type(s) {bad}; expected some of {list(ASSET_TYPES)}")
        return v


class RateModel(_Model):
    """Simulated index paths in the Monte Carlo: a one-factor Hull–White short rate (QuantLib) fitted to each index's
    forward path; each fixing moves by the change of the model's term rate (docs/methodology/monte-carlo.md §6)."""

    model: Literal["hull_white"] = Field("hull_white", description="the short-rate model (one factor)")
    mean_reversion: float = Field(gt=0, le=5, allow_inf_nan=False, description="a, per year")
    volatility: float = Field(ge=0, le=0.2, allow_inf_nan=False,
                              description="σ of the short rate, decimal per √year (0.006 = 60 bp)")


class Simulation(_Model):
    """Monte Carlo settings (used by the credit engine); see docs/methodology/monte-carlo.md."""

    n_paths: int = Field(10_000, ge=0, le=MAX_PATHS)
    seed: int = Field(20260101, ge=0, le=MAX_SEED)
    correlation: Rate = Field(0.2, description="asset correlation rho with the global factor (loading sqrt(rho))")
    sector_correlation: Rate = Field(0.1, description="extra correlation within a sector")
    copula: Literal["gaussian", "student_t"] = Field(
        "gaussian", description="gaussian, or student_t (the same factor structure divided by a common sqrt(W/ν), "
        "W ~ chi-square(ν): tail dependence; docs/methodology/copula.md)"
    )
    degrees_of_freedom: float | None = Field(
        None, gt=0, le=1000, allow_inf_nan=False, description="ν of the Student-t copula (required with student_t)"
    )
    rating_table: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="name of a rating → annual PD table in ipabs/data (used for obligors without a pd; "
        "the shipped table is illustrative, so it is used only when named)"
    )
    default_pd: Rate | None = Field(None, description="annual PD for obligors with neither pd nor a rated PD")
    pd_interpolation: Literal["none", "log_linear"] = Field(
        "none", description="PD term structures of a rating table whose horizons do not include every whole year of "
        "the deal: none = refuse; log_linear = interpolate the survival log-linearly (constant hazard between "
        "horizons, the last hazard continued)",
    )
    recovery_model: Literal["fixed_rate", "ip_disposal"] = Field(
        "ip_disposal", description="fixed_rate: assumptions.recovery_rate × defaulted balance; ip_disposal: "
        "min(exposure, appraisal × (1 − haircut)) × (1 − disposal_cost_rate), haircut ~ beta"
    )
    haircut: Haircut = Field(default_factory=lambda: Haircut(mean=0.7, std=0.15),
                             description="default disposal haircut on appraisal (assumption)")
    haircut_by_ip_type: dict[str, Haircut] = Field(default_factory=dict,
                                                   description="haircut per IP type (the asset's first IP right)")
    disposal_cost_rate: Rate = Field(0.1, description="legal/auction costs as a fraction of gross recovery")
    recovery_downturn: float = Field(
        0.0, ge=0, le=1, allow_inf_nan=False,
        description="downturn recoveries: the disposal haircut becomes h − s·M (clipped to [0, 1]), M the global "
        "factor; 0 = haircuts independent of the economy",
    )
    recovery_lag_max_periods: int | None = Field(
        None, ge=0, le=480, description="drawn recovery lags: uniform on recovery_lag_periods .. this many periods "
        "(omit for the fixed assumptions.recovery_lag_periods)",
    )
    revenue_risk: RevenueRisk | None = Field(
        None, description="sales-linked royalties with firm-level lognormal sales shocks (omit = the scheduled "
        "royalties are paid in full while the firm performs)",
    )
    rates: RateModel | None = Field(
        None, description="simulated index paths for floating coupons and floating assets (omit = every path uses "
        "the forward paths of [indices])",
    )
    statistics: Literal["full", "losses"] = Field(
        "full", description="what each Monte Carlo path reports: full = tranche losses, shortfalls, WAL, yield and "
        "the expected cash flows with 5/50/95% bands by period; losses = tranche losses, shortfall flags, support "
        "and pool rates only (the same numbers bit for bit, faster: for sizing loops and stress grids; decision 012)",
    )

    @field_validator("sector_correlation")
    @classmethod
    def _positive_definite(cls, v: float, info) -> float:
        # one global factor plus one per sector: obligors of one sector are correlated rho + sector_rho, and the
        # implied correlation matrix is positive definite exactly when rho + sector_rho < 1 (both >= 0, by Rate)
        rho = info.data.get("correlation")
        if isinstance(rho, float | int) and rho + v >= 1:
            raise ValueError(f"correlation {rho:g} + sector_correlation {v:g} = {rho + v:g} must be below 1 (the "
                             "correlation of two obligors of one sector; at 1 or above the implied correlation "
                             "matrix is not positive definite)")
        return v

    @model_validator(mode="after")
    def _copula(self) -> Simulation:
        if self.copula == "student_t" and self.degrees_of_freedom is None:
            raise ValueError("copula 'student_t' needs degrees_of_freedom")
        if self.copula == "gaussian" and self.degrees_of_freedom is not None:
            raise ValueError("degrees_of_freedom is only used with copula = 'student_t'")
        return self


class Scenario(_Model):
    """A whole scenario file."""

    schema_version: Literal[1] = Field(1, description="version of this schema")
    deal: DealTerms
    pool: PoolSpec
    assumptions: Assumptions = Field(default_factory=Assumptions)
    tranches: list[Tranche] = Field(min_length=1)
    fees: list[Fee] = Field(default_factory=list)
    accounts: list[Account] = Field(
        default_factory=lambda: [Account(name="collection", receives=["interest", "principal", "recoveries"])],
        description="plan accounts; default one collection account receiving everything",
    )
    support: list[Support] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)
    waterfall: Waterfalls
    simulation: Simulation = Field(default_factory=Simulation)
    indices: dict[str, IndexCurve] = Field(default_factory=dict,
                                           description="forward paths of the rate indices floating coupons use")

    def collection_accounts(self) -> list[Account]:
        return [a for a in self.accounts if a.kind == "collection"]


def check_references(s: Scenario, file: str | None = None) -> list[Issue]:
    """Cross-check every name the scenario uses; return all problems (empty when consistent)."""
    issues: list[Issue] = []

    def bad(table: str, field: str, msg: str) -> None:
        issues.append(Issue(msg, file=file, table=table, field=field))

    for kind, names in (
        ("tranches", [t.name for t in s.tranches]),
        ("fees", [f.name for f in s.fees]),
        ("accounts", [a.name for a in s.accounts]),
        ("support", [x.name for x in s.support]),
        ("triggers", [t.name for t in s.triggers]),
    ):
        seen: set[str] = set()
        for i, n in enumerate(names):
            if n in seen:
                bad(f"{kind}[{i}]", "name", f"duplicate name '{n}'")
            seen.add(n)

    tranche_names = {t.name for t in s.tranches}
    fee_names = {f.name for f in s.fees}
    account_names = {a.name for a in s.accounts}
    support_names = {x.name for x in s.support}

    collections = s.collection_accounts()
    if not collections:
        bad("accounts", "kind", "at least one collection account is needed")
    routed: dict[str, list[str]] = {}
    for a in collections:
        for r in a.receives:
            routed.setdefault(r, []).append(a.name)
    for r in ("interest", "principal", "recoveries"):
        if len(routed.get(r, [])) > 1:
            bad("accounts", "receives", f"'{r}' is received by more than one account: {routed[r]}")
        if collections and not routed.get(r):
            bad("accounts", "receives", f"no collection account receives '{r}'")

    for i, t in enumerate(s.tranches):
        if t.expected_maturity and not (s.deal.closing_date < t.expected_maturity <= s.deal.legal_maturity):
            bad(f"tranches[{i}]", "expected_maturity",
                f"{t.expected_maturity} must be after closing and not after legal_maturity {s.deal.legal_maturity}")
        if t.amortization != "bullet" and t.expected_maturity and t.amortization != "pass_through":
            bad(f"tranches[{i}]", "expected_maturity", "expected_maturity is used with bullet or pass_through tranches")
        if t.floating is not None and t.floating.index not in s.indices:
            bad(f"tranches[{i}].floating", "index",
                f"index '{t.floating.index}' is not in [indices] (known: {sorted(s.indices)})")
        for j, sb in enumerate(t.schedule):
            if not (s.deal.closing_date < sb.date <= s.deal.legal_maturity):
                bad(f"tranches[{i}].schedule[{j}]", "date", f"{sb.date} is outside the deal's life")
    for i, fa in enumerate(s.pool.floating):
        if fa.index not in s.indices:
            bad(f"pool.floating[{i}]", "index", f"index '{fa.index}' is not in [indices] (known: {sorted(s.indices)})")
    if s.simulation.rates is not None:
        used = sorted({t.floating.index for t in s.tranches if t.floating is not None}
                      | {fa.index for fa in s.pool.floating})
        if not used:
            bad("simulation.rates", "model", "simulated index paths need a floating tranche or floating assets "
                "(tranches[].floating, [[pool.floating]]); remove [simulation.rates]")
        for name in used:
            if name in s.indices and s.indices[name].tenor_years is None:
                bad(f"indices.{name}", "tenor_years", f"index '{name}' needs tenor_years (the term of the rate it "
                    "quotes, in years) for the Hull–White index paths of simulation.rates")
    order = {"senior": 0, "mezzanine": 1, "subordinate": 2}
    ranks = [order[t.seniority] for t in s.tranches]
    if ranks != sorted(ranks):
        bad("tranches", "seniority", "tranches must be listed from most senior to most junior")
    if not any(t.seniority == "senior" for t in s.tranches):
        bad("tranches", "seniority", "at least one senior tranche is needed")

    for i, f in enumerate(s.fees):
        for n in f.tranches:
            if n not in tranche_names:
                bad(f"fees[{i}]", "tranches", f"unknown tranche '{n}'")
    for i, a in enumerate(s.accounts):
        for n in a.target_tranches:
            if n not in tranche_names:
                bad(f"accounts[{i}]", "target_tranches", f"unknown tranche '{n}'")
    for i, t in enumerate(s.triggers):
        if t.support and t.support not in support_names:
            bad(f"triggers[{i}]", "support", f"unknown support provider '{t.support}'")
        if t.date and not (s.deal.closing_date < t.date <= s.deal.legal_maturity):
            bad(f"triggers[{i}]", "date", f"{t.date} is outside the deal's life")
    lag_max = s.simulation.recovery_lag_max_periods
    if lag_max is not None and lag_max < s.assumptions.recovery_lag_periods:
        bad("simulation", "recovery_lag_max_periods",
            f"{lag_max} is below assumptions.recovery_lag_periods = {s.assumptions.recovery_lag_periods}")
    for i, x in enumerate(s.support):
        if x.pd is not None and x.rating is not None:
            bad(f"support[{i}]", "pd", "give pd or rating, not both")

    for state in ("normal", "accelerated", "post_default"):
        steps: list[Step] = getattr(s.waterfall, state)
        for j, st in enumerate(steps):
            table = f"waterfall.{state}[{j}]"
            for n in st.tranches + ([st.tranche] if st.tranche else []) + st.require_repaid:
                if n not in tranche_names:
                    bad(table, "tranches", f"unknown tranche '{n}'")
            for n in st.fees:
                if n not in fee_names:
                    bad(table, "fees", f"unknown fee '{n}'")
            for key in ("account", "to"):
                n = getattr(st, key)
                if n is not None and n not in account_names:
                    bad(table, key, f"unknown account '{n}'")
            if st.support and st.support not in support_names:
                bad(table, "support", f"unknown support provider '{st.support}'")
            if st.action == "transfer" and st.amount == "to_target":
                dest = next((a for a in s.accounts if a.name == st.to), None)
                if dest is not None and dest.kind != "reserve":
                    bad(table, "to", "amount 'to_target' needs a reserve account as destination")
            if st.action == "transfer" and (st.account or (collections[0].name if collections else None)) == st.to:
                bad(table, "to", "a transfer needs two different accounts")
            for c in st.covers:
                kind, _, name = c.partition(":")
                if c == "fees":
                    continue
                if kind == "fee" and name in fee_names:
                    continue
                if kind in ("interest", "principal") and name in tranche_names:
                    continue
                bad(table, "covers", f"'{c}' is not 'fees', 'fee:NAME', 'interest:TRANCHE' or 'principal:TRANCHE' "
                    "with a known name")
    return issues
