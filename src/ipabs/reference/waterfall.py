"""Reference (slow, readable) waterfall of one whole path: the test oracle of :mod:`ipabs.kernels.waterfall`.

This twin is written from the documented semantics — the order of events in the module docstring of
:mod:`ipabs.kernels.waterfall`, the :class:`ipabs.scenario.schema.Step` documentation and
docs/methodology/waterfall.md — with names, dicts and Python floats. It reads the *scenario* (names), never the
compiled opcode arrays, so a mistake in lowering (:func:`ipabs.compile.lower.compile_waterfall`) shows up as a
disagreement too. ``tests/oracle/test_twin.py`` checks that kernel and twin agree to the fen.

Order of events in period t:

1. **Collections** are credited to the collection accounts that receive them; defaults add to the cumulative
   default amount. Clean-up call: when ``deal.clean_up_call`` > 0 and the performing balance at the end of the
   period is positive but below ``clean_up_call × cut-off balance``, the originator buys it at par; the proceeds
   are principal collections and this period is the final one.
2. **Amounts due**: interest ``balance × coupon × yf + carried shortfall`` (plus ``shortfall × coupon × yf`` when
   ``interest_on_shortfall``); principal ``max(balance − target_t, 0)`` with the target 0 in the final period;
   fees = carried unpaid + the period's accrual.
3. **Triggers** on the state after collections; the state is the most severe effect among the hits and the
   latched effects; a hit of a non-curable trigger latches.
4. **Waterfall**: the state's steps in order (a state without its own list uses ``normal``).
5. **Carry**: unpaid interest and fees carry; cash stays in its account.

After a clean-up call the deal is wound up: later periods pay nothing and show the final balances.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ipabs.reference.pool import (
    ContractAsset,
    PoolPath,
    fixed_recoveries,
    performing_flows,
    pool_flows,
    with_sales_index,
)

#: Half a fen: a balance below this is zero ("repaid"), and so is a clean-up test balance.
HALF_FEN = 0.005

STATES = ("normal", "accelerated", "post_default")
SEVERITY = {name: i for i, name in enumerate(STATES)}


@dataclass
class Period:
    """What happened in one period, keyed by tranche / fee / account / support name."""

    interest_due: dict[str, float] = field(default_factory=dict)
    interest_paid: dict[str, float] = field(default_factory=dict)
    interest_shortfall: dict[str, float] = field(default_factory=dict)  # carried after the period
    principal_due: dict[str, float] = field(default_factory=dict)
    principal_paid: dict[str, float] = field(default_factory=dict)
    balance_end: dict[str, float] = field(default_factory=dict)
    residual: dict[str, float] = field(default_factory=dict)
    fee_due: dict[str, float] = field(default_factory=dict)
    fee_paid: dict[str, float] = field(default_factory=dict)
    account_balance: dict[str, float] = field(default_factory=dict)  # end of period
    support_draw: dict[str, float] = field(default_factory=dict)
    state: str = "normal"
    coverage: float | None = None  # None when nothing senior is due
    cumulative_default_ratio: float = 0.0
    cash_in: float = 0.0  # collections + clean-up proceeds credited
    called: bool = False


@dataclass
class PathResult:
    """One path: the pool flows and the waterfall, period by period."""

    pool: PoolPath
    periods: list[Period]


def allocate(available: float, caps: list[float], pro_rata: bool) -> list[float]:
    """Split ``available`` over ``caps``: in order (sequential) or in proportion to the caps (pro rata).

    Sequential: each cap is filled in turn from what is left. Pro rata: each gets ``cap × min(1, A / Σ caps)``.
    Negative caps count as zero.
    """
    caps = [max(c, 0.0) for c in caps]
    if pro_rata:
        total = sum(caps)
        if total <= 0.0 or available <= 0.0:
            return [0.0 for _ in caps]
        factor = min(1.0, available / total)
        return [c * factor for c in caps]
    paid = []
    left = available
    for c in caps:
        x = max(min(c, left), 0.0)
        paid.append(x)
        left -= x
    return paid


def target_balance(tranche, t: int, payment_dates: list[dt.date], legal_maturity: dt.date) -> float:
    """The balance a tranche is due to be paid down to by payment date t (before the final-period rule).

    bullet: the face until the first payment date on or after ``expected_maturity`` (default legal maturity), then
    0; pass_through: the face (0 from ``expected_maturity`` on when one is given); scheduled: the lowest target of
    the schedule entries dated on or before the payment date (the face before the first one).
    """
    d = payment_dates[t]
    if tranche.amortization == "bullet":
        return 0.0 if d >= (tranche.expected_maturity or legal_maturity) else tranche.balance
    if tranche.amortization == "pass_through":
        if tranche.expected_maturity is not None and d >= tranche.expected_maturity:
            return 0.0
        return tranche.balance
    target = tranche.balance
    for entry in tranche.schedule:
        if entry.date <= d:
            target = min(target, entry.balance)
    return target


def outstanding(balance: dict[str, float], rec: Period, name: str) -> float:
    """A tranche's balance after the principal paid to it so far in this period."""
    return balance[name] - rec.principal_paid[name]


def unpaid_covered(step, rec: Period) -> float:
    """What is still unpaid of the amounts a step covers: 'fees' (every fee), 'fee:X', 'interest:X' (interest due
    less paid), 'principal:X' (principal due less paid); each item counts only when positive."""
    need = 0.0
    for c in step.covers:
        kind, _, name = c.partition(":")
        if c == "fees":
            items = [rec.fee_due[f] - rec.fee_paid[f] for f in rec.fee_due]
        elif kind == "fee":
            items = [rec.fee_due[name] - rec.fee_paid[name]]
        elif kind == "interest":
            items = [rec.interest_due[name] - rec.interest_paid[name]]
        else:
            items = [rec.principal_due[name] - rec.principal_paid[name]]
        need += sum(max(x, 0.0) for x in items)
    return need


def run_waterfall(scenario, payment_dates: list[dt.date], year_fractions: list[float], pool: PoolPath,
                  pool_balance0: float, support_default_period: dict[str, int | None], *,
                  note_year_fractions: list[float] | None = None, fee_year_fractions: list[float] | None = None,
                  coupons: dict[str, list[float]] | None = None,
                  fee_balance_lag: list[int] | None = None) -> list[Period]:
    """Run the deal's waterfall over one path's pool flows (module docstring). Returns one :class:`Period` each.

    Tranche interest accrues over ``note_year_fractions`` at ``coupons[name][t]`` and fees over
    ``fee_year_fractions`` (each default: ``year_fractions`` and the tranche's fixed coupon). Where
    ``fee_balance_lag[t]`` is 1 (``conventions.fee_balance = "collection_period_start"``), a ``tranche_balance`` fee
    accrues on the balances at the start of period t − 1 (before payment date t − 1's distribution).

    ``support_default_period[name]`` is the 0-based period in which a provider defaults (None: never); it pays
    nothing from that period on.
    """
    s = scenario
    n_t = len(payment_dates)
    tranches = list(s.tranches)
    fees = list(s.fees)
    collection = [a for a in s.accounts if a.kind == "collection"]
    main_account = collection[0].name

    def receiving(kind: str) -> str:
        return next((a.name for a in collection if kind in a.receives), main_account)

    routes = {kind: receiving(kind) for kind in ("interest", "principal", "recoveries")}
    reserve = {a.name for a in s.accounts if a.kind == "reserve"}
    accounts_by_name = {a.name: a for a in s.accounts}

    balance = {tr.name: tr.balance for tr in tranches}
    balance_prev = dict(balance)  # at the start of the previous period (the faces before the first)
    shortfall = {tr.name: 0.0 for tr in tranches}
    fee_carried = {f.name: 0.0 for f in fees}
    cash = {a.name: a.initial_balance for a in s.accounts}
    support_left = {x.name: (float("inf") if x.cap is None else x.cap) for x in s.support}
    cumulative_defaults = 0.0
    latched = "normal"
    periods: list[Period] = []

    def provider_alive(name: str, t: int) -> bool:
        p = support_default_period.get(name)
        return p is None or t < p

    for t in range(n_t):
        yf = year_fractions[t]
        nyf = yf if note_year_fractions is None else note_year_fractions[t]
        fyf = yf if fee_year_fractions is None else fee_year_fractions[t]
        rec = Period()
        # 1. collections (and the clean-up call)
        cash[routes["interest"]] += pool.interest[t]
        cash[routes["principal"]] += pool.principal[t]
        cash[routes["recoveries"]] += pool.recoveries[t]
        rec.cash_in = pool.interest[t] + pool.principal[t] + pool.recoveries[t]
        cumulative_defaults += pool.defaults[t]
        final = t == n_t - 1
        principal_budget = pool.principal[t] + pool.recoveries[t]
        remaining_pool = pool.bal_end[t]
        if s.deal.clean_up_call > 0 and HALF_FEN < remaining_pool < s.deal.clean_up_call * pool_balance0:
            cash[routes["principal"]] += remaining_pool
            rec.cash_in += remaining_pool
            principal_budget += remaining_pool
            rec.called = True
            final = True

        # 2. amounts due
        for tr in tranches:
            cpn = tr.coupon if coupons is None else coupons[tr.name][t]
            accrued = balance[tr.name] * cpn * nyf
            if tr.interest_on_shortfall:
                accrued += shortfall[tr.name] * cpn * nyf
            rec.interest_due[tr.name] = shortfall[tr.name] + accrued
            rec.interest_paid[tr.name] = 0.0
            target = 0.0 if final else target_balance(tr, t, payment_dates, s.deal.legal_maturity)
            rec.principal_due[tr.name] = max(balance[tr.name] - target, 0.0)
            rec.principal_paid[tr.name] = 0.0
            rec.residual[tr.name] = 0.0
        alive = any(b > HALF_FEN for b in balance.values())  # the plan is wound up once every security is repaid
        for f in fees:
            if f.basis == "fixed":
                accrual = f.annual_amount * fyf if alive else 0.0
            elif f.basis == "pool_balance":
                accrual = f.rate * pool.bal_start[t] * fyf
            elif f.basis == "tranche_balance":
                basis = balance_prev if fee_balance_lag is not None and fee_balance_lag[t] else balance
                accrual = f.rate * sum(basis[n] for n in f.tranches) * fyf
            else:  # interest_collections
                accrual = f.rate * pool.interest[t]
            rec.fee_due[f.name] = fee_carried[f.name] + accrual
            rec.fee_paid[f.name] = 0.0
        rec.support_draw = {x.name: 0.0 for x in s.support}

        # 3. triggers
        available = max(sum(v for name, v in cash.items() if name not in reserve), 0.0)
        senior_need = sum(rec.fee_due.values()) + sum(
            rec.interest_due[tr.name] + rec.principal_due[tr.name] for tr in tranches if tr.seniority == "senior")
        rec.coverage = available / senior_need if senior_need > HALF_FEN else None
        state = latched
        for trig in s.triggers:
            if trig.condition == "cumulative_default_ratio":
                hit = pool_balance0 > 0 and cumulative_defaults / pool_balance0 >= trig.threshold
            elif trig.condition == "coverage_ratio":
                hit = rec.coverage is not None and rec.coverage < trig.threshold
            elif trig.condition == "support_default":
                hit = not provider_alive(trig.support, t)
            else:  # on_date
                hit = payment_dates[t] >= trig.date
            if hit:
                if SEVERITY[trig.effect] > SEVERITY[state]:
                    state = trig.effect
                if not trig.curable and SEVERITY[trig.effect] > SEVERITY[latched]:
                    latched = trig.effect
        rec.state = state

        # 4. the state's waterfall
        steps = getattr(s.waterfall, state) or s.waterfall.normal

        for step in steps:
            if any(outstanding(balance, rec, n) > HALF_FEN for n in step.require_repaid):
                continue
            source = step.account or main_account
            pro_rata = step.allocation == "pro_rata"
            if step.action == "pay_fees":
                names = step.fees or [f.name for f in fees]
                paid = allocate(cash[source], [rec.fee_due[n] - rec.fee_paid[n] for n in names], pro_rata)
                for n, x in zip(names, paid, strict=True):
                    rec.fee_paid[n] += x
                cash[source] -= sum(paid)
            elif step.action == "pay_interest":
                names = step.tranches
                paid = allocate(cash[source], [rec.interest_due[n] - rec.interest_paid[n] for n in names], pro_rata)
                for n, x in zip(names, paid, strict=True):
                    rec.interest_paid[n] += x
                cash[source] -= sum(paid)
            elif step.action == "pay_principal":
                mode = step.amount or "due"
                names = step.tranches
                if mode == "due":
                    caps = [min(rec.principal_due[n] - rec.principal_paid[n], outstanding(balance, rec, n)) for n in names]
                else:  # all, collected
                    caps = [outstanding(balance, rec, n) for n in names]
                available_now = cash[source]
                if mode == "collected":
                    available_now = min(available_now, principal_budget)
                paid = allocate(available_now, caps, pro_rata)
                for n, x in zip(names, paid, strict=True):
                    rec.principal_paid[n] += x
                cash[source] -= sum(paid)
                if mode == "collected":
                    principal_budget -= sum(paid)
            elif step.action == "transfer":
                mode = step.amount or "all"
                x = cash[source]
                if mode == "to_target":
                    dest = accounts_by_name[step.to]
                    target = dest.target_amount + dest.target_rate * sum(balance[n] for n in dest.target_tranches)
                    x = min(x, target - cash[step.to])
                elif mode == "shortfall":
                    x = min(x, unpaid_covered(step, rec) - cash[step.to])
                if x > 0:
                    cash[source] -= x
                    cash[step.to] += x
            elif step.action == "draw_support":
                dest = step.to or main_account
                if provider_alive(step.support, t):
                    x = min(unpaid_covered(step, rec) - cash[dest], support_left[step.support])
                    if x > 0:
                        cash[dest] += x
                        support_left[step.support] -= x
                        rec.support_draw[step.support] += x
            elif step.action == "pay_residual":
                rec.residual[step.tranche] += cash[source]
                cash[source] = 0.0

        # 5. record and carry
        balance_prev = dict(balance)
        for tr in tranches:
            balance[tr.name] = max(balance[tr.name] - rec.principal_paid[tr.name], 0.0)
            shortfall[tr.name] = rec.interest_due[tr.name] - rec.interest_paid[tr.name]
            rec.balance_end[tr.name] = balance[tr.name]
            rec.interest_shortfall[tr.name] = shortfall[tr.name]
        for f in fees:
            fee_carried[f.name] = rec.fee_due[f.name] - rec.fee_paid[f.name]
        rec.account_balance = dict(cash)
        rec.cumulative_default_ratio = cumulative_defaults / pool_balance0 if pool_balance0 > 0 else 0.0
        periods.append(rec)
        if final and t < n_t - 1:
            # wound up: the remaining periods pay nothing and keep the final balances
            for _ in range(t + 1, n_t):
                periods.append(Period(
                    interest_due={tr.name: 0.0 for tr in tranches},
                    interest_paid={tr.name: 0.0 for tr in tranches},
                    interest_shortfall=dict(shortfall),
                    principal_due={tr.name: 0.0 for tr in tranches},
                    principal_paid={tr.name: 0.0 for tr in tranches},
                    balance_end=dict(balance),
                    residual={tr.name: 0.0 for tr in tranches},
                    fee_due={f.name: 0.0 for f in fees},
                    fee_paid={f.name: 0.0 for f in fees},
                    account_balance=dict(cash),
                    support_draw={x.name: 0.0 for x in s.support},
                    state=state,
                    coverage=None,
                    cumulative_default_ratio=rec.cumulative_default_ratio,
                ))
            break
    return periods


# ---- one whole path from a compiled deal ------------------------------------------------------------------------

def contract_assets(deal) -> list[ContractAsset]:
    """The contractual per-asset flows of a :class:`ipabs.compile.lower.CompiledDeal` as plain lists."""
    info, pool = deal.info, deal.pool
    return [
        ContractAsset(
            asset_id=aid,
            obligor_id=info.obligor_ids[int(info.asset_obligor[i])],
            balance_start=[float(x) for x in pool.sched_bal_start[i]],
            interest=[float(x) for x in pool.sched_int[i]],
            principal=[float(x) for x in pool.sched_prin[i]],
        )
        for i, aid in enumerate(info.asset_ids)
    ]


def obligor_default_periods(assets: list[ContractAsset], assumptions, n_periods: int) -> dict[str, int | None]:
    """0-based default period of each asset from ``assumptions.obligor_defaults`` (1-based periods; earliest wins)."""
    by_obligor: dict[str, int] = {}
    for od in assumptions.obligor_defaults:
        by_obligor[od.obligor_id] = min(by_obligor.get(od.obligor_id, n_periods), od.period - 1)
    return {a.asset_id: by_obligor.get(a.obligor_id) for a in assets}


def run_path(deal, assumptions=None, *, default_period: dict[str, int | None] | None = None,
             recovery: tuple[dict[str, float], dict[str, int | None]] | None = None,
             support_default_period: dict[str, int | None] | None = None,
             sales_index: dict[str, list[float]] | None = None) -> PathResult:
    """One whole path of a compiled deal: performing flows → defaults and recoveries → waterfall.

    Parameters
    ----------
    deal : CompiledDeal
        Only its scenario, payment dates, year fractions and contractual per-asset flows are used.
    assumptions : Assumptions, optional
        Default: the scenario's.
    default_period : dict, optional
        0-based default period per asset id (None = never); default: from ``assumptions.obligor_defaults``.
    recovery : (amount, period) dicts per asset id, optional
        Default: the fixed-rate model (recovery rate × balance at default, after the recovery lag).
    support_default_period : dict, optional
        0-based default period per support provider; default: ``support.default_period`` (1-based, 0 = never).
    sales_index : dict, optional
        Per asset id, the sales index applied to its royalties in each period (:func:`ipabs.reference.pool.sales_index`;
        sales-linked royalties of the Monte Carlo); other assets pay their schedule.
    """
    s = deal.scenario
    a = assumptions or s.assumptions
    dates = list(deal.schedule.payment_dates)
    yfs = [float(x) for x in deal.schedule.year_fractions]  # payment (accrual) periods: notes and fees
    pool_yfs = [float(x) for x in deal.schedule.pool_yf]  # collection periods: the pool's clock
    n_t = len(dates)
    assets = contract_assets(deal)
    perf = performing_flows(assets, a, pool_yfs)
    if sales_index:
        perf = [with_sales_index(p, sales_index[p.asset_id]) if p.asset_id in sales_index else p for p in perf]
    if default_period is None:
        default_period = obligor_default_periods(assets, a, n_t)
    rate = min(1.0, a.recovery_rate * a.recovery_multiplier)
    lag = a.recovery_lag_periods
    if recovery is None:
        recovery = fixed_recoveries(perf, default_period, rate, lag)
    pool = pool_flows(perf, default_period, recovery[0], recovery[1], rate, lag)
    if support_default_period is None:
        support_default_period = {x.name: (x.default_period - 1 if x.default_period else None) for x in s.support}
    pool_balance0 = sum(x.balance_start[0] for x in assets) if n_t else 0.0
    rates = {n: [float(x) for x in deal.waterfall.tr_rate[:, k]] for k, n in enumerate(deal.names.tranches)}
    periods = run_waterfall(s, dates, yfs, pool, pool_balance0, support_default_period,
                            note_year_fractions=[float(x) for x in deal.schedule.note_yf],
                            fee_year_fractions=[float(x) for x in deal.schedule.fee_yf], coupons=rates,
                            fee_balance_lag=[int(x) for x in deal.schedule.fee_bal_lag])
    return PathResult(pool, periods)
