"""The policy file schema (version 1): subsidies and risk sharing as data.

A policy is one TOML file (presets in ``ipabs/data/policies/``; a user may write their own). Every table is
optional; a policy pays only the items it has. Amounts are yuan with at most two decimals, rates are decimals
(``0.035`` = 3.5%). Each rule names the clause it implements. Interpretations that the source text leaves open
are listed in ``assumptions`` and shown with every result (DOMAIN.md §7: an uncertain term is never a silent
default). See docs/policy.md for each rule and its clause.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1

Money = Annotated[Decimal, Field(ge=0, le=Decimal(10) ** 11, decimal_places=2, allow_inf_nan=False,
                                 description="yuan, at most two decimals")]
Share = Annotated[Decimal, Field(ge=0, le=1, decimal_places=6, allow_inf_nan=False,
                                 description="decimal fraction, at most six decimals")]
Lag = Annotated[int, Field(ge=0, le=5, description="whole calendar years after the entitlement year")]

OTHER_IP_TYPES = ("trademark", "copyright", "geographic_indication", "data_ip", "trade_secret")
OtherIpType = Literal["trademark", "copyright", "geographic_indication", "data_ip", "trade_secret"]
Party = Literal["fund", "bank", "insurer", "guarantor", "appraiser"]
PARTIES: tuple[str, ...] = ("fund", "bank", "insurer", "guarantor", "appraiser")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SecuritizationRule(_Model):
    """Subsidy on financing obtained through an IP ABS / ABN (e.g. Ganzhou item 11)."""

    clause: str = Field(min_length=1, description="the clause this rule implements")
    rate: Share = Field(description="share of the base paid (the maximum where the text says 'up to')")
    base: Literal["financing", "issuance"] = Field(
        "financing", description="financing: what each pooled firm actually obtained; issuance: the product's size"
    )
    recipient: Literal["firm", "issuer"] = Field(
        "firm", description="firm: each pooled firm; issuer: the product's issuer"
    )
    requires_in_pool: bool = Field(True, description="only firms that entered the pool qualify")
    cap_per_product: Money | None = Field(None, description="cap per product (deal), issuer mode")
    cap_per_firm_year: Money | None = Field(None, description="cap per recipient per calendar year, all deals summed")
    cap_per_firm: Money | None = Field(None, description="cap per recipient over all years simulated")
    payment_lag_years: Lag = Field(0, description="paid this many years after the year the financing is obtained")

    @model_validator(mode="after")
    def _modes(self) -> SecuritizationRule:
        if self.cap_per_product is not None and self.recipient != "issuer":
            raise ValueError("cap_per_product is used with recipient = 'issuer'")
        if self.base == "issuance" and self.recipient != "issuer":
            raise ValueError("base = 'issuance' is paid to the issuer: set recipient = 'issuer'")
        if self.recipient == "issuer" and self.base != "issuance":
            raise ValueError("recipient = 'issuer' needs base = 'issuance'")
        return self


class PledgePatentRule(_Model):
    """Per-patent subsidy on invention-patent pledge loans (e.g. Ganzhou item 8, first part)."""

    clause: str = Field(min_length=1)
    loan_amount_above: Money = Field(description="the loan must be strictly above this amount")
    amount_per_patent: Money = Field(description="paid per pledged invention patent registered with CNIPA")
    cap_per_firm_year: Money | None = None
    requires_registration: bool = Field(True, description="the pledge must be registered with CNIPA")
    requires_settlement: bool = Field(
        True, description="paid once principal and interest are settled, in the settlement year (else start year)"
    )
    payment_lag_years: Lag = 0


class PledgeOtherIpRule(_Model):
    """Subsidy when other IP is added to an invention-patent pledge or used for credit enhancement (item 8)."""

    clause: str = Field(min_length=1)
    ip_types: list[OtherIpType] = Field(min_length=1)
    amount_per_loan: Money = Field(description="paid per qualifying loan, before the firm cap")
    cap_per_firm_year: Money | None = None
    requires_invention_patent_pledge: bool = Field(True, description="on top of an invention-patent pledge")
    loan_amount_above: Money | None = Field(None, description="loan must be strictly above this (None: no test)")
    requires_registration: bool = True
    requires_settlement: bool = True
    payment_lag_years: Lag = 0


class InterestSubsidyRule(_Model):
    """Interest subsidy (贴息) on IP-pledge loans (e.g. Beijing Zhongguancun: 40% if rate ≤ LPR × 1.4)."""

    clause: str = Field(min_length=1)
    share: Share = Field(description="share of the interest actually paid in the year")
    max_rate_lpr_multiple: Decimal | None = Field(
        None, ge=0, le=10, decimal_places=4, description="the loan rate must be ≤ LPR × this (None: no test)"
    )
    lpr: Share | None = Field(
        None, description="the LPR to compare with; no default — give it here, with --lpr or in a pipeline column"
    )
    cap_per_firm_year: Money | None = None
    requires_registration: bool = False
    payment_lag_years: Lag = 0


class Exclusions(_Model):
    """No double funding (e.g. Ganzhou 四(二): 已获市级知识产权专项资金资助的项目不重复资助)."""

    clause: str = ""
    already_funded: bool = Field(True, description="exclude financings of projects already funded by the fund")


class RiskCompensation(_Model):
    """Loss sharing of a risk-compensation fund (风险补偿资金) over IP-pledge loans."""

    clause: str = Field(min_length=1)
    shares: dict[Party, Share] = Field(description="share of each principal loss borne by each party; sum 1")
    fund_size: Money | None = Field(None, description="initial fund; no default (give it here or on the CLI)")
    per_loan_cap: Money | None = Field(None, description="most the fund pays on one loan")
    annual_top_up: Money = Field(Decimal(0), description="added to the fund at the start of each later year")
    claim_lag_years: Lag = Field(0, description="the fund pays this many years after the default year")
    excess_to: Literal["bank"] = Field(
        "bank", description="who bears fund shares the fund cannot pay (per-loan cap, exhaustion)"
    )

    @model_validator(mode="after")
    def _shares(self) -> RiskCompensation:
        total = sum(self.shares.values(), Decimal(0))
        if total != 1:
            raise ValueError(f"shares must sum to exactly 1, they sum to {total}")
        if "fund" not in self.shares:
            raise ValueError("shares must include the fund")
        if "bank" not in self.shares:
            raise ValueError("shares must include the bank (it bears rounding and any excess)")
        return self


class Policy(_Model):
    """A whole policy file."""

    schema_version: Literal[1] = 1
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="identifier, e.g. ganzhou-2025")
    title: str = Field(min_length=1, description="the instrument's title; Chinese allowed")
    jurisdiction: str = Field(min_length=1)
    source: str = Field(min_length=1, description="where the terms come from")
    status: Literal["C", "P", "U"] = Field(
        description="C: confirmed in a retrieved source; P: stated in the policy text; U: uncertain (assumption)"
    )
    rounding: Literal["down", "half_up"] = Field(
        description="rounding to the fen of each rate × base (docs/decisions/040-policy-rounding.md)"
    )
    assumptions: list[str] = Field(default_factory=list, description="interpretations not fixed by the source")
    securitization: SecuritizationRule | None = None
    pledge_patent: PledgePatentRule | None = None
    pledge_other_ip: PledgeOtherIpRule | None = None
    interest_subsidy: InterestSubsidyRule | None = None
    exclusions: Exclusions = Field(default_factory=Exclusions)
    risk_compensation: RiskCompensation | None = None

    @property
    def has_subsidies(self) -> bool:
        return any(
            x is not None for x in (self.securitization, self.pledge_patent, self.pledge_other_ip,
                                    self.interest_subsidy)
        )

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the validated policy (provenance)."""
        import hashlib

        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()
