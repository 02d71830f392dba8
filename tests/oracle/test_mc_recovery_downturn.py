"""Downturn recoveries: the disposal haircut worsens with the global factor."""

from __future__ import annotations

import numpy as np
import pytest

from ipabs import api

SCENARIO = "scenarios/ganzhou_pledge_2026.toml"


def _deal(downturn: float, root):
    loaded = api.load_scenario(root / SCENARIO)
    data = loaded.scenario.model_dump()
    data["simulation"]["recovery_downturn"] = downturn
    data["simulation"]["haircut"] = {"mean": 0.85, "std": 0.1}  # deep haircuts, so recoveries bind below exposure
    loaded2 = api.load_scenario(root / SCENARIO, data=data)
    return api.compile_scenario(loaded2)


@pytest.mark.slow
def test_a_zero_downturn_sensitivity_changes_nothing(root):
    base = api.simulate(api.compile_scenario(api.load_scenario(root / SCENARIO)), n_paths=4000, seed=7)
    loaded = api.load_scenario(root / SCENARIO)
    data = loaded.scenario.model_dump()
    data["simulation"]["recovery_downturn"] = 0.0
    same = api.simulate(api.compile_scenario(api.load_scenario(root / SCENARIO, data=data)), n_paths=4000, seed=7)
    assert np.array_equal(base.pool_loss_rate, same.pool_loss_rate)
    assert np.array_equal(base.loss, same.loss)


@pytest.mark.slow
def test_downturn_recoveries_raise_pool_losses_on_the_same_default_paths(root):
    flat = api.simulate(_deal(0.0, root), n_paths=20_000, seed=11)
    down = api.simulate(_deal(0.3, root), n_paths=20_000, seed=11)
    # the same random numbers: the same defaults on every path
    assert np.array_equal(flat.pool_default_rate, down.pool_default_rate)
    hit = flat.pool_default_rate > 0
    assert hit.sum() > 50
    # losses rise on average; the rise is concentrated in the high-default (bad-economy) paths
    assert down.pool_loss_rate[hit].mean() > flat.pool_loss_rate[hit].mean()
    bad = flat.pool_default_rate >= np.quantile(flat.pool_default_rate[hit], 0.5)
    diff = down.pool_loss_rate - flat.pool_loss_rate
    assert diff[bad & hit].mean() > diff[~bad & hit].mean()


@pytest.mark.slow
def test_drawn_recovery_lags_spread_recoveries_over_the_allowed_window(root):
    loaded = api.load_scenario(root / SCENARIO)
    data = loaded.scenario.model_dump()
    data["assumptions"]["recovery_lag_periods"] = 1
    data["simulation"]["recovery_lag_max_periods"] = 3
    deal = api.compile_scenario(api.load_scenario(root / SCENARIO, data=data))
    from ipabs.engine.montecarlo import trace_path

    lags = set()
    for p in range(3000):
        tr = trace_path(deal, 5, p)
        d, r = tr.asset_default_period, tr.recovery_period
        for a in range(len(d)):
            if d[a] < deal.n_periods:
                lags.add(int(r[a] - d[a]))
    assert lags <= {1, 2, 3} and len(lags) == 3


def test_a_maximum_lag_below_the_fixed_lag_is_rejected(root):
    from ipabs.errors import ScenarioError

    loaded = api.load_scenario(root / SCENARIO)
    data = loaded.scenario.model_dump()
    data["assumptions"]["recovery_lag_periods"] = 4
    data["simulation"]["recovery_lag_max_periods"] = 2
    with pytest.raises(ScenarioError, match="recovery_lag_max_periods"):
        api.load_scenario(root / SCENARIO, data=data)
