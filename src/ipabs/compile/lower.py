"""Scenario + pool tape → :class:`CompiledDeal` (flat arrays for the kernels, name ↔ index maps for decoding).

Nothing here runs a path. The steps:

* :func:`compile_pool` buckets each asset's contractual flows (QuantLib schedules) into the deal's collection
  periods;
* :func:`performing_flows` applies the deterministic CDR/CPR assumptions as fractional, pool-uniform rates;
* :func:`compile_waterfall` lowers tranches, fees, accounts, supports, triggers and steps to opcode arrays.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ipabs.compile.arrays import PoolArrays, WaterfallArrays
from ipabs.compile.schedule import (
    DealSchedule,
    asset_calendar,
    build_deal_schedule,
    contract_flows,
    day_counter,
    index_fixings,
)
from ipabs.errors import Issue, ScenarioError
from ipabs.kernels import _jit as K
from ipabs.kernels.containers import PerformingArrays
from ipabs.kernels.pool import performing_into
from ipabs.kernels.sums import PW_STACK
from ipabs.scenario.schema import Assumptions, Scenario

STATES = ("normal", "accelerated", "post_default")


def as_date(x) -> dt.date:
    """A tape cell → ``datetime.date`` (accepts date, datetime, pandas Timestamp, numpy datetime64, ISO text)."""
    if isinstance(x, dt.datetime):
        return x.date()
    if isinstance(x, dt.date):
        return x
    if isinstance(x, np.datetime64 | pd.Timestamp):
        return pd.Timestamp(x).date()
    return dt.date.fromisoformat(str(x)[:10])


def parse_custom_schedule(x) -> list[tuple[dt.date, float]]:
    """``'YYYY-MM-DD:amount;...'`` or a list of (date, amount) → list of (date, amount)."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or (isinstance(x, str) and not x.strip()):
        return []
    if isinstance(x, str):
        out = []
        for part in x.split(";"):
            if part.strip():
                d, _, amt = part.partition(":")
                out.append((as_date(d.strip()), float(amt)))
        return out
    return [(as_date(d), float(a)) for d, a in x]


@dataclass(frozen=True)
class PoolInfo:
    """Per-asset and per-obligor attributes the engines and reports need (Python side)."""

    asset_ids: tuple[str, ...]
    obligor_ids: tuple[str, ...]  # unique, in order of first appearance
    obligor_names: tuple[str, ...]
    asset_obligor: np.ndarray  # i8[N]
    obligor_industry: tuple[str, ...]
    asset_type: tuple[str, ...]
    asset_principal: np.ndarray  # f8[N] contract principal
    asset_rate: np.ndarray  # f8[N]
    asset_appraisal: np.ndarray  # f8[N] total appraised value of the IP behind the asset (0 if none)
    asset_ip_types: tuple[tuple[str, ...], ...]
    obligor_pd: np.ndarray  # f8[O] annual PD from the tape (NaN where not given)
    obligor_rating: tuple[str | None, ...]
    frame: pd.DataFrame  # the accepted tape rows
    #: floating assets' instalments, for the Monte Carlo's simulated index paths (ipabs.prepare.rates): one
    #: (asset, collection period, reset date, interest per unit of rate, rate, index, margin, floor, cap) per
    #: instalment paid within the deal's collection periods
    floating_terms: tuple = ()


def _opt_float(x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def _list(x) -> list:
    if x is None:
        return []
    if isinstance(x, float) and math.isnan(x):
        return []
    if isinstance(x, str):
        return [p.strip() for p in x.split(";") if p.strip()]
    return list(x)


@dataclass(frozen=True)
class _FloatingAsset:
    """A floating asset's rate rule: ``rate_at(reset)`` for :func:`contract_flows`, and what the Monte Carlo's
    simulated index paths need (index name, margin over it, floor, cap)."""

    rule: Any
    curve: Any
    tape_rate: float
    start: dt.date

    def rate_at(self, reset: dt.date) -> float:
        return self.rule.rate(self.curve, self.tape_rate, self.start, reset)

    @property
    def terms(self) -> tuple:
        margin = self.tape_rate - self.curve.level(self.start) if self.rule.spread is None else self.rule.spread
        return (self.rule.index, margin, self.rule.floor, self.rule.cap)


def _floating_rules(scenario: Scenario, rows: list[dict]) -> dict[int, _FloatingAsset]:
    """asset row → its rate rule (``pool.floating``; the first rule naming an asset wins)."""
    out: dict = {}
    known = {str(r["asset_id"]) for r in rows}
    unknown = [(j, x) for j, rule in enumerate(scenario.pool.floating) for x in rule.asset_ids if x not in known]
    if unknown:
        raise ScenarioError([Issue(f"asset '{x}' is not on the tape (or was rejected)", table=f"pool.floating[{j}]",
                                   field="asset_ids") for j, x in unknown])
    for rule in scenario.pool.floating:
        curve = scenario.indices[rule.index]
        ids, types = set(rule.asset_ids), set(rule.asset_types)
        for i, r in enumerate(rows):
            if i in out or not (str(r["asset_id"]) in ids or str(r["asset_type"]) in types):
                continue
            start, tape_rate = as_date(r["start_date"]), float(r.get("rate") or 0.0)
            out[i] = _FloatingAsset(rule, curve, tape_rate, start)
    return out


def compile_pool(assets: pd.DataFrame, sched: DealSchedule, scenario: Scenario) -> tuple[PoolArrays, PoolInfo]:
    """Contractual flows of every asset by collection period."""
    terms = scenario.deal
    cal = asset_calendar(terms)
    dc = day_counter(terms.day_count)
    interest_mode = terms.conventions.asset_interest
    n, n_t = len(assets), sched.n_periods
    sched_int = np.zeros((n, n_t))
    sched_prin = np.zeros((n, n_t))
    bal_start = np.zeros((n, n_t))
    after_legal = np.zeros(n)
    ob_index: dict[str, int] = {}
    asset_obligor = np.empty(n, dtype=np.int64)
    names: list[str] = []
    industries: list[str] = []
    ratings: list[str | None] = []
    pds: list[float] = []
    appraisal = np.zeros(n)
    ip_types: list[tuple[str, ...]] = []
    rows = assets.to_dict("records")
    floating = _floating_rules(scenario, rows)
    float_terms: list[tuple] = []
    for i, r in enumerate(rows):
        oid = str(r["obligor_id"])
        if oid not in ob_index:
            ob_index[oid] = len(ob_index)
            names.append(str(r.get("obligor_name") or oid))
            industries.append(str(r.get("industry") or "other"))
            rating = r.get("rating")
            ratings.append(None if rating is None or (isinstance(rating, float) and math.isnan(rating)) or rating == ""
                           else str(rating))
            pds.append(_opt_float(r.get("pd")))
        asset_obligor[i] = ob_index[oid]
        vals = [_opt_float(v) for v in _list(r.get("ip_appraised_value"))]
        appraisal[i] = float(np.nansum(vals)) if vals else 0.0
        ip_types.append(tuple(str(x) for x in _list(r.get("ip_type"))))
        freq = str(r.get("payment_frequency") or "quarterly")
        rec: list | None = [] if i in floating else None
        flows = contract_flows(
            float(r["principal"]), float(r.get("rate") or 0.0), as_date(r["start_date"]),
            as_date(r["maturity_date"]), freq, str(r.get("amortization") or "interest_only"),
            parse_custom_schedule(r.get("custom_schedule")), cal, dc, interest_mode, floating[i].rate_at if i in floating else None, rec,
        )
        for pay, reset, basis, rate in rec or ():
            p = sched.period_of(pay)
            if 0 <= p < n_t:
                float_terms.append((i, p, reset, basis, rate, *floating[i].terms))
        bal = float(r["principal"])
        # balance outstanding at the cut-off: principal less what was repaid on or before it
        for fl in flows:
            p = sched.period_of(fl.date)
            if p < 0:
                bal -= fl.principal
            elif p >= n_t:
                after_legal[i] += fl.interest + fl.principal
            else:
                sched_int[i, p] += fl.interest
                sched_prin[i, p] += fl.principal
        running = max(bal, 0.0)
        for t in range(n_t):
            bal_start[i, t] = running
            running = max(running - sched_prin[i, t], 0.0)
    pool = PoolArrays(sched_int, sched_prin, bal_start, asset_obligor, after_legal,
                      np.ascontiguousarray(sched.pool_yf, dtype=np.float64))
    info = PoolInfo(
        asset_ids=tuple(str(r["asset_id"]) for r in rows),
        obligor_ids=tuple(ob_index),
        obligor_names=tuple(names),
        asset_obligor=asset_obligor,
        obligor_industry=tuple(industries),
        asset_type=tuple(str(r["asset_type"]) for r in rows),
        asset_principal=np.array([float(r["principal"]) for r in rows], dtype=np.float64),
        asset_rate=np.array([float(r.get("rate") or 0.0) for r in rows], dtype=np.float64),
        asset_appraisal=appraisal,
        asset_ip_types=tuple(ip_types),
        obligor_pd=np.array(pds, dtype=np.float64),
        obligor_rating=tuple(ratings),
        frame=assets,
        floating_terms=tuple(float_terms),
    )
    return pool, info


def empty_performing(n_assets: int, n_periods: int) -> PerformingArrays:
    """Zeroed :class:`PerformingArrays` (scratch for :func:`ipabs.kernels.pool.performing_into`)."""
    return PerformingArrays(*(np.zeros((n_assets, n_periods)) for _ in range(6)),
                            *(np.zeros(n_periods) for _ in range(7)), 0.0, 0)


def performing_flows(pool: PoolArrays, a: Assumptions, yf: np.ndarray | None = None) -> PerformingArrays:
    """Apply fractional, pool-uniform default (MDR) and prepayment (SMM) rates to every asset.

    With g_t the performing fraction at the start of period t (g_0 = 1), for each asset:
    defaults ``g_t·mdr_t·B_t``; survivors ``s_t = g_t(1 − mdr_t)`` pay ``s_t·I_t`` interest and ``s_t·P_t``
    scheduled principal; prepayments ``s_t·smm_t·(B_t − P_t)``; ``g_{t+1} = s_t(1 − smm_t)``; where B, I, P are the
    contractual balance, interest and principal. Under ``cumulative_default_rate`` the period's defaults are
    ``CDR·w_t·B_pool,0`` (timing weights w, normalised), i.e. ``mdr_t = min(1, that / performing balance)``.
    Recoveries of these defaults are ``recovery_rate × defaults`` collected ``recovery_lag_periods`` later.
    Annual rates become period rates over the collection periods' year fractions ``pool.pool_yf`` (``yf`` overrides
    them, for tests only).

    Computed by the kernel :func:`ipabs.kernels.pool.performing_into`, which the batch deterministic engine
    (:mod:`ipabs.structuring.batch`) runs for each of its scenarios: one implementation, the same bits.
    """
    n, n_t = pool.sched_int.shape
    if yf is None:
        yf = pool.pool_yf
    w = np.zeros(n_t)
    if a.default_timing:
        m = min(n_t, len(a.default_timing))
        w[:m] = a.default_timing[:m]
    else:
        w[:] = 1.0
    pa = empty_performing(n, n_t)
    cum = math.nan if a.cumulative_default_rate is None else float(a.cumulative_default_rate)
    rate = performing_into(pool.sched_int, pool.sched_prin, pool.sched_bal_start, np.asarray(yf, dtype=np.float64),
                           float(a.cdr), float(a.default_multiplier), cum, w, float(a.cpr), float(a.cpr_multiplier),
                           float(a.recovery_rate), float(a.recovery_multiplier), np.int64(a.recovery_lag_periods),
                           pa, np.empty(6 * n_t + PW_STACK))
    return pa._replace(frac_rec_rate=float(rate), frac_rec_lag=int(a.recovery_lag_periods))


@dataclass(frozen=True)
class Names:
    tranches: tuple[str, ...]
    fees: tuple[str, ...]
    accounts: tuple[str, ...]
    supports: tuple[str, ...]
    triggers: tuple[str, ...]


def _tranche_targets(s: Scenario, sched: DealSchedule) -> np.ndarray:
    n_t = sched.n_periods
    out = np.zeros((len(s.tranches), n_t))
    for k, tr in enumerate(s.tranches):
        if tr.amortization == "bullet":
            em = sched.period_on_or_after(tr.expected_maturity or s.deal.legal_maturity)
            out[k, :] = tr.balance
            out[k, min(em, n_t - 1):] = 0.0
        elif tr.amortization == "pass_through":
            out[k, :] = tr.balance
            if tr.expected_maturity:
                out[k, min(sched.period_on_or_after(tr.expected_maturity), n_t - 1):] = 0.0
        else:
            cur = tr.balance
            pts = sorted((sched.period_on_or_after(x.date), x.balance) for x in tr.schedule)
            j = 0
            for t in range(n_t):
                while j < len(pts) and pts[j][0] <= t:
                    cur = min(cur, pts[j][1])
                    j += 1
                out[k, t] = cur
    return out


def index_levels(s: Scenario, sched: DealSchedule) -> dict[str, np.ndarray]:
    """Level of each index a floating tranche uses, fixed for each period (the curve's level ``fixing_lag_days``
    before the period's accrual start; one row per tranche name)."""
    out: dict[str, np.ndarray] = {}
    starts = note_accrual_starts(s, sched)
    for tr in s.tranches:
        if tr.floating is not None:
            out[tr.name] = index_fixings(s.indices[tr.floating.index], starts, tr.floating.fixing_lag_days)
    return out


def note_accrual_starts(s: Scenario, sched: DealSchedule) -> list:
    """The first day of each note accrual period (adjusted or not: ``deal.conventions.note_accrual_dates``); a
    floating coupon's index is read ``fixing_lag_days`` before it."""
    if s.deal.conventions.note_accrual_dates == "unadjusted":
        return [s.deal.closing_date, *sched.payment_dates_unadjusted[:-1]]
    return list(sched.accrual_start)


def tranche_rates(s: Scenario, sched: DealSchedule) -> np.ndarray:
    """Coupon of each tranche in each period, [T, K]: the fixed coupon, or min(cap, max(floor, index + spread))."""
    n_t = sched.n_periods
    out = np.empty((n_t, len(s.tranches)), dtype=np.float64)
    levels = index_levels(s, sched)
    for k, tr in enumerate(s.tranches):
        if tr.floating is None:
            out[:, k] = tr.coupon
            continue
        f = tr.floating
        c = levels[tr.name] + f.spread
        if f.floor is not None:
            c = np.maximum(c, f.floor)
        if f.cap is not None:
            c = np.minimum(c, f.cap)
        out[:, k] = c
    return out


def compile_waterfall(s: Scenario, sched: DealSchedule, pool_bal0: float) -> tuple[WaterfallArrays, Names]:
    """Lower the liabilities and rules to arrays (see :class:`WaterfallArrays`)."""
    tn = [t.name for t in s.tranches]
    fn = [f.name for f in s.fees]
    an = [a.name for a in s.accounts]
    sn = [x.name for x in s.support]
    ti = {n: i for i, n in enumerate(tn)}
    fi = {n: i for i, n in enumerate(fn)}
    ai = {n: i for i, n in enumerate(an)}
    si = {n: i for i, n in enumerate(sn)}
    nk = len(tn)
    main_acct = ai[s.collection_accounts()[0].name]

    def route(kind: str) -> int:
        for a in s.collection_accounts():
            if kind in a.receives:
                return ai[a.name]
        return main_acct

    fee_basis = np.array([{"fixed": K.FEE_FIXED, "pool_balance": K.FEE_POOL_BALANCE,
                           "tranche_balance": K.FEE_TRANCHE_BALANCE,
                           "interest_collections": K.FEE_INTEREST_COLLECTIONS}[f.basis] for f in s.fees],
                         dtype=np.int64)
    fee_mask = np.zeros((len(fn), nk))
    for i, f in enumerate(s.fees):
        for n in f.tranches:
            fee_mask[i, ti[n]] = 1.0
    acct_mask = np.zeros((len(an), nk))
    for i, a in enumerate(s.accounts):
        for n in a.target_tranches:
            acct_mask[i, ti[n]] = 1.0

    lists = [s.waterfall.normal, s.waterfall.accelerated or s.waterfall.normal,
             s.waterfall.post_default or s.waterfall.normal]
    ms = max(len(x) for x in lists)
    mt = max([1, nk, len(fn)])
    mc = max([1] + [len(st.covers) + len(fn) for x in lists for st in x])
    st_n = np.array([len(x) for x in lists], dtype=np.int64)
    shape2, shape3t, shape3c = (3, ms), (3, ms, mt), (3, ms, mc)
    st_op, st_src, st_dst = (np.zeros(shape2, dtype=np.int64) for _ in range(3))
    st_alloc, st_amount, st_support = (np.zeros(shape2, dtype=np.int64) for _ in range(3))
    st_ntargets, st_ncov, st_nreq = (np.zeros(shape2, dtype=np.int64) for _ in range(3))
    st_targets, st_req = np.full(shape3t, -1, dtype=np.int64), np.full(shape3t, -1, dtype=np.int64)
    st_cov_kind, st_cov_idx = np.zeros(shape3c, dtype=np.int64), np.full(shape3c, -1, dtype=np.int64)
    ops = {"pay_fees": K.OP_PAY_FEES, "pay_interest": K.OP_PAY_INTEREST, "pay_principal": K.OP_PAY_PRINCIPAL,
           "transfer": K.OP_TRANSFER, "draw_support": K.OP_DRAW_SUPPORT, "pay_residual": K.OP_PAY_RESIDUAL}
    amounts = {None: K.AMT_DUE, "due": K.AMT_DUE, "all": K.AMT_ALL, "collected": K.AMT_COLLECTED,
               "to_target": K.AMT_TO_TARGET, "shortfall": K.AMT_SHORTFALL}
    for si_, steps in enumerate(lists):
        for j, st in enumerate(steps):
            st_op[si_, j] = ops[st.action]
            st_src[si_, j] = ai[st.account] if st.account else main_acct
            st_dst[si_, j] = ai[st.to] if st.to else main_acct
            st_alloc[si_, j] = K.ALLOC_PRO_RATA if st.allocation == "pro_rata" else K.ALLOC_SEQUENTIAL
            amt = st.amount
            if st.action == "transfer" and amt is None:
                amt = "all"
            st_amount[si_, j] = amounts[amt]
            st_support[si_, j] = si[st.support] if st.support else -1
            if st.action == "pay_fees":
                tg = [fi[x] for x in (st.fees or fn)]
            elif st.action == "pay_residual":
                tg = [ti[st.tranche]]
            else:
                tg = [ti[x] for x in st.tranches]
            st_ntargets[si_, j] = len(tg)
            st_targets[si_, j, : len(tg)] = tg
            req = [ti[x] for x in st.require_repaid]
            st_nreq[si_, j] = len(req)
            st_req[si_, j, : len(req)] = req
            cov: list[tuple[int, int]] = []
            for c in st.covers:
                kind, _, name = c.partition(":")
                if c == "fees":
                    cov += [(K.COVER_FEE, i) for i in range(len(fn))]
                elif kind == "fee":
                    cov.append((K.COVER_FEE, fi[name]))
                elif kind == "interest":
                    cov.append((K.COVER_INTEREST, ti[name]))
                else:
                    cov.append((K.COVER_PRINCIPAL, ti[name]))
            st_ncov[si_, j] = len(cov)
            for c, (kd, ix) in enumerate(cov):
                st_cov_kind[si_, j, c] = kd
                st_cov_idx[si_, j, c] = ix

    conds = {"cumulative_default_ratio": K.TRG_CUM_DEFAULT, "coverage_ratio": K.TRG_COVERAGE,
             "support_default": K.TRG_SUPPORT_DEFAULT, "on_date": K.TRG_ON_DATE}
    effects = {"accelerated": K.STATE_ACCELERATED, "post_default": K.STATE_POST_DEFAULT}
    tr = s.triggers
    wa = WaterfallArrays(
        yf=sched.year_fractions.astype(np.float64),
        pool_bal0=float(pool_bal0),
        cleanup=float(s.deal.clean_up_call),
        tr_bal0=np.array([t.balance for t in s.tranches], dtype=np.float64),
        tr_coupon=np.array([t.coupon for t in s.tranches], dtype=np.float64),
        tr_target=_tranche_targets(s, sched),
        tr_ios=np.array([int(t.interest_on_shortfall) for t in s.tranches], dtype=np.int64),
        tr_senior=np.array([int(t.seniority == "senior") for t in s.tranches], dtype=np.int64),
        fee_basis=fee_basis,
        fee_rate=np.array([f.rate for f in s.fees], dtype=np.float64),
        fee_amount=np.array([f.annual_amount for f in s.fees], dtype=np.float64),
        fee_tr_mask=fee_mask,
        acct_init=np.array([a.initial_balance for a in s.accounts], dtype=np.float64),
        acct_reserve=np.array([int(a.kind == "reserve") for a in s.accounts], dtype=np.int64),
        acct_target_amt=np.array([a.target_amount for a in s.accounts], dtype=np.float64),
        acct_target_rate=np.array([a.target_rate for a in s.accounts], dtype=np.float64),
        acct_target_mask=acct_mask,
        route_int=route("interest"),
        route_prin=route("principal"),
        route_rec=route("recoveries"),
        sup_cap=np.array([math.inf if x.cap is None else x.cap for x in s.support], dtype=np.float64),
        st_n=st_n, st_op=st_op, st_src=st_src, st_dst=st_dst, st_alloc=st_alloc, st_amount=st_amount,
        st_support=st_support, st_targets=st_targets, st_ntargets=st_ntargets, st_cov_kind=st_cov_kind,
        st_cov_idx=st_cov_idx, st_ncov=st_ncov, st_req=st_req, st_nreq=st_nreq,
        trg_cond=np.array([conds[x.condition] for x in tr], dtype=np.int64),
        trg_thr=np.array([x.threshold for x in tr], dtype=np.float64),
        trg_sup=np.array([si[x.support] if x.support else -1 for x in tr], dtype=np.int64),
        trg_period=np.array([sched.period_on_or_after(x.date) if x.date else 0 for x in tr], dtype=np.int64),
        trg_effect=np.array([effects[x.effect] for x in tr], dtype=np.int64),
        trg_curable=np.array([int(x.curable) for x in tr], dtype=np.int64),
        note_yf=np.ascontiguousarray(sched.note_yf, dtype=np.float64),
        fee_yf=np.ascontiguousarray(sched.fee_yf, dtype=np.float64),
        fee_bal_lag=np.ascontiguousarray(sched.fee_bal_lag, dtype=np.int64),
        tr_rate=tranche_rates(s, sched),
    )
    return wa, Names(tuple(tn), tuple(fn), tuple(an), tuple(sn), tuple(x.name for x in tr))


@dataclass(frozen=True)
class CompiledDeal:
    """Everything an engine needs, compiled once per scenario (pure data; engines are functions of it)."""

    scenario: Scenario
    schedule: DealSchedule
    pool: PoolArrays
    info: PoolInfo
    waterfall: WaterfallArrays
    names: Names
    scenario_hash: str
    source: str | None = None
    warnings: tuple[str, ...] = field(default=())
    index_level: np.ndarray | None = None  # f8[T, K] index fixed for each floating tranche's period (NaN: fixed)

    @property
    def n_periods(self) -> int:
        return self.schedule.n_periods

    @property
    def pool_balance(self) -> float:
        return self.waterfall.pool_bal0


def _check_tape_references(scenario: Scenario, info: PoolInfo, source: str | None) -> None:
    """Names in the scenario that must exist on the tape (sectors of ``simulation.revenue_risk.by_sector``)."""
    rr = scenario.simulation.revenue_risk
    if rr is None:
        return
    known = sorted(set(info.obligor_industry))
    issues = [Issue(f"sector '{k}' is not the industry of any obligor on the tape (industries: {known})",
                    file=source, table="simulation.revenue_risk.by_sector", field=k)
              for k in rr.by_sector if k not in known]
    if issues:
        raise ScenarioError(issues)


def compile_deal(scenario: Scenario, assets: pd.DataFrame, *, scenario_hash: str = "", source: str | None = None,
                 warnings: tuple[str, ...] = ()) -> CompiledDeal:
    """Compile a validated scenario and its accepted tape rows."""
    sched = build_deal_schedule(scenario.deal)
    pool, info = compile_pool(assets, sched, scenario)
    _check_tape_references(scenario, info, source)
    bal0 = float(pool.sched_bal_start[:, 0].sum()) if pool.sched_bal_start.size else 0.0
    wa, names = compile_waterfall(scenario, sched, bal0)
    w = list(warnings) + list(sched.warnings)
    late = float(pool.after_legal.sum())
    if late > 0.005:
        when = "legal maturity" if scenario.deal.collection is None else "the last collection period"
        w.append(f"{late:,.2f} yuan of contractual pool cash flows fall after {when} and never reach investors")
    lv = index_levels(scenario, sched)
    idx = None
    if lv:
        idx = np.full((sched.n_periods, len(scenario.tranches)), np.nan)
        for k, tr in enumerate(scenario.tranches):
            if tr.name in lv:
                idx[:, k] = lv[tr.name]
    return CompiledDeal(scenario, sched, pool, info, wa, names, scenario_hash, source, tuple(w), idx)
