"""Breakeven default rates on hand-built deals (closed forms), monotonicity, and agreement with the batch engine.

The hand-built deal (handdeal.py): a pool of zero-coupon bullet loans, a zero-coupon pass-through senior with
subordination x, no fees, zero recovery — no excess spread, so the senior is repaid exactly while the surviving
principal (plus reserve, plus the guarantor's draw) covers its balance:

* cumulative default rate C:   (1 − C)·B + reserve + draw ≥ (1 − x)·B   ⇔   C ≤ x + (reserve + draw) / B;
* constant CDR c over periods of year fractions yf_t:  survival Π(1 − c)^yf_t = (1 − c)^Y with Y = Σ yf_t, so
  c* = 1 − (1 − x − (reserve + draw)/B)^(1/Y).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from handdeal import hand_deal

from ipabs.api import compile_scenario, load_scenario
from ipabs.errors import Cancelled
from ipabs.scenario.schema import Assumptions
from ipabs.structuring.batch import ScenarioTable, run_batch
from ipabs.structuring.breakeven import (
    MEASURES,
    Breakeven,
    breakeven,
    breakeven_frame,
    breakevens,
    default_bounds,
)

B = 10_000_000.0
TOL = 1e-6


def cdr_closed_form(deal, consumed: float) -> float:
    """The CDR at which cumulative defaults consume ``consumed`` of the pool by the last period."""
    y = float(np.sum(deal.waterfall.yf))
    return 1.0 - (1.0 - consumed) ** (1.0 / y)


@pytest.fixture(scope="module")
def ganzhou():
    return compile_scenario(load_scenario("scenarios/ganzhou_pledge_2026.toml"))


# ---- exactly x of subordination --------------------------------------------------------------------------------
@pytest.mark.parametrize("x", [0.10, 0.237, 0.05])
def test_cumulative_breakeven_is_the_subordination(x):
    deal = hand_deal(sub_fraction=x)
    r = breakeven(deal, "senior", "cumulative_default_rate")
    assert r.breaks and r.monotone
    assert r.value == pytest.approx(x, abs=TOL)
    assert r.lower <= x + 1e-9 and r.upper >= x - 1e-9  # the bracket holds the exact answer
    assert r.upper - r.lower <= TOL
    assert r.value == r.lower  # the repaid end


@pytest.mark.parametrize("x", [0.10, 0.237])
def test_cdr_breakeven_is_the_closed_form_for_the_period_grid(x):
    deal = hand_deal(sub_fraction=x)
    assert list(deal.waterfall.yf) == [0.25] * 8  # 30/360, unadjusted: Y = 2 years
    r = breakeven(deal, "senior", "cdr")
    assert r.value == pytest.approx(1.0 - math.sqrt(1.0 - x), abs=TOL)
    assert r.value == pytest.approx(cdr_closed_form(deal, x), abs=TOL)


def test_cdr_breakeven_on_an_act365_grid():
    deal = hand_deal(sub_fraction=0.10, day_count="act/365f")
    y = float(np.sum(deal.waterfall.yf))
    assert y == pytest.approx(731 / 365)  # 2026-03-10 .. 2028-03-10 spans 29 Feb 2028
    r = breakeven(deal, "senior", "cdr")
    assert r.value == pytest.approx(1.0 - 0.9 ** (365 / 731), abs=TOL)


def test_hand_numbers_of_the_plain_deal():
    deal = hand_deal(sub_fraction=0.10)
    assert breakeven(deal, "senior", "cdr").value == pytest.approx(0.0513167019, abs=TOL)


# ---- reserve account ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reserve", [200_000.0, 750_000.0])
def test_a_reserve_moves_the_breakeven_by_reserve_over_pool(reserve):
    x = 0.10
    deal = hand_deal(sub_fraction=x, reserve=reserve)
    cum = breakeven(deal, "senior", "cumulative_default_rate")
    assert cum.value == pytest.approx(x + reserve / B, abs=TOL)
    cdr = breakeven(deal, "senior", "cdr")
    assert cdr.value == pytest.approx(cdr_closed_form(deal, x + reserve / B), abs=TOL)
    assert cdr.value > breakeven(hand_deal(sub_fraction=x), "senior", "cdr").value


# ---- guarantor's shortfall commitment -------------------------------------------------------------------------
def test_a_guarantor_moves_the_breakeven_by_cap_over_pool_with_support_on_only():
    x, cap = 0.10, 300_000.0
    deal = hand_deal(sub_fraction=x, cap=cap)
    on = breakeven(deal, "senior", "cumulative_default_rate", support=True)
    off = breakeven(deal, "senior", "cumulative_default_rate", support=False)
    assert on.value == pytest.approx(x + cap / B, abs=TOL)
    assert off.value == pytest.approx(x, abs=TOL)
    assert on.support and not off.support
    assert breakeven(deal, "senior", "cdr", support=True).value == pytest.approx(
        cdr_closed_form(deal, x + cap / B), abs=TOL)
    assert breakeven(deal, "senior", "cdr", support=False).value == pytest.approx(cdr_closed_form(deal, x), abs=TOL)


@pytest.mark.parametrize("cap", [-1.0, 9_000_000.0])  # no cap; a cap equal to the senior
def test_a_guarantor_whose_cap_covers_the_senior_means_it_never_breaks(cap):
    deal = hand_deal(sub_fraction=0.10, cap=cap)
    on = breakeven(deal, "senior", "cdr")
    assert not on.breaks and on.value == 1.0 and on.lower == on.upper == 1.0
    assert "bound" in on.note
    off = breakeven(deal, "senior", "cdr", support=False)
    assert off.breaks and off.value == pytest.approx(1 - math.sqrt(0.9), abs=TOL)


def test_reserve_and_guarantor_add_up():
    deal = hand_deal(sub_fraction=0.10, reserve=200_000, cap=300_000)
    assert breakeven(deal, "senior", "cumulative_default_rate").value == pytest.approx(0.15, abs=TOL)
    assert breakeven(deal, "senior", "cumulative_default_rate", support=False).value == pytest.approx(0.12, abs=TOL)


# ---- recovery and default multiple ----------------------------------------------------------------------------
def test_breakeven_recovery_closed_form_with_lost_late_recoveries():
    # base: 20% cumulative defaults spread evenly over 8 quarters, recovered one quarter later: the recoveries of
    # the last quarter's defaults fall after legal maturity, so the recovered cash is R · 20% · 7/8 of the pool;
    # the senior needs (1 − 20%) + R · 0.175 ≥ 1 − x − reserve/B.
    deal = hand_deal(sub_fraction=0.10, reserve=200_000, cap=300_000,
                     assumptions={"cumulative_default_rate": 0.2, "recovery_lag_periods": 1})
    on = breakeven(deal, "senior", "recovery_rate")
    off = breakeven(deal, "senior", "recovery_rate", support=False)
    assert on.value == pytest.approx(0.05 / 0.175, abs=TOL)
    assert off.value == pytest.approx(0.08 / 0.175, abs=TOL)
    # the value is the repaid end, which for recovery is the upper end of the bracket
    assert on.value == on.upper and on.upper - on.lower <= TOL
    assert on.base_value == 0.0


def test_breakeven_recovery_never_breaks_when_defaults_fit_the_subordination():
    deal = hand_deal(sub_fraction=0.10, assumptions={"cumulative_default_rate": 0.05})
    r = breakeven(deal, "senior", "recovery_rate")
    assert not r.breaks and r.value == 0.0


def test_breakeven_default_multiple_is_the_breakeven_rate_over_the_base_rate():
    deal = hand_deal(sub_fraction=0.10, assumptions={"cdr": 0.02})
    m = breakeven(deal, "senior", "default_multiplier")
    assert default_bounds("default_multiplier", deal.scenario.assumptions) == (0.0, 50.0)
    assert m.base_value == 1.0
    assert m.value == pytest.approx((1 - math.sqrt(0.9)) / 0.02, abs=TOL)
    deal = hand_deal(sub_fraction=0.10, assumptions={"cumulative_default_rate": 0.04})
    assert breakeven(deal, "senior", "default_multiplier").value == pytest.approx(2.5, abs=TOL)


def test_base_values():
    deal = hand_deal(assumptions={"cdr": 0.02, "default_multiplier": 1.5, "recovery_rate": 0.4,
                                  "recovery_multiplier": 0.5})
    r = {x.measure: x for x in breakevens(deal, MEASURES)}
    assert r["cdr"].base_value == pytest.approx(0.03)
    assert r["recovery_rate"].base_value == pytest.approx(0.2)
    assert r["default_multiplier"].base_value == 1.5
    # under a CDR base the cumulative level is the base run's realised defaults: 1 − 0.97² of the pool
    assert r["cumulative_default_rate"].base_value == pytest.approx(1 - 0.97 ** 2, abs=1e-12)
    # the measure's level is effective (the base multiplier is set to 1); the base recovery of 20% at lag 0 adds
    # 0.2 · (1 − (1 − c)²) of the pool: (1 − c)² · 0.8 + 0.2 ≥ 0.9
    assert r["cdr"].value == pytest.approx(1 - math.sqrt(0.7 / 0.8), abs=TOL)
    assert r["cdr"].cushion == pytest.approx(r["cdr"].value - 0.03)


# ---- the batch engine agrees, and the search is cheap ---------------------------------------------------------
def _repaid(deal, measure, levels, k, support=True, base=None):
    from ipabs.structuring.breakeven import _columns

    t = ScenarioTable.repeat(deal, len(levels), base, **_columns(measure, np.asarray(levels, dtype=float)))
    if not support:
        t = t.with_columns(support_default_period=0)
    return run_batch(deal, t).repaid_in_full(k)


@pytest.mark.parametrize("measure", ["cdr", "cumulative_default_rate", "default_multiplier"])
@pytest.mark.parametrize("support", [True, False])
def test_value_minus_tol_is_repaid_and_value_plus_tol_is_not(ganzhou, measure, support):
    r = breakeven(ganzhou, "优先A", measure, support=support)
    if not r.breaks:  # the guarantor covers the senior up to the bound
        assert support and _repaid(ganzhou, measure, [r.value], "优先A").all()
        return
    ok = _repaid(ganzhou, measure, [r.value - TOL, r.value, r.value + TOL], "优先A", support)
    assert ok.tolist() == [True, True, False]


def test_recovery_value_plus_tol_is_repaid_and_value_minus_tol_is_not():
    deal = hand_deal(sub_fraction=0.10, assumptions={"cumulative_default_rate": 0.2, "recovery_lag_periods": 1})
    r = breakeven(deal, "senior", "recovery_rate")
    ok = _repaid(deal, "recovery_rate", [r.value - TOL, r.value, r.value + TOL], "senior")
    assert ok.tolist() == [False, True, True]


def test_one_millionth_costs_few_batch_calls():
    deal = hand_deal()
    r = breakeven(deal, "senior", "cdr")
    # the first call: 18 levels (bounds included); then 16 per call; each call shrinks the bracket 17-fold and
    # 17^5 > 10^6. Plain bisection (points=1): 3 levels, then halving from 1/2 to 2^-20 < 10^-6: 20 calls
    assert r.batch_calls == 5 and r.evaluations == 18 + 4 * 16
    r2 = breakeven(deal, "senior", "cdr", points=1)  # plain bisection
    assert r2.value == pytest.approx(r.value, abs=TOL) and r2.batch_calls == 20


def test_all_tranches_of_a_measure_share_the_batch_calls(ganzhou):
    both = breakevens(ganzhou, ("cdr",), tranches=["优先A", "次级"], support=False)
    alone = [breakeven(ganzhou, t, "cdr", support=False) for t in ("优先A", "次级")]
    assert [b.value for b in both] == [a.value for a in alone]
    assert both[0].batch_calls == both[1].batch_calls == max(a.batch_calls for a in alone)


def test_reference_engine_gives_the_same_breakevens():
    deal = hand_deal(sub_fraction=0.10, reserve=200_000, cap=300_000, assumptions={"recovery_lag_periods": 1})
    for m in ("cdr", "cumulative_default_rate"):
        assert breakeven(deal, "senior", m, engine="reference") == breakeven(deal, "senior", m, engine="kernel")


# ---- monotonicity ---------------------------------------------------------------------------------------------
def test_repayment_is_a_single_step_at_the_breakeven_on_a_fine_grid(ganzhou):
    r = breakeven(ganzhou, "优先A", "cdr", support=False)
    grid = np.linspace(0.0, 0.3, 301)
    ok = _repaid(ganzhou, "cdr", grid, "优先A", support=False)
    assert (np.diff(ok.astype(int)) <= 0).all()  # once broken, broken for good
    assert ok[grid <= r.value].all() and not ok[grid > r.upper].any()


def test_breakeven_rises_with_subordination_reserve_and_cap():
    xs = [0.02, 0.05, 0.1, 0.2, 0.4]
    cdrs = [breakeven(hand_deal(sub_fraction=x), "senior", "cdr").value for x in xs]
    assert cdrs == sorted(cdrs) and len(set(cdrs)) == len(cdrs)
    res = [breakeven(hand_deal(reserve=r), "senior", "cumulative_default_rate").value for r in (0, 1e5, 5e5)]
    assert res == sorted(res)
    caps = [breakeven(hand_deal(cap=c), "senior", "cumulative_default_rate").value for c in (0, 1e5, 5e5)]
    assert caps == sorted(caps)


def test_a_non_monotone_tranche_is_flagged_and_the_lowest_break_kept(ganzhou):
    # Scenario (a)'s subordinate with the guarantor on: at a higher CDR the guarantor pays the senior's bullet and
    # the pool's later recoveries go to the subordinate, so it is repaid again (a real non-monotone case).
    r = breakeven(ganzhou, "次级", "cdr")
    assert r.breaks and not r.monotone and "not monotone" in r.note
    ok = _repaid(ganzhou, "cdr", [r.lower, r.upper, 0.5], "次级")
    assert ok.tolist() == [True, False, True]


# ---- edges and the API --------------------------------------------------------------------------------------
def test_a_tranche_not_repaid_even_without_defaults():
    deal = hand_deal(senior=11_000_000.0, sizes={"F1": B})  # notes above the pool: senior short by 1,000,000
    r = breakeven(deal, "senior", "cdr")
    assert r.breaks and math.isnan(r.value) and r.lower == r.upper == 0.0
    assert "least stressed" in r.note


def test_bounds_are_respected_and_checked():
    deal = hand_deal(sub_fraction=0.10)
    r = breakeven(deal, "senior", "cumulative_default_rate", bounds=(0.0, 0.05))
    assert not r.breaks and r.value == 0.05
    r = breakeven(deal, "senior", "cumulative_default_rate", bounds=(0.08, 0.2))
    assert r.value == pytest.approx(0.1, abs=TOL) and r.evaluations > 0
    with pytest.raises(ValueError, match="bounds"):
        breakeven(deal, "senior", "cdr", bounds=(0.5, 0.2))
    with pytest.raises(ValueError, match="measure"):
        breakeven(deal, "senior", "pd")
    with pytest.raises(ValueError, match="unknown tranche"):
        breakeven(deal, "A", "cdr")
    with pytest.raises(TypeError, match="unknown keyword"):
        breakevens(deal, ("cdr",), tolerance=1e-3)


def test_breakevens_default_to_the_rated_tranches_and_frame(ganzhou):
    res = breakevens(ganzhou, ("cdr", "recovery_rate"), support=False)
    assert [(r.tranche, r.measure) for r in res] == [("优先A", "cdr"), ("优先A", "recovery_rate")]
    assert all(isinstance(r, Breakeven) for r in res)
    df = breakeven_frame(res)
    assert list(df.columns) == ["tranche", "measure", "value", "breaks", "lower", "upper", "base_value", "cushion",
                                "support", "monotone", "evaluations", "batch_calls", "note"]
    assert df["value"].iloc[0] == res[0].value and len(df) == 2


def test_a_tranche_by_index_and_a_custom_base():
    deal = hand_deal(sub_fraction=0.10)
    base = Assumptions(cumulative_default_rate=0.5, recovery_rate=0.0)
    assert breakeven(deal, 0, "default_multiplier", base=base).value == pytest.approx(0.2, abs=TOL)


def test_progress_and_cancellation():
    deal = hand_deal()
    seen = []
    breakevens(deal, ("cdr", "cumulative_default_rate"), progress=lambda d, t: seen.append((d, t)))
    assert [d for d, _ in seen] == list(range(1, 11))
    assert all(d <= t for d, t in seen) and seen[-1][0] == seen[-1][1]

    def cancel(d, t):
        raise Cancelled("stop")

    with pytest.raises(Cancelled):
        breakeven(deal, "senior", "cdr", progress=cancel)


def test_cdr_under_a_cumulative_base_and_a_multiple_of_nothing():
    deal = hand_deal(sub_fraction=0.10, assumptions={"cumulative_default_rate": 0.3, "default_timing": [1] + [0] * 7})
    r = breakeven(deal, "senior", "cdr")
    assert math.isnan(r.base_value) and r.value == pytest.approx(1 - math.sqrt(0.9), abs=TOL)
    # the cumulative measure keeps the base's timing (all in the first quarter): still C* = x
    assert breakeven(deal, "senior", "cumulative_default_rate").value == pytest.approx(0.1, abs=TOL)
    flat = hand_deal(sub_fraction=0.10)
    m = breakeven(flat, "senior", "default_multiplier")
    assert not m.breaks and m.value == 100.0 and "base default rate is 0" in m.note


@pytest.mark.slow
def test_every_sample_scenario(scenarios_dir):
    import tomllib

    for path in sorted(scenarios_dir.glob("*.toml")):
        if "deal" not in tomllib.loads(path.read_text("utf-8")):
            continue  # a self-check request or a stress file, not a deal
        deal = compile_scenario(load_scenario(path))
        res = breakevens(deal, MEASURES, tol=1e-3)
        assert len(res) == 4 * len([t for t in deal.scenario.tranches if t.seniority != "subordinate"])
        for r in res:
            assert r.monotone and (not r.breaks or r.upper - r.lower <= 1e-3), (path.name, r)
            assert r.lower <= r.value <= r.upper


def test_an_interest_shortfall_is_a_break_even_when_principal_is_repaid():
    # The pool earns 2% on 10,000,000 (50,000 a quarter), the senior of 5,000,000 costs 3.8% (47,500 a quarter):
    # before maturity a CDR of a few per cent leaves the senior's interest short although its principal is repaid at
    # maturity (the pool's principal then covers it) — repaid in full means no interest shortfall either.
    from handdeal import scenario, tape

    from ipabs.compile.lower import compile_deal
    from ipabs.scenario.io import parse_scenario

    d = scenario(senior=5_000_000.0, sub=5_000_000.0)
    d["tranches"][0]["coupon"] = 0.038
    d["waterfall"]["normal"].insert(0, {"action": "pay_interest", "tranches": ["senior"]})
    t = tape({"F1": B}).assign(rate=0.02, amortization="interest_only")
    deal = compile_deal(parse_scenario(d), t)
    r = breakeven(deal, "senior", "cdr")
    assert r.breaks and 0.0 < r.value < 0.05
    t = ScenarioTable.repeat(deal, 2, cdr=[r.value, r.upper])
    res = run_batch(deal, t)
    assert res.repaid_in_full("senior").tolist() == [True, False]
    assert res.loss[1, 0] <= 0.005 and res.shortfall_any[1, 0]  # principal repaid; interest short once
