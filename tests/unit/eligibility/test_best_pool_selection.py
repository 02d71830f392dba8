"""The best eligible pool: never breaches a limit (property), equals the brute-force optimum on small pools."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipabs.eligibility.criteria import criteria_from_dict
from ipabs.eligibility.evaluate import (
    best_pool,
    check_pool_limits,
    evaluate_pool,
    limit_spec,
    records_from_frame,
)
from ipabs.eligibility.selection import (
    PoolLimitSpec,
    brute_force_pool,
    greedy_pool,
    is_within_limits,
    select_pool,
)

CAPS = st.sampled_from([0.1, 0.15, 0.2, 0.3, 0.5, 1.0])


@st.composite
def pools(draw, max_n=10):
    n = draw(st.integers(1, max_n))
    balance = np.array(draw(st.lists(st.integers(1, 300).map(lambda k: k * 100_000.0), min_size=n, max_size=n)))
    n_obl = draw(st.integers(1, n))
    obligor = np.array(draw(st.lists(st.integers(0, n_obl - 1), min_size=n, max_size=n)))
    industry = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    county = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    fams = ((obligor, draw(CAPS)), (industry, draw(st.sampled_from([0.3, 0.4, 0.5, 0.6, 1.0]))),
            (county, draw(st.sampled_from([0.4, 0.6, 1.0]))))
    top = draw(st.sampled_from([None, 1, 3, 5]))
    spec = PoolLimitSpec(obligor=obligor, families=fams, top_count=top,
                         top_share=draw(st.sampled_from([0.4, 0.6, 0.8, 1.0])) if top else None)
    return balance, spec


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
@FAST
@given(pools(max_n=10))
def test_the_selection_equals_the_brute_force_optimum_on_small_pools(case):
    balance, spec = case
    sel = select_pool(balance, spec)
    _, best = brute_force_pool(balance, spec)
    assert sel.status == "optimal"
    assert sel.balance == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert sel.upper_bound == pytest.approx(sel.balance)


@pytest.mark.slow
@FAST
@given(pools(max_n=30))
def test_the_selection_never_breaches_a_limit(case):
    balance, spec = case
    sel = select_pool(balance, spec, max_nodes=2_000, time_limit=2.0)
    assert is_within_limits(balance, sel.selected, spec)
    assert sel.balance == pytest.approx(float(balance[sel.selected].sum()))
    assert sel.upper_bound >= sel.balance - 1e-6


@pytest.mark.slow
@FAST
@given(pools(max_n=30))
def test_the_heuristic_alone_never_breaches_a_limit(case):
    balance, spec = case
    assert is_within_limits(balance, greedy_pool(balance, spec), spec)


@st.composite
def tapes(draw):
    n = draw(st.integers(1, 14))
    rows = []
    for i in range(n):
        rows.append(dict(
            asset_id=f"A{i}", obligor_id=f"F{draw(st.integers(0, max(0, n - 2)))}",
            industry=draw(st.sampled_from(["nev", "furniture", "electronics", "biomedicine"])),
            county=draw(st.sampled_from(["章贡区", "南康区", "龙南市"])),
            principal=draw(st.integers(10, 300)) * 100_000.0))
    return pd.DataFrame(rows)


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tapes(), st.sampled_from([0.15, 0.25, 0.5]), st.sampled_from([0.6, 0.8]), st.sampled_from([0.5, 0.7]),
       st.sampled_from([0.6, 1.0]))
def test_the_best_pool_meets_every_limit_as_the_report_checks_it(ganzhou, tape, single, top, ind, cty):
    data = ganzhou.model_dump()
    for cid, share in (("single_obligor", single), ("top_obligors", top), ("single_industry", ind),
                       ("single_county", cty)):
        data["pool"][cid]["max_share"] = share
    c = criteria_from_dict(data)
    recs = records_from_frame(tape)
    best = best_pool(recs, c)
    chosen = [r for r in recs if r.asset_id in set(best.asset_ids)]
    assert not any(chk.breached for chk in check_pool_limits(chosen, c, "best"))
    assert best.balance == pytest.approx(sum(r.principal for r in chosen))
    if len(recs) <= 12:
        balance = np.array([r.principal for r in recs])
        assert best.balance == pytest.approx(brute_force_pool(balance, limit_spec(recs, c))[1])


def test_a_concentrated_pool_drops_the_least_balance_needed(make_row, with_params, ganzhou):
    c = with_params(*[(("pool", k), {"enabled": False}) for k in ("top_obligors", "single_industry",
                                                                   "single_county")])
    rows = [make_row("BIG", "F0", 30_000_000.0)] + [make_row(f"A{i}", f"F{i}", 10_000_000.0) for i in range(1, 9)]
    rep = evaluate_pool(pd.DataFrame(rows), c)
    # 30 / 110 breaches 15%; keeping F0 needs F0 <= 15% of the pool: drop BIG (30M) or keep it and nothing works
    assert rep.best.status == "optimal"
    assert set(rep.best.asset_ids) == {f"A{i}" for i in range(1, 9)}
    assert rep.best.balance == 80_000_000.0
    assert rep.breaches("best") == []


def test_an_exhausted_budget_reports_a_feasible_pool_with_a_valid_upper_bound():
    rng = np.random.default_rng(0)
    n = 30
    balance = np.round(rng.lognormal(16.3, 0.8, n), -4)
    obligor = rng.integers(0, 21, n)
    spec = PoolLimitSpec(obligor=obligor, families=((obligor, 0.1), (rng.choice(6, n), 0.3),
                                                    (rng.choice(8, n, p=[.4, .2, .1, .1, .1, .05, .03, .02]), 0.3)),
                         top_count=5, top_share=0.45)
    cut = select_pool(balance, spec, max_nodes=20, time_limit=5)
    full = select_pool(balance, spec)
    assert full.status == "optimal"
    assert cut.status == "feasible" and cut.method == "greedy+truncated-branch-and-bound"
    assert is_within_limits(balance, cut.selected, spec)
    assert cut.balance <= full.balance + 1e-6 <= cut.upper_bound + 2e-6  # the bound is valid
    assert 0 < cut.gap < 1


def test_an_empty_eligible_pool_gives_an_empty_best_pool(ganzhou):
    best = best_pool([], ganzhou)
    assert best.asset_ids == () and best.balance == 0 and best.status == "optimal"
