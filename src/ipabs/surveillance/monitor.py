"""One surveillance run: reports → reconciliation → rebased deal → projections → distance to triggers and loss →
early-warning alerts. Pure functions over the inputs (no printing, no files written); docs/surveillance.md §3–§5.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipabs.compile.lower import CompiledDeal
from ipabs.scenario.io import LoadedScenario
from ipabs.surveillance.rebase import RebasedDeal, rebase
from ipabs.surveillance.reconcile import Reconciliation, reconcile
from ipabs.surveillance.reports import ReportResult, read_servicer_report, read_trustee_report
from ipabs.surveillance.rules import (
    DEFAULT_RULES,
    RulesFile,
    evaluate_deal,
    evaluate_firms,
    firm_signals,
    load_rules,
    unconfirmed_note,
    watchlist,
)

HORIZONS_MONTHS = (1, 3, 6, 12)


def add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    y, m = d.year + y, m + 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


@dataclass
class SurveillanceResult:
    """Everything a surveillance run produces (tables are display-ready DataFrames with English column names)."""

    rebased: RebasedDeal
    reconciliation: Reconciliation | None
    projection: pd.DataFrame  # deterministic re-projection by period and tranche
    triggers: pd.DataFrame  # distance to each trigger with Monte Carlo breach probabilities
    tranches: pd.DataFrame  # EL / PD at issuance and now, breakeven CDR remaining
    firms: pd.DataFrame  # firm-level signals
    watch: pd.DataFrame  # subjects sorted by severity
    alerts: pd.DataFrame  # every alert
    n_paths: int
    seed: int
    notes: tuple[str, ...] = field(default=())
    history: pd.DataFrame | None = None  # actual against expected (ipabs.surveillance.history), when asked for

    def summary_lines(self) -> list[str]:
        rb = self.rebased
        out = [f"{rb.original.scenario.deal.name}: as of {rb.as_of}, {rb.t0} period(s) paid, "
               f"{rb.deal.n_periods} remaining; deal state {rb.reported_state}; cumulative defaults "
               f"{rb.cumulative_defaults:,.2f} ({rb.cumulative_default_offset:.2%} of the cut-off pool)"]
        if self.reconciliation is not None:
            r = self.reconciliation
            out.append(f"reconciliation: {len(r.checks)} checks, {len(r.breaks)} break(s)")
            out += [f"  BREAK {b.check}: reported {b.reported:,.2f}, expected {b.expected:,.2f} "
                    f"(difference {b.difference:,.2f})" for b in r.breaks]
        for t in self.triggers.to_dict("records"):
            probs = ", ".join(f"{h}m {t[f'p_breach_{h}m']:.1%}" for h in HORIZONS_MONTHS
                              if t.get(f"p_breach_{h}m") is not None and not pd.isna(t.get(f"p_breach_{h}m")))
            out.append(f"trigger {t['trigger']}: now {t['value_now']:.4g}, threshold {t['threshold']:.4g}, "
                       f"headroom {t['headroom']:.4g}; P(breach) {probs or 'n/a'}")
        for t in self.tranches.to_dict("records"):
            line = (f"tranche {t['tranche']}: balance {t['balance_now']:,.2f}; EL {t['el_issuance']:.4%} → "
                    f"{t['el_now']:.4%}; PD {t['pd_issuance']:.4%} → {t['pd_now']:.4%}")
            if t.get("implied_rating_now"):
                line += f"; PD-implied rating {t['implied_rating_issuance']} → {t['implied_rating_now']} (indicative)"
            be, alone = t.get("breakeven_cdr_now", math.nan), t.get("breakeven_cdr_standalone_now", math.nan)
            if not pd.isna(be):
                line += f"; breakeven CDR remaining {be:.4%}"
                if not pd.isna(alone):
                    line += f" (stand-alone {alone:.4%})"
            out.append(line)
        out.append(f"watchlist: {len(self.watch)} subject(s), {len(self.alerts)} alert(s)")
        for w in self.watch.to_dict("records"):
            out.append(f"  [{w['severity_label']}] {w['subject']} {w['name']}: {w['reasons_en']}")
        out += [f"note: {n}" for n in self.notes]
        return out


def _deal(scenario: str | Path | LoadedScenario | CompiledDeal) -> CompiledDeal:
    from ipabs.api import _deal as api_deal

    return api_deal(scenario)[0]


def _report(x: str | Path | pd.DataFrame | ReportResult | None, reader) -> ReportResult | None:
    if x is None or isinstance(x, ReportResult):
        return x
    return reader(x)


def projection_frame(rb: RebasedDeal, pf, out) -> pd.DataFrame:
    """The deterministic re-projection: one row per remaining period and tranche."""
    d = rb.deal
    rows = []
    for t, date in enumerate(d.schedule.payment_dates):
        for k, name in enumerate(d.names.tranches):
            rows.append({"period": rb.t0 + t + 1, "payment_date": date, "tranche": name,
                         "interest_paid": out.tr_int_paid[t, k], "principal_paid": out.tr_prin_paid[t, k],
                         "residual_paid": out.tr_resid[t, k], "interest_shortfall": out.tr_int_short[t, k],
                         "balance_end": out.tr_bal_end[t, k], "pool_interest": pf.interest[t],
                         "pool_principal": pf.principal[t], "pool_defaults": pf.defaults[t],
                         "pool_recoveries": pf.recoveries[t], "pool_balance_end": pf.bal_end[t],
                         "cumulative_default_ratio": out.cum_def_ratio[t] + rb.cumulative_default_offset,
                         "coverage_ratio": out.coverage[t], "state": int(out.state[t])})
    return pd.DataFrame(rows)


def trigger_distances(rb: RebasedDeal, trustee: ReportResult | None, *, n_paths: int, seed: int,
                      prepared: Any = None) -> pd.DataFrame:
    """Each trigger of the deal: value now, threshold, headroom (how far the value can move before a breach, in
    the trigger's units), and the Monte Carlo probability of a breach within 1, 3, 6 and 12 months of the as-of date
    (paths traced exactly as :func:`ipabs.engine.montecarlo.simulate` draws them)."""
    from ipabs.engine.montecarlo import trace_path
    from ipabs.prepare.montecarlo import prepare
    from ipabs.surveillance.reports import TrusteeView

    d = rb.deal
    s = rb.original.scenario
    view = TrusteeView(trustee) if trustee is not None else None
    off = rb.cumulative_default_offset
    n_t = d.n_periods
    reported = view.named("trigger_value") if view is not None else {}
    # first breach period of each (original) trigger on each traced path
    first = np.full((n_paths, len(s.triggers)), n_t, dtype=np.int64)
    if n_paths > 0 and s.triggers:
        prep = prepared or prepare(d)
        for p in range(n_paths):
            tr = trace_path(d, seed, p, prepared=prep)
            w = tr.waterfall
            for g, trg in enumerate(s.triggers):
                if trg.condition == "cumulative_default_ratio":
                    hit = w.cum_def_ratio + off >= trg.threshold
                elif trg.condition == "coverage_ratio":
                    hit = (w.coverage >= 0) & (w.coverage < trg.threshold)
                elif trg.condition == "support_default":
                    j = d.names.supports.index(trg.support)
                    hit = np.arange(n_t) >= tr.support_default_period[j]
                else:
                    hit = np.array([pd_ >= trg.date for pd_ in d.schedule.payment_dates])
                idx = np.flatnonzero(hit)
                if idx.size:
                    first[p, g] = idx[0]
    rows = []
    for g, trg in enumerate(s.triggers):
        if trg.condition == "cumulative_default_ratio":
            now = float(reported.get(trg.name, off))
            thr, head = trg.threshold, trg.threshold - now
        elif trg.condition == "coverage_ratio":
            now = float(reported.get(trg.name, math.nan))
            thr, head = trg.threshold, now - trg.threshold
        elif trg.condition == "support_default":
            now, thr = 0.0, 1.0
            head = 1.0
        else:
            now, thr = 0.0, 0.0
            head = float((trg.date - rb.as_of).days)
        row = {"trigger": trg.name, "condition": trg.condition, "effect": trg.effect, "value_now": now,
               "threshold": thr, "headroom": head, "breached_now": head <= 0 if trg.condition in (
                   "cumulative_default_ratio", "coverage_ratio") else False}
        for h in HORIZONS_MONTHS:
            end = add_months(rb.as_of, h)
            k = sum(1 for x in d.schedule.payment_dates if x <= end)
            row[f"p_breach_{h}m"] = float((first[:, g] < k).mean()) if n_paths > 0 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


#: Rating table of the PD-implied rating (confirmed 10-year column only; its own file documents the constant-hazard
#: scaling to other horizons, which is what makes the implied rating indicative).
IMPLIED_RATING_TABLE = "moodys_idealized"


def implied_rating(pd_: float, years: float, table: Any = None) -> str | None:
    """The best rating whose idealised cumulative PD over ``years`` is at least ``pd_`` (Moody's idealised 10-year
    PDs scaled by a constant hazard, ``C(t) = 1 − (1 − C10)^(t/10)``, as ipabs/data/rating_pd_moodys_idealized.toml
    states); None for NaN. Indicative: a Monte Carlo PD of 0 over n paths only says PD < ~3/n."""
    from ipabs.credit.pd_curves import load_rating_table

    if pd_ is None or math.isnan(pd_):
        return None
    t = table or load_rating_table(IMPLIED_RATING_TABLE)
    h = np.array([max(years, 1e-9)])
    for r in t.cumulative_pd:
        if float(t.cumulative(r, h)[0]) >= pd_ - 1e-15:
            return r
    return list(t.cumulative_pd)[-1]


def tranche_changes(rb: RebasedDeal, *, n_paths: int, seed: int, breakeven: bool = True) -> pd.DataFrame:
    """Per tranche: EL and PD at issuance (the original deal) and now (the rebased deal, losses relative to the
    current balance), their changes, and the breakeven CDR remaining on the performing pool (and at issuance), with
    the deal's credit support and stand-alone (every support provider off: ``breakeven_cdr_standalone_*``). A
    breakeven of NaN means the tranche is not repaid even with no further defaults. ``implied_rating_*``: the
    indicative PD-implied rating over the remaining life (:func:`implied_rating`)."""
    from ipabs.engine.montecarlo import simulate

    now = simulate(rb.deal, n_paths, seed, statistics="losses").tranche_stats() if n_paths else None
    then = simulate(rb.original, n_paths, seed, statistics="losses").tranche_stats() if n_paths else None
    be: dict[tuple[str, bool, str], float] = {}
    if breakeven:
        from ipabs.structuring.breakeven import breakevens

        for when, d in (("now", rb.deal), ("issuance", rb.original)):
            for support in (True, False):
                for b in breakevens(d, ("cdr",), tol=1e-4, support=support):
                    be[(when, support, b.tranche)] = b.value
    from ipabs.credit.pd_curves import load_rating_table

    table = load_rating_table(IMPLIED_RATING_TABLE)
    years_now = float(np.sum(rb.deal.waterfall.yf))
    years_then = float(np.sum(rb.original.waterfall.yf))
    rows = []
    for k, name in enumerate(rb.deal.names.tranches):
        el_now = now[k]["expected_loss"] if now else math.nan
        el_then = then[k]["expected_loss"] if then else math.nan
        pd_now = now[k]["default_probability"] if now else math.nan
        pd_then = then[k]["default_probability"] if then else math.nan
        rows.append({"tranche": name, "balance_issuance": float(rb.original.waterfall.tr_bal0[k]),
                     "balance_now": float(rb.deal.waterfall.tr_bal0[k]), "el_issuance": el_then, "el_now": el_now,
                     "el_change": el_now - el_then, "pd_issuance": pd_then, "pd_now": pd_now,
                     "pd_change": pd_now - pd_then,
                     "implied_rating_issuance": implied_rating(pd_then, years_then, table),
                     "implied_rating_now": implied_rating(pd_now, years_now, table),
                     "breakeven_cdr_issuance": be.get(("issuance", True, name), math.nan),
                     "breakeven_cdr_now": be.get(("now", True, name), math.nan),
                     "breakeven_cdr_standalone_issuance": be.get(("issuance", False, name), math.nan),
                     "breakeven_cdr_standalone_now": be.get(("now", False, name), math.nan)})
    return pd.DataFrame(rows)


def deal_signals(rb: RebasedDeal, triggers: pd.DataFrame, servicer: ReportResult,
                 base_cum_default_ratio: float | None = None) -> list[dict[str, Any]]:
    """Deal-level signals for the rules: trigger headroom and breach probability per trigger, the delinquency ratio
    and the cumulative default ratio's excess over the issuance base case at the report period."""
    out: list[dict[str, Any]] = []
    if base_cum_default_ratio is not None:
        out.append({"subject": rb.original.scenario.deal.name, "signal": "defaults_vs_base_case",
                    "value": rb.cumulative_default_offset - base_cum_default_ratio})
    for t in triggers.to_dict("records"):
        if t["condition"] in ("cumulative_default_ratio", "coverage_ratio") and not pd.isna(t["headroom"]):
            out.append({"subject": t["trigger"], "signal": "trigger_headroom", "value": t["headroom"],
                        "probability_3m": t.get("p_breach_3m")})
            if not pd.isna(t.get("p_breach_3m")):
                out.append({"subject": t["trigger"], "signal": "trigger_breach_probability_3m",
                            "value": t["p_breach_3m"], "probability_3m": t["p_breach_3m"]})
    s = servicer.rows
    live = s[s["status"].isin(["performing", "overdue"])]
    tot = float(live["outstanding_principal"].sum())
    if tot > 0:
        od = float(live.loc[live["status"] == "overdue", "outstanding_principal"].sum())
        out.append({"subject": rb.original.scenario.deal.name, "signal": "delinquency_ratio", "value": od / tot})
    return out


def surveil(scenario: str | Path | LoadedScenario | CompiledDeal, report: str | Path | pd.DataFrame | ReportResult,
            trustee: str | Path | pd.DataFrame | ReportResult | None = None, *, as_of: dt.date,
            rules: str | Path | RulesFile = DEFAULT_RULES, n_paths: int = 2000, seed: int | None = None,
            breakeven: bool = True, history: list | None = None) -> SurveillanceResult:
    """Re-project a live deal from its period reports and raise its early-warning alerts.

    ``history``: earlier servicer reports of the deal, oldest first; with it (even empty) the result carries the
    actual-against-expected table of every report, this one included (:mod:`ipabs.surveillance.history`).

    Raises :class:`ipabs.surveillance.ReportError` (an :class:`ipabs.errors.InputError`) for reports that cannot
    be used; reconciliation breaks are reported in the result, not raised.
    """
    deal = _deal(scenario)
    srv = _report(report, read_servicer_report)
    trs = _report(trustee, read_trustee_report)
    rf = rules if isinstance(rules, RulesFile) else load_rules(rules)
    rec = reconcile(srv, trs) if trs is not None else None
    rb = rebase(deal, srv, trs, as_of=as_of, transition=rf.transition)
    sd = deal.scenario.simulation.seed if seed is None else int(seed)
    from ipabs.engine.deterministic import run_deterministic_arrays

    pf, out = run_deterministic_arrays(rb.deal)
    proj = projection_frame(rb, pf, out)
    trig = trigger_distances(rb, trs, n_paths=n_paths, seed=sd)
    tranches = tranche_changes(rb, n_paths=n_paths, seed=sd, breakeven=breakeven)
    firms = firm_signals(srv.rows)
    names = dict(zip(deal.info.obligor_ids, deal.info.obligor_names, strict=True))
    firms.insert(1, "obligor_name", firms["obligor_id"].map(lambda o: names.get(o, "")))
    dname = deal.scenario.deal.name
    _, base_out = run_deterministic_arrays(deal)
    base_cdr = float(base_out.cum_def_ratio[rb.t0 - 1])
    alerts = evaluate_firms(rf, firms, deal=dname) + evaluate_deal(rf, deal_signals(rb, trig, srv, base_cdr),
                                                                   deal=dname)
    watch, table = watchlist(alerts, names)
    notes = list(rb.notes)
    weak = unconfirmed_note(table)
    if weak:
        notes.append(weak)
    if rf.transition is not None and rb.transition_used:
        notes.append(f"transition table status: {rf.transition.status}")
    hist = None
    if history is not None:
        from ipabs.surveillance.history import actual_vs_expected

        hist = actual_vs_expected(deal, [*history, srv], n_paths=n_paths, seed=sd)
    return SurveillanceResult(rb, rec, proj, trig, tranches, firms, watch, table, n_paths, sd, tuple(notes), hist)


def watchlist_from_reports(reports: list[str | Path | pd.DataFrame | ReportResult], *,
                           rules: str | Path | RulesFile = DEFAULT_RULES,
                           deal_names: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """Firm-level alerts over one or more servicer reports (one per deal or book), without re-projection.

    Returns (watch, alerts, rejected issues). Rejected rows are not scored and are returned, never dropped
    silently. Reports that share an asset belong to one deal or book: they must be given oldest first (raises
    ReportError otherwise) and only the latest is scored.
    """
    from ipabs.errors import Issue
    from ipabs.surveillance.reports import ReportError

    rf = rules if isinstance(rules, RulesFile) else load_rules(rules)
    results = [_report(r, read_servicer_report) for r in reports]
    labels = deal_names or [Path(r.file).stem for r in results]
    problems = []
    latest: list[int] = []  # index of the latest report of each book (reports sharing an asset are one book)
    for i, r in enumerate(results):
        assets = set(r.rows["asset_id"])
        same = [j for j in latest if assets & set(results[j].rows["asset_id"])]
        for j in same:
            e = results[j]
            if r.report_date is not None and e.report_date is not None and r.report_date <= e.report_date:
                problems.append(Issue(f"report date {r.report_date} is not after {e.report_date} of {e.file}, an "
                                      "earlier report of the same assets (dates out of order: give the reports of "
                                      "one deal oldest first)", file=r.file, field="report_date"))
        latest = [j for j in latest if j not in same] + [i]
    if problems:
        raise ReportError(problems, title="reports out of order")
    alerts = []
    rejected = []
    for i, (lab, r) in enumerate(zip(labels, results, strict=True)):
        rejected += r.rejected
        if i in latest and not r.rows.empty:
            alerts += evaluate_firms(rf, firm_signals(r.rows), deal=lab)
    watch, table = watchlist(alerts)
    return watch, table, rejected
