"""Reconciliation: collections reported by the servicer vs tranche payments vs account movements, to the fen.

Each check compares two figures rounded to the fen; a difference of one fen or more is a break, reported with both
figures (docs/surveillance.md §2):

1. ``collections_<kind>``: Σ over the servicer's assets of interest / principal / recoveries collected in the period
   = the trustee's collections of that kind;
2. ``account_movements``: Σ closing − Σ opening account balances = collections + support drawn − fees paid −
   tranche interest, principal and residual paid;
3. ``tranche_rollforward[<tranche>]``: opening balance − principal paid = closing balance;
4. ``pool_balance``: Σ outstanding principal of the performing and overdue assets = the trustee's pool balance;
5. ``support_to_date[<support>]``: support drawn to date ≥ support drawn in the period.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ipabs.surveillance.reports import ReportResult, TrusteeView

FEN = 0.01


@dataclass(frozen=True)
class Break:
    check: str
    reported: float
    expected: float
    note: str

    @property
    def difference(self) -> float:
        return round(self.reported - self.expected, 2)


@dataclass(frozen=True)
class Reconciliation:
    checks: tuple[str, ...]
    breaks: tuple[Break, ...]

    @property
    def ok(self) -> bool:
        return not self.breaks

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"check": b.check, "reported": b.reported, "expected": b.expected,
                              "difference": b.difference, "note": b.note} for b in self.breaks],
                            columns=["check", "reported", "expected", "difference", "note"])


def _differs(a: float, b: float) -> bool:
    return abs(round(round(a, 2) - round(b, 2), 2)) >= FEN - 1e-9


def reconcile(servicer: ReportResult, trustee: ReportResult) -> Reconciliation:
    """Every break between the two reports of one period (see module docstring)."""
    v = TrusteeView(trustee)
    s = servicer.rows
    checks: list[str] = []
    breaks: list[Break] = []

    def check(name: str, reported: float | None, expected: float, note: str) -> None:
        if reported is None:
            return
        checks.append(name)
        if _differs(float(reported), float(expected)):
            breaks.append(Break(name, round(float(reported), 2), round(float(expected), 2), note))

    for kind, col in (("interest", "interest_collected"), ("principal", "principal_collected"),
                      ("recoveries", "recoveries_received")):
        check(f"collections_{kind}", v.get(f"collections_{kind}"), float(s[col].sum()),
              f"trustee's {kind} collections vs the sum of the servicer's {col}")

    def total(item: str) -> float:
        return float(sum(v.named(item).values())) if TrusteeView(trustee).named(item) else 0.0

    coll = sum(float(v.get(f"collections_{k}", default=0.0)) for k in ("interest", "principal", "recoveries"))
    expected_move = (coll + total("support_drawn") - total("fee_paid") - total("tranche_interest_paid")
                     - total("tranche_principal_paid") - total("tranche_residual_paid"))
    if v.named("account_balance_start") and v.named("account_balance_end"):
        check("account_movements", total("account_balance_end") - total("account_balance_start"), expected_move,
              "change in account balances vs collections + support − fees − tranche payments")
    starts, paid, ends = v.named("tranche_balance_start"), v.named("tranche_principal_paid"), \
        v.named("tranche_balance_end")
    for name, end in ends.items():
        if name in starts:
            check(f"tranche_rollforward[{name}]", end, starts[name] - paid.get(name, 0.0),
                  "closing balance vs opening balance − principal paid")
    live = s[s["status"].isin(["performing", "overdue"])]
    check("pool_balance", v.get("pool_balance_end"), float(live["outstanding_principal"].sum()),
          "trustee's pool balance vs the servicer's outstanding principal of performing and overdue assets")
    to_date = v.named("support_drawn_to_date")
    for name, drawn in v.named("support_drawn").items():
        if name in to_date and drawn > to_date[name] + 0.005:
            checks.append(f"support_to_date[{name}]")
            breaks.append(Break(f"support_to_date[{name}]", round(to_date[name], 2), round(drawn, 2),
                                "support drawn to date is below the period's draw"))
    return Reconciliation(tuple(checks), tuple(breaks))
