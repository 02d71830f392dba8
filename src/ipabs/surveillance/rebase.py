"""Rebase a compiled deal at a report date: a new :class:`CompiledDeal` of the remaining periods whose starting
state is what the reports say, so the existing engines (deterministic, Monte Carlo, breakeven) run it unchanged.

With t0 the number of payment dates on or before the as-of date (periods already paid), the rebased deal is the
original one from period t0 on (docs/surveillance.md §3, decision 030):

* **pool**: each asset's remaining contractual flows (periods t0 …) scaled by reported ÷ scheduled outstanding
  principal (1 exactly when they agree to half a fen, so an on-schedule report changes nothing); an asset that
  should have matured but still owes principal owes it in the first remaining period; prepaid, repurchased and
  written-off assets have no flows; a defaulted asset keeps only its expected remaining recovery (the report's
  ``expected_recovery``, else the scenario's ``recovery_rate`` × balance at default, less recoveries to date),
  collected ``recovery_lag_periods`` after its default period (at the earliest in the first remaining period);
* **obligors**: a defaulted obligor cannot default again (annual PD 0); an overdue obligor's annual PD is the larger
  of its own and the delinquency → default transition table's 12-month PD for its worst days past due (an
  assumption, labelled); performing obligors keep their PDs, drawn from the as-of date;
* **deal**: tranche balances, account balances and support drawn to date from the trustee report; cumulative
  defaults D0 enter the cumulative-default-ratio triggers as a lower threshold, ``thr − D0/B0`` (B0 the cut-off
  pool balance, which the clean-up call also keeps); a reported accelerated / post-default state caused by a
  non-curable trigger stays latched (an on-date trigger at the first remaining period); dated triggers and named
  obligor or provider defaults move t0 periods earlier.

Not carried (reported in ``notes`` when non-zero, decision 030): interest shortfalls and unpaid fees carried into
the next period (the kernels start every projection with none).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ipabs.compile.arrays import PoolArrays
from ipabs.compile.lower import CompiledDeal, Names
from ipabs.compile.schedule import DealSchedule
from ipabs.errors import Issue
from ipabs.kernels import _jit as K
from ipabs.surveillance.reports import ReportError, ReportResult, TrusteeView, check_against_deal
from ipabs.surveillance.rules import TransitionTable, loan_class

_EFFECT = {"accelerated": K.STATE_ACCELERATED, "post_default": K.STATE_POST_DEFAULT}


@dataclass(frozen=True)
class RebasedDeal:
    """A deal rebased at ``as_of``: ``deal`` runs in every engine; ``t0`` periods of ``original`` are behind it."""

    deal: CompiledDeal
    original: CompiledDeal
    as_of: dt.date
    t0: int
    cumulative_defaults: float
    assets: pd.DataFrame  # per asset: status, dpd, loan class, scale factor, expected recovery
    obligor_annual_pd: dict[str, float]  # the PD each obligor now carries in the Monte Carlo (NaN = rating curve)
    transition_used: bool
    reported_state: str
    notes: tuple[str, ...]

    @property
    def cumulative_default_offset(self) -> float:
        """D0 / B0: add it to a projection's ``cum_def_ratio`` to get the deal's cumulative default ratio."""
        b0 = self.original.waterfall.pool_bal0
        return self.cumulative_defaults / b0 if b0 > 0 else 0.0


def periods_paid(deal: CompiledDeal, as_of: dt.date) -> int:
    """Payment dates on or before ``as_of``."""
    return sum(1 for d in deal.schedule.payment_dates if d <= as_of)


def _base_annual_pd(deal: CompiledDeal) -> np.ndarray:
    from ipabs.credit.pd_curves import load_rating_table
    from ipabs.prepare.montecarlo import obligor_pds

    sim = deal.scenario.simulation
    table = load_rating_table(sim.rating_table) if sim.rating_table else None
    annual, _curve = obligor_pds(deal, table)
    return annual


def rebase(deal: CompiledDeal, servicer: ReportResult, trustee: ReportResult | None, *, as_of: dt.date,
           transition: TransitionTable | None = None) -> RebasedDeal:
    """The deal rebased at ``as_of`` from its period reports (see module docstring).

    Raises :class:`ReportError` listing every problem: rejected report rows, unknown or missing assets, names the
    deal does not have, dates out of order, an as-of date outside the deal's remaining life.
    """
    sched = deal.schedule
    n_t = deal.n_periods
    t0 = periods_paid(deal, as_of)
    issues: list[Issue] = list(servicer.rejected) + (list(trustee.rejected) if trustee is not None else [])
    if not 1 <= t0 < n_t:
        issues.append(Issue(f"as-of date {as_of} must be on or after the first payment date "
                            f"{sched.payment_dates[0]} and before the last {sched.payment_dates[-1]}",
                            field="as_of"))
    info = deal.info
    asset_obligor = {a: info.obligor_ids[int(info.asset_obligor[i])] for i, a in enumerate(info.asset_ids)}
    names = {"tranches": deal.names.tranches, "fees": deal.names.fees, "accounts": deal.names.accounts,
             "supports": deal.names.supports, "triggers": deal.names.triggers}
    issues += check_against_deal(servicer, trustee, asset_ids=info.asset_ids, asset_obligors=asset_obligor,
                                 names=names, as_of=as_of)
    if servicer.report_date is not None and servicer.report_date <= as_of and 1 <= t0 < n_t \
            and periods_paid(deal, servicer.report_date) != t0:
        issues.append(Issue(f"the report of {servicer.report_date} is stale: {as_of} follows payment period {t0} "
                            f"({sched.payment_dates[t0 - 1]}), the report period "
                            f"{periods_paid(deal, servicer.report_date)}", file=servicer.file, field="report_date"))
    if trustee is not None and trustee.period is not None and 1 <= t0 < n_t and trustee.period != t0:
        issues.append(Issue(f"trustee report is for period {trustee.period} but {as_of} follows payment period {t0} "
                            f"({sched.payment_dates[t0 - 1]})", file=trustee.file, field="period"))
    if issues:
        raise ReportError(issues, title="the reports cannot rebase this deal")
    notes: list[str] = []
    if trustee is None:
        from ipabs.surveillance.synthetic import make_reports

        trustee_rows = make_reports(deal, t0, exact=True).trustee
        view = TrusteeView(ReportResult("trustee", trustee_rows, [], len(trustee_rows), "<issuance projection>",
                                        as_of, t0))
        notes.append("no trustee report: tranche and account balances are the issuance projection's with no "
                     "defaults (an assumption)")
    else:
        view = TrusteeView(trustee)
    rows = servicer.rows.set_index("asset_id")
    a = deal.scenario.assumptions
    rec_rate = min(1.0, a.recovery_rate * a.recovery_multiplier)
    pool = deal.pool
    si, sp, sb = (x[:, t0:].copy() for x in (pool.sched_int, pool.sched_prin, pool.sched_bal_start))
    after = pool.after_legal.copy()
    n_r = n_t - t0
    recs = []
    defaulted_ob: set[str] = set()
    worst_dpd: dict[str, int] = {}
    for i, aid in enumerate(info.asset_ids):
        r = rows.loc[aid]
        oid = asset_obligor[aid]
        status = str(r["status"])
        sched_bal = float(pool.sched_bal_start[i, t0])
        out = float(r["outstanding_principal"])
        factor, exp_rec = 1.0, 0.0
        if status in ("performing", "overdue"):
            worst_dpd[oid] = max(worst_dpd.get(oid, 0), int(r["days_past_due"]))
            if abs(out - sched_bal) <= 0.005:
                factor = 1.0
            elif sched_bal > 0.005:
                factor = out / sched_bal
                si[i] *= factor
                sp[i] *= factor
                sb[i] *= factor
                after[i] *= factor
            else:  # matured on schedule but still owing: due in the first remaining period
                factor = math.nan
                si[i] = 0.0
                sp[i] = 0.0
                sb[i] = 0.0
                sp[i, 0] = out
                sb[i, 0] = out
        else:
            factor = 0.0
            si[i] = sp[i] = sb[i] = 0.0
            after[i] = 0.0
            if status == "defaulted":
                defaulted_ob.add(oid)
                given = r["expected_recovery"]
                gross = float(given) if given is not None and not pd.isna(given) else rec_rate * float(
                    r["default_balance"])
                exp_rec = max(0.0, gross - float(r["recoveries_to_date"]))
                p_def = max(0, sched.period_of(r["default_date"]))
                rel = min(n_r - 1, max(0, p_def + a.recovery_lag_periods - t0))
                if exp_rec > 0.005:
                    sp[i, rel] = exp_rec
                    sb[i, : rel + 1] = exp_rec
        recs.append({"asset_id": aid, "obligor_id": oid, "status": status, "days_past_due": int(r["days_past_due"]),
                     "loan_class": loan_class(int(r["days_past_due"]), status), "outstanding_principal": out,
                     "scheduled_balance": sched_bal, "scale_factor": factor, "expected_recovery": exp_rec})
    new_pool = PoolArrays(si, sp, sb, pool.asset_obligor, after, pool.pool_yf[t0:].copy())
    # obligor PDs in the Monte Carlo
    base = _base_annual_pd(deal)
    new_pd = base.copy()
    used = False
    for o, oid in enumerate(info.obligor_ids):
        if oid in defaulted_ob:
            new_pd[o] = 0.0
            continue
        d = worst_dpd.get(oid, 0)
        if d > 0 and transition is not None:
            p = transition.pd_12m(d)
            if p is not None:
                new_pd[o] = p if not math.isfinite(base[o]) else max(base[o], p)
                used = True
    if used:
        notes.append(f"overdue obligors carry the delinquency → default transition table's PD ({transition.name}; "
                     f"{transition.status}: {transition.source})")
    # a defaulted obligor's remaining recovery is not a loan that can default: keep its PD at 0 and its rating unused
    # floating assets' instalments (the Monte Carlo's simulated index paths): from period t0 on, scaled like the
    # asset's rebased flows; none for an asset defaulted, repaid or overdue past its maturity
    scale = {i: rec["scale_factor"] for i, rec in enumerate(recs)}
    terms = tuple((i, t - t0, reset, basis * scale[i], *rest) for (i, t, reset, basis, *rest) in info.floating_terms
                  if t >= t0 and math.isfinite(scale[i]) and scale[i] > 0.0)
    new_info = dataclasses.replace(info, obligor_pd=new_pd, floating_terms=terms)
    # deal-level state
    wa = deal.waterfall
    b0 = wa.pool_bal0
    tr_bal = np.array([float(view.get("tranche_balance_end", k)) for k in deal.names.tranches])
    acct = np.array([float(view.get("account_balance_end", k)) for k in deal.names.accounts])
    drawn = view.named("support_drawn_to_date")
    sup_left = np.array([max(0.0, float(c) - float(drawn.get(nm, 0.0))) if math.isfinite(c) else c
                         for c, nm in zip(wa.sup_cap, deal.names.supports, strict=True)])
    d0 = view.get("cumulative_defaults")
    d0 = float(d0) if d0 is not None else float(servicer.rows.loc[servicer.rows["status"].isin(
        ["defaulted", "written_off"]), "default_balance"].fillna(0.0).sum())
    thr = wa.trg_thr.copy()
    cond = wa.trg_cond.copy()
    for g in range(cond.shape[0]):
        if cond[g] == K.TRG_CUM_DEFAULT and b0 > 0:
            thr[g] = thr[g] - d0 / b0
    trg_period = np.maximum(wa.trg_period - t0, 0)
    state = view.get("deal_state") or "normal"
    trg_sup, trg_eff, trg_cur = wa.trg_sup.copy(), wa.trg_effect.copy(), wa.trg_curable.copy()
    trigger_names = list(deal.names.triggers)
    if state != "normal":
        latch = any(t.effect == state and not t.curable for t in deal.scenario.triggers)
        if latch:
            cond = np.append(cond, K.TRG_ON_DATE)
            thr = np.append(thr, 0.0)
            trg_sup = np.append(trg_sup, -1)
            trg_period = np.append(trg_period, 0)
            trg_eff = np.append(trg_eff, _EFFECT[state])
            trg_cur = np.append(trg_cur, 0)
            trigger_names.append(f"reported_state:{state}")
            notes.append(f"the reported deal state '{state}' is kept (a non-curable trigger has that effect)")
    new_wa = wa._replace(
        yf=wa.yf[t0:].copy(), tr_bal0=tr_bal, tr_target=wa.tr_target[:, t0:].copy(), acct_init=acct,
        sup_cap=sup_left, trg_cond=cond.astype(np.int64), trg_thr=thr, trg_sup=trg_sup.astype(np.int64),
        trg_period=trg_period.astype(np.int64), trg_effect=trg_eff.astype(np.int64),
        trg_curable=trg_cur.astype(np.int64),
        note_yf=wa.note_yf[t0:].copy(), fee_yf=wa.fee_yf[t0:].copy(), tr_rate=wa.tr_rate[t0:].copy(),
        # the balances before the report date's previous distribution are not reported: fees of the first rebased
        # period accrue on the reported balances
        fee_bal_lag=np.concatenate([np.zeros(1, dtype=np.int64), wa.fee_bal_lag[t0 + 1:]]),
    )
    for item, what in (("tranche_interest_shortfall", "interest shortfall"), ("fee_unpaid", "unpaid fee")):
        for nm, v in view.named(item).items():
            if v and float(v) > 0.005:
                notes.append(f"{what} of {float(v):,.2f} on '{nm}' carried at the report date is not carried into "
                             "the projection (decision 030)")
    def cut(v):  # the schedule's optional per-period arrays from period t0 on
        return None if v is None else v[t0:].copy()

    new_sched = DealSchedule(sched.payment_dates[t0:], sched.accrual_start[t0:], sched.year_fractions[t0:].copy(),
                             sched.collection_bounds[t0:], sched.warnings,
                             pool_year_fractions=cut(sched.pool_year_fractions),
                             note_year_fractions=cut(sched.note_year_fractions),
                             fee_year_fractions=cut(sched.fee_year_fractions),
                             fee_balance_lag=None if sched.fee_balance_lag is None else new_wa.fee_bal_lag.copy(),
                             payment_dates_unadjusted=sched.payment_dates_unadjusted[t0:])
    scenario = _rebased_scenario(deal, as_of, t0, tr_bal, sup_left)
    new_names = Names(deal.names.tranches, deal.names.fees, deal.names.accounts, deal.names.supports,
                      tuple(trigger_names))
    rebased = CompiledDeal(scenario, new_sched, new_pool, new_info, new_wa, new_names,
                           f"{deal.scenario_hash}:rebased:{as_of.isoformat()}", deal.source, deal.warnings)
    pds = {oid: float(new_pd[o]) for o, oid in enumerate(info.obligor_ids)}
    return RebasedDeal(rebased, deal, as_of, t0, d0, pd.DataFrame(recs), pds, used, state, tuple(notes))


def _rebased_scenario(deal: CompiledDeal, as_of: dt.date, t0: int, tr_bal: np.ndarray, sup_left: np.ndarray):
    """The scenario as of the report date (copied without re-validation: it describes the rebased arrays)."""
    s = deal.scenario
    sched = deal.schedule
    terms = s.deal.model_copy(update={"cutoff_date": sched.collection_bounds[t0], "closing_date": as_of,
                                      "first_payment_date": sched.payment_dates[t0]})
    tranches = [t.model_copy(update={"balance": float(b)}) for t, b in zip(s.tranches, tr_bal, strict=True)]
    support = []
    for x, left in zip(s.support, sup_left, strict=True):
        dp = x.default_period
        new_dp = 0 if dp == 0 else max(1, dp - t0)
        support.append(x.model_copy(update={"cap": None if not math.isfinite(left) else float(left),
                                            "default_period": new_dp}))
    a = s.assumptions
    od = [o.model_copy(update={"period": o.period - t0}) for o in a.obligor_defaults if o.period > t0]
    timing = list(a.default_timing[t0:]) if a.default_timing else []
    if a.default_timing and not any(timing):
        timing = []
    upd = {"obligor_defaults": od, "default_timing": timing}
    if a.cumulative_default_rate is not None and not timing and a.default_timing:
        upd["cumulative_default_rate"] = 0.0
    assumptions = a.model_copy(update=upd)
    return s.model_copy(update={"deal": terms, "tranches": tranches, "support": support,
                                "assumptions": assumptions})
