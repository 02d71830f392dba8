"""Eligibility criteria as data: the schema of a criteria TOML file and its loader.

A criteria file has three tables of criteria, ``[asset.*]``, ``[firm.*]`` and ``[pool.*]``. The set of criterion
*kinds* is closed (one pydantic model per kind below, like the closed vocabulary of waterfall steps); their
thresholds, lists, sources and bilingual failure reasons are data. A criterion table that is absent, or has
``enabled = false``, is not applied.

A file may start with ``extends = "ganzhou-default"`` (a bundled set) or ``extends = "other.toml"`` (a path
relative to the file); its tables are then merged key by key over the base, so a deal file states only what
differs. Without ``extends`` every criterion table must be complete (label, source and reasons).

Every problem in a file is collected and raised as one :class:`ipabs.errors.InputError` naming the file, the
table and the key.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ipabs.errors import InputError, Issue
from ipabs.scenario.tape import ASSET_TYPES, IP_TYPES

SCHEMA_VERSION = 1
DEFAULT_CRITERIA = "ganzhou-default"

#: The tape format's vocabularies are the single source (ipabs.scenario.tape).
IpType = Literal[IP_TYPES]  # type: ignore[valid-type]
AssetType = Literal[ASSET_TYPES]  # type: ignore[valid-type]
Share = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False, description="decimal share of the pool balance")]
Amount = Annotated[float, Field(ge=0, le=1e13, allow_inf_nan=False, description="yuan")]

#: Placeholders every reason template may use.
_COMMON_FIELDS = frozenset({"observed", "limit", "ip", "buffer", "as_of"})
#: Extra placeholders of pool-limit reasons.
_POOL_FIELDS = _COMMON_FIELDS | {"group", "excess", "excess_amount", "count"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Criterion(_Model):
    """Fields shared by every criterion: switch, labels, source and (in subclasses) ``reason_*`` templates."""

    enabled: bool = True
    label_zh: str = Field(min_length=1, description="short name in Chinese")
    label_en: str = Field(min_length=1, description="short name in English")
    source: str = Field(min_length=1, description="policy clause or market practice behind the criterion")
    source_zh: str | None = Field(None, description="the source as Chinese users read it (a plain citation); "
                                                    "without it they see the English source")

    #: placeholders the templates of this kind may use
    placeholders: ClassVar[frozenset[str]] = _COMMON_FIELDS

    @model_validator(mode="after")
    def _templates_use_known_placeholders(self) -> Criterion:
        for name, value in self:
            if not name.startswith("reason_") or not isinstance(value, str):
                continue
            try:
                fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
            except ValueError as e:
                raise ValueError(f"{name}: malformed template ({e})") from None
            unknown = sorted(f for f in fields if f not in self.placeholders)
            if unknown:
                allowed = ", ".join("{" + p + "}" for p in sorted(self.placeholders))
                raise ValueError(f"{name}: unknown placeholder(s) {unknown}; allowed: {allowed}")
        return self

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en


class _Reason(Criterion):
    reason_zh: str = Field(min_length=1)
    reason_en: str = Field(min_length=1)


class _RangeReasons(Criterion):
    reason_below_zh: str = Field(min_length=1)
    reason_below_en: str = Field(min_length=1)
    reason_above_zh: str = Field(min_length=1)
    reason_above_en: str = Field(min_length=1)


# --- asset level -------------------------------------------------------------------------------------------------


class AssetTypeCriterion(_Reason):
    """The asset type (资产类型) is one of ``allowed``."""

    allowed: list[AssetType] = Field(min_length=1)


class IpPresentCriterion(_Reason):
    """The asset lists at least ``min_count`` IP rights."""

    min_count: int = Field(1, ge=1)


class IpTypeCriterion(_Reason):
    """Each IP right is of an allowed type."""

    allowed: list[IpType] = Field(min_length=1)


class IpNotExpiredCriterion(_Reason):
    """Each IP right is in force on the evaluation date: ``expiry_date > as_of``; a missing expiry date fails."""

    reason_missing_zh: str = Field(min_length=1)
    reason_missing_en: str = Field(min_length=1)


class IpRemainingLifeCriterion(_Reason):
    """Each IP right outlives the notes: ``expiry_date >= legal_maturity + buffer_months``.

    Without a deal legal maturity the asset's own maturity date stands in.
    """

    buffer_months: int = Field(12, ge=0, le=600)
    reason_no_legal_zh: str | None = Field(None, description="reason when the asset's maturity stands in")
    reason_no_legal_en: str | None = None


class IpOwnedByObligorCriterion(_Reason):
    """Each IP right is owned by the obligor (``ip_owner_id == obligor_id``)."""


class NoPriorPledgeCriterion(_Reason):
    """No IP right is already pledged elsewhere."""


class CnipaPledgeRegistrationCriterion(_Reason):
    """The pledge is registered with CNIPA when the asset type is in ``asset_types`` and the asset holds a right
    of a type in ``ip_types`` (rights whose pledges CNIPA registers)."""

    asset_types: list[AssetType] = Field(default_factory=lambda: ["pledge_loan"])
    ip_types: list[IpType] = Field(min_length=1)


class AppraisalPresentCriterion(_Reason):
    """Each IP right has an appraised value > 0."""


class ExternalAppraisalCriterion(_Reason):
    """At or above ``threshold`` (loan principal) every right needs an external appraisal; below it an internal
    valuation is allowed (policy item 4)."""

    threshold: Amount = 10_000_000


class LoanToValueCriterion(_Reason):
    """``principal / sum(appraised values) <= max_ltv``."""

    max_ltv: float = Field(0.30, gt=0, le=10, allow_inf_nan=False)


class LoanSizeCriterion(_RangeReasons):
    """``min_principal <= principal <= max_principal``."""

    min_principal: Amount = 0
    max_principal: Amount | None = None

    @model_validator(mode="after")
    def _ordered(self) -> LoanSizeCriterion:
        if self.max_principal is not None and self.max_principal < self.min_principal:
            raise ValueError(f"max_principal {self.max_principal} is below min_principal {self.min_principal}")
        return self


class LoanTermCriterion(_RangeReasons):
    """``start_date + min_months <= maturity_date <= start_date + max_months`` (calendar months)."""

    min_months: int = Field(0, ge=0, le=600)
    max_months: int | None = Field(None, ge=1, le=600)

    @model_validator(mode="after")
    def _ordered(self) -> LoanTermCriterion:
        if self.max_months is not None and self.max_months < self.min_months:
            raise ValueError(f"max_months {self.max_months} is below min_months {self.min_months}")
        return self


class MaturesBeforeLegalMaturityCriterion(_Reason):
    """``maturity_date <= legal_maturity - months_before``; applied only when a legal maturity is given."""

    months_before: int = Field(0, ge=0, le=600)


class AssetCriteria(_Model):
    asset_type: AssetTypeCriterion | None = None
    ip_present: IpPresentCriterion | None = None
    ip_type: IpTypeCriterion | None = None
    ip_not_expired: IpNotExpiredCriterion | None = None
    ip_remaining_life: IpRemainingLifeCriterion | None = None
    ip_owned_by_obligor: IpOwnedByObligorCriterion | None = None
    no_prior_pledge: NoPriorPledgeCriterion | None = None
    cnipa_pledge_registration: CnipaPledgeRegistrationCriterion | None = None
    appraisal_present: AppraisalPresentCriterion | None = None
    external_appraisal: ExternalAppraisalCriterion | None = None
    loan_to_value: LoanToValueCriterion | None = None
    loan_size: LoanSizeCriterion | None = None
    loan_term: LoanTermCriterion | None = None
    matures_before_legal_maturity: MaturesBeforeLegalMaturityCriterion | None = None


# --- firm level --------------------------------------------------------------------------------------------------


class RegionCriterion(_Reason):
    """The firm's county (区县) is one of ``counties``; a missing county fails."""

    counties: list[str] = Field(min_length=1)
    reason_missing_zh: str = Field(min_length=1)
    reason_missing_en: str = Field(min_length=1)


class WhitelistOrRatingCriterion(_Reason):
    """The firm is on the programme's whitelist (policy item 5) or rated at least ``min_rating`` on
    ``rating_scale`` (best first)."""

    accept_whitelist: bool = True
    min_rating: str = Field(min_length=1)
    rating_scale: list[str] = Field(min_length=2)
    reason_missing_zh: str = Field(min_length=1)
    reason_missing_en: str = Field(min_length=1)
    reason_unknown_zh: str = Field(min_length=1)
    reason_unknown_en: str = Field(min_length=1)

    @model_validator(mode="after")
    def _threshold_on_scale(self) -> WhitelistOrRatingCriterion:
        scale = [r.strip().upper() for r in self.rating_scale]
        if len(set(scale)) != len(scale):
            raise ValueError("rating_scale has duplicates")
        if self.min_rating.strip().upper() not in scale:
            raise ValueError(f"min_rating {self.min_rating!r} is not on rating_scale")
        return self

    def rank(self, rating: str) -> int | None:
        """Position of ``rating`` on the scale (0 = best), ``None`` when it is not on it."""
        scale = [r.strip().upper() for r in self.rating_scale]
        r = rating.strip().upper()
        if r.endswith("SF"):
            r = r[:-2]
        return scale.index(r) if r in scale else None


class IndustryCriterion(_Reason):
    """The firm's industry is one of ``allowed``."""

    allowed: list[str] = Field(min_length=1)


class NoOverdueHistoryCriterion(_Reason):
    """The firm has no overdue or default history."""


class NotBlacklistedCriterion(_Reason):
    """The firm is not on a blacklist."""


class FirmCriteria(_Model):
    region: RegionCriterion | None = None
    whitelist_or_rating: WhitelistOrRatingCriterion | None = None
    industry: IndustryCriterion | None = None
    no_overdue_history: NoOverdueHistoryCriterion | None = None
    not_blacklisted: NotBlacklistedCriterion | None = None


# --- pool level --------------------------------------------------------------------------------------------------


class ShareLimit(_Reason):
    """The largest group's balance is at most ``max_share`` of the pool balance."""

    placeholders: ClassVar[frozenset[str]] = _POOL_FIELDS
    max_share: Share


class TopObligorsLimit(ShareLimit):
    """The ``count`` largest obligors together are at most ``max_share`` of the pool balance."""

    count: int = Field(5, ge=1, le=100)


class PoolCriteria(_Model):
    single_obligor: ShareLimit | None = None
    top_obligors: TopObligorsLimit | None = None
    single_industry: ShareLimit | None = None
    single_county: ShareLimit | None = None

    def active(self) -> dict[str, ShareLimit]:
        """The enabled limits by criterion id."""
        return {k: v for k, v in self if v is not None and v.enabled}


class Criteria(_Model):
    """A complete criteria set (what a criteria TOML file holds after ``extends`` is resolved)."""

    schema_version: Literal[1] = 1
    name: str = Field(min_length=1)
    title_zh: str = ""
    title_en: str = ""
    description: str = ""
    asset: AssetCriteria = AssetCriteria()
    firm: FirmCriteria = FirmCriteria()
    pool: PoolCriteria = PoolCriteria()

    def criteria(self, level: str) -> dict[str, Criterion]:
        """Enabled criteria of one level ('asset', 'firm' or 'pool') by id, in file-schema order."""
        block = getattr(self, level)
        return {k: v for k, v in block if v is not None and v.enabled}

    def all_criteria(self) -> list[tuple[str, str, Criterion]]:
        """(level, id, criterion) for every enabled criterion."""
        return [(lvl, k, c) for lvl in ("asset", "firm", "pool") for k, c in self.criteria(lvl).items()]

    def title(self, lang: str) -> str:
        t = self.title_zh if lang == "zh" else self.title_en
        return t or self.name


# --- loading -----------------------------------------------------------------------------------------------------


def bundled_criteria_names() -> list[str]:
    """Names of the criteria sets shipped with ipabs (``data/criteria/*.toml``)."""
    folder = resources.files("ipabs").joinpath("data", "criteria")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _bundled_path(name: str) -> Path | None:
    p = resources.files("ipabs").joinpath("data", "criteria", f"{name}.toml")
    return Path(str(p)) if p.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    from ipabs.tomlfile import read_toml_file

    return read_toml_file(path, title="invalid criteria file", what="criteria")


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of two TOML tables: tables merge key by key, everything else (lists too) is replaced."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _resolve(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    data = _read_toml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent.strip():
        raise InputError(
            [Issue("extends must name a bundled criteria set or a file", file=str(path), field="extends")],
            title="invalid criteria file",
        )
    base_path = _bundled_path(parent) if not parent.endswith(".toml") else None
    if base_path is None:
        base_path = (path.parent / parent).resolve()
        if not base_path.is_file():
            known = ", ".join(bundled_criteria_names())
            raise InputError(
                [Issue(f"extends {parent!r}: no such file or bundled set (bundled: {known})", file=str(path),
                       field="extends")],
                title="invalid criteria file",
            )
    if base_path.resolve() in seen:
        raise InputError([Issue(f"extends {parent!r} forms a cycle", file=str(path), field="extends")],
                         title="invalid criteria file")
    base = _resolve(base_path, (*seen, path.resolve()))
    if "name" not in data:
        data["name"] = path.stem
    return _merge(base, data)


def _issues_from_validation(e: ValidationError, file: str | None) -> list[Issue]:
    issues = []
    for err in e.errors():
        loc = [str(p) for p in err["loc"]]
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (a typo? see docs/eligibility.md for the criteria and their keys)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        if "input" in err and err["type"] not in ("missing", "extra_forbidden", "model_type"):
            inp = err["input"]
            if not isinstance(inp, dict | list):
                msg += f" (got {inp!r})"
        table = ".".join(loc[:-1]) if len(loc) > 1 else None
        field = loc[-1] if loc else None
        if err["type"] == "value_error" and len(loc) >= 1 and loc[-1] not in ("schema_version", "name"):
            # model-level checks report against the table
            table, field = ".".join(loc), None
            if ": " in msg and msg.startswith("Value error, reason_"):
                key, rest = msg.removeprefix("Value error, ").split(": ", 1)
                field, msg = key, rest
        issues.append(Issue(msg.removeprefix("Value error, "), file=file, table=table, field=field))
    return issues


def criteria_from_dict(data: Mapping[str, Any], *, file: str | None = None) -> Criteria:
    """Validate an already-parsed criteria mapping (``extends`` must be resolved)."""
    try:
        return Criteria.model_validate(dict(data))
    except ValidationError as e:
        raise InputError(_issues_from_validation(e, file), title="invalid criteria file") from None


def load_criteria(source: str | Path | None = None) -> Criteria:
    """Load a criteria set: a bundled name (default ``ganzhou-default``) or a TOML file path.

    Raises
    ------
    InputError
        Every problem in the file, each naming the file, table and key.
    """
    if source is None:
        source = DEFAULT_CRITERIA
    if isinstance(source, str) and not source.endswith(".toml") and _bundled_path(source) is not None:
        path = _bundled_path(source)
    else:
        path = Path(source)
    assert path is not None
    data = _resolve(path)
    return criteria_from_dict(data, file=str(path))


def default_criteria() -> Criteria:
    """The bundled Ganzhou default set."""
    return load_criteria(DEFAULT_CRITERIA)
