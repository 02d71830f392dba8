"""Reasons: why an entitlement is what it is, in Chinese and English.

A :class:`Reason` is a code (a key of :data:`ipabs.glossary.TERMS`, which holds both languages) plus a detail
made of identifiers and numbers only, so the detail reads the same in both languages and no Chinese string lives
outside the glossary.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipabs.glossary import label

#: Items a policy pays (glossary keys).
ITEMS = ("securitization_subsidy", "pledge_patent_subsidy", "pledge_other_ip_subsidy", "interest_subsidy")

# how an amount is formed
RATE_APPLIED = "reason_rate_applied"
PER_PATENT = "reason_per_patent"
PER_LOAN = "reason_per_loan"
INTEREST_SHARE = "reason_interest_share"
PAID_TO_ISSUER = "reason_paid_to_issuer"
# exclusions
NOT_IN_POOL = "reason_not_in_pool"
NO_FINANCING = "reason_no_financing"
ALREADY_FUNDED = "reason_already_funded"
LOAN_NOT_SETTLED = "reason_loan_not_settled"
LOAN_DEFAULTED = "reason_loan_defaulted"
PLEDGE_NOT_REGISTERED = "reason_pledge_not_registered"
LOAN_NOT_ABOVE_THRESHOLD = "reason_loan_not_above_threshold"
NO_INVENTION_PATENT = "reason_no_invention_patent"
RATE_ABOVE_LPR_LIMIT = "reason_rate_above_lpr_limit"
NO_INTEREST_PAID = "reason_no_interest_paid"
# caps
CAP_PER_PRODUCT = "reason_cap_per_product"
CAP_PER_FIRM_YEAR = "reason_cap_per_firm_year"
CAP_PER_FIRM = "reason_cap_per_firm"

EXCLUSIONS = (
    NOT_IN_POOL, NO_FINANCING, ALREADY_FUNDED, LOAN_NOT_SETTLED, LOAN_DEFAULTED, PLEDGE_NOT_REGISTERED,
    LOAN_NOT_ABOVE_THRESHOLD, NO_INVENTION_PATENT, RATE_ABOVE_LPR_LIMIT, NO_INTEREST_PAID,
)
CAPS = (CAP_PER_PRODUCT, CAP_PER_FIRM_YEAR, CAP_PER_FIRM)
AMOUNTS = (RATE_APPLIED, PER_PATENT, PER_LOAN, INTEREST_SHARE, PAID_TO_ISSUER)
ALL_CODES = AMOUNTS + EXCLUSIONS + CAPS


@dataclass(frozen=True)
class Reason:
    """One line of an entitlement's trail.

    Parameters
    ----------
    code : str
        A glossary key (``reason_*``).
    source_id : str
        The deal or loan the line is about; empty for lines about the firm and year (caps).
    amount_fen : int
        Its effect on the amount payable, in fen: positive for an amount formed, negative for a cap's reduction,
        zero for an exclusion (the excluded amount is not formed at all).
    detail : str
        Identifiers and numbers only (same in both languages), e.g. ``"28,571,428.57 x 3.5% = 999,999.99"``.
    """

    code: str
    source_id: str
    amount_fen: int
    detail: str

    @property
    def kind(self) -> str:
        if self.code in EXCLUSIONS:
            return "exclusion"
        if self.code in CAPS:
            return "cap"
        return "amount"

    def text(self, lang: str = "en") -> str:
        head = label(self.code, lang)
        src = f"[{self.source_id}] " if self.source_id else ""
        return f"{src}{head}: {self.detail}" if self.detail else f"{src}{head}"

    @property
    def en(self) -> str:
        return self.text("en")

    @property
    def zh(self) -> str:
        return self.text("zh")
