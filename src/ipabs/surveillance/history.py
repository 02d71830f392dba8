"""Actual against expected: each reported period's cumulative defaults, delinquencies, collections and pool balance
against the issuance projection (the scenario's deterministic base case) and its Monte Carlo bands (5 / 50 / 95%
across paths of the issuance deal, traced exactly as :func:`ipabs.engine.montecarlo.simulate` draws them).

The model has no delinquency state, so delinquencies are shown as reported, without an expectation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ipabs.compile.lower import CompiledDeal
from ipabs.errors import Issue
from ipabs.surveillance.rebase import periods_paid
from ipabs.surveillance.reports import ReportError, ReportResult, read_servicer_report

BANDS = (0.05, 0.5, 0.95)


def expected_paths(deal: CompiledDeal, n_paths: int, seed: int) -> dict[str, np.ndarray]:
    """Per traced path and period: cumulative default ratio, collections (interest + principal + recoveries) and
    the performing pool balance at the period's end, each f8[n_paths, n_periods]."""
    from ipabs.engine.montecarlo import trace_path
    from ipabs.prepare.montecarlo import prepare

    n_t = deal.n_periods
    out = {k: np.zeros((n_paths, n_t)) for k in ("cumulative_default_ratio", "collections", "pool_balance")}
    if n_paths == 0:
        return out
    prep = prepare(deal)
    for p in range(n_paths):
        tr = trace_path(deal, seed, p, prepared=prep)
        out["cumulative_default_ratio"][p] = tr.waterfall.cum_def_ratio
        out["collections"][p] = tr.pool.interest + tr.pool.principal + tr.pool.recoveries
        out["pool_balance"][p] = tr.pool.bal_end
    return out


def actual_vs_expected(deal: CompiledDeal, reports: list[str | Path | pd.DataFrame | ReportResult], *,
                       n_paths: int = 1000, seed: int | None = None) -> pd.DataFrame:
    """One row per (reported period, measure): actual, base case, and the Monte Carlo 5 / 50 / 95% band.

    ``reports`` are servicer reports of this deal, oldest first (dates out of order, two reports of one period,
    or a report before the first payment date raise :class:`ReportError`).
    """
    from ipabs.engine.deterministic import run_deterministic_arrays

    results = [r if isinstance(r, ReportResult) else read_servicer_report(r) for r in reports]
    issues: list[Issue] = []
    periods = []
    for r in results:
        issues += r.rejected
        t = periods_paid(deal, r.report_date) if r.report_date else 0
        if t < 1:
            issues.append(Issue(f"report date {r.report_date} is before the first payment date", file=r.file,
                                field="report_date"))
        elif periods and t <= periods[-1]:
            issues.append(Issue(f"report of period {t} follows a report of period {periods[-1]} (dates out of order "
                                "or two reports of one period)", file=r.file, field="report_date"))
        periods.append(t)
    if issues:
        raise ReportError(issues, title="reports for actual against expected")
    pf, out = run_deterministic_arrays(deal)
    sd = deal.scenario.simulation.seed if seed is None else int(seed)
    mc = expected_paths(deal, n_paths, sd)
    b0 = deal.waterfall.pool_bal0
    rows = []
    for r, t in zip(results, periods, strict=True):
        s = r.rows
        live = s[s["status"].isin(["performing", "overdue"])]
        bad = s[s["status"].isin(["defaulted", "written_off"])]
        owed = float(live["outstanding_principal"].sum())
        actual = {
            "cumulative_default_ratio": float(bad["default_balance"].fillna(0.0).sum()) / b0 if b0 > 0 else 0.0,
            "collections": float((s["interest_collected"] + s["principal_collected"]
                                  + s["recoveries_received"]).sum()),
            "pool_balance": owed,
            "delinquency_ratio": float(live.loc[live["status"] == "overdue", "outstanding_principal"].sum()) / owed
            if owed > 0 else 0.0,
        }
        base = {"cumulative_default_ratio": float(out.cum_def_ratio[t - 1]),
                "collections": float(pf.interest[t - 1] + pf.principal[t - 1] + pf.recoveries[t - 1]),
                "pool_balance": float(pf.bal_end[t - 1]), "delinquency_ratio": np.nan}
        for m, a in actual.items():
            row = {"period": t, "payment_date": deal.schedule.payment_dates[t - 1], "report_date": r.report_date,
                   "measure": m, "actual": a, "base_case": base[m]}
            for q in BANDS:
                row[f"mc_p{int(q * 100)}"] = (float(np.quantile(mc[m][:, t - 1], q)) if m in mc and n_paths
                                              else np.nan)
            rows.append(row)
    return pd.DataFrame(rows)
