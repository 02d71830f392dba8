"""The finance bureau's subsidy budget: a Monte Carlo over a pipeline of planned deals and pledge loans.

Model (docs/policy.md §5). On each path:

* deal *d* completes with probability ``q_d`` (``u_d < q_d``); its size is ``planned × M_d`` with
  ``M_d = exp(σ_d Z_d − σ_d²/2)``, ``σ_d² = ln(1 + size_sd²)`` (lognormal, mean 1), rounded half up to the fen;
  it slips ``S_d = #{k = 1…max_slip : v_d < p_d^k}`` calendar years (``P(S ≥ k) = p^k``, truncated);
* pledge loan *l*: the same three draws of its own; its firm defaults in year ``D_f`` drawn by the credit engine's
  correlated copula (:func:`ipabs.policy.rng.draw_default_years`); the loan is settled iff ``D_f`` is after its
  settlement year, and interest is paid in the years before ``D_f``;
* the realised financings are run through the policy's rules exactly as in
  :func:`ipabs.policy.entitlements.compute_entitlements` (same integer arithmetic, same caps), vectorised here.

The readable engine is the test oracle: :func:`path_financings` rebuilds one path's financings and the two must
agree to the fen (tests/unit/policy/test_budget.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from ipabs import __version__
from ipabs.errors import InputError, Issue
from ipabs.policy import rng
from ipabs.policy.entitlements import (
    EntitlementReport,
    PledgeLoan,
    Securitization,
    compute_entitlements,
    interest_rate_eligible,
    months_by_year,
    resolve_lpr,
)
from ipabs.policy.money import Rate, apply_rate, muldiv, scale_fen, to_fen, yuan
from ipabs.policy.pipeline import Pipeline
from ipabs.policy.reasons import ITEMS
from ipabs.policy.schema import Policy
from ipabs.policy.stats import summarize

Progress = Callable[[int, int], None]

#: Paths per chunk of work. Results do not depend on it (path p's draws depend only on (seed, p)).
CHUNK_PATHS = 2048
#: House default correlations, as the deal simulation's [simulation] table (ipabs.scenario.schema.Simulation).
DEFAULT_RHO = 0.2
DEFAULT_SECTOR_RHO = 0.1

I_SEC, I_PAT, I_OIP, I_INT = range(4)


@dataclass(frozen=True)
class BudgetModel:
    """A pipeline compiled against a policy: flat arrays (index maps kept for decoding)."""

    policy: Policy
    pipeline: Pipeline
    firm_ids: tuple[str, ...]
    y0: int
    n_years: int
    lags: tuple[int, int, int, int]
    rho: float
    sector_rho: float
    lpr: Decimal | None
    # units: deals first, then loans
    n_deals: int
    n_loans: int
    q: np.ndarray
    sigma: np.ndarray
    slip_p: np.ndarray
    max_slip: np.ndarray
    # securitization rows
    s_firm: np.ndarray
    s_deal: np.ndarray
    s_amount: np.ndarray
    s_ok: np.ndarray
    deal_year0: np.ndarray
    deal_size: np.ndarray  # fen, -1 when not given
    deal_issuer: np.ndarray  # firm index of the issuer, -1 when none
    deal_ok: np.ndarray
    # loans
    l_firm: np.ndarray
    l_obligor: np.ndarray
    l_amount: np.ndarray
    l_start0: np.ndarray
    l_settle_off: np.ndarray
    l_patents: np.ndarray
    l_pat_ok: np.ndarray
    l_oip_ok: np.ndarray
    l_int_ok: np.ndarray
    l_rate_num: np.ndarray
    l_rate_den: np.ndarray
    l_months: np.ndarray  # [n_loans, K] months of interest in start year + k
    # obligors (firms with loans)
    obl_pd: np.ndarray
    obl_sector: np.ndarray
    sectors: tuple[str, ...]

    @property
    def n_units(self) -> int:
        return self.n_deals + self.n_loans

    @property
    def n_pay_years(self) -> int:
        return self.n_years + max(self.lags)

    @property
    def needs_defaults(self) -> bool:
        p = self.policy
        return self.n_loans > 0 and any(x is not None for x in (p.pledge_patent, p.pledge_other_ip,
                                                                 p.interest_subsidy))


def compile_budget(pipeline: Pipeline, policy: Policy, *, lpr: Decimal | str | float | None = None,
                   rho: float = DEFAULT_RHO, sector_rho: float = DEFAULT_SECTOR_RHO) -> BudgetModel:
    """Check the pipeline against what the policy needs and lay it out as arrays.

    Raises
    ------
    InputError
        Issuer-mode policy without ``issuer_id``; interest subsidy without ``rate`` or without an LPR; bad
        correlations.
    """
    issues: list[Issue] = []
    src = pipeline.source
    run_lpr = Decimal(str(lpr)) if lpr is not None else None
    if not (rho >= 0 and sector_rho >= 0 and rho + sector_rho < 1):
        issues.append(Issue(f"correlations need 0 <= rho, 0 <= sector_rho, rho + sector_rho < 1 (got {rho}, "
                            f"{sector_rho})", field="rho"))
    sec_rule = policy.securitization
    issuer_mode = sec_rule is not None and sec_rule.recipient == "issuer"
    excl = policy.exclusions.already_funded

    firm_ids = list(pipeline.firm_ids)
    if issuer_mode:
        for r in pipeline.securitizations:
            if not r.issuer_id:
                issues.append(Issue(f"policy '{policy.name}' pays the issuer: issuer_id is needed", file=src,
                                    row=r.source_row, field="issuer_id"))
            elif r.issuer_id not in firm_ids:
                firm_ids.append(r.issuer_id)
    fidx = {f: i for i, f in enumerate(firm_ids)}

    deal_ids = pipeline.deal_ids
    didx = {d: i for i, d in enumerate(deal_ids)}
    first = {}
    for r in pipeline.securitizations:
        first.setdefault(r.deal_id, r)

    loans = pipeline.loans
    if policy.interest_subsidy is not None:
        no_lpr = []
        for r in loans:
            if r.rate is None:
                issues.append(Issue(f"policy '{policy.name}' subsidises interest: rate is needed", file=src,
                                    row=r.source_row, field="rate"))
            elif policy.interest_subsidy.max_rate_lpr_multiple is not None and resolve_lpr(policy, r.lpr,
                                                                                            run_lpr) is None:
                no_lpr.append(r.source_row)
        if no_lpr:
            msg = (f"policy '{policy.name}' compares loan rates with LPR x "
                   f"{policy.interest_subsidy.max_rate_lpr_multiple} but no LPR was given: pass --lpr, fill the "
                   "column 'lpr', or set interest_subsidy.lpr in a policy file")
            if len(no_lpr) == len(loans):
                issues.append(Issue(msg, file=src, field="lpr"))
            else:
                issues.extend(Issue(msg, file=src, row=i, field="lpr") for i in no_lpr)
    if issues:
        raise InputError(issues, title="pipeline does not fit the policy")

    years = [r.planned_date.year for r in pipeline.securitizations] + [r.planned_date.year for r in loans]
    y0 = min(years)
    last = [r.planned_date.year + r.max_slip_years for r in pipeline.securitizations]
    settle_off = [(r.planned_date.month - 1 + r.term_months) // 12 for r in loans]
    last += [r.planned_date.year + r.max_slip_years + o for r, o in zip(loans, settle_off, strict=True)]
    n_years = max(last) - y0 + 1

    deals = [first[d] for d in deal_ids]
    units = deals + list(loans)
    q = np.array([u.completion_probability for u in units], dtype=np.float64)
    sd = np.array([u.size_sd for u in units], dtype=np.float64)
    sigma = np.sqrt(np.log1p(sd * sd))
    slip_p = np.array([u.slip_probability for u in units], dtype=np.float64)
    max_slip = np.array([u.max_slip_years for u in units], dtype=np.int64)

    secs = pipeline.securitizations
    s_ok = np.array([
        (not (sec_rule is not None and sec_rule.requires_in_pool and not r.in_pool))
        and not (excl and r.already_funded) for r in secs], dtype=bool)

    pat, oip, intr = policy.pledge_patent, policy.pledge_other_ip, policy.interest_subsidy

    def funded_ok(r) -> bool:
        return not (excl and r.already_funded)

    l_pat_ok = np.array([
        pat is not None and funded_ok(r) and (r.cnipa_pledge_registered or not pat.requires_registration)
        and r.invention_patents > 0 for r in loans], dtype=bool)
    l_oip_ok = np.array([
        oip is not None and funded_ok(r) and bool(set(r.other_ip_types) & set(oip.ip_types))
        and (r.cnipa_pledge_registered or not oip.requires_registration)
        and (r.invention_patents > 0 or not oip.requires_invention_patent_pledge) for r in loans], dtype=bool)
    l_int_ok = np.array([
        intr is not None and funded_ok(r) and (r.cnipa_pledge_registered or not intr.requires_registration)
        and r.rate is not None and interest_rate_eligible(policy, r.rate, resolve_lpr(policy, r.lpr, run_lpr))
        for r in loans], dtype=bool)
    rates = [Rate.of(r.rate if r.rate is not None else 0) for r in loans]
    k_max = max([(r.planned_date.month - 1 + r.term_months - 1) // 12 + 1 for r in loans], default=1)
    l_months = np.zeros((len(loans), k_max), dtype=np.int64)
    for i, r in enumerate(loans):
        for y, n in months_by_year(r.planned_date, r.term_months).items():
            l_months[i, y - r.planned_date.year] = n

    obligors = list(dict.fromkeys(r.firm_id for r in loans))
    oidx = {f: i for i, f in enumerate(obligors)}
    obl_first = {}
    for r in loans:
        obl_first.setdefault(r.firm_id, r)
    sectors = tuple(sorted({obl_first[f].sector for f in obligors}))
    sidx = {s: i for i, s in enumerate(sectors)}

    lags = (
        sec_rule.payment_lag_years if sec_rule else 0,
        pat.payment_lag_years if pat else 0,
        oip.payment_lag_years if oip else 0,
        intr.payment_lag_years if intr else 0,
    )
    i64 = np.int64
    return BudgetModel(
        policy=policy, pipeline=pipeline, firm_ids=tuple(firm_ids), y0=y0, n_years=n_years, lags=lags,
        rho=float(rho), sector_rho=float(sector_rho), lpr=run_lpr,
        n_deals=len(deals), n_loans=len(loans), q=q, sigma=sigma, slip_p=slip_p, max_slip=max_slip,
        s_firm=np.array([fidx[r.firm_id] for r in secs], dtype=i64),
        s_deal=np.array([didx[r.deal_id] for r in secs], dtype=i64),
        s_amount=np.array([to_fen(r.amount) for r in secs], dtype=i64),
        s_ok=s_ok,
        deal_year0=np.array([d.planned_date.year - y0 for d in deals], dtype=i64),
        deal_size=np.array([to_fen(d.deal_size) if d.deal_size is not None else -1 for d in deals], dtype=i64),
        deal_issuer=np.array([fidx.get(d.issuer_id, -1) for d in deals], dtype=i64),
        deal_ok=np.array([not (excl and d.deal_already_funded) for d in deals], dtype=bool),
        l_firm=np.array([fidx[r.firm_id] for r in loans], dtype=i64),
        l_obligor=np.array([oidx[r.firm_id] for r in loans], dtype=i64),
        l_amount=np.array([to_fen(r.amount) for r in loans], dtype=i64),
        l_start0=np.array([r.planned_date.year - y0 for r in loans], dtype=i64),
        l_settle_off=np.array(settle_off, dtype=i64),
        l_patents=np.array([r.invention_patents for r in loans], dtype=i64),
        l_pat_ok=l_pat_ok, l_oip_ok=l_oip_ok, l_int_ok=l_int_ok,
        l_rate_num=np.array([x.num for x in rates], dtype=i64),
        l_rate_den=np.array([x.den for x in rates], dtype=i64),
        l_months=l_months,
        obl_pd=np.array([obl_first[f].pd for f in obligors], dtype=np.float64),
        obl_sector=np.array([sidx[obl_first[f].sector] for f in obligors], dtype=i64),
        sectors=sectors,
    )


# --- one chunk of paths ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathDraws:
    """What happened on each path: per unit (deals then loans) and per obligor."""

    completed: np.ndarray  # bool[n, n_units]
    multiplier: np.ndarray  # float64[n, n_units]
    slip: np.ndarray  # int64[n, n_units]
    default_year: np.ndarray  # int16[n, n_obligors]; n_years = survives


def draw_paths(m: BudgetModel, seed: int, path0: int, n: int) -> PathDraws:
    """The random outcomes of paths ``path0 … path0 + n − 1`` (see :mod:`ipabs.policy.rng` for the contract)."""
    u, z = rng.unit_draws(seed, path0, n, m.n_units)
    completed = u[:, 0::2] < m.q[None, :]
    v = u[:, 1::2]
    slip = np.zeros((n, m.n_units), dtype=np.int64)
    for k in range(1, int(m.max_slip.max(initial=0)) + 1):
        slip += ((k <= m.max_slip)[None, :] & (v < (m.slip_p ** k)[None, :])).astype(np.int64)
    mult = np.exp(m.sigma[None, :] * z - 0.5 * m.sigma[None, :] ** 2)
    n_obl = m.obl_pd.shape[0]
    if m.needs_defaults and n_obl:
        dyear = rng.draw_default_years(m.obl_pd, m.obl_sector, m.rho, m.sector_rho, m.n_years, n, seed, path0)
    else:
        dyear = np.full((n, n_obl), m.n_years, dtype=np.int16)
    return PathDraws(completed, mult, slip, dyear)


def _bin(n: int, n_firms: int, n_years: int, firm: np.ndarray, year: np.ndarray, val: np.ndarray) -> np.ndarray:
    out = np.zeros(n * n_firms * n_years, dtype=np.int64)
    if val.size:
        flat = (np.arange(n)[:, None] * n_firms + firm[None, :]) * n_years + year
        np.add.at(out, flat.ravel(), val.ravel().astype(np.int64))
    return out.reshape(n, n_firms, n_years)


def _cap_year(gross: np.ndarray, cap) -> tuple[np.ndarray, np.ndarray]:
    if cap is None:
        return gross, np.zeros_like(gross)
    c = to_fen(cap)
    pay = np.minimum(gross, c)
    return pay, gross - pay


def path_payables(m: BudgetModel, d: PathDraws) -> tuple[np.ndarray, np.ndarray]:
    """Payable and cap reduction per path, item, firm and entitlement year: two int64[n, 4, n_firms, n_years]."""
    p = m.policy
    n = d.completed.shape[0]
    F, Y = len(m.firm_ids), m.n_years
    gross = np.zeros((n, 4, F, Y), dtype=np.int64)
    red = np.zeros_like(gross)
    rounding = p.rounding

    sec = p.securitization
    if sec is not None and m.n_deals:
        rate = Rate.of(sec.rate)
        dd = m.s_deal
        fin = np.where(d.completed[:, dd], scale_fen(m.s_amount[None, :], d.multiplier[:, dd]), 0)
        if sec.recipient == "firm":
            amt = np.where(m.s_ok[None, :], apply_rate(fin, rate, rounding), 0)
            gross[:, I_SEC] = _bin(n, F, Y, m.s_firm, m.deal_year0[dd][None, :] + d.slip[:, dd], amt)
        else:
            nd = m.n_deals
            summed = np.zeros((n, nd), dtype=np.int64)
            for j in range(nd):
                summed[:, j] = fin[:, dd == j].sum(axis=1)
            sized = np.where(d.completed[:, :nd], scale_fen(np.maximum(m.deal_size, 0)[None, :],
                                                            d.multiplier[:, :nd]), 0)
            issuance = np.where((m.deal_size >= 0)[None, :], sized, summed)
            amt = apply_rate(issuance, rate, rounding)
            if sec.cap_per_product is not None:
                c = to_fen(sec.cap_per_product)
                red_prod = np.maximum(amt - c, 0)
                amt = amt - red_prod
                red_prod = np.where(m.deal_ok[None, :], red_prod, 0)
                red[:, I_SEC] += _bin(n, F, Y, m.deal_issuer, m.deal_year0[None, :] + d.slip[:, :nd], red_prod)
            amt = np.where(m.deal_ok[None, :], amt, 0)
            gross[:, I_SEC] = _bin(n, F, Y, m.deal_issuer, m.deal_year0[None, :] + d.slip[:, :nd], amt)

    if m.n_loans:
        ui = m.n_deals + np.arange(m.n_loans)
        made = d.completed[:, ui]
        amount = np.where(made, scale_fen(m.l_amount[None, :], d.multiplier[:, ui]), 0)
        start = m.l_start0[None, :] + d.slip[:, ui]
        settle = start + m.l_settle_off[None, :]
        dfl = d.default_year[:, m.l_obligor].astype(np.int64)
        settled = dfl > settle
        for idx, rule in ((I_PAT, p.pledge_patent), (I_OIP, p.pledge_other_ip)):
            if rule is None:
                continue
            ok = made & (m.l_pat_ok if idx == I_PAT else m.l_oip_ok)[None, :]
            if rule.loan_amount_above is not None:
                ok &= amount > to_fen(rule.loan_amount_above)
            if rule.requires_settlement:
                ok &= settled
            year = settle if rule.requires_settlement else start
            per = m.l_patents * to_fen(rule.amount_per_patent) if idx == I_PAT else np.full(
                m.n_loans, to_fen(rule.amount_per_loan), dtype=np.int64)
            gross[:, idx] = _bin(n, F, Y, m.l_firm, year, np.where(ok, per[None, :], 0))
        intr = p.interest_subsidy
        if intr is not None:
            share = Rate.of(intr.share)
            for k in range(m.l_months.shape[1]):
                yk = start + k
                mk = m.l_months[:, k]
                interest = muldiv(amount * mk[None, :], m.l_rate_num[None, :], m.l_rate_den[None, :] * 12,
                                  "half_up")
                ok = made & m.l_int_ok[None, :] & (mk > 0)[None, :] & (yk < dfl)
                sub = np.where(ok, apply_rate(interest, share, rounding), 0)
                gross[:, I_INT] += _bin(n, F, Y, m.l_firm, np.minimum(yk, Y - 1), sub)

    caps = (sec.cap_per_firm_year if sec else None,
            p.pledge_patent.cap_per_firm_year if p.pledge_patent else None,
            p.pledge_other_ip.cap_per_firm_year if p.pledge_other_ip else None,
            p.interest_subsidy.cap_per_firm_year if p.interest_subsidy else None)
    pay = np.empty_like(gross)
    for i in range(4):
        pay[:, i], r = _cap_year(gross[:, i], caps[i])
        red[:, i] += r
    if sec is not None and sec.cap_per_firm is not None:
        c = to_fen(sec.cap_per_firm)
        cum = np.cumsum(pay[:, I_SEC], axis=2)
        after = np.diff(np.minimum(cum, c), axis=2, prepend=0)
        red[:, I_SEC] += pay[:, I_SEC] - after
        pay[:, I_SEC] = after
    return pay, red


@dataclass
class BudgetResult:
    """Per-path budget totals plus per-firm accumulators (integers in fen), with what produced them."""

    policy: str
    policy_fingerprint: str
    pipeline_source: str
    pipeline_fingerprint: str
    seed: int
    path0: int
    n_paths: int
    y0: int
    n_years: int
    lags: tuple[int, int, int, int]
    firm_ids: tuple[str, ...]
    firm_names: tuple[str, ...]
    totals: np.ndarray  # int64[n, n_pay_years]  by year paid
    item_totals: np.ndarray  # int64[n, 4, n_pay_years]
    firm_totals: np.ndarray  # int64[n, n_firms] all items and years
    acc_payable: np.ndarray  # int64[4, n_firms, n_years] summed over paths (entitlement year)
    acc_paid: np.ndarray  # paths with a positive amount
    acc_binds: np.ndarray  # paths where a cap reduced the amount
    acc_reduction: np.ndarray  # summed cap reductions
    assumptions: tuple[str, ...] = ()
    settings: dict = field(default_factory=dict)
    planned: EntitlementReport | None = None
    rejected: tuple[Issue, ...] = ()

    @property
    def pay_years(self) -> list[int]:
        return [self.y0 + i for i in range(self.totals.shape[1])]

    @staticmethod
    def combine(parts: list[BudgetResult]) -> BudgetResult:
        """Join results of consecutive path ranges (``path0`` order) into one; identical to a single run."""
        parts = sorted(parts, key=lambda r: r.path0)
        for a, b in zip(parts, parts[1:], strict=False):
            if a.path0 + a.n_paths != b.path0:
                raise ValueError("path ranges must be consecutive")
            if (a.seed, a.policy_fingerprint, a.pipeline_fingerprint, a.settings) != (
                    b.seed, b.policy_fingerprint, b.pipeline_fingerprint, b.settings):
                raise ValueError("results come from different runs")
        h = parts[0]
        return BudgetResult(
            h.policy, h.policy_fingerprint, h.pipeline_source, h.pipeline_fingerprint, h.seed, h.path0,
            sum(r.n_paths for r in parts), h.y0, h.n_years, h.lags, h.firm_ids, h.firm_names,
            np.concatenate([r.totals for r in parts]), np.concatenate([r.item_totals for r in parts]),
            np.concatenate([r.firm_totals for r in parts]),
            sum(r.acc_payable for r in parts), sum(r.acc_paid for r in parts), sum(r.acc_binds for r in parts),
            sum(r.acc_reduction for r in parts), h.assumptions, h.settings, h.planned, h.rejected,
        )

    # --- tables --------------------------------------------------------------------------------------------------

    def by_year(self) -> pd.DataFrame:
        """Per year paid and in total: mean, P50, P90, P95, P99 of the budget (yuan) with standard errors, and
        the mean of each item."""
        rows = []
        for j, y in enumerate(self.pay_years):
            rows.append({"year": str(y), **summarize(self.totals[:, j] / 100.0),
                         **{f"mean_{it}": self.item_totals[:, i, j].sum() / self.n_paths / 100.0
                            for i, it in enumerate(ITEMS)}})
        tot = self.totals.sum(axis=1)
        rows.append({"year": "total", **summarize(tot / 100.0),
                     **{f"mean_{it}": self.item_totals[:, i, :].sum() / self.n_paths / 100.0
                        for i, it in enumerate(ITEMS)}})
        return pd.DataFrame(rows)

    def firms(self) -> pd.DataFrame:
        """Per firm, item and entitlement year: mean amount, P(paid), P(cap binds), mean cap reduction."""
        rows = []
        n = self.n_paths
        for i, it in enumerate(ITEMS):
            for f, fid in enumerate(self.firm_ids):
                for y in range(self.n_years):
                    if self.acc_payable[i, f, y] == 0 and self.acc_binds[i, f, y] == 0:
                        continue
                    rows.append({
                        "firm_id": fid, "firm_name": self.firm_names[f], "item": it, "year": self.y0 + y,
                        "pay_year": self.y0 + y + self.lags[i],
                        "mean": self.acc_payable[i, f, y] / n / 100.0,
                        "prob_paid": self.acc_paid[i, f, y] / n,
                        "prob_cap_binds": self.acc_binds[i, f, y] / n,
                        "mean_cap_reduction": self.acc_reduction[i, f, y] / n / 100.0,
                    })
        cols = ["firm_id", "firm_name", "item", "year", "pay_year", "mean", "prob_paid", "prob_cap_binds",
                "mean_cap_reduction"]
        return pd.DataFrame(rows, columns=cols)

    def firm_totals_frame(self) -> pd.DataFrame:
        """Per firm over all items and years: mean, P50, P95, max (yuan) and P(any cap binds)."""
        rows = []
        binds_any = self.acc_binds.sum(axis=(0, 2))
        for f, fid in enumerate(self.firm_ids):
            x = self.firm_totals[:, f] / 100.0
            s = summarize(x, probs=(0.5, 0.95))
            rows.append({"firm_id": fid, "firm_name": self.firm_names[f], "mean": s["mean"], "mean_se": s["mean_se"],
                         "p50": s["p50"], "p95": s["p95"], "max": s["max"], "prob_positive": s["prob_positive"],
                         "cap_binds_path_years": int(binds_any[f])})
        return pd.DataFrame(rows)

    def cap_binding(self) -> pd.DataFrame:
        """The firms whose cap binds, and how often (share of paths), most often first."""
        df = self.firms()
        df = df[df["prob_cap_binds"] > 0]
        return df.sort_values(["prob_cap_binds", "mean_cap_reduction", "firm_id"], ascending=[False, False, True],
                              kind="stable").reset_index(drop=True)

    def provenance(self) -> dict:
        return {
            "ipabs_version": __version__, "numpy_version": np.__version__, "policy": self.policy,
            "policy_sha256": self.policy_fingerprint, "pipeline": self.pipeline_source,
            "pipeline_sha256": self.pipeline_fingerprint, "seed": self.seed, "path0": self.path0,
            "n_paths": self.n_paths, "first_year": self.y0, "settings": self.settings,
            "assumptions": list(self.assumptions),
            "rng": "path p: numpy Philox(key=[SeedSequence([seed, 0x504F4C49]) word 0, p]); defaults: "
                   "ipabs.credit.defaults.sample_default_years(seed, path0=p)",
            "quantile_se": "order-statistic 95% interval, SE = half-width / 1.96 (docs/policy.md)",
            "rejected_rows": [i.to_dict() for i in self.rejected],
        }


def simulate_budget(
    pipeline: Pipeline,
    policy: Policy,
    *,
    n_paths: int = 10_000,
    seed: int = 20260101,
    path0: int = 0,
    lpr: Decimal | str | float | None = None,
    rho: float = DEFAULT_RHO,
    sector_rho: float = DEFAULT_SECTOR_RHO,
    chunk_paths: int = CHUNK_PATHS,
    progress: Progress | None = None,
    with_planned: bool = True,
) -> BudgetResult:
    """Monte Carlo of the subsidy budget of ``pipeline`` under ``policy``.

    Parameters
    ----------
    pipeline, policy
    n_paths, seed, path0 : int
        Paths ``path0 … path0 + n_paths − 1``; path p's result depends only on (seed, p), so
        ``BudgetResult.combine`` of any split equals one run.
    lpr : Decimal, optional
        LPR for interest subsidies that test rates against it.
    rho, sector_rho : float
        Asset correlation with the global factor and extra within-sector correlation of pledge-loan defaults.
    chunk_paths : int
        Paths per unit of work (memory); does not change results.
    progress : callable(done, total), optional
        Called after each chunk; it may raise :class:`ipabs.errors.Cancelled` to stop the run.
    with_planned : bool
        Also compute the deterministic entitlements if everything goes as planned (with reasons).
    """
    if n_paths < 1:
        raise InputError([Issue("n_paths must be at least 1", field="n_paths")])
    if not 0 <= seed < 2**63 or path0 < 0:
        raise InputError([Issue("seed and path0 must be non-negative 63-bit integers", field="seed")])
    m = compile_budget(pipeline, policy, lpr=lpr, rho=rho, sector_rho=sector_rho)
    F, Y, P = len(m.firm_ids), m.n_years, m.n_pay_years
    totals = np.zeros((n_paths, P), dtype=np.int64)
    items = np.zeros((n_paths, 4, P), dtype=np.int64)
    firm_tot = np.zeros((n_paths, F), dtype=np.int64)
    acc = [np.zeros((4, F, Y), dtype=np.int64) for _ in range(4)]
    chunk_paths = max(1, int(chunk_paths))
    done = 0
    while done < n_paths:
        n = min(chunk_paths, n_paths - done)
        draws = draw_paths(m, seed, path0 + done, n)
        pay, red = path_payables(m, draws)
        for i in range(4):
            lag = m.lags[i]
            items[done:done + n, i, lag:lag + Y] = pay[:, i].sum(axis=1)
        totals[done:done + n] = items[done:done + n].sum(axis=1)
        firm_tot[done:done + n] = pay.sum(axis=(1, 3))
        acc[0] += pay.sum(axis=0)
        acc[1] += (pay > 0).sum(axis=0)
        acc[2] += (red > 0).sum(axis=0)
        acc[3] += red.sum(axis=0)
        done += n
        if progress is not None:
            progress(done, n_paths)
    names = tuple(pipeline.firm_names.get(f, f) for f in m.firm_ids)
    planned = planned_entitlements(pipeline, policy, lpr=lpr) if with_planned else None
    settings = {"rho": m.rho, "sector_rho": m.sector_rho, "lpr": None if m.lpr is None else str(m.lpr)}
    return BudgetResult(
        policy.name, policy.fingerprint(), pipeline.source, pipeline.fingerprint, int(seed), int(path0),
        int(n_paths), m.y0, m.n_years, m.lags, m.firm_ids, names, totals, items, firm_tot, *acc,
        assumptions=tuple(policy.assumptions), settings=settings, planned=planned, rejected=pipeline.rejected,
    )


def _budget_range(payload: tuple, rng: tuple[int, int], seed: int, kw: dict) -> BudgetResult:
    """Cluster task: one path range of the budget (without the deterministic entitlements)."""
    pipeline, policy = payload
    path0, n = rng
    return simulate_budget(pipeline, policy, n_paths=n, seed=seed, path0=path0, with_planned=False, **kw)


def simulate_budget_distributed(pipeline: Pipeline, policy: Policy, *, client: Any, n_paths: int = 10_000,
                                seed: int = 20260101, n_chunks: int | None = None, progress: Progress | None = None,
                                with_planned: bool = True, **kw: Any) -> BudgetResult:
    """:func:`simulate_budget` with its path ranges as tasks on a dask cluster (``client``), joined with
    :meth:`BudgetResult.combine`: identical to one run in one process."""
    from ipabs.engine.cluster import map_ranges, n_workers
    from ipabs.engine.distributed import path_ranges

    if n_paths < 1:
        raise InputError([Issue("n_paths must be at least 1", field="n_paths")])
    ranges = path_ranges(0, n_paths, n_chunks or 4 * n_workers(client))
    parts = map_ranges(client, _budget_range, (pipeline, policy), ranges, progress=progress, weight=lambda r: r[1],
                       total=n_paths, extra=(seed, kw))
    res = BudgetResult.combine(parts)
    planned = planned_entitlements(pipeline, policy, lpr=kw.get("lpr")) if with_planned else None
    return dataclasses.replace(res, planned=planned)


def planned_entitlements(pipeline: Pipeline, policy: Policy, *,
                         lpr: Decimal | str | float | None = None) -> EntitlementReport:
    """Entitlements, with reasons, if every deal and loan happens as planned and every loan is repaid."""
    secs, loans = pipeline.planned_financings()
    return compute_entitlements(policy, secs, loans, lpr=lpr)


def _shift_year(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def path_financings(m: BudgetModel, d: PathDraws, i: int) -> tuple[list[Securitization], list[PledgeLoan]]:
    """Path ``i``'s realised financings as inputs of the readable engine (the test oracle of the budget)."""
    pl = m.pipeline
    secs = []
    for k, r in enumerate(pl.securitizations):
        j = int(m.s_deal[k])
        if not d.completed[i, j]:
            continue
        mult = d.multiplier[i, j]
        fin = int(scale_fen(np.array([to_fen(r.amount)]), mult)[0])
        size = yuan(int(scale_fen(np.array([to_fen(r.deal_size)]), mult)[0])) if r.deal_size is not None else None
        secs.append(Securitization(r.firm_id, r.deal_id, r.planned_date.year + int(d.slip[i, j]), yuan(fin),
                                   r.issuer_id, size, r.in_pool, r.already_funded, r.deal_already_funded))
    loans = []
    for k, r in enumerate(pl.loans):
        u = m.n_deals + k
        if not d.completed[i, u]:
            continue
        amount = yuan(int(scale_fen(np.array([to_fen(r.amount)]), d.multiplier[i, u])[0]))
        start = _shift_year(r.planned_date, int(d.slip[i, u]))
        settle_idx = start.year - m.y0 + int(m.l_settle_off[k])
        dy = int(d.default_year[i, m.l_obligor[k]])
        status = "settled" if dy > settle_idx else "defaulted"
        loans.append(PledgeLoan(r.loan_id, r.firm_id, amount, start, r.term_months, r.cnipa_pledge_registered,
                                r.invention_patents, tuple(r.other_ip_types), status, None,
                                m.y0 + dy if status == "defaulted" else None, r.rate, r.lpr, None,
                                r.already_funded))
    return secs, loans


__all__ = ["BudgetModel", "BudgetResult", "PathDraws", "compile_budget", "draw_paths", "path_payables",
           "path_financings", "planned_entitlements", "simulate_budget", "simulate_budget_distributed"]
