"""Write the SYNTHETIC sample period reports in scenarios/reports/ (``python scenarios/make_reports.py``).

SYNTHETIC DATA. For each sample deal, the servicer (asset-level) and trustee (deal-level) reports after a few payment
periods in which every asset paid on schedule except a few firms in trouble, chosen here by hand (the TROUBLES table
below, also listed in scenarios/reports/README.md). The trustee figures come from the deal's own waterfall kernel
run on the reported collections (:func:`ipabs.surveillance.synthetic.make_reports`), so the two reports reconcile to
the fen. Nothing is random: the tapes come from scenarios/make_tapes.py (fixed seed) and the troubles are fixed, so
re-running the script rewrites byte-identical files.

The Ganzhou pledge deal is set up one default away from its 10% cumulative-default trigger (two defaulted firms,
8.2% of the cut-off pool) with two overdue firms that the delinquency → default table makes likely to default next.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from ipabs import api  # noqa: E402
from ipabs.surveillance.synthetic import Trouble, make_reports  # noqa: E402

#: deal file → (periods paid, troubled firms). Every troubled firm must be raised by the watchlist and no other.
TROUBLES: dict[str, tuple[int, tuple[Trouble, ...]]] = {
    "ganzhou_pledge_2026": (2, (
        Trouble("GZ006", default_period=1, disposal_status="not_started"),
        Trouble("GZ003", default_period=2, days_past_due=100, disposal_status="appraised"),
        Trouble("GZ005", missed_periods=1, days_past_due=95, firm_events=("enforcement",)),
        Trouble("GZ013", missed_periods=1, days_past_due=40, ip_events=("annual_fee_unpaid",)),
        Trouble("GZ011", firm_events=("litigation",), collateral_factor=0.05),
    )),
    "interbank_abn_2026": (2, (
        Trouble("GN004", missed_periods=1, days_past_due=45),
        Trouble("GN002", ip_events=("invalidation_request",)),
    )),
    "ip_lease_2026": (3, (
        Trouble("GF006", missed_periods=1, days_past_due=62, firm_events=("tax_arrears",)),
        Trouble("GF010", default_period=2),
    )),
    "licence_relicence_2026": (2, (
        Trouble("GL005", ip_events=("licence_terminated",), missed_periods=1, days_past_due=26),
        Trouble("GL009", firm_events=("rating_downgrade", "guarantor_change")),
    )),
}

#: earlier reports of the same deals (the history behind ``ipabs surveil --history``): deal → [(period, troubles)]
HISTORY: dict[str, list[tuple[int, tuple[Trouble, ...]]]] = {
    "ganzhou_pledge_2026": [(1, (Trouble("GZ006", default_period=1, disposal_status="not_started"),))],
}


def _csv(df, path: Path, encoding: str = "utf-8", newline: str = "\n") -> None:
    path.write_bytes(df.to_csv(index=False, lineterminator=newline).encode(encoding))


#: the bureau's book (scenarios/fund-portfolio-ganzhou.csv) reported on BOOK_DATE: loan → (status, days past due,
#: firm events); every other loan started by then performs. Interest is a synthetic 4.5% a year, paid quarterly.
BOOK_DATE = "2026-12-31"
BOOK_TROUBLES = {
    "GZ-PL-008": ("overdue", 120, ""),
    "GZ-PL-023": ("defaulted", 75, "enforcement"),
    "GZ-PL-036": ("overdue", 35, "litigation"),
}


#: the planned pledge loans of scenarios/pipeline-ganzhou-2027.csv reported on PIPELINE_DATE (loans started by then):
#: loan → (status, days past due); the rest perform. Used by ``ipabs subsidy-lapse``.
PIPELINE_DATE = "2027-09-30"
PIPELINE_TROUBLES = {"GZ-L02": ("overdue", 100), "GZ-L05": ("defaulted", 95), "GZ-L13": ("overdue", 20)}


def pipeline_report():
    import csv
    import datetime as dt

    import pandas as pd

    as_of = dt.date.fromisoformat(PIPELINE_DATE)
    rows = []
    with (HERE / "pipeline-ganzhou-2027.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["kind"] != "pledge_loan" or dt.date.fromisoformat(r["planned_date"]) > as_of:
                continue
            amount = float(r["amount"])
            status, dpd = PIPELINE_TROUBLES.get(r["loan_id"], ("performing", 0))
            rows.append({
                "report_date": PIPELINE_DATE, "asset_id": r["loan_id"], "obligor_id": r["firm_id"],
                "outstanding_principal": amount, "interest_collected": 0.0 if status != "performing" else
                round(amount * float(r["rate"] or 0.04) / 4, 2), "principal_collected": 0.0,
                "days_past_due": dpd, "status": status,
                "default_date": "2027-09-01" if status == "defaulted" else "",
                "default_balance": amount if status == "defaulted" else "",
                "disposal_status": "not_started" if status == "defaulted" else "",
            })
    return pd.DataFrame(rows)


def book_report():
    import csv
    import datetime as dt

    import pandas as pd

    as_of = dt.date.fromisoformat(BOOK_DATE)
    rows = []
    with (HERE / "fund-portfolio-ganzhou.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if dt.date.fromisoformat(r["start_date"]) > as_of:
                continue
            principal = float(r["principal"])
            status, dpd, events = BOOK_TROUBLES.get(r["loan_id"], ("performing", 0, ""))
            interest = 0.0 if status != "performing" else round(principal * 0.045 / 4, 2)
            rows.append({
                "report_date": BOOK_DATE, "asset_id": r["loan_id"], "obligor_id": r["firm_id"],
                "outstanding_principal": principal, "interest_collected": interest, "principal_collected": 0.0,
                "days_past_due": dpd, "status": status,
                "default_date": "2026-12-15" if status == "defaulted" else "",
                "default_balance": principal if status == "defaulted" else "",
                "disposal_status": "appraised" if status == "defaulted" else "", "firm_events": events,
            })
    return pd.DataFrame(rows)


def main() -> None:
    out = HERE / "reports"
    out.mkdir(exist_ok=True)
    for name, (period, troubles) in TROUBLES.items():
        deal = api.compile_scenario(api.load_scenario(HERE / f"{name}.toml"))
        rep = make_reports(deal, period, troubles)
        date = rep.as_of.isoformat()
        _csv(rep.servicer, out / f"{name}-servicer-{date}.csv")
        _csv(rep.trustee, out / f"{name}-trustee-{date}.csv")
        if name == "ganzhou_pledge_2026":  # as Chinese Excel saves "CSV": GB18030 with CRLF
            _csv(rep.servicer, out / f"{name}-servicer-{date}-gbk.csv", "gb18030", "\r\n")
        print(f"{name}: period {period}, as of {date}, troubled {[t.obligor_id for t in troubles]}")
        for p, earlier in HISTORY.get(name, []):
            rep = make_reports(deal, p, earlier)
            date = rep.as_of.isoformat()
            _csv(rep.servicer, out / f"{name}-servicer-{date}.csv")
            _csv(rep.trustee, out / f"{name}-trustee-{date}.csv")
            print(f"{name}: history period {p}, as of {date}")
    _csv(book_report(), out / f"book-ganzhou-servicer-{BOOK_DATE}.csv")
    print(f"book: as of {BOOK_DATE}, troubled {list(BOOK_TROUBLES)}")
    _csv(pipeline_report(), out / f"pipeline-ganzhou-servicer-{PIPELINE_DATE}.csv")
    print(f"pipeline: as of {PIPELINE_DATE}, troubled {list(PIPELINE_TROUBLES)}")


if __name__ == "__main__":
    main()
