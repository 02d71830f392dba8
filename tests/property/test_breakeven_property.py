"""Breakevens on random sequential deals without recoveries: repayment is monotone in the default rate
(waterfall.md §5), so the k-section search is exact — every level below the breakeven is repaid, none above the
bracket is."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from dealgen import examples, sequential_deals
from ipabs.structuring.batch import ScenarioTable, run_batch
from ipabs.structuring.breakeven import breakeven


@pytest.mark.slow
@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequential_deals(defaults=False))
def test_breakeven_cdr_agrees_with_a_fine_grid(d):
    deal = d.compile(assumptions={"cpr": 0.0, "recovery_rate": 0.0})
    senior = deal.names.tranches[0]
    r = breakeven(deal, senior, "cdr", tol=1e-4)
    grid = np.linspace(0.0, 1.0, 201)
    ok = run_batch(deal, ScenarioTable.repeat(deal, len(grid), cdr=grid)).repaid_in_full(senior)
    assert (np.diff(ok.astype(int)) <= 0).all()  # monotone
    assert r.monotone
    if np.isnan(r.value):
        assert not ok[0]
    else:
        assert ok[grid <= r.value].all()
        assert not ok[grid >= r.upper].any() if r.breaks else ok.all()
