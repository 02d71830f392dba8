"""``conventions.fee_balance``: a ``tranche_balance`` fee on the balances at the start of the payment period (default)
or of the collection period. The hand-worked example of docs/methodology/projection.md §6.1 (the collection-calendar
deal of §6 with a 0.2% trustee fee on 优先A) asserted to the fen through the deterministic engine, a Monte Carlo
path with fixed defaults, the batch engine and the reference twin; the generated waterfall and the Monte Carlo's
restart from the no-default path's saved state agree with the general kernel bit for bit under the convention; the
default is the former behaviour."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ipabs.api import load_scenario
from ipabs.compile.lower import compile_deal
from ipabs.engine.deterministic import run_deterministic_arrays
from ipabs.scenario.schema import Conventions

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "methodology" / "projection.md").read_text("utf-8")
SECTION = PAGE.split("## 6. Worked example: a collection calendar", 1)[1]
WORKED = PAGE.split("### 6.1 ", 1)[1]

# per convention, per period: (trustee fee, senior interest, senior principal, senior balance end, sub principal,
# sub balance end)
HAND = {
    "payment_period_start": [
        (6_147.95, 92_219.18, 5_170_651.73, 5_829_348.27, 0.00, 3_000_000.00),
        (2_906.69, 43_600.33, 5_829_348.27, 0.00, 1_059_070.91, 1_940_929.09),
    ],
    "collection_period_start": [
        (6_147.95, 92_219.18, 5_170_651.73, 5_829_348.27, 0.00, 3_000_000.00),
        (5_484.93, 43_600.33, 5_829_348.27, 0.00, 1_056_492.66, 1_943_507.34),
    ],
}
MODES = list(HAND)


def block(kind: str) -> str:
    return re.search(rf"```{kind}\n(.*?)```", SECTION, re.S).group(1)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fee_balance")
    (folder / "pool.csv").write_text(block("csv"), encoding="utf-8")
    (folder / "example.toml").write_text(block("toml"), encoding="utf-8")
    return load_scenario(folder / "example.toml")


def build(loaded, mode: str | None, assets=None):
    s = loaded.scenario
    fee = s.fees[0].model_copy(update={"name": "受托费", "basis": "tranche_balance", "rate": 0.002,
                                       "annual_amount": None, "tranches": ["优先A"]})
    conv = Conventions() if mode is None else Conventions(fee_balance=mode)
    terms = s.deal.model_copy(update={"conventions": conv})
    return compile_deal(s.model_copy(update={"deal": terms, "fees": [*s.fees, fee]}),
                        loaded.tape.assets if assets is None else assets)


def assert_rows(mode, fee_paid, int_paid, prin_paid, bal_end):
    for t, (fee, s_int, s_prin, s_end, sub_prin, sub_end) in enumerate(HAND[mode]):
        assert fee_paid(t) == pytest.approx(fee, abs=0.005), (mode, t)
        assert int_paid[t, 0] == pytest.approx(s_int, abs=0.005), (mode, t)
        assert prin_paid[t, 0] == pytest.approx(s_prin, abs=0.005), (mode, t)
        assert bal_end[t, 0] == pytest.approx(s_end, abs=0.005), (mode, t)
        assert prin_paid[t, 1] == pytest.approx(sub_prin, abs=0.005), (mode, t)
        assert bal_end[t, 1] == pytest.approx(sub_end, abs=0.005), (mode, t)


def test_the_hand_formulas_and_the_page():
    assert round(0.002 * 11_000_000 * 102 / 365, 2) == 6_147.95
    assert round(0.002 * 5_829_348.27 * 91 / 365, 2) == 2_906.69
    assert round(0.002 * 11_000_000 * 91 / 365, 2) == 5_484.93
    assert round(5_829_348.27 * 0.03 * 91 / 365, 2) == 43_600.33
    for rows in HAND.values():
        for row in rows:
            for x in row[:3] + row[4:5]:
                assert f"{x:,.2f}" in WORKED


def test_the_lag_follows_the_calendar(loaded):
    assert build(loaded, None).waterfall.fee_bal_lag.tolist() == [0, 0]
    # 计算日 1 (30 June) falls before 兑付日 1 (27 July): period 2's fee accrues on the balances before 27 July
    assert build(loaded, "collection_period_start").waterfall.fee_bal_lag.tolist() == [0, 1]
    s = loaded.scenario
    terms = s.deal.model_copy(update={"collection": None, "conventions": Conventions(fee_balance="collection_period_start")})
    default_calendar = compile_deal(s.model_copy(update={"deal": terms}), loaded.tape.assets)
    assert default_calendar.waterfall.fee_bal_lag.tolist() == [0, 0]  # 计算日 = 兑付日: the same balances


@pytest.mark.parametrize("mode", MODES)
def test_the_deterministic_engine_gives_the_page_to_the_fen(loaded, mode):
    _, out = run_deterministic_arrays(build(loaded, mode))
    assert_rows(mode, lambda t: out.fee_paid[t, 1], out.tr_int_paid, out.tr_prin_paid, out.tr_bal_end)
    assert out.fee_paid[:, 0] == pytest.approx([10_200.00, 9_100.00], abs=0.005)


def test_the_default_is_payment_period_start_bit_for_bit(loaded):
    _, a = run_deterministic_arrays(build(loaded, None))
    _, b = run_deterministic_arrays(build(loaded, "payment_period_start"))
    for name in a._fields:
        assert np.asarray(getattr(a, name)).tobytes() == np.asarray(getattr(b, name)).tobytes(), name


@pytest.mark.parametrize("mode", MODES)
def test_a_monte_carlo_path_with_f2_defaulting_in_period_1_gives_the_page_to_the_fen(loaded, mode):
    from ipabs.engine.montecarlo import prepare, trace_path

    deal = build(loaded, mode)
    prep = prepare(deal)
    found = 0
    for p in range(8):
        tr = trace_path(deal, 11, p, prepared=prep)
        if list(tr.obligor_default_period) != [2, 0]:
            continue
        found += 1
        w = tr.waterfall
        assert_rows(mode, lambda t, w=w: w.fee_paid[t, 1], w.tr_int_paid, w.tr_prin_paid, w.tr_bal_end)
    assert found >= 4


@pytest.mark.parametrize("mode", MODES)
def test_the_batch_engine_gives_the_page_to_the_fen(loaded, mode):
    from ipabs.structuring.batch import ScenarioTable, run_batch

    deal = build(loaded, mode)
    res = run_batch(deal, ScenarioTable.from_assumptions(deal, [deal.scenario.assumptions]))
    rows = HAND[mode]
    assert res.interest_paid[0, 0] == pytest.approx(rows[0][1] + rows[1][1], abs=0.01)
    assert res.principal_paid[0, 0] == pytest.approx(11_000_000.00, abs=0.005)
    assert res.principal_paid[0, 1] == pytest.approx(rows[1][4], abs=0.005)
    assert res.loss[0, 1] == pytest.approx(rows[1][5], abs=0.005)


@pytest.mark.parametrize("mode", MODES)
def test_the_reference_twin_gives_the_page_to_the_fen(loaded, mode):
    from ipabs.reference.waterfall import run_path as twin_run_path

    twin = twin_run_path(build(loaded, mode))
    for t, (fee, s_int, s_prin, s_end, sub_prin, sub_end) in enumerate(HAND[mode]):
        per = twin.periods[t]
        assert per.fee_paid["受托费"] == pytest.approx(fee, abs=0.005)
        assert per.interest_paid["优先A"] == pytest.approx(s_int, abs=0.005)
        assert per.principal_paid["优先A"] == pytest.approx(s_prin, abs=0.005)
        assert per.balance_end["优先A"] == pytest.approx(s_end, abs=0.005)
        assert per.principal_paid["次级"] == pytest.approx(sub_prin, abs=0.005)
        assert per.balance_end["次级"] == pytest.approx(sub_end, abs=0.005)


def test_the_restart_and_the_generated_waterfall_carry_the_previous_balances(loaded):
    """F2 defaulting in either period (PD 0.6): a path whose first default is in period 2 restarts from the
    no-default path's saved state at period 2, which must hold the balances at the start of period 1. Every path's
    losses from the Monte Carlo (general and generated waterfalls, both with the restart) equal the same path run
    from period 0 without it (``trace_path``), bit for bit."""
    from ipabs.engine.montecarlo import prepare, simulate, trace_path

    assets = loaded.tape.assets
    if hasattr(assets, "copy") and "pd" in getattr(assets, "columns", ()):
        assets = assets.copy()
        assets.loc[assets["obligor_id"] == "F2", "pd"] = 0.6
    else:  # a list of asset records
        assets = [a.model_copy(update={"pd": 0.6}) if a.obligor_id == "F2" else a for a in assets]
    deal = build(loaded, "collection_period_start", assets)
    prep = prepare(deal)
    n = 48
    g = simulate(deal, n, 7, prepared=prep, waterfall_kernel="general", statistics="full")
    s = simulate(deal, n, 7, prepared=prep, waterfall_kernel="specialised", statistics="full")
    for name in ("loss", "short", "wal", "yld"):
        assert np.asarray(getattr(g, name)).tobytes() == np.asarray(getattr(s, name)).tobytes(), name
    periods = set()
    for p in range(n):
        tr = trace_path(deal, 7, p, prepared=prep)
        periods.add(int(tr.obligor_default_period[1]))
        loss = tr.waterfall.tr_bal_end[-1] / deal.waterfall.tr_bal0
        assert g.loss[p].tobytes() == loss.tobytes(), p
    assert 1 in periods  # some path has F2 default in period 2 (0-based 1: restarted from the saved state)
    # and there the fee of period 2 is on 优先A's face, as the page says, not on its balance after 兑付日 1
    for p in range(n):
        tr = trace_path(deal, 7, p, prepared=prep)
        if int(tr.obligor_default_period[1]) == 1:
            assert tr.waterfall.fee_due[1, 1] == pytest.approx(5_484.93, abs=0.005)
            break
