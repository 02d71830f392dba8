"""Collection periods apart from payment dates (``[deal.collection]``): the hand-worked example of
docs/methodology/projection.md §6 (a 91-day collection period under a 102-day payment period) read from the page
and asserted to the fen through the deterministic engine, a Monte Carlo path and the batch engine; the rules that
build the 计算日; and the default calendar equal to the payment grid."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest

from ipabs.api import compile_scenario, load_scenario, run_deterministic
from ipabs.compile.schedule import build_deal_schedule
from ipabs.errors import ScenarioError
from ipabs.scenario.schema import CollectionCalendar, DealTerms

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "methodology" / "projection.md"
SECTION = DOC.read_text("utf-8").split("## 6. Worked example: a collection calendar", 1)[1]

SMM1 = 1.0 - 0.9 ** (91 / 365)
G = 1.0 - SMM1
# pool rows: (balance start, interest, principal incl. prepayment, prepayment, defaults, recoveries, balance end)
POOL = [
    (14_000_000.00, 149_589.04, 5_129_629.81, 129_629.81, 4_000_000.00, 0.00, 4_870_370.19),
    (4_870_370.19, 73_656.01, 4_870_370.19, 0.00, 0.00, 2_000_000.00, 0.00),
]
# waterfall rows: (fee, senior interest, senior principal, senior balance end, sub principal, sub balance end)
WATERFALL = [
    (10_200.00, 92_219.18, 5_176_799.67, 5_823_200.33, 0.00, 3_000_000.00),
    (9_100.00, 43_554.35, 5_823_200.33, 0.00, 1_068_171.52, 1_931_828.48),
]
CASH_IN = [5_279_218.85, 6_944_026.20]


def block(kind: str) -> str:
    m = re.search(rf"```{kind}\n(.*?)```", SECTION, re.S)
    assert m, f"no ```{kind} block in the worked example"
    return m.group(1)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("collection_calendar")
    (folder / "pool.csv").write_text(block("csv"), encoding="utf-8")
    (folder / "example.toml").write_text(block("toml"), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def example(files):
    return run_deterministic(files / "example.toml")


def test_the_hand_formulas_give_the_page_numbers():
    assert round(10_000_000 * 0.06 * 91 / 365, 2) == 149_589.04
    assert round(SMM1 * 5_000_000, 2) == 129_629.81
    assert round(G * 5_000_000 * 0.06 * 92 / 365, 2) == 73_656.01
    assert round(11_000_000 * 0.03 * 102 / 365, 2) == 92_219.18
    assert round(36_500 * 102 / 365, 2) == 10_200.00


def test_the_calendar_has_a_91_day_collection_period_under_a_102_day_payment_period(example):
    sched = example.deal.schedule
    assert sched.payment_dates == (dt.date(2026, 7, 27), dt.date(2026, 10, 26))  # 26 July 2026 is a Sunday
    assert sched.collection_ends == (dt.date(2026, 6, 30), dt.date(2026, 9, 30))
    assert sched.collection_bounds[0] == dt.date(2026, 3, 31)
    assert list(np.rint(example.deal.waterfall.yf * 365)) == [102, 91]
    assert list(np.rint(example.deal.pool.pool_yf * 365)) == [91, 92]
    assert example.deal.pool.pool_yf[0] == 91 / 365
    assert example.deal.pool_balance == 14_000_000.0
    assert not example.deal.warnings


def _assert_pool(pf, t: int) -> None:
    start, interest, principal, prepay, defaults, rec, end = POOL[t]
    assert pf.bal_start[t] == pytest.approx(start, abs=0.005)
    assert pf.interest[t] == pytest.approx(interest, abs=0.005)
    assert pf.principal[t] == pytest.approx(principal, abs=0.005)
    assert pf.prepayment[t] == pytest.approx(prepay, abs=0.005)
    assert pf.defaults[t] == pytest.approx(defaults, abs=0.005)
    assert pf.recoveries[t] == pytest.approx(rec, abs=0.005)
    assert pf.bal_end[t] == pytest.approx(end, abs=0.005)


def _assert_waterfall(out, t: int) -> None:
    fee, s_int, s_prin, s_end, sub_prin, sub_end = WATERFALL[t]
    assert out.cash_in[t] == pytest.approx(CASH_IN[t], abs=0.005)
    assert out.fee_paid[t, 0] == pytest.approx(fee, abs=0.005)
    assert out.tr_int_paid[t, 0] == pytest.approx(s_int, abs=0.005)
    assert out.tr_prin_paid[t, 0] == pytest.approx(s_prin, abs=0.005)
    assert out.tr_bal_end[t, 0] == pytest.approx(s_end, abs=0.005)
    assert out.tr_prin_paid[t, 1] == pytest.approx(sub_prin, abs=0.005)
    assert out.tr_bal_end[t, 1] == pytest.approx(sub_end, abs=0.005)


@pytest.mark.parametrize("t", [0, 1])
def test_the_deterministic_engine_gives_the_page_to_the_fen(example, t):
    _assert_pool(example.pool, t)
    _assert_waterfall(example.out, t)


def test_the_page_tables_hold_the_engine_numbers():
    text = SECTION
    for row in WATERFALL:
        for x in row:
            assert f"{x:,.2f}" in text
    for x in CASH_IN:
        assert f"{x:,.2f}" in text


def test_a_monte_carlo_path_with_f2_defaulting_in_period_1_gives_the_page_to_the_fen(example):
    from ipabs.engine.montecarlo import prepare, trace_path

    deal = example.deal
    prep = prepare(deal)
    # F1 has PD 0 (never defaults); F2's PD is 0.999999, so nearly every path has it default in period 1
    found = 0
    for p in range(8):
        tr = trace_path(deal, 11, p, prepared=prep)
        if list(tr.obligor_default_period) != [2, 0]:
            continue
        found += 1
        for t in (0, 1):
            _assert_pool(tr.pool, t)
            _assert_waterfall(tr.waterfall, t)
    assert found >= 4


def test_the_batch_engine_gives_the_page_to_the_fen(example):
    from ipabs.structuring.batch import ScenarioTable, run_batch

    deal = example.deal
    res = run_batch(deal, ScenarioTable.from_assumptions(deal, [deal.scenario.assumptions]))
    assert res.interest_paid[0, 0] == pytest.approx(92_219.18 + 43_554.35, abs=0.01)
    assert res.principal_paid[0, 0] == pytest.approx(11_000_000.00, abs=0.005)
    assert res.principal_paid[0, 1] == pytest.approx(1_068_171.52, abs=0.005)
    assert res.loss[0, 1] == pytest.approx(1_931_828.48, abs=0.005)
    assert res.pool_defaults[0] == pytest.approx(4_000_000.00, abs=0.005)
    assert res.pool_recoveries[0] == pytest.approx(2_000_000.00, abs=0.005)


def test_a_cdr_is_converted_to_the_collection_period_length(example):
    deal = example.deal
    a = deal.scenario.assumptions.model_copy(update={"cdr": 0.10, "cpr": 0.0, "obligor_defaults": []})
    from ipabs.engine.deterministic import run_deterministic_arrays

    pf, _ = run_deterministic_arrays(deal, a)
    assert pf.defaults[0] == pytest.approx(14_000_000 * (1 - 0.9 ** (91 / 365)), abs=0.005)
    assert round(pf.defaults[0], 2) == 362_963.47
    g1 = 0.9 ** (91 / 365)
    assert pf.defaults[1] == pytest.approx(g1 * 9_000_000 * (1 - 0.9 ** (92 / 365)), abs=0.005)


def test_the_reference_twin_gives_the_page_to_the_fen(example):
    from ipabs.reference.waterfall import run_path as twin_run_path

    twin = twin_run_path(example.deal)
    for t, (fee, s_int, s_prin, _end, sub_prin, sub_end) in enumerate(WATERFALL):
        per = twin.periods[t]
        assert per.fee_paid["管理费"] == pytest.approx(fee, abs=0.005)
        assert per.interest_paid["优先A"] == pytest.approx(s_int, abs=0.005)
        assert per.principal_paid["优先A"] == pytest.approx(s_prin, abs=0.005)
        assert per.principal_paid["次级"] == pytest.approx(sub_prin, abs=0.005)
        assert per.balance_end["次级"] == pytest.approx(sub_end, abs=0.005)


def _terms(**collection) -> DealTerms:
    return DealTerms(name="x", cutoff_date=dt.date(2026, 3, 31), closing_date=dt.date(2026, 4, 16),
                     first_payment_date=dt.date(2026, 7, 26), legal_maturity=dt.date(2027, 4, 26),
                     collection=CollectionCalendar(**collection) if collection else None)


def test_period_end_rules_and_explicit_dates_build_the_same_calendar():
    want = (dt.date(2026, 6, 30), dt.date(2026, 9, 30), dt.date(2026, 12, 31), dt.date(2027, 3, 31))
    for rule in ({"period_end": "quarter_end"}, {"period_end": "month_end"}, {"period_end": 31},
                 {"payment_lag_days": 26}, {"dates": list(want)}):
        assert build_deal_schedule(_terms(**rule)).collection_ends == want, rule
    assert build_deal_schedule(_terms(period_end=15)).collection_ends == (
        dt.date(2026, 7, 15), dt.date(2026, 10, 15), dt.date(2027, 1, 15), dt.date(2027, 4, 15))
    # a day beyond a month's length is clamped to its last day (2027-02-28)
    s = build_deal_schedule(DealTerms(name="x", cutoff_date=dt.date(2026, 12, 31), closing_date=dt.date(2027, 1, 5),
                                      first_payment_date=dt.date(2027, 3, 10), legal_maturity=dt.date(2027, 3, 10),
                                      payment_frequency="monthly", holidays=[dt.date(2027, 1, 1)],
                                      collection=CollectionCalendar(period_end=30)))
    assert s.collection_ends == (dt.date(2027, 2, 28),)
    assert s.pool_yf[0] == 59 / 365


def test_the_default_calendar_is_the_payment_grid_bit_for_bit():
    s = build_deal_schedule(_terms())
    assert s.collection_ends == s.payment_dates
    assert s.pool_yf is s.year_fractions
    deal = compile_scenario(load_scenario(ROOT / "scenarios" / "ganzhou_pledge_2026.toml"))
    assert deal.pool.pool_yf.tobytes() == deal.waterfall.yf.tobytes()


@pytest.mark.parametrize("collection, msg", [
    ({"dates": [dt.date(2026, 6, 30)]}, "1 collection dates for 4 payment dates"),
    ({"dates": [dt.date(2026, 8, 30), dt.date(2026, 9, 30), dt.date(2026, 12, 31), dt.date(2027, 3, 31)]},
     "after its payment date"),
    ({"payment_lag_days": 200}, "not after 2026-03-31"),
])
def test_impossible_calendars_are_scenario_errors(collection, msg):
    with pytest.raises(ScenarioError, match=msg):
        build_deal_schedule(_terms(**collection))


@pytest.mark.parametrize("bad", [{}, {"period_end": 0}, {"period_end": "quarter_end", "payment_lag_days": 3},
                                 {"dates": [dt.date(2026, 6, 30), dt.date(2026, 6, 30)]}])
def test_a_collection_table_gives_exactly_one_valid_rule(bad):
    with pytest.raises(ValueError):
        CollectionCalendar(**bad)


def test_the_sample_deal_with_collection_ends_before_payment_changes_only_the_pool_clock():
    deal = compile_scenario(load_scenario(ROOT / "scenarios" / "ganzhou_pledge_2026.toml"))
    terms = deal.scenario.deal.model_copy(update={"collection": CollectionCalendar(payment_lag_days=20)})
    sched = build_deal_schedule(terms)
    assert sched.payment_dates == deal.schedule.payment_dates
    assert sched.year_fractions.tobytes() == deal.schedule.year_fractions.tobytes()
    assert all(c < p for c, p in zip(sched.collection_ends, sched.payment_dates, strict=True))
    assert dataclasses.is_dataclass(sched)


def test_the_cli_validates_and_runs_the_example_and_names_the_collection_periods(files, capsys, tmp_path):
    from ipabs.cli import main

    assert main(["validate", str(files / "example.toml")]) == 0
    text = capsys.readouterr().out
    assert "计算日) 2026-06-30 .. 2026-09-30" in text and "from the cut-off 2026-03-31" in text
    assert main(["run", str(files / "example.toml"), "--paths", "0", "--quiet", "--out", str(tmp_path / "o")]) == 0
    import pandas as pd

    cf = pd.read_parquet(tmp_path / "o" / "cashflows.parquet")
    senior = cf[cf["tranche"] == "优先A"]
    assert senior["interest_paid"].round(2).tolist() == [92_219.18, 43_554.35]
