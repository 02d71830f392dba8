"""The bureau's book of IP-pledge loans (not only securitized pools) and the risk-compensation fund's outlook,
updated from a servicer report of the book (docs/surveillance.md §7).

The book is the fund's loan portfolio (:func:`ipabs.policy.fund.read_portfolio`); the report has one row per loan
(``asset_id`` = ``loan_id``) in the servicer-report format. As of the report date:

* a loan repaid, prepaid or repurchased leaves the outlook;
* a defaulted or written-off loan is a **known claim**: its loss ``balance at default × lgd`` is split by the policy
  exactly as the fund Monte Carlo splits it, and the fund's share is taken off the fund before the simulation;
* a live loan re-enters the fund Monte Carlo with its outstanding principal, starting at the report date and running
  to its contractual maturity; an overdue firm's annual PD is the larger of its own and the delinquency → default
  transition table's 12-month PD for its worst days past due (an assumption, labelled);
* a loan not yet started at the report date stays as it is (the pipeline).

The fund model is yearly: the live loans restart at the report date, so its first year carries the first twelve
months of default risk from the report date (labelled with the report date's calendar year), paid after the
policy's claim lag; the result's notes say so.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from ipabs.errors import Issue
from ipabs.surveillance.reports import ReportError, ReportResult, read_servicer_report
from ipabs.surveillance.rules import DEFAULT_RULES, RulesFile, load_rules, loan_class


@dataclass
class BookOutlook:
    loans: pd.DataFrame  # per loan: status, days past due, class, PD before / now, outstanding, treatment
    known_claims: pd.DataFrame  # per defaulted loan: loss and each party's share (yuan)
    fund: Any  # ipabs.policy.fund.FundResult of the live book
    fund_size: float  # the fund before known claims
    known_fund_claims: float
    as_of: dt.date
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        by_year = self.fund.by_year()
        years = by_year[by_year["year"] != "total"]
        first = years.iloc[0]
        return {"as_of": self.as_of, "fund_size": self.fund_size, "known_fund_claims": self.known_fund_claims,
                "fund_after_known_claims": self.fund_size - self.known_fund_claims,
                "coming_year": str(first["year"]), "expected_draw_coming_year": float(first["draw_mean"]),
                "prob_exhausted_coming_year": float(first["prob_exhausted_by_year"]),
                "prob_exhausted_ever": float(years["prob_exhausted_by_year"].iloc[-1]),
                "live_loans": int((self.loans["treatment"] == "simulated").sum()),
                "defaulted_loans": len(self.known_claims)}


def _months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + (b.month - a.month) - (1 if b.day < a.day else 0)


def book_outlook(portfolio: Any, report: str | Path | pd.DataFrame | ReportResult, *, as_of: dt.date,
                 policy: Any = "zhongshan", fund_size: float | None = None, leverage: float | None = None,
                 rules: str | Path | RulesFile = DEFAULT_RULES, n_paths: int = 10_000, seed: int = 20260101,
                 rho: float | None = None, sector_rho: float | None = None) -> BookOutlook:
    """The fund's outlook over the book as of ``as_of`` (see module docstring).

    Raises :class:`ReportError` listing rejected report rows, loans of the report not in the book, started loans
    missing from the report and a report dated after ``as_of``.
    """
    from ipabs.policy import fund as F
    from ipabs.policy.api import _policy
    from ipabs.policy.money import Rate, apply_rate, to_fen

    pf = portfolio if isinstance(portfolio, F.Portfolio) else F.read_portfolio(portfolio)
    pol = _policy(policy)
    rc = pol.risk_compensation
    rep = report if isinstance(report, ReportResult) else read_servicer_report(report)
    rf = rules if isinstance(rules, RulesFile) else load_rules(rules)
    by_id = {x.loan_id: x for x in pf.loans}
    issues: list[Issue] = list(rep.rejected)
    for r in rep.rows.itertuples(index=False):
        if r.asset_id not in by_id:
            issues.append(Issue(f"unknown loan '{r.asset_id}': not in the book {pf.source}", file=rep.file,
                                row=r.source_row, field="asset_id"))
    reported = set(rep.rows["asset_id"])
    missing = [x.loan_id for x in pf.loans if x.start_date <= as_of and x.loan_id not in reported]
    if missing and not rep.rejected:
        issues.append(Issue(f"{len(missing)} loan(s) started by {as_of} are missing from the report: "
                            f"{', '.join(missing[:10])}", file=rep.file, field="asset_id"))
    if rep.report_date is not None and rep.report_date > as_of:
        issues.append(Issue(f"report date {rep.report_date} is after the as-of date {as_of}", file=rep.file,
                            field="report_date"))
    if rc is None:
        issues.append(Issue(f"policy '{pol.name}' has no [risk_compensation] table", table="risk_compensation"))
    if issues:
        raise ReportError(issues, title="the report cannot update this book")
    rows = rep.rows.set_index("asset_id")
    worst: dict[str, int] = {}
    for lid, r in rows.iterrows():
        if r["status"] in ("performing", "overdue"):
            f = by_id[lid].firm_id
            worst[f] = max(worst.get(f, 0), int(r["days_past_due"]))
    trans = rf.transition
    firm_pd: dict[str, float] = {}
    for x in pf.loans:
        d = worst.get(x.firm_id, 0)
        p = trans.pd_12m(d) if trans is not None and d > 0 else None
        firm_pd[x.firm_id] = max(x.pd, p) if p is not None else x.pd
    live, recs, known = [], [], []
    cap = to_fen(rc.per_loan_cap) if rc.per_loan_cap is not None else None
    for x in pf.loans:
        rec = {"loan_id": x.loan_id, "firm_id": x.firm_id, "principal": float(x.principal), "pd_before": x.pd,
               "pd_now": firm_pd[x.firm_id], "status": "not_started", "days_past_due": 0, "loan_class": "",
               "outstanding_principal": float(x.principal), "treatment": "pipeline"}
        if x.loan_id in rows.index:
            r = rows.loc[x.loan_id]
            st = str(r["status"])
            out = float(r["outstanding_principal"])
            rec.update(status=st, days_past_due=int(r["days_past_due"]), outstanding_principal=out,
                       loan_class=loan_class(int(r["days_past_due"]), st))
            if st in ("defaulted", "written_off"):
                loss = apply_rate(to_fen(Decimal(str(round(float(r["default_balance"] or out), 2)))),
                                  Rate.of(x.lgd), "half_up")
                split = F.loss_split(loss, rc.shares, pol.rounding, cap)
                known.append({"loan_id": x.loan_id, "firm_id": x.firm_id, "loss": loss / 100,
                              **{f"{p}_share": v / 100 for p, v in split.items()}})
                rec["treatment"] = "known_claim"
            elif st in ("prepaid", "repurchased") or out <= 0.005:
                rec["treatment"] = "settled"
            else:
                end = dt.date(x.start_date.year + (x.start_date.month - 1 + x.term_months) // 12,
                              (x.start_date.month - 1 + x.term_months) % 12 + 1, min(x.start_date.day, 28))
                term = max(1, _months_between(as_of, end))
                live.append(x.model_copy(update={"principal": Decimal(str(round(out, 2))), "start_date": as_of,
                                                 "term_months": term, "pd": firm_pd[x.firm_id]}))
                rec["treatment"] = "simulated"
        else:
            live.append(x.model_copy(update={"pd": firm_pd[x.firm_id]}))
        recs.append(rec)
    size = fund_size if fund_size is not None else (float(rc.fund_size) if rc.fund_size is not None else (
        sum(float(x.principal) for x in pf.loans) / leverage if leverage else None))
    if size is None:
        raise ReportError([Issue("no fund size: give fund_size or leverage, or use a policy with one",
                                 field="fund_size")], title="book outlook")
    known_df = pd.DataFrame(known, columns=["loan_id", "firm_id", "loss"] + [f"{p}_share" for p in F.PARTIES])
    known_fund = float(known_df["fund_share"].sum()) if len(known_df) else 0.0
    net = max(0.01, size - known_fund)
    kw = {k: v for k, v in (("rho", rho), ("sector_rho", sector_rho)) if v is not None}
    res = F.simulate_fund(F.Portfolio(pf.source, tuple(live), pf.fingerprint), pol, fund_size=Decimal(f"{net:.2f}"),
                          n_paths=n_paths, seed=seed, **kw)
    notes = [f"the fund model is yearly: year {as_of.year} is the first twelve months of risk from {as_of} "
             f"(claims paid {rc.claim_lag_years} year(s) after the default year)"]
    if any(firm_pd[x.firm_id] != x.pd for x in pf.loans):
        notes.append(f"overdue firms carry the transition table's PD ({trans.name}; {trans.status})")
    if known:
        notes.append(f"known claims on {len(known)} defaulted loan(s) take {known_fund:,.2f} off the fund first")
    if math.isclose(net, 0.01):
        notes.append("known claims exhaust the fund")
    return BookOutlook(pd.DataFrame(recs), known_df, res, float(size), known_fund, as_of, tuple(notes))


def subsidy_lapse(pipeline: Any, report: str | Path | pd.DataFrame | ReportResult, *, as_of: dt.date,
                  policy: Any = "ganzhou-2025", rules: str | Path | RulesFile = DEFAULT_RULES,
                  lpr: Any = None) -> pd.DataFrame:
    """Pledge-loan subsidies that are expected to lapse because loans will not be settled.

    The policy pays the pledge subsidies after repayment (Ganzhou items 8 and 11: paid after the loan is settled),
    so a loan that defaults first loses them. For each firm, item and settlement year of the entitlements of the
    pipeline's pledge loans (:func:`ipabs.policy.entitlements.compute_entitlements`): the probability the firm is not
    settled is 1 for a reported default, else ``1 − (1 − pd)^years`` with ``years`` from ``as_of`` (or the loan's
    start, if later) to its contractual settlement and ``pd`` the firm's annual PD, raised for an overdue firm to
    the transition table's 12-month PD (an assumption); expected lapse = payable × that probability.
    Only items paid after settlement (``pledge_patent_subsidy``, ``pledge_other_ip_subsidy``) can lapse this way.
    """
    from ipabs.policy.api import _policy
    from ipabs.policy.entitlements import compute_entitlements
    from ipabs.policy.pipeline import read_pipeline

    pl = pipeline if hasattr(pipeline, "loans") else read_pipeline(pipeline)
    pol = _policy(policy)
    rep = report if isinstance(report, ReportResult) else read_servicer_report(report)
    rf = rules if isinstance(rules, RulesFile) else load_rules(rules)
    ids = {r.loan_id for r in pl.loans}
    issues = list(rep.rejected) + [
        Issue(f"unknown loan '{r.asset_id}': not a pledge loan of {pl.source}", file=rep.file, row=r.source_row,
              field="asset_id") for r in rep.rows.itertuples(index=False) if r.asset_id not in ids]
    if issues:
        raise ReportError(issues, title="the report cannot update this pipeline")
    rows = rep.rows.set_index("asset_id")
    _, loans = pl.planned_financings()
    firm_pd: dict[str, float] = {}
    defaulted: set[str] = set()
    for r in pl.loans:
        p = float(r.pd)
        if r.loan_id in rows.index:
            x = rows.loc[r.loan_id]
            if x["status"] in ("defaulted", "written_off"):
                defaulted.add(r.firm_id)
            elif int(x["days_past_due"]) > 0 and rf.transition is not None:
                p = max(p, rf.transition.pd_12m(int(x["days_past_due"])) or 0.0)
        firm_pd[r.firm_id] = max(firm_pd.get(r.firm_id, 0.0), p)
    settle_years: dict[tuple[str, int], float] = {}
    for ln in loans:
        end = dt.date(ln.start_date.year + (ln.start_date.month - 1 + ln.term_months) // 12,
                      (ln.start_date.month - 1 + ln.term_months) % 12 + 1, min(ln.start_date.day, 28))
        years = max(0.0, (end - max(as_of, ln.start_date)).days / 365.0)
        key = (ln.firm_id, ln.settlement_year)
        settle_years[key] = max(settle_years.get(key, 0.0), years)
    rep_e = compute_entitlements(pol, (), loans, lpr=lpr)
    out = []
    for e in rep_e.entitlements:
        if e.item not in ("pledge_patent_subsidy", "pledge_other_ip_subsidy") or e.payable_fen <= 0:
            continue
        yrs = settle_years.get((e.firm_id, e.pay_year), settle_years.get((e.firm_id, e.year), 1.0))
        p = 1.0 if e.firm_id in defaulted else 1.0 - (1.0 - firm_pd.get(e.firm_id, 0.0)) ** yrs
        out.append({"firm_id": e.firm_id, "item": e.item, "year": e.year, "pay_year": e.pay_year,
                    "payable": e.payable_fen / 100, "prob_not_settled": p,
                    "expected_lapse": round(e.payable_fen / 100 * p, 2),
                    "defaulted": e.firm_id in defaulted})
    return pd.DataFrame(out, columns=["firm_id", "item", "year", "pay_year", "payable", "prob_not_settled",
                                      "expected_lapse", "defaulted"])
