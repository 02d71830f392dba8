"""Hand-built deals for the breakeven and largest-obligor tests: numbers a structurer can check on paper.

The pool: zero-coupon bullet loans that all start at the cut-off (2026-03-10) and mature on the legal maturity
(2028-03-10, a Friday, so no business-day adjustment moves a flow out of the deal). The deal pays quarterly on
unadjusted dates with 30/360 by default, so every period is exactly 0.25 years and there are 8 of them. The notes
are a zero-coupon pass-through senior and a subordinate, no fees: no excess spread anywhere, so the pool's only cash
is the principal of the loans that survive (plus recoveries), and the senior is repaid exactly when that cash, the
reserve and the guarantor's draw together reach its balance.

Options: a reserve account funded at closing (released at legal maturity against the senior's principal due), a
guarantor's shortfall commitment with a cap (drawn against the senior's principal due), several obligors of given
sizes.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ipabs.compile.lower import CompiledDeal, compile_deal
from ipabs.scenario.io import parse_scenario

CUTOFF = dt.date(2026, 3, 10)
LEGAL = dt.date(2028, 3, 10)


def tape(sizes: dict[str, float]) -> pd.DataFrame:
    """One zero-coupon bullet loan per obligor (``{obligor_id: principal}``, in tape order)."""
    rows = []
    for i, (obligor, principal) in enumerate(sizes.items()):
        rows.append({
            "asset_id": f"L{i + 1}", "obligor_id": obligor, "obligor_name": f"firm {obligor}", "industry": "other",
            "county": "赣州经开区", "asset_type": "pledge_loan", "principal": float(principal), "rate": 0.0,
            "start_date": CUTOFF, "maturity_date": LEGAL, "payment_frequency": "quarterly",
            "amortization": "bullet", "custom_schedule": None, "rating": None, "pd": float("nan"),
            "ip_type": ["invention_patent"], "ip_appraised_value": [1.0e7],
        })
    return pd.DataFrame(rows)


def scenario(*, senior: float, sub: float, reserve: float = 0.0, cap: float | None = None,
             assumptions: dict | None = None, day_count: str = "30/360", mezz: float = 0.0) -> dict:
    """Scenario dict: senior (pass-through, zero coupon) [+ mezzanine] + subordinate; optional reserve and guarantor.

    The reserve releases, and the guarantor pays, what the collection account lacks for the senior's principal due
    (a pass-through's principal is due at legal maturity), before the senior's principal step.
    """
    tranches = [{"name": "senior", "seniority": "senior", "balance": senior, "amortization": "pass_through"}]
    rated = ["senior"]
    if mezz:
        tranches.append({"name": "mezz", "seniority": "mezzanine", "balance": mezz, "amortization": "pass_through"})
        rated.append("mezz")
    tranches.append({"name": "sub", "seniority": "subordinate", "balance": sub, "amortization": "pass_through"})
    accounts = [{"name": "collection", "receives": ["interest", "principal", "recoveries"]}]
    steps: list[dict] = []
    if reserve:
        accounts.append({"name": "reserve", "kind": "reserve", "initial_balance": reserve})
        steps.append({"action": "transfer", "account": "reserve", "to": "collection", "amount": "shortfall",
                      "covers": ["principal:senior"]})
    support = []
    if cap is not None:
        support.append({"name": "guarantor", "kind": "shortfall_commitment", **({"cap": cap} if cap >= 0 else {})})
        steps.append({"action": "draw_support", "support": "guarantor", "covers": ["principal:senior"]})
    steps += [
        {"action": "pay_principal", "tranches": rated, "amount": "all"},
        {"action": "pay_principal", "tranches": ["sub"], "amount": "all", "require_repaid": rated},
        {"action": "pay_residual", "tranche": "sub", "require_repaid": rated + ["sub"]},
    ]
    return {
        "deal": {"name": "hand-built breakeven deal", "cutoff_date": CUTOFF, "closing_date": CUTOFF,
                 "first_payment_date": dt.date(2026, 6, 10), "payment_frequency": "quarterly",
                 "business_day_convention": "unadjusted", "day_count": day_count, "legal_maturity": LEGAL},
        "pool": {"tape": "in-memory"},
        "assumptions": assumptions or {},
        "tranches": tranches,
        "accounts": accounts,
        "support": support,
        "waterfall": {"normal": steps},
    }


def hand_deal(*, pool: float = 10_000_000.0, sub_fraction: float = 0.10, reserve: float = 0.0,
              cap: float | None = None, assumptions: dict | None = None, day_count: str = "30/360",
              sizes: dict[str, float] | None = None, senior: float | None = None) -> CompiledDeal:
    """The deal with subordination ``sub_fraction`` of a one-loan pool of ``pool`` yuan (or the obligors
    ``sizes``; ``senior`` overrides the senior's balance, the subordinate taking the rest of the pool).
    ``cap=-1``: a guarantor without a cap."""
    sizes = sizes or {"F1": pool}
    total = float(sum(sizes.values()))
    s = senior if senior is not None else round(total * (1.0 - sub_fraction), 2)
    d = scenario(senior=s, sub=max(0.0, round(total - s, 2)), reserve=reserve, cap=cap, assumptions=assumptions,
                 day_count=day_count)
    return compile_deal(parse_scenario(d), tape(sizes))
