"""Enterprise self-check (企业自检): can my IP and my loan enter the pool, for how much, and at what cost?

Input: a small TOML file (``scenarios/selfcheck-example.toml``) with the firm, its IP rights and the financing it
asks for. Output (:class:`SelfCheckResult`): eligible or not with every reason (the same criteria as the pool
check), a financing range from the appraisal and the limits, the expected securitization subsidy, and an all-in
cost estimate. ``lines(lang)`` renders it as text; the library prints nothing.

Financing range
---------------
The IP rights that pass every IP-level criterion are the *eligible IP*. With ``l`` the loan-to-value limit,
``A_ext`` the appraisal of the externally appraised eligible rights and ``A`` of all eligible rights:

- externally appraised only: ``max_ext = l × A_ext``;
- with internal valuations (policy item 4): ``max_int = min(l × A, threshold − 0.01)``;
- ``max = min(max(max_ext, max_int), max_principal)``, ``min = min_principal``; the range is empty when
  ``max < min``.

All-in cost (annual, decimal)
-----------------------------
``coupon + programme_fees + guarantee_fee + upfront_costs / (amount × years) − subsidy / (amount × years)``, with
``years = term_months / 12``. Defaults and their sources are in ``data/selfcheck-defaults.toml``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ipabs.eligibility import formatting as fmt
from ipabs.eligibility.criteria import AssetType, Criteria, IpType, default_criteria, load_criteria
from ipabs.eligibility.evaluate import (
    LANGS,
    AssetRecord,
    Context,
    Failure,
    IpRight,
    add_months,
    check_asset,
    check_firm,
    firms_from_records,
)
from ipabs.errors import InputError, Issue

#: Fallback of the Ganzhou securitization subsidy (policy item 11) when ipabs.policy is not available.
GANZHOU_SUBSIDY_RATE = 0.035
GANZHOU_SUBSIDY_CAP_PER_FIRM_YEAR = 1_000_000.0
GANZHOU_SUBSIDY_SOURCE = "policy item 11 (三(二)11)"

#: IP-level criteria: a right failing one of them is not counted in the financing range.
IP_LEVEL = ("ip_type", "ip_not_expired", "ip_remaining_life", "ip_owned_by_obligor", "no_prior_pledge",
            "appraisal_present")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class FirmInput(_Model):
    """The firm (企业)."""

    name: str = Field(min_length=1)
    obligor_id: str = Field("self", min_length=1, description="the firm's id; IP owners are compared with it")
    county: str | None = Field(None, description="区县, e.g. 章贡区 or 赣州经开区")
    industry: str | None = None
    rating: str | None = None
    whitelisted: bool = Field(False, description="on the programme's whitelist (policy item 5)")
    overdue_history: bool = False
    blacklisted: bool = False
    financing_earlier_this_year: float = Field(
        0.0, ge=0, le=1e11, allow_inf_nan=False,
        description="IP ABS/ABN financing the firm already obtained this year (the subsidy cap is per year)"
    )


class IpInput(_Model):
    """One IP right the firm would pledge."""

    type: IpType
    registration_no: str | None = None
    expiry_date: dt.date | None = None
    appraised_value: float | None = Field(None, ge=0, le=1e12, allow_inf_nan=False)
    valuation: Literal["external", "internal"] = "external"
    owner_id: str | None = Field(None, description="registered owner; default the firm")
    prior_pledge: bool = False


class RequestInput(_Model):
    """The financing asked for."""

    amount: float = Field(gt=0, le=1e12, description="yuan")
    term_months: int = Field(ge=1, le=360)
    start_date: dt.date | None = Field(None, description="default: the evaluation date")
    asset_type: AssetType = "pledge_loan"
    legal_maturity: dt.date | None = None
    cnipa_pledge_registered: bool | None = Field(
        None, description="omit for a loan not yet drawn: registration becomes a to-do instead of a failure"
    )


class CostInput(_Model):
    """Cost assumptions (annual decimals; ``upfront_costs`` in yuan). Omitted keys take the defaults."""

    coupon: float | None = Field(None, ge=0, le=0.5)
    coupon_low: float | None = Field(None, ge=0, le=0.5)
    coupon_high: float | None = Field(None, ge=0, le=0.5)
    programme_fees: float | None = Field(None, ge=0, le=0.5)
    guarantee_fee: float | None = Field(None, ge=0, le=0.5)
    upfront_costs: float | None = Field(None, ge=0, le=1e11, allow_inf_nan=False)


class SelfCheckInput(_Model):
    """A self-check file."""

    criteria: str | None = Field(None, description="criteria set name or path (relative to the file)")
    as_of: dt.date | None = Field(None, description="evaluation date (default: today)")
    firm: FirmInput
    ip: list[IpInput] = Field(default_factory=list)
    request: RequestInput
    cost: CostInput = CostInput()


@dataclass(frozen=True)
class FinancingRange:
    """What the firm could borrow against its eligible IP under the limits."""

    minimum: float
    maximum: float
    binding: str  # "ltv" | "size" | "internal" | "no_ip"
    appraisal_eligible: float
    appraisal_external: float
    appraisal_basis: float = 0.0  # the appraisal the maximum rests on (external only, or all eligible)

    @property
    def empty(self) -> bool:
        return self.maximum < self.minimum


@dataclass(frozen=True)
class SubsidyEstimate:
    """The expected securitization subsidy and where the number came from."""

    amount: float
    rate: float
    cap_per_firm_year: float
    source: str
    engine: str  # "ipabs.policy" or "fallback"


@dataclass(frozen=True)
class CostEstimate:
    """All-in annual cost; every field a decimal rate."""

    coupon: float
    programme_fees: float
    guarantee_fee: float
    upfront: float
    subsidy: float
    before_subsidy: float
    after_subsidy: float
    after_subsidy_low: float
    after_subsidy_high: float
    coupon_low: float
    coupon_high: float
    reference_all_in: float
    sources: Mapping[str, str]


@dataclass(frozen=True)
class SelfCheckResult:
    firm: FirmInput
    request: RequestInput
    as_of: dt.date
    criteria: Criteria
    failures: tuple[Failure, ...]
    conditions: tuple[tuple[str, str], ...]  # (zh, en) to-dos
    financing: FinancingRange
    subsidy: SubsidyEstimate
    cost: CostEstimate
    messages: Mapping[str, tuple[str, str]] = field(repr=False)

    @property
    def eligible(self) -> bool:
        return not self.failures

    def reasons(self, lang: str = "en") -> list[str]:
        return [f.message(lang) for f in self.failures]

    def lines(self, lang: str = "en") -> list[str]:
        """The result as text lines in one language."""
        i = 0 if lang == "zh" else 1

        def m(key: str, **values: Any) -> str:
            return fmt.render(self.messages[key][i], {k: str(v) for k, v in values.items()})

        amt = functools.partial(fmt.amount, lang=lang)
        out = [m("title", firm=self.firm.name), m("eligible" if self.eligible else "not_eligible")]
        if self.failures:
            out.append(m("reasons"))
            out.extend(f"  - {r}" for r in self.reasons(lang))
        if self.conditions:
            out.append(m("conditions"))
            out.extend(f"  - {c[i]}" for c in self.conditions)
        f = self.financing
        binding = self._binding_text(lang)
        out.append(m("range_empty" if f.empty else "range", min=amt(f.minimum), max=amt(f.maximum), binding=binding))
        a = self.request.amount
        if not f.empty:
            if a > f.maximum * (1 + 1e-12):
                out.append(m("request_above", amount=amt(a), max=amt(f.maximum)))
            elif a < f.minimum * (1 - 1e-12):
                out.append(m("request_below", amount=amt(a), min=amt(f.minimum)))
            else:
                out.append(m("request_within", amount=amt(a)))
        s = self.subsidy
        if self.eligible:
            out.append(m("subsidy", subsidy=amt(s.amount), rate=fmt.share(s.rate),
                         cap=amt(s.cap_per_firm_year), source=s.source))
        else:
            out.append(m("subsidy_none"))
        c = self.cost
        pct = fmt.share
        out.append(m("cost", after=_pct2(c.after_subsidy), before=_pct2(c.before_subsidy)))
        out.append(m("cost_parts", coupon=_pct2(c.coupon), fees=_pct2(c.programme_fees),
                     guarantee=_pct2(c.guarantee_fee), upfront=_pct2(c.upfront), subsidy=_pct2(c.subsidy)))
        out.append(m("cost_range", coupon_low=pct(c.coupon_low), coupon_high=pct(c.coupon_high),
                     low=_pct2(c.after_subsidy_low), high=_pct2(c.after_subsidy_high)))
        out.append(m("reference", all_in=_pct2(c.reference_all_in)))
        return out

    def _binding_text(self, lang: str) -> str:
        i = 0 if lang == "zh" else 1
        f = self.financing
        ltv = self.criteria.asset.loan_to_value
        if f.binding == "ltv":
            return fmt.render(self.messages["binding_ltv"][i], {
                "ltv": fmt.share(ltv.max_ltv if ltv else math.nan),
                "appraisal": fmt.amount(f.appraisal_basis, lang)})
        if f.binding == "size":
            size = self.criteria.asset.loan_size
            return fmt.render(self.messages["binding_size"][i], {"max": fmt.amount(size.max_principal if size else None,
                                                                                   lang)})
        if f.binding == "internal":
            ext = self.criteria.asset.external_appraisal
            return fmt.render(self.messages["binding_internal"][i],
                              {"threshold": fmt.amount(ext.threshold if ext else None, lang)})
        return self.messages["binding_no_ip"][i]

    def to_dict(self) -> dict[str, Any]:
        """Language-neutral summary (for the UI or JSON)."""
        return {
            "eligible": self.eligible,
            "reasons_zh": self.reasons("zh"),
            "reasons_en": self.reasons("en"),
            "conditions_zh": [c[0] for c in self.conditions],
            "conditions_en": [c[1] for c in self.conditions],
            "financing_min": self.financing.minimum,
            "financing_max": self.financing.maximum,
            "financing_binding": self.financing.binding,
            "expected_subsidy": self.subsidy.amount,
            "subsidy_engine": self.subsidy.engine,
            "all_in_before_subsidy": self.cost.before_subsidy,
            "all_in_after_subsidy": self.cost.after_subsidy,
        }


def _pct2(x: float) -> str:
    return f"{100 * x:.2f}%"


# --- defaults and loading ------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def selfcheck_defaults() -> dict[str, Any]:
    """The bundled cost assumptions and message templates (``data/selfcheck-defaults.toml``)."""
    with resources.files("ipabs").joinpath("data", "selfcheck-defaults.toml").open("rb") as f:
        return tomllib.load(f)


def load_selfcheck(path: str | Path) -> tuple[SelfCheckInput, Path]:
    """Read and validate a self-check TOML file; every problem is reported at once (:class:`InputError`)."""
    from ipabs.tomlfile import read_toml_file

    path = Path(path)
    data = read_toml_file(path, title="invalid self-check file", what="self-check")
    try:
        return SelfCheckInput.model_validate(data), path
    except ValidationError as e:
        issues = []
        for err in e.errors():
            loc = [str(p) for p in err["loc"]]
            msg = "unknown key" if err["type"] == "extra_forbidden" else (
                "required key is missing" if err["type"] == "missing" else err["msg"])
            issues.append(Issue(msg, file=str(path), table=".".join(loc[:-1]) or None, field=loc[-1] if loc else None))
        raise InputError(issues, title="invalid self-check file") from None


# --- subsidy: the integration point with the policy engine ---------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _policy(name: str) -> Any:
    from ipabs.policy.io import load_policy

    return load_policy(name)


def expected_subsidy(
    firm_id: str,
    amount: float,
    year: int,
    *,
    earlier_this_year: float = 0.0,
    policy: str = "ganzhou-2025",
) -> SubsidyEstimate:
    """The securitization subsidy a pooled firm can expect for ``amount`` of financing obtained in ``year``.

    **Integration point with the policy engine.** When :mod:`ipabs.policy` is importable it computes the number
    (``compute_entitlements`` with the ``policy`` preset, Ganzhou item 11: 3.5% of the financing actually
    obtained, at most 1,000,000 per firm per year, rounded down to the fen). Otherwise the same rule is applied
    here (``engine="fallback"``). ``earlier_this_year`` is financing the firm already obtained this year: the
    result is the *marginal* subsidy, ``S(earlier + amount) − S(earlier)``, so the yearly cap is shared.
    """
    try:
        from ipabs.policy.entitlements import Securitization, compute_entitlements

        pol = _policy(policy)
    except ImportError:
        pol = None
    if pol is not None and getattr(pol, "securitization", None) is not None:
        rule = pol.securitization

        def payable(items: list[Any]) -> Decimal:
            if not items:
                return Decimal(0)
            return compute_entitlements(pol, items).payable(firm_id, year, "securitization_subsidy")

        prior = [Securitization(firm_id, "earlier", year, Decimal(str(earlier_this_year)))] if earlier_this_year else []
        new = Securitization(firm_id, "self-check", year, Decimal(str(amount)))
        value = float(payable([*prior, new]) - payable(prior))
        cap = rule.cap_per_firm_year
        return SubsidyEstimate(value, float(rule.rate), float(cap) if cap is not None else math.inf,
                               f"{pol.name} {str(getattr(rule, 'clause', '')).split(':')[0]}".strip(), "ipabs.policy")

    def s(x: float) -> Decimal:
        gross = (Decimal(str(x)) * Decimal(str(GANZHOU_SUBSIDY_RATE))).quantize(Decimal("0.01"), ROUND_DOWN)
        return min(gross, Decimal(str(GANZHOU_SUBSIDY_CAP_PER_FIRM_YEAR)))

    value = float(s(earlier_this_year + amount) - s(earlier_this_year))
    return SubsidyEstimate(value, GANZHOU_SUBSIDY_RATE, GANZHOU_SUBSIDY_CAP_PER_FIRM_YEAR, GANZHOU_SUBSIDY_SOURCE,
                           "fallback")


# --- the check -----------------------------------------------------------------------------------------------------


def financing_range(record: AssetRecord, failures: list[Failure], criteria: Criteria) -> FinancingRange:
    """The financing range of the module docstring for the rights of ``record``."""
    bad = {f.ip_index for f in failures if f.criterion in IP_LEVEL and f.ip_index is not None}
    ok = [ip for ip in record.ips if ip.index not in bad and ip.appraised_value and ip.appraised_value > 0]
    a_all = float(sum(ip.appraised_value for ip in ok))
    a_ext = float(sum(ip.appraised_value for ip in ok if ip.valuation != "internal"))
    ac = criteria.criteria("asset")
    size = ac.get("loan_size")
    lo = float(size.min_principal) if size else 0.0
    hi = float(size.max_principal) if size and size.max_principal is not None else math.inf
    if not ok:
        return FinancingRange(lo, 0.0, "no_ip", 0.0, 0.0)
    ltv = ac.get("loan_to_value")
    ext = ac.get("external_appraisal")
    l_ = ltv.max_ltv if ltv else math.inf
    options: list[tuple[float, str, float]] = []
    if ext is None:
        options.append((l_ * a_all, "ltv", a_all))
    else:
        options.append((l_ * a_ext, "ltv", a_ext))
        if a_all > a_ext:
            cap = ext.threshold - 0.01
            options.append((l_ * a_all, "ltv", a_all) if l_ * a_all <= cap else (cap, "internal", a_all))
    best, binding, basis = max(options, key=lambda o: o[0])
    if best > hi:
        best, binding = hi, "size"
    if math.isinf(best):
        best = 0.0
    return FinancingRange(lo, float(best), binding, a_all, a_ext, basis)


def self_check(
    data: SelfCheckInput | Mapping[str, Any],
    criteria: Criteria | None = None,
    *,
    as_of: dt.date | None = None,
    base_dir: Path | None = None,
) -> SelfCheckResult:
    """Run the enterprise self-check.

    Parameters
    ----------
    data : SelfCheckInput or mapping
        The firm, its IP rights and the request (the self-check file's content).
    criteria : Criteria, optional
        Default: the file's ``criteria`` key, else the bundled Ganzhou set.
    as_of : date, optional
        Evaluation date; default the file's ``as_of``, else today.
    base_dir : Path, optional
        Folder a relative ``criteria`` path is resolved against.

    Returns
    -------
    SelfCheckResult
    """
    if not isinstance(data, SelfCheckInput):
        try:
            data = SelfCheckInput.model_validate(dict(data))
        except ValidationError as e:
            raise InputError([Issue(err["msg"], table=".".join(str(p) for p in err["loc"][:-1]) or None,
                                    field=str(err["loc"][-1]) if err["loc"] else None) for err in e.errors()],
                             title="invalid self-check input") from None
    if criteria is None:
        if data.criteria:
            ref = data.criteria
            if ref.endswith(".toml") and base_dir is not None and not Path(ref).is_absolute():
                ref = str(base_dir / ref)
            criteria = load_criteria(ref)
        else:
            criteria = default_criteria()
    as_of = as_of or data.as_of or dt.date.today()
    firm, req = data.firm, data.request
    start = req.start_date or as_of
    registered = True if req.cnipa_pledge_registered is None else req.cnipa_pledge_registered
    record = AssetRecord(
        asset_id="self-check",
        obligor_id=firm.obligor_id,
        obligor_name=firm.name,
        industry=firm.industry,
        county=firm.county,
        asset_type=req.asset_type,
        principal=req.amount,
        start_date=start,
        maturity_date=add_months(start, req.term_months),
        rating=firm.rating,
        whitelisted=firm.whitelisted,
        overdue_history=firm.overdue_history,
        blacklisted=firm.blacklisted,
        cnipa_pledge_registered=registered,
        source_row=None,
        ips=tuple(
            IpRight(index=i, ip_type=ip.type, registration_no=ip.registration_no, expiry_date=ip.expiry_date,
                    appraised_value=ip.appraised_value, valuation=ip.valuation, owner_id=ip.owner_id or firm.obligor_id,
                    prior_pledge=ip.prior_pledge)
            for i, ip in enumerate(data.ip)
        ),
    )
    ctx = Context(as_of=as_of, legal_maturity=req.legal_maturity, criteria=criteria)
    asset_failures = check_asset(record, criteria, ctx)
    firm_failures = check_firm(firms_from_records([record])[0], criteria, ctx)
    failures = tuple(asset_failures + firm_failures)

    defaults = selfcheck_defaults()
    messages = {k: (v[0], v[1]) for k, v in defaults["messages"].items()}
    conditions: list[tuple[str, str]] = []
    cnipa = criteria.criteria("asset").get("cnipa_pledge_registration")
    if (req.cnipa_pledge_registered is None and cnipa is not None and req.asset_type in cnipa.asset_types
            and any(ip.type in cnipa.ip_types for ip in data.ip)):
        conditions.append(messages["cnipa_todo"])

    fr = financing_range(record, asset_failures, criteria)
    sub = expected_subsidy(firm.obligor_id, req.amount, start.year,
                           earlier_this_year=firm.financing_earlier_this_year)
    if failures:
        sub = SubsidyEstimate(0.0, sub.rate, sub.cap_per_firm_year, sub.source, sub.engine)
    cost = _cost(defaults["cost"], data.cost, req, sub.amount)
    return SelfCheckResult(firm=firm, request=req, as_of=as_of, criteria=criteria, failures=failures,
                           conditions=tuple(conditions), financing=fr, subsidy=sub, cost=cost, messages=messages)


def _cost(defaults: Mapping[str, Any], given: CostInput, req: RequestInput, subsidy: float) -> CostEstimate:
    def pick(key: str) -> float:
        v = getattr(given, key)
        return float(defaults[key] if v is None else v)

    years = req.term_months / 12
    per_year = req.amount * years
    coupon, fees, guarantee = pick("coupon"), pick("programme_fees"), pick("guarantee_fee")
    upfront = pick("upfront_costs") / per_year
    sub = subsidy / per_year
    before = coupon + fees + guarantee + upfront
    lo, hi = pick("coupon_low"), pick("coupon_high")
    return CostEstimate(
        coupon=coupon, programme_fees=fees, guarantee_fee=guarantee, upfront=upfront, subsidy=sub,
        before_subsidy=before, after_subsidy=before - sub,
        after_subsidy_low=before - coupon + lo - sub, after_subsidy_high=before - coupon + hi - sub,
        coupon_low=lo, coupon_high=hi, reference_all_in=float(defaults["reference_all_in"]),
        sources={k: str(v) for k, v in defaults.items() if k.endswith("_source")},
    )


__all__ = ["SelfCheckInput", "SelfCheckResult", "FinancingRange", "SubsidyEstimate", "CostEstimate", "self_check",
           "load_selfcheck", "expected_subsidy", "financing_range", "LANGS"]
