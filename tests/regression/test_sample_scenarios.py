"""Conventions of the sample scenarios in scenarios/ (issue 2, item 9; STYLE §2 item 27)."""

from __future__ import annotations

import tomllib

import golden
import pytest

from ipabs.api import compile_scenario, load_scenario, run_deterministic
from ipabs.scenario.schema import Assumptions

SCENARIOS = golden.deal_scenarios()
IDS = [p.stem for p in SCENARIOS]


def test_the_four_sample_deals_are_there():
    assert {"ganzhou_pledge_2026", "licence_relicence_2026", "ip_lease_2026", "interbank_abn_2026"} <= set(IDS)


@pytest.mark.parametrize("path", SCENARIOS, ids=IDS)
def test_a_sample_scenario_says_it_is_synthetic_in_its_header(path):
    header = "".join(line for line in path.read_text("utf-8").splitlines(keepends=True)[:12] if line.startswith("#"))
    assert "SYNTHETIC" in header


@pytest.mark.parametrize("path", SCENARIOS, ids=IDS)
def test_a_sample_scenario_lists_holidays_for_every_year_after_2026_and_names_its_pd_source(path):
    doc = tomllib.loads(path.read_text("utf-8"))
    years = {d.year for d in doc["deal"].get("holidays", [])}
    needed = set(range(2027, doc["deal"]["legal_maturity"].year + 1))
    assert needed <= years, f"no holidays for {sorted(needed - years)}"
    assert doc.get("simulation", {}).get("rating_table") or "pd" in doc.get("pool", {}), "no PD source"


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=IDS)
def test_with_no_defaults_a_sample_deal_repays_every_tranche_with_no_interest_shortfall(path):
    deal = compile_scenario(load_scenario(path))
    assert not deal.warnings, deal.warnings
    res = run_deterministic(deal, Assumptions())
    for row in res.tranche_summary():
        assert row["loss"] == pytest.approx(0.0, abs=0.01), row["name"]
        assert row["interest_shortfall"] == pytest.approx(0.0, abs=0.01), row["name"]
        assert row["principal_paid"] == pytest.approx(row["original_balance"], abs=0.01)
    assert set(res.out.state) == {0}, "a trigger fires with no defaults"
    assert res.out.sup_draw.sum() == 0.0
