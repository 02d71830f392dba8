"""Surveillance and early warning: period reports, reconciliation, re-projection from the report date, distance to
triggers, early-warning rules and the watchlist. See docs/surveillance.md.

Built on the compiled deal and the engines (it imports them; nothing there imports this package). Library entry
points (no printing): :func:`read_servicer_report`, :func:`read_trustee_report`, :func:`reconcile`, :func:`rebase`,
:func:`surveil`, :func:`load_rules`, :func:`watchlist_from_reports`, :func:`actual_vs_expected`,
:func:`book_outlook`; the CLI is :mod:`ipabs.surveillance.cli`.
"""

from ipabs.surveillance.rebase import RebasedDeal, periods_paid, rebase
from ipabs.surveillance.reconcile import Break, Reconciliation, reconcile
from ipabs.surveillance.reports import ReportError, ReportResult, read_servicer_report, read_trustee_report
from ipabs.surveillance.rules import DEFAULT_RULES, RulesError, RulesFile, load_rules, loan_class

__all__ = [
    "read_servicer_report", "read_trustee_report", "ReportResult", "ReportError", "reconcile", "Reconciliation",
    "Break", "rebase", "RebasedDeal", "periods_paid", "load_rules", "RulesFile", "RulesError", "DEFAULT_RULES",
    "loan_class", "surveil", "SurveillanceResult", "watchlist_from_reports", "book_outlook", "actual_vs_expected",
]


def __getattr__(name: str):
    if name in ("surveil", "SurveillanceResult", "watchlist_from_reports"):
        from ipabs.surveillance import monitor

        return getattr(monitor, name)
    if name == "book_outlook":
        from ipabs.surveillance.book import book_outlook

        return book_outlook
    if name == "actual_vs_expected":
        from ipabs.surveillance.history import actual_vs_expected

        return actual_vs_expected
    raise AttributeError(f"module 'ipabs.surveillance' has no attribute {name!r}")
