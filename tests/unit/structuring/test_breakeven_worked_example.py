"""The worked examples of docs/methodology/structuring-breakeven.md §5, computed by hand there and asserted here.

Nothing is read from the page: the scenario and tape below are typed again (they are the page's), written to a
temporary folder and run through the whole pipeline (tape reader, QuantLib schedule, compiler, batch engine).
"""

from __future__ import annotations

import math

import pytest

from ipabs.api import compile_scenario, load_scenario
from ipabs.scenario.schema import Assumptions
from ipabs.structuring.breakeven import breakeven, breakevens
from ipabs.structuring.largest_obligor import largest_obligor_test, obligors_breaking

TOML = """\
schema_version = 1

[deal]
name = "breakeven worked example"
cutoff_date = 2026-03-10
closing_date = 2026-03-10
first_payment_date = 2026-06-10
payment_frequency = "quarterly"
business_day_convention = "unadjusted"
day_count = "30/360"
legal_maturity = 2028-03-10

[pool]
tape = "pool.csv"

[assumptions]
cdr = 0.02

[[tranches]]
name = "优先A"
seniority = "senior"
balance = 9_000_000
amortization = "pass_through"

[[tranches]]
name = "次级"
seniority = "subordinate"
balance = 1_000_000
amortization = "pass_through"

[[accounts]]
name = "收款账户"
receives = ["interest", "principal", "recoveries"]

[[accounts]]
name = "储备账户"
kind = "reserve"
initial_balance = 200_000

[[support]]
name = "担保人"
kind = "shortfall_commitment"
cap = 300_000

[waterfall]
normal = [
  { action = "transfer", account = "储备账户", to = "收款账户", amount = "shortfall", covers = ["principal:优先A"] },
  { action = "draw_support", support = "担保人", covers = ["principal:优先A"] },
  { action = "pay_principal", tranches = ["优先A"], amount = "all" },
  { action = "pay_principal", tranches = ["次级"], amount = "all", require_repaid = ["优先A"] },
  { action = "pay_residual", tranche = "次级", require_repaid = ["优先A", "次级"] },
]
"""

CSV = """\
asset_id,obligor_id,industry,asset_type,principal,rate,start_date,maturity_date,payment_frequency,amortization
L1,F1,other,pledge_loan,10000000,0,2026-03-10,2028-03-10,quarterly,bullet
"""

# the largest-obligor example: four loans, senior 5,000,000, subordinate 5,000,000, no reserve, cap 1,000,000
CSV4 = """\
asset_id,obligor_id,industry,asset_type,principal,rate,start_date,maturity_date,payment_frequency,amortization
L1,D,other,pledge_loan,2000000,0,2026-03-10,2028-03-10,quarterly,bullet
L2,C,other,pledge_loan,2500000,0,2026-03-10,2028-03-10,quarterly,bullet
L3,A,other,pledge_loan,3000000,0,2026-03-10,2028-03-10,quarterly,bullet
L4,B,other,pledge_loan,2500000,0,2026-03-10,2028-03-10,quarterly,bullet
"""
TOML4 = (TOML.replace("balance = 9_000_000", "balance = 5_000_000").replace("balance = 1_000_000", "balance = 5_000_000")
         .replace("cap = 300_000", "cap = 1_000_000").replace("cdr = 0.02", "cdr = 0.0")
         .replace('[[accounts]]\nname = "储备账户"\nkind = "reserve"\ninitial_balance = 200_000\n\n', "")
         .replace('  { action = "transfer", account = "储备账户", to = "收款账户", amount = "shortfall", '
                  'covers = ["principal:优先A"] },\n', ""))

TOL = 1e-6


def _deal(folder, toml: str, csv: str):
    (folder / "pool.csv").write_text(csv, encoding="utf-8")
    (folder / "deal.toml").write_text(toml, encoding="utf-8")
    return compile_scenario(load_scenario(folder / "deal.toml"))


@pytest.fixture(scope="module")
def deal(tmp_path_factory):
    return _deal(tmp_path_factory.mktemp("be_worked"), TOML, CSV)


@pytest.fixture(scope="module")
def deal4(tmp_path_factory):
    return _deal(tmp_path_factory.mktemp("lo_worked"), TOML4, CSV4)


def test_the_example_is_eight_quarters_of_a_quarter_year(deal):
    assert deal.n_periods == 8 and list(deal.waterfall.yf) == [0.25] * 8
    assert deal.pool_balance == 10_000_000.0
    assert "储备账户" not in deal.names.supports and deal.names.supports == ("担保人",)


def test_breakeven_cumulative_default_rate(deal):
    # 10% subordination + (200,000 reserve + 300,000 guarantor) / 10,000,000 = 15%; support off: 12%
    on = breakeven(deal, "优先A", "cumulative_default_rate")
    off = breakeven(deal, "优先A", "cumulative_default_rate", support=False)
    assert on.value == pytest.approx(0.15, abs=TOL) and off.value == pytest.approx(0.12, abs=TOL)
    assert on.base_value == pytest.approx(0.0396, abs=1e-12)  # the base CDR of 2% over two years: 1 − 0.98²


def test_breakeven_cdr(deal):
    # (1 − c)² = 0.85 (on) and 0.88 (off)
    on = breakeven(deal, "优先A", "cdr")
    off = breakeven(deal, "优先A", "cdr", support=False)
    assert on.value == pytest.approx(0.0780455543, abs=TOL) and on.value == pytest.approx(1 - math.sqrt(0.85), abs=TOL)
    assert off.value == pytest.approx(0.0619168480, abs=TOL)
    assert on.base_value == 0.02 and on.cushion == pytest.approx(0.0580455543, abs=TOL)


def test_breakeven_default_multiple(deal):
    on = breakeven(deal, "优先A", "default_multiplier")
    off = breakeven(deal, "优先A", "default_multiplier", support=False)
    assert on.value == pytest.approx(3.9022777, abs=TOL) and off.value == pytest.approx(3.0958424, abs=TOL)


def test_breakeven_recovery(deal):
    # 20% cumulative defaults, 2.5% a quarter, recovered one quarter later: the last quarter's recoveries are lost
    base = Assumptions(cumulative_default_rate=0.2, recovery_lag_periods=1)
    on = breakeven(deal, "优先A", "recovery_rate", base=base)
    off = breakeven(deal, "优先A", "recovery_rate", base=base, support=False)
    assert on.value == pytest.approx(0.2857142857, abs=TOL)  # 0.05 / 0.175
    assert off.value == pytest.approx(0.4571428571, abs=TOL)  # 0.08 / 0.175


def test_the_search_trace(deal):
    # call 1: 18 levels k/17, the senior is repaid at 2/17 = 0.1176 and not at 3/17 = 0.1765
    one = breakeven(deal, "优先A", "cumulative_default_rate", tol=0.06)
    assert (one.lower, one.upper, one.batch_calls, one.evaluations) == pytest.approx((2 / 17, 3 / 17, 1, 18))
    # call 2: 16 levels inside it, 1/289 apart: 43/289 = 0.14879 repaid, 44/289 = 0.15225 not
    two = breakeven(deal, "优先A", "cumulative_default_rate", tol=0.0035)
    assert (two.lower, two.upper, two.batch_calls, two.evaluations) == pytest.approx((43 / 289, 44 / 289, 2, 34))
    full = breakeven(deal, "优先A", "cumulative_default_rate")
    assert full.batch_calls == 5 and full.evaluations == 82
    assert full.upper - full.lower == pytest.approx(17.0 ** -5)


def test_breakevens_table(deal):
    res = breakevens(deal, ("cumulative_default_rate", "cdr"))
    assert [r.tranche for r in res] == ["优先A", "优先A"]  # the subordinate is not rated


def test_largest_obligor_example(deal4):
    res = largest_obligor_test(deal4, counts=(1, 2, 3), recoveries=(0.0,))
    df = res.frame()
    senior = df[df["tranche"] == "优先A"].set_index("case")
    expect = {  # case: (obligors, exposure, senior loss, min coverage)
        "top 1, zero recovery, support on": ("A", 3_000_000, 0.0, 1.40),
        "top 2, zero recovery, support on": ("A, B", 5_500_000, 0.0, 0.90),
        "top 3, zero recovery, support on": ("A, B, C", 8_000_000, 2_000_000, 0.40),
        "top 1, zero recovery, support off": ("A", 3_000_000, 0.0, 1.40),
        "top 2, zero recovery, support off": ("A, B", 5_500_000, 500_000, 0.90),
        "top 3, zero recovery, support off": ("A, B, C", 8_000_000, 3_000_000, 0.40),
    }
    assert list(senior.index) == list(expect)
    for case, (ids, exposure, loss, cov) in expect.items():
        row = senior.loc[case]
        assert row["obligor_ids"] == ids and row["defaulted_exposure"] == exposure
        assert row["loss"] == pytest.approx(loss, abs=0.005)
        assert row["repaid_in_full"] == (loss == 0.0)
        assert row["min_coverage_ratio"] == pytest.approx(cov, abs=1e-12)
    on, off = obligors_breaking(deal4), obligors_breaking(deal4, support=False)
    assert (on.k, on.obligor_ids) == (3, ("A", "B", "C"))
    assert (off.k, off.obligor_ids) == (2, ("A", "B"))
