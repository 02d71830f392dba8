"""Reference (slow, readable) pool cash flows of one path: the test oracle of :mod:`ipabs.kernels.pool`.

Written from the documented semantics (docs/methodology/projection.md; the docstrings of
:func:`ipabs.compile.lower.performing_flows` and :mod:`ipabs.kernels.pool`), in plain Python floats and lists, asset
by asset and period by period. Nothing here is fast and nothing here is shared with the kernels: where the kernel
subtracts the flows of the defaulted assets from precomputed pool totals, this module sums the flows of the
surviving assets directly.

Inputs are each asset's **contractual** flows by collection period (balance at the start of the period, interest,
principal) — the output of the QuantLib schedule stage (:func:`ipabs.compile.lower.compile_pool`).

Definitions, for one asset with contractual start balance ``B_t``, interest ``I_t`` and principal ``P_t``:

* period default rate ``mdr_t = 1 − (1 − CDR·m_d)^yf_t`` (or, under a cumulative default rate ``C`` with timing
  weights ``w``: ``mdr_t = min(1, C·m_d·w_t·B_pool,0 / performing pool balance at the start of t)``);
  prepayment rate ``smm_t = 1 − (1 − CPR·m_p)^yf_t``;
* ``g_0 = 1``; defaults ``g_t·mdr_t·B_t``; survival ``s_t = g_t(1 − mdr_t)``; interest ``s_t·I_t``; prepayment
  ``s_t·smm_t·max(B_t − P_t, 0)``; principal collected ``s_t·P_t`` + prepayment;
  ``g_{t+1} = s_t(1 − smm_t)``; end balance ``g_{t+1}·max(B_t − P_t, 0)``;
* recoveries of these fractional defaults: ``R·defaults_{t−L}`` (``R = min(1, recovery_rate·m_r)``, lag ``L``).

An asset whose obligor defaults **in period τ** (0-based) pays nothing from τ on: in τ its whole performing balance
at the start of τ is a default (and counts in the period's starting balance), from τ + 1 on it is gone; the
recoveries of its earlier fractional defaults still arrive, those of fractional defaults at or after τ do not; its
own recovery (amount and period given by the caller's recovery model) arrives in its recovery period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: The fields of :class:`PoolPath`, in the order of :class:`ipabs.kernels.containers.PoolFlows`.
POOL_FIELDS = ("interest", "principal", "prepayment", "defaults", "recoveries", "bal_start", "bal_end")


@dataclass(frozen=True)
class ContractAsset:
    """One asset's contractual flows by collection period (yuan)."""

    asset_id: str
    obligor_id: str
    balance_start: list[float]
    interest: list[float]
    principal: list[float]


@dataclass
class AssetPerformance:
    """One asset's flows by period after the deterministic (fractional) default and prepayment rates."""

    asset_id: str
    obligor_id: str
    balance_start: list[float] = field(default_factory=list)
    interest: list[float] = field(default_factory=list)
    principal: list[float] = field(default_factory=list)  # scheduled + prepaid
    prepayment: list[float] = field(default_factory=list)
    defaults: list[float] = field(default_factory=list)
    balance_end: list[float] = field(default_factory=list)


@dataclass
class PoolPath:
    """The pool's flows of one path by period (same meaning as :class:`ipabs.kernels.containers.PoolFlows`)."""

    interest: list[float]
    principal: list[float]
    prepayment: list[float]
    defaults: list[float]
    recoveries: list[float]
    bal_start: list[float]
    bal_end: list[float]


def period_rate(annual: float, year_fraction: float) -> float:
    """Annual rate → the rate for one period of ``year_fraction`` years: ``1 − (1 − annual)^yf``."""
    if annual >= 1.0:
        return 1.0 if year_fraction > 0 else 0.0
    return 1.0 - (1.0 - annual) ** year_fraction


def performing_flows(assets: list[ContractAsset], assumptions, year_fractions: list[float]
                     ) -> list[AssetPerformance]:
    """Every asset's flows under the pool-uniform fractional default and prepayment rates (module docstring)."""
    a = assumptions
    n_t = len(year_fractions)
    smm = [period_rate(min(1.0, a.cpr * a.cpr_multiplier), yf) for yf in year_fractions]
    cumulative = a.cumulative_default_rate is not None
    if cumulative:
        weights = [0.0] * n_t
        if a.default_timing:
            for t in range(min(n_t, len(a.default_timing))):
                weights[t] = float(a.default_timing[t])
        else:
            weights = [1.0] * n_t
        total_weight = sum(weights)
        if total_weight > 0:
            weights = [w / total_weight for w in weights]
        pool_start = sum(x.balance_start[0] for x in assets) if n_t else 0.0
        cum_rate = min(1.0, a.cumulative_default_rate * a.default_multiplier)
        default_target = [cum_rate * pool_start * w for w in weights]
    else:
        cdr = min(1.0, a.cdr * a.default_multiplier)
    out = [AssetPerformance(x.asset_id, x.obligor_id) for x in assets]
    g = 1.0  # performing fraction at the start of the period (the same for every asset: pool-uniform rates)
    for t in range(n_t):
        if cumulative:
            performing = sum(g * x.balance_start[t] for x in assets)
            mdr = min(1.0, default_target[t] / performing) if performing > 0 else 0.0
        else:
            mdr = period_rate(cdr, year_fractions[t])
        survive = g * (1.0 - mdr)
        g_next = survive * (1.0 - smm[t])
        for x, p in zip(assets, out, strict=True):
            remaining = max(x.balance_start[t] - x.principal[t], 0.0)
            prepay = survive * smm[t] * remaining
            p.balance_start.append(g * x.balance_start[t])
            p.defaults.append(g * mdr * x.balance_start[t])
            p.interest.append(survive * x.interest[t])
            p.prepayment.append(prepay)
            p.principal.append(survive * x.principal[t] + prepay)
            p.balance_end.append(g_next * remaining)
        g = g_next
    return out


def fixed_recoveries(performing: list[AssetPerformance], default_period: dict[str, int | None], rate: float,
                     lag: int) -> tuple[dict[str, float], dict[str, int | None]]:
    """Fixed-rate recovery model: ``rate`` × the asset's performing balance at the start of its default period,
    collected ``lag`` periods later. Returns (amount, period) per asset id; assets that do not default get 0, None.
    """
    amount: dict[str, float] = {}
    period: dict[str, int | None] = {}
    for p in performing:
        tau = default_period.get(p.asset_id)
        if tau is None or tau >= len(p.balance_start):
            amount[p.asset_id], period[p.asset_id] = 0.0, None
        else:
            amount[p.asset_id], period[p.asset_id] = rate * p.balance_start[tau], tau + lag
    return amount, period


def pool_flows(performing: list[AssetPerformance], default_period: dict[str, int | None],
               recovery_amount: dict[str, float], recovery_period: dict[str, int | None],
               fractional_recovery_rate: float, fractional_recovery_lag: int) -> PoolPath:
    """The pool's flows by period: the sum over the assets still performing, plus recoveries.

    ``default_period[asset_id]`` is the 0-based period in which the asset defaults (None or absent: never, or after
    the last period); ``recovery_amount`` / ``recovery_period`` are its own recovery (a period past the last one
    means the recovery is never collected).
    """
    n_t = len(performing[0].interest) if performing else 0
    flows = PoolPath(*([0.0] * n_t for _ in POOL_FIELDS))
    lag = fractional_recovery_lag
    for t in range(n_t):
        for p in performing:
            tau = default_period.get(p.asset_id)
            if tau is not None and tau >= n_t:
                tau = None
            performing_now = tau is None or t < tau
            if performing_now:
                flows.interest[t] += p.interest[t]
                flows.principal[t] += p.principal[t]
                flows.prepayment[t] += p.prepayment[t]
                flows.defaults[t] += p.defaults[t]
                flows.bal_start[t] += p.balance_start[t]
                flows.bal_end[t] += p.balance_end[t]
            elif t == tau:
                # the obligor stops paying: its whole performing balance defaults now
                flows.defaults[t] += p.balance_start[t]
                flows.bal_start[t] += p.balance_start[t]
            # recoveries of this asset's fractional defaults of period t − lag, while it was still performing
            s = t - lag
            if s >= 0 and (tau is None or s < tau):
                flows.recoveries[t] += fractional_recovery_rate * p.defaults[s]
            # the asset's own recovery
            if tau is not None and recovery_period.get(p.asset_id) == t:
                flows.recoveries[t] += recovery_amount.get(p.asset_id, 0.0)
    return flows


def sales_index(year_fractions: list[float], volatility: float, drift: float, floor: float, cap: float | None,
                normal: list[float]) -> list[float]:
    """A firm's sales index applied to its royalties in each period (``simulation.revenue_risk``).

    ``S_{-1} = 1``; ``ln S_t = ln S_{t−1} + (drift − volatility²/2)·Δ_t + volatility·√Δ_t·Z_t`` with ``Δ_t`` the
    period's year fraction and ``Z_t = normal[t]`` standard normal; the index applied is ``min(cap, max(floor, S_t))``
    (the floor and cap act on each period's payment, not on the random walk).
    """
    out = []
    log_s = 0.0
    for t, dt_ in enumerate(year_fractions):
        log_s += (drift - volatility * volatility / 2.0) * dt_ + volatility * math.sqrt(dt_) * normal[t]
        s = max(floor, math.exp(log_s))
        out.append(min(cap, s) if cap is not None else s)
    return out


def with_sales_index(p: AssetPerformance, index: list[float]) -> AssetPerformance:
    """The asset's performing flows with its interest and scheduled principal scaled by ``index`` (prepayments are
    not sales-linked, and balances follow the schedule: a royalty below schedule is cash that never comes)."""
    sched = [pr - pp for pr, pp in zip(p.principal, p.prepayment, strict=True)]
    return AssetPerformance(
        p.asset_id, p.obligor_id, list(p.balance_start),
        [i * s for i, s in zip(p.interest, index, strict=True)],
        [sp * s + pp for sp, s, pp in zip(sched, index, p.prepayment, strict=True)],
        list(p.prepayment), list(p.defaults), list(p.balance_end),
    )
