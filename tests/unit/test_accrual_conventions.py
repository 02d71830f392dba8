"""Accrual conventions (``[deal.conventions]``), each worked by hand on the collection-calendar example of
docs/methodology/projection.md §6 (91-day collection period 1, 102-day payment period 1; 92 and 91 days in period
2) and asserted to the fen through the deterministic engine; the generated waterfall agrees with the general kernel
bit for bit under each convention; the defaults are the former behaviour."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest

from ipabs.api import load_scenario
from ipabs.compile.lower import compile_deal
from ipabs.compile.schedule import asset_calendar, contract_flows, day_counter
from ipabs.engine.deterministic import run_deterministic_arrays
from ipabs.scenario.schema import Conventions, DealTerms

ROOT = Path(__file__).resolve().parents[2]
SECTION = (ROOT / "docs" / "methodology" / "projection.md").read_text("utf-8").split(
    "## 6. Worked example: a collection calendar", 1)[1]
G = 0.9 ** (91 / 365)  # performing fraction after period 1's prepayments (CPR 10% over 91 days)


def block(kind: str) -> str:
    return re.search(rf"```{kind}\n(.*?)```", SECTION, re.S).group(1)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conventions")
    (folder / "pool.csv").write_text(block("csv"), encoding="utf-8")
    (folder / "example.toml").write_text(block("toml"), encoding="utf-8")
    return load_scenario(folder / "example.toml")


def run(loaded, **conventions):
    s = loaded.scenario
    deal_terms = s.deal.model_copy(update={"conventions": Conventions(**conventions)})
    deal = compile_deal(s.model_copy(update={"deal": deal_terms}), loaded.tape.assets)
    pf, out = run_deterministic_arrays(deal)
    return deal, pf, out


def test_the_defaults_are_the_former_conventions(loaded):
    deal, pf, out = run(loaded)
    assert deal.waterfall.note_yf is deal.waterfall.yf or deal.waterfall.note_yf.tobytes() == deal.waterfall.yf.tobytes()
    assert deal.waterfall.fee_yf.tobytes() == deal.waterfall.yf.tobytes()
    assert np.all(deal.waterfall.tr_rate == deal.waterfall.tr_coupon[None, :])
    assert pf.interest[0] == pytest.approx(149_589.04, abs=0.005)
    assert out.tr_int_paid[0, 0] == pytest.approx(92_219.18, abs=0.005)
    assert out.fee_paid[0, 0] == pytest.approx(10_200.00, abs=0.005)


def test_periodic_asset_interest_is_rate_over_payments_per_year(loaded):
    _, pf, _ = run(loaded, asset_interest="periodic")
    assert pf.interest[0] == pytest.approx(10_000_000 * 0.06 / 4, abs=0.005)  # 150,000.00 (day count: 149,589.04)
    assert pf.interest[1] == pytest.approx(G * 5_000_000 * 0.06 / 4, abs=0.005)
    assert round(pf.interest[1], 2) == 73_055.55


def test_day_count_asset_interest_on_a_level_payment_loan():
    cal = asset_calendar(DealTerms(name="x", cutoff_date=dt.date(2026, 1, 1), closing_date=dt.date(2026, 1, 1),
                                   first_payment_date=dt.date(2026, 2, 1), legal_maturity=dt.date(2027, 1, 1)))
    dc = day_counter("act/365f")
    args = (1_200_000.0, 0.12, dt.date(2026, 1, 5), dt.date(2027, 1, 5), "monthly", "level_payment", None, cal, dc)
    contract = contract_flows(*args)
    by_days = contract_flows(*args, "day_count")
    pmt = 1_200_000 * 0.01 / (1 - 1.01 ** -12)
    assert contract[0].interest == pytest.approx(12_000.00, abs=1e-9)  # balance × 12% / 12
    assert contract[0].principal == pytest.approx(pmt - 12_000.0, abs=1e-9)
    days = (contract[0].date - dt.date(2026, 1, 5)).days  # 5 Jan → 5 Feb 2026 (a Thursday): 31 days
    assert days == 31
    assert by_days[0].interest == pytest.approx(1_200_000 * 0.12 * 31 / 365, abs=1e-9)  # 12,230.14
    assert round(by_days[0].interest, 2) == 12_230.14
    assert by_days[0].principal == pytest.approx(pmt - by_days[0].interest, abs=1e-9)  # same instalment A
    assert sum(f.principal for f in by_days) == pytest.approx(1_200_000, abs=1e-6)


def test_unadjusted_asset_dates_stay_on_the_holiday():
    terms = DealTerms(name="x", cutoff_date=dt.date(2026, 1, 1), closing_date=dt.date(2026, 1, 1),
                      first_payment_date=dt.date(2026, 2, 1), legal_maturity=dt.date(2027, 1, 1))
    dc = day_counter("act/365f")
    args = (1_000_000.0, 0.04, dt.date(2026, 7, 1), dt.date(2026, 10, 1), "quarterly", "bullet", None)
    adjusted = contract_flows(*args, asset_calendar(terms), dc)
    raw = contract_flows(*args, asset_calendar(terms.model_copy(
        update={"conventions": Conventions(asset_dates_adjusted=False)})), dc)
    assert raw[0].date == dt.date(2026, 10, 1)  # National Day
    assert adjusted[0].date > dt.date(2026, 10, 7)  # moved past the Golden Week holidays
    assert raw[0].interest == pytest.approx(1_000_000 * 0.04 * 92 / 365, abs=1e-9)


def test_note_interest_in_act_360(loaded):
    deal, pf, out = run(loaded, note_day_count="act/360")
    assert out.tr_int_paid[0, 0] == pytest.approx(11_000_000 * 0.03 * 102 / 360, abs=0.005)  # 93,500.00
    assert round(out.tr_int_paid[0, 0], 2) == 93_500.00
    assert out.tr_int_paid[1, 0] == pytest.approx(out.tr_bal_end[0, 0] * 0.03 * 91 / 360, abs=0.005)
    assert out.fee_paid[0, 0] == pytest.approx(10_200.00, abs=0.005)  # fees keep the deal day count


def test_note_interest_between_unadjusted_dates(loaded):
    _, _, out = run(loaded, note_accrual_dates="unadjusted")
    # 16 April → 26 July 2026 (unadjusted; paid on Monday 27 July): 101 days; then 26 July → 26 October: 92 days
    assert out.tr_int_paid[0, 0] == pytest.approx(11_000_000 * 0.03 * 101 / 365, abs=0.005)
    assert round(out.tr_int_paid[0, 0], 2) == 91_315.07
    assert out.tr_int_paid[1, 0] == pytest.approx(out.tr_bal_end[0, 0] * 0.03 * 92 / 365, abs=0.005)


def test_fees_accrue_over_the_collection_period(loaded):
    _, _, out = run(loaded, fee_accrual="collection_period")
    assert out.fee_paid[0, 0] == pytest.approx(36_500 * 91 / 365, abs=0.005)  # 9,100.00 (payment period: 10,200)
    assert out.fee_paid[1, 0] == pytest.approx(36_500 * 92 / 365, abs=0.005)  # 9,200.00
    assert out.tr_int_paid[0, 0] == pytest.approx(92_219.18, abs=0.005)


@pytest.mark.parametrize("conventions", [
    {"note_day_count": "act/360", "fee_accrual": "collection_period"},
    {"note_accrual_dates": "unadjusted", "asset_interest": "periodic"},
])
def test_the_generated_waterfall_equals_the_kernel_under_the_conventions(loaded, conventions):
    from ipabs.engine.montecarlo import simulate

    s = loaded.scenario
    fees = [s.fees[0].model_copy(update={"name": "受托费", "basis": "tranche_balance", "rate": 0.002, "tranches": ["优先A"]})]
    deal_terms = s.deal.model_copy(update={"conventions": Conventions(**conventions)})
    deal = compile_deal(s.model_copy(update={"deal": deal_terms, "fees": s.fees + fees}), loaded.tape.assets)
    a = simulate(deal, 64, 5, waterfall_kernel="general")
    b = simulate(deal, 64, 5, waterfall_kernel="specialised")
    for name in ("loss", "wal", "yld", "pool_default_rate", "short"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.array_equal(np.asarray(x).view(np.uint8), np.asarray(y).view(np.uint8)), name
