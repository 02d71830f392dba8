"""The deterministic engine: one scenario of defaults and prepayments, full period-by-period detail.

It runs exactly the kernels the Monte Carlo runs (:func:`ipabs.kernels.pool.apply_defaults` and
:func:`ipabs.kernels.waterfall.run_waterfall`); only the default times come from the assumptions instead of the
copula.
"""

from __future__ import annotations

import numpy as np

from ipabs.compile.arrays import empty_pool_flows, empty_waterfall_out
from ipabs.compile.lower import CompiledDeal, performing_flows
from ipabs.errors import Issue, ScenarioError
from ipabs.kernels.containers import PoolFlows, WaterfallOut
from ipabs.kernels.pool import apply_defaults, recovery_fixed
from ipabs.kernels.waterfall import run_waterfall
from ipabs.scenario.schema import Assumptions


def asset_default_periods(deal: CompiledDeal, a: Assumptions) -> np.ndarray:
    """0-based default period per asset from ``obligor_defaults`` (n_periods = none)."""
    n_t = deal.n_periods
    ob = {o: i for i, o in enumerate(deal.info.obligor_ids)}
    by_obligor = np.full(len(ob), n_t, dtype=np.int64)
    issues = []
    for j, od in enumerate(a.obligor_defaults):
        if od.obligor_id not in ob:
            issues.append(Issue(f"unknown obligor '{od.obligor_id}' (not on the tape)", file=deal.source,
                                table=f"assumptions.obligor_defaults[{j}]", field="obligor_id"))
            continue
        if od.period > n_t:
            issues.append(Issue(f"period {od.period} is after the last period {n_t}", file=deal.source,
                                table=f"assumptions.obligor_defaults[{j}]", field="period"))
            continue
        by_obligor[ob[od.obligor_id]] = min(by_obligor[ob[od.obligor_id]], od.period - 1)
    if issues:
        raise ScenarioError(issues)
    return by_obligor[deal.info.asset_obligor]


def support_default_periods(deal: CompiledDeal) -> np.ndarray:
    """0-based default period of each support provider in the deterministic case (n_periods = never)."""
    n_t = deal.n_periods
    return np.array([x.default_period - 1 if x.default_period else n_t for x in deal.scenario.support],
                    dtype=np.int64)


def run_path(deal: CompiledDeal, a: Assumptions, asset_default_t: np.ndarray, sup_def_t: np.ndarray
             ) -> tuple[PoolFlows, WaterfallOut]:
    """Pool flows and waterfall detail for given default periods (the kernels' one-path entry point)."""
    pa = performing_flows(deal.pool, a)
    n_a = asset_default_t.shape[0]
    rec_amt = np.zeros(n_a)
    rec_t = np.zeros(n_a, dtype=np.int64)
    rate = min(1.0, a.recovery_rate * a.recovery_multiplier)
    recovery_fixed(pa, asset_default_t.astype(np.int64), rate, np.int64(a.recovery_lag_periods), rec_amt, rec_t)
    pf = empty_pool_flows(deal.n_periods)
    apply_defaults(pa, asset_default_t.astype(np.int64), rec_amt, rec_t, pf)
    n = deal.names
    out = empty_waterfall_out(deal.n_periods, len(n.tranches), len(n.fees), len(n.accounts), len(n.supports))
    run_waterfall(deal.waterfall, pf, sup_def_t.astype(np.int64), out)
    return pf, out


def run_deterministic_arrays(deal: CompiledDeal, assumptions: Assumptions | None = None
                             ) -> tuple[PoolFlows, WaterfallOut]:
    """Run the deal under its (or the given) deterministic assumptions."""
    a = assumptions or deal.scenario.assumptions
    return run_path(deal, a, asset_default_periods(deal, a), support_default_periods(deal))
