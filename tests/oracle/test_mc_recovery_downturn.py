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
