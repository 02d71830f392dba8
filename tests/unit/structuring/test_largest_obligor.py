"""The largest-obligor test on hand-computable deals and on scenario (a).

Hand deal: four obligors, each one zero-coupon bullet loan maturing at legal maturity — A 3,000,000, B 2,500,000,
C 2,500,000, D 2,000,000 (tape order D, C, A, B, so the tie B/C is broken by id) — a zero-coupon pass-through senior
of 5,000,000 and a subordinate of 5,000,000, no fees; a guarantor covering the senior's principal with a cap of
1,000,000. With the defaulted exposure E (at recovery R, recovered one quarter later, inside the deal) the pool
pays 10,000,000 − E + R·E, so the senior loses max(0, 5,000,000 − 10,000,000 + (1 − R)·E − draw), the draw being
min(1,000,000, that gap) with support on; the only coverage ratio defined is the last period's,
(10,000,000 − E) / 5,000,000 at zero recovery.
"""

from __future__ import annotations

import numpy as np
import pytest
from handdeal import hand_deal

import ipabs.structuring.largest_obligor as lo
from ipabs.api import compile_scenario, load_scenario
from ipabs.scenario.schema import Assumptions
from ipabs.structuring.largest_obligor import (
    LargestObligorResult,
    largest_obligor_test,
    obligor_exposures,
    obligor_ranking,
    obligors_breaking,
)

SIZES = {"D": 2_000_000.0, "C": 2_500_000.0, "A": 3_000_000.0, "B": 2_500_000.0}
CUM = {1: 3_000_000.0, 2: 5_500_000.0, 3: 8_000_000.0, 4: 10_000_000.0}


def four(senior: float = 5_000_000.0, cap: float | None = 1_000_000.0, **assumptions):
    a = {"recovery_rate": 0.5, "recovery_lag_periods": 1, **assumptions}
    return hand_deal(sizes=SIZES, senior=senior, cap=cap, assumptions=a)


def senior_loss(e: float, r: float, sub: float = 5_000_000.0, draw_cap: float = 0.0) -> float:
    gap = max(0.0, (1 - r) * e - sub)
    return max(0.0, gap - draw_cap)


@pytest.fixture(scope="module")
def ganzhou():
    return compile_scenario(load_scenario("scenarios/ganzhou_pledge_2026.toml"))


def test_exposures_rank_obligors_by_cutoff_balance_ties_by_id():
    deal = four()
    df = obligor_exposures(deal)
    assert df["obligor_id"].tolist() == ["A", "B", "C", "D"]
    assert df["exposure"].tolist() == [3e6, 2.5e6, 2.5e6, 2e6]
    assert df["cumulative_exposure"].tolist() == [CUM[1], CUM[2], CUM[3], CUM[4]]
    assert df["exposure_share"].tolist() == pytest.approx([0.3, 0.25, 0.25, 0.2])
    assert df["obligor_name"].iloc[0] == "firm A" and df["rank"].tolist() == [1, 2, 3, 4]
    assert [deal.info.obligor_ids[o] for o in obligor_ranking(deal)] == ["A", "B", "C", "D"]


def test_the_test_matches_the_hand_formulas():
    deal = four()
    res = largest_obligor_test(deal, counts=(1, 2, 3, 4))
    assert isinstance(res, LargestObligorResult)
    assert len(res.cases) == 4 * 2 * 2 and res.tranches == ("senior", "sub")
    for i, c in enumerate(res.cases):
        e = CUM[c.n_obligors]
        assert c.exposure == e and c.obligor_ids == tuple("ABCD"[:c.n_obligors])
        assert c.recovery_rate == (0.5 if c.scenario_recovery else 0.0)
        expected = senior_loss(e, c.recovery_rate, draw_cap=1e6 if c.support else 0.0)
        assert res.loss[i, 0] == pytest.approx(expected, abs=0.01), c.label
        assert res.repaid_in_full[i, 0] == (expected == 0.0), c.label
        assert res.loss[i, 1] == pytest.approx(min(5e6, (1 - c.recovery_rate) * e), abs=0.01), c.label
        if c.recovery_rate == 0 and e < 1e7:
            assert res.min_coverage[i] == pytest.approx((1e7 - e) / 5e6), c.label
    assert res.passes("senior", support=True) is False  # top 3 and 4 at zero recovery exceed 5,000,000 + 1,000,000
    df = res.frame()
    assert len(df) == 32
    assert list(df.columns) == ["case", "obligors", "obligor_ids", "defaulted_exposure", "exposure_share",
                                "recovery_rate", "support", "base_cdr", "tranche", "repaid_in_full", "loss",
                                "loss_share", "interest_shortfall", "min_coverage_ratio"]
    row = df[(df["case"] == "top 2, zero recovery, support off") & (df["tranche"] == "senior")].iloc[0]
    assert row["loss"] == pytest.approx(500_000.0) and row["loss_share"] == pytest.approx(0.1)
    assert row["obligor_ids"] == "A, B" and row["min_coverage_ratio"] == pytest.approx(0.9)


@pytest.mark.parametrize(("sub", "k"), [(2_900_000, 1), (3_000_000, 2), (3_100_000, 2), (5_400_000, 2),
                                        (5_500_000, 3), (8_000_000, 4)])
def test_the_senior_breaks_exactly_when_the_defaulted_exposure_exceeds_the_subordination(sub, k):
    deal = four(senior=10_000_000.0 - sub, cap=None)
    b = obligors_breaking(deal)
    assert b is not None and b.k == k and b.tranche == "senior"
    assert b.exposure == CUM[k] and b.exposure > sub >= (CUM[k - 1] if k > 1 else 0)
    assert b.loss == pytest.approx(CUM[k] - sub, abs=0.01)
    assert b.obligor_ids == tuple("ABCD"[:k]) and b.monotone
    assert b.frame()["cumulative_exposure"].iloc[-1] == CUM[k]


def test_obligors_breaking_with_support_scenario_recovery_and_none():
    deal = four()
    on, off = obligors_breaking(deal, support=True), obligors_breaking(deal, support=False)
    assert (on.k, off.k) == (3, 2)  # 8,000,000 > 5,000,000 + 1,000,000; 5,500,000 > 5,000,000
    assert on.loss == pytest.approx(2_000_000.0) and off.loss == pytest.approx(500_000.0)
    assert on.losses == pytest.approx((0.0, 0.0, 0.0, 2e6, 4e6), abs=0.01)
    # at the scenario's 50% recovery even all four (5,000,000 lost) leave the senior whole
    assert obligors_breaking(deal, support=False, recovery=None) is None
    assert obligors_breaking(deal, "sub", support=False, recovery=None).k == 1


def test_defaults_come_on_top_of_the_base_cdr_unless_base_cdr_is_false():
    c = 0.05
    deal = four(cdr=c, recovery_rate=0.0)
    res = largest_obligor_test(deal, counts=(0, 1, 2), recoveries=(0.0,), supports=(False,))
    res_only = largest_obligor_test(deal, counts=(0, 1, 2), recoveries=(0.0,), supports=(False,), base_cdr=False)
    for i, k in enumerate((0, 1, 2)):
        e = CUM.get(k, 0.0)
        cash = (1e7 - e) * (1 - c) ** 2  # the survivors of the base CDR over two years
        assert res.loss[i, 0] == pytest.approx(max(0.0, 5e6 - cash), abs=0.01)
        assert res_only.loss[i, 0] == pytest.approx(max(0.0, e - 5e6), abs=0.01)
    assert res.base_cdr and not res_only.base_cdr


def test_the_base_named_defaults_stay_with_base_cdr_and_go_without():
    deal = four(cap=None, recovery_rate=0.0, obligor_defaults=[{"obligor_id": "D", "period": 2}])
    res = largest_obligor_test(deal, counts=(2,), recoveries=(0.0,), supports=(False,))
    only = largest_obligor_test(deal, counts=(2,), recoveries=(0.0,), supports=(False,), base_cdr=False)
    assert res.loss[0, 0] == pytest.approx(7.5e6 - 5e6)  # A, B and the base's D
    assert only.loss[0, 0] == pytest.approx(5.5e6 - 5e6)


def test_counts_are_clipped_and_deduplicated_and_one_batch_runs(monkeypatch):
    calls = []
    real = lo.run_batch

    def counting(deal, table, **kw):
        calls.append(len(table))
        return real(deal, table, **kw)

    monkeypatch.setattr(lo, "run_batch", counting)
    res = largest_obligor_test(four(), counts=(1, 3, 5, 4))
    assert [c.n_obligors for c in res.cases[:3]] == [1, 3, 4]
    assert calls == [12]  # 3 counts × 2 recoveries × 2 support settings, one call
    obligors_breaking(four())
    assert calls == [12, 5]  # k = 0 … 4 in one call


def test_a_deal_without_support_has_only_support_off_cases():
    res = largest_obligor_test(four(cap=None))
    assert {c.support for c in res.cases} == {False} and len(res.cases) == 3 * 2


def test_the_period_and_bad_input():
    deal = four(cap=None)
    late = largest_obligor_test(deal, counts=(2,), recoveries=(0.0,), period=5)
    assert late.loss[0, 0] == pytest.approx(500_000.0)  # zero-coupon bullets: same loss whenever they default
    with pytest.raises(ValueError, match="period"):
        largest_obligor_test(deal, period=8)
    with pytest.raises(ValueError, match="counts"):
        largest_obligor_test(deal, counts=(-1,))
    with pytest.raises(ValueError, match="unknown tranche"):
        obligors_breaking(deal, "A")


def test_a_custom_base():
    deal = four(cap=None)
    res = largest_obligor_test(deal, counts=(1,), recoveries=(None,), base=Assumptions(recovery_rate=0.2))
    assert res.cases[0].recovery_rate == 0.2 and res.cases[0].scenario_recovery


# ---- scenario (a) ---------------------------------------------------------------------------------------------
def test_scenario_a_senior_survives_the_largest_obligors_with_the_guarantor(ganzhou):
    res = largest_obligor_test(ganzhou)
    assert [c.n_obligors for c in res.cases] == [1, 3, 5] * 4
    assert res.cases[0].obligor_ids == ("GZ007",) and res.cases[0].exposure == 23_700_000.0
    assert res.cases[2].obligor_ids == ("GZ007", "GZ012", "GZ014", "GZ001", "GZ010")
    assert res.cases[2].exposure == 96_400_000.0
    assert res.passes("优先A", support=True)
    assert not res.passes("优先A", support=False)
    assert obligors_breaking(ganzhou, support=True) is None  # even all 15 obligors: the cap 200,000,000 holds


def test_scenario_a_without_the_guarantor_the_largest_obligor_breaks_the_senior(ganzhou):
    b = obligors_breaking(ganzhou, support=False)
    assert b.k == 1 and b.obligor_ids == ("GZ007",) and b.exposure == 23_700_000.0
    assert b.obligor_names == ("赣州拓垣新能源汽车零部件有限公司",)
    assert b.exposure_share == pytest.approx(0.1185)
    assert b.loss > 0 and b.monotone
    assert np.all(np.diff(b.losses) >= 0)  # more obligors, more loss
    # at the scenario's 30% recovery and without the base CDR the first one is still enough
    assert obligors_breaking(ganzhou, support=False, recovery=None, base_cdr=False).k == 1
