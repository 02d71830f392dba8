"""Synthetic period reports: what the servicer and the trustee would report after ``period`` payment periods of a
deal whose assets paid on schedule except for named troubled firms.

Used by scenarios/make_reports.py (the sample reports) and by the tests (a report exactly on schedule). The trustee
figures come from the waterfall kernel itself run on the reported collections, so the two reports reconcile.
SYNTHETIC: nothing here is observed data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ipabs.compile.arrays import empty_waterfall_out
from ipabs.compile.lower import CompiledDeal
from ipabs.engine.deterministic import support_default_periods
from ipabs.kernels.containers import PoolFlows
from ipabs.kernels.waterfall import run_waterfall


@dataclass(frozen=True)
class Trouble:
    """What went wrong with one firm (all its assets) by the report date.

    ``missed_periods``: the last n collection periods were not paid (status overdue); ``default_period``: 1-based
    period in which the firm defaulted (status defaulted; nothing collected from then on); ``days_past_due``
    overrides the computed figure; events and the collateral factor are reported as given.
    """

    obligor_id: str
    missed_periods: int = 0
    default_period: int = 0
    days_past_due: int | None = None
    ip_events: tuple[str, ...] = ()
    firm_events: tuple[str, ...] = ()
    collateral_factor: float = 1.0
    disposal_status: str | None = None
    recoveries_to_date: float = 0.0


@dataclass
class SyntheticReports:
    servicer: pd.DataFrame
    trustee: pd.DataFrame
    as_of: dt.date
    period: int
    pool_flows: PoolFlows = field(repr=False)


def _fen(x: float, exact: bool) -> float:
    return float(x) if exact else round(float(x), 2)


def make_reports(deal: CompiledDeal, period: int, troubles: tuple[Trouble, ...] = (), *,
                 exact: bool = False) -> SyntheticReports:
    """The servicer and trustee reports after ``period`` (≥ 1) payment periods; the report date is that period's
    payment date. ``exact`` keeps full float precision (tests); otherwise amounts are rounded to the fen and the
    trustee figures made consistent at the fen (tranche and account roll-forwards)."""
    pool, info, sched = deal.pool, deal.info, deal.schedule
    n, n_t = pool.sched_int.shape
    if not 1 <= period < n_t:
        raise ValueError(f"period must be in 1..{n_t - 1}")
    t0 = period
    as_of = sched.payment_dates[t0 - 1]
    by_ob = {t.obligor_id: t for t in troubles}
    unknown = [o for o in by_ob if o not in info.obligor_ids]
    if unknown:
        raise ValueError(f"unknown obligors {unknown}")
    interest = np.zeros((n, n_t))
    principal = np.zeros((n, n_t))
    defaults = np.zeros(n_t)
    bal_start = np.zeros(n_t)
    bal_end = np.zeros(n_t)
    rows = []
    for i in range(n):
        oid = info.obligor_ids[int(info.asset_obligor[i])]
        tr = by_ob.get(oid)
        b = float(pool.sched_bal_start[i, 0])
        missed_prin = 0.0
        defaulted_at = tr.default_period - 1 if tr and tr.default_period else None
        default_balance = 0.0
        for t in range(t0):
            if defaulted_at is not None and t >= defaulted_at:
                if t == defaulted_at:
                    default_balance = b
                    defaults[t] += b
                    bal_start[t] += b
                continue
            bal_start[t] += b
            missed = tr is not None and tr.missed_periods and t >= t0 - tr.missed_periods
            if missed:
                missed_prin += pool.sched_prin[i, t]
            else:
                interest[i, t] = pool.sched_int[i, t]
                principal[i, t] = pool.sched_prin[i, t]
            b -= principal[i, t]
            bal_end[t] += b
        status, dpd = "performing", 0
        if defaulted_at is not None:
            status, outstanding = "defaulted", default_balance
            dpd = tr.days_past_due if tr.days_past_due is not None else (as_of - sched.payment_dates[defaulted_at]).days
        else:
            outstanding = b
            if tr is not None and tr.missed_periods:
                status = "overdue"
                first = sched.collection_bounds[t0 - tr.missed_periods]
                dpd = tr.days_past_due if tr.days_past_due is not None else max(1, (as_of - first).days)
        rows.append({
            "report_date": as_of, "asset_id": info.asset_ids[i], "obligor_id": oid,
            "outstanding_principal": _fen(outstanding, exact),
            "scheduled_collections": _fen(pool.sched_int[i, t0 - 1] + pool.sched_prin[i, t0 - 1], exact),
            "interest_collected": _fen(interest[i, t0 - 1], exact),
            "principal_collected": _fen(principal[i, t0 - 1], exact),
            "days_past_due": int(dpd), "status": status,
            "recoveries_received": 0.0, "recoveries_to_date": tr.recoveries_to_date if tr else 0.0,
            "default_date": sched.payment_dates[defaulted_at] if defaulted_at is not None else None,
            "default_balance": _fen(default_balance, exact) if defaulted_at is not None else None,
            "disposal_status": (tr.disposal_status if tr and tr.disposal_status else
                                ("not_started" if defaulted_at is not None else None)),
            "ip_events": ";".join(tr.ip_events) if tr else "",
            "firm_events": ";".join(tr.firm_events) if tr else "",
            "collateral_value": _fen(info.asset_appraisal[i] * (tr.collateral_factor if tr else 1.0), exact),
        })
    pf = PoolFlows(interest.sum(axis=0), principal.sum(axis=0), np.zeros(n_t), defaults, np.zeros(n_t),
                   bal_start, bal_end)
    names = deal.names
    out = empty_waterfall_out(n_t, len(names.tranches), len(names.fees), len(names.accounts), len(names.supports))
    run_waterfall(deal.waterfall, pf, support_default_periods(deal).astype(np.int64), out)
    trustee = _trustee_rows(deal, pf, out, t0, as_of, exact)
    servicer = pd.DataFrame(rows)
    if not exact:
        # the servicer's period collections are the sum of its rounded rows: the trustee reports what it received
        for kind, col in (("collections_interest", "interest_collected"),
                          ("collections_principal", "principal_collected")):
            trustee.loc[trustee["item"] == kind, "value"] = round(float(servicer[col].sum()), 2)
        live = servicer["status"].isin(["performing", "overdue"])
        trustee.loc[trustee["item"] == "pool_balance_end", "value"] = round(
            float(servicer.loc[live, "outstanding_principal"].sum()), 2)
        _balance_accounts(trustee)
    return SyntheticReports(servicer, trustee, as_of, t0, pf)


def _trustee_rows(deal: CompiledDeal, pf: PoolFlows, out, t0: int, as_of: dt.date, exact: bool) -> pd.DataFrame:
    t = t0 - 1
    names = deal.names
    wa = deal.waterfall
    rows: list[tuple[str, str, object]] = []

    def add(item: str, name: str, value: object) -> None:
        rows.append((item, name, _fen(value, exact) if isinstance(value, float | np.floating) else value))

    add("collections_interest", "", pf.interest[t])
    add("collections_principal", "", pf.principal[t])
    add("collections_recoveries", "", pf.recoveries[t])
    add("pool_balance_end", "", pf.bal_end[t])
    add("cumulative_defaults", "", float(pf.defaults[:t0].sum()))
    add("deal_state", "", ("normal", "accelerated", "post_default")[int(out.state[t])])
    for k, nm in enumerate(names.tranches):
        start = out.tr_bal_end[t - 1, k] if t > 0 else wa.tr_bal0[k]
        add("tranche_balance_start", nm, float(start))
        add("tranche_interest_paid", nm, float(out.tr_int_paid[t, k]))
        add("tranche_principal_paid", nm, float(out.tr_prin_paid[t, k]))
        add("tranche_residual_paid", nm, float(out.tr_resid[t, k]))
        add("tranche_interest_shortfall", nm, float(out.tr_int_short[t, k]))
        end = float(out.tr_bal_end[t, k]) if exact else round(start, 2) - round(float(out.tr_prin_paid[t, k]), 2)
        add("tranche_balance_end", nm, float(end))
    for f, nm in enumerate(names.fees):
        add("fee_paid", nm, float(out.fee_paid[t, f]))
        add("fee_unpaid", nm, float(out.fee_due[t, f] - out.fee_paid[t, f]))
    for a, nm in enumerate(names.accounts):
        add("account_balance_start", nm, float(out.acct_bal[t - 1, a] if t > 0 else wa.acct_init[a]))
        add("account_balance_end", nm, float(out.acct_bal[t, a]))
    for s, nm in enumerate(names.supports):
        add("support_drawn", nm, float(out.sup_draw[t, s]))
        add("support_drawn_to_date", nm, float(out.sup_draw[:t0, s].sum()))
    for g, trg in enumerate(deal.scenario.triggers):
        if trg.condition == "cumulative_default_ratio":
            rows.append(("trigger_value", names.triggers[g], round(float(out.cum_def_ratio[t]), 8)))
        elif trg.condition == "coverage_ratio" and out.coverage[t] >= 0:
            rows.append(("trigger_value", names.triggers[g], round(float(out.coverage[t]), 8)))
    return pd.DataFrame([{"report_date": as_of, "period": t0, "item": i, "name": nm, "value": v}
                         for i, nm, v in rows])


def _balance_accounts(df: pd.DataFrame) -> None:
    """Make the rounded trustee figures close at the fen: the last account's closing balance absorbs rounding."""
    def total(item: str) -> float:
        return float(df.loc[df["item"] == item, "value"].astype(float).sum())

    inflow = total("collections_interest") + total("collections_principal") + total("collections_recoveries") \
        + total("support_drawn")
    outflow = total("fee_paid") + total("tranche_interest_paid") + total("tranche_principal_paid") \
        + total("tranche_residual_paid")
    want = round(total("account_balance_start") + inflow - outflow, 2)
    ends = df.index[df["item"] == "account_balance_end"]
    have = round(total("account_balance_end"), 2)
    last = ends[0]
    df.loc[last, "value"] = round(float(df.loc[last, "value"]) + (want - have), 2)
