"""Helpers and fixtures of the policy engine's tests (imported by the test modules)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from ipabs.policy.entitlements import PledgeLoan, Securitization

ROOT = Path(__file__).resolve().parents[3]
SAMPLE_PIPELINE = ROOT / "scenarios" / "pipeline-ganzhou-2027.csv"
SAMPLE_PORTFOLIO = ROOT / "scenarios" / "fund-portfolio-ganzhou.csv"


def sec(firm: str, deal: str, year: int, amount: str, **kw) -> Securitization:
    return Securitization(firm, deal, year, Decimal(amount), **kw)


def loan(loan_id: str, firm: str, amount: str, *, start=dt.date(2027, 3, 15), term=12, registered=True,
         patents=1, **kw) -> PledgeLoan:
    return PledgeLoan(loan_id, firm, Decimal(amount), start, term, registered, patents, **kw)
