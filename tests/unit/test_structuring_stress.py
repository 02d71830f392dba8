"""Stress grids on the batch deterministic engine: grid shapes, the grid equals its cells run one at a time,
monotonicity in the default multiplier, tornado and heat-map data, TOML grid files and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ipabs.api import compile_scenario, load_scenario
from ipabs.errors import Cancelled, InputError
from ipabs.structuring.batch import run_batch
from ipabs.structuring.stress import (
    AGENCY_STRESSES,
    AXES,
    MARKET_PRACTICE,
    StressGrid,
    StressResult,
    agency_grid,
    axis_label,
    grid_cells,
    months_to_periods,
    named_stresses_from_toml,
    run_cells,
    run_stress_grid,
    scenario_table,
    tornado_cells,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="module")
def licence():
    """Three tranches, quarterly, no external support."""
    return compile_scenario(load_scenario(SCENARIOS / "licence_relicence_2026.toml"))


@pytest.fixture(scope="module")
def ganzhou():
    """Scenario (a): bullet senior with a guarantor's shortfall commitment and a cumulative-default trigger."""
    return compile_scenario(load_scenario(SCENARIOS / "ganzhou_pledge_2026.toml"))


def test_grid_shape_is_the_product_of_its_axes_and_the_last_axis_runs_fastest(licence):
    g = StressGrid(default_multiplier=(1.0, 2.0, 3.0), recovery_haircut=(0.0, 0.3), cpr=(0.0, 0.1))
    cells = grid_cells(licence, g)
    assert len(g) == len(cells) == 12
    assert [c.index for c in cells] == list(range(12))
    assert [c.values["cpr"] for c in cells[:4]] == [0.0, 0.1, 0.0, 0.1]
    assert [c.values["default_multiplier"] for c in cells[::4]] == [1.0, 2.0, 3.0]
    res = run_cells(licence, cells, engine="deterministic")
    k = len(licence.names.tranches)
    assert len(res.table) == 12 * k
    assert list(res.table.columns[:2 + len(AXES)]) == ["cell", "label", *AXES]
    assert set(res.table["tranche"]) == set(licence.names.tranches)


def test_axes_are_applied_as_documented(licence, ganzhou):
    a = licence.scenario.assumptions
    (c,) = grid_cells(licence, StressGrid(default_multiplier=(2.0,), recovery_haircut=(0.3,),
                                          recovery_lag_months=(12,), cpr=(0.2,)))
    assert c.assumptions.default_multiplier == a.default_multiplier * 2.0
    assert c.assumptions.recovery_multiplier == pytest.approx(a.recovery_multiplier * 0.7)
    assert c.assumptions.recovery_lag_periods == a.recovery_lag_periods + 4  # quarterly: 12 months = 4 periods
    assert c.assumptions.cpr == 0.2
    sim = licence.scenario.simulation
    assert c.simulation["disposal_cost_rate"] == pytest.approx(1 - (1 - sim.disposal_cost_rate) * 0.7)
    assert months_to_periods(licence, 12) == 4 and months_to_periods(licence, 13) == 5
    # support default: every provider off from period 0 in the deterministic table
    (s,) = grid_cells(ganzhou, StressGrid(support_default=(True,)))
    assert (scenario_table(ganzhou, [s]).support_default_period == 0).all()


def test_deterministic_grid_equals_its_cells_run_one_at_a_time(ganzhou):
    g = StressGrid(default_multiplier=(1.0, 3.0), recovery_haircut=(0.0, 0.3), recovery_lag_periods=(0, 4),
                   support_default=(False, True))
    cells = grid_cells(ganzhou, g)
    whole = run_cells(ganzhou, cells, engine="deterministic")
    one_by_one = StressResult.concat([run_cells(ganzhou, [c], engine="deterministic") for c in cells])
    assert whole.table.equals(one_by_one.table)
    # and each cell equals run_batch on that cell's own table
    for i in (0, 5, 15):
        r = run_batch(ganzhou, scenario_table(ganzhou, [cells[i]]))
        assert np.array_equal(r.loss[0], whole.batch.loss[i])
    # a range of cells of the grid gives the same rows
    part = run_cells(ganzhou, range(4, 9), engine="deterministic", grid=g)
    assert part.table.reset_index(drop=True).equals(
        whole.table[whole.table["cell"].between(4, 8)].reset_index(drop=True))


@pytest.mark.parametrize("name", ["licence_relicence_2026", "interbank_abn_2026", "ip_lease_2026",
                                  "ganzhou_pledge_2026"])
def test_more_defaults_never_lower_any_tranche_loss_deterministically_without_support(name):
    """Monotone in the default multiplier, every tranche, with the support provider off (support_default)."""
    deal = compile_scenario(load_scenario(SCENARIOS / f"{name}.toml"))
    mult = tuple(float(x) for x in np.linspace(0.0, 12.0, 25))
    for haircut in (0.0, 0.3):
        res = run_stress_grid(deal, StressGrid(default_multiplier=mult, recovery_haircut=(haircut,),
                                               support_default=(True,)), engine="deterministic")
        loss = res.batch.loss
        assert (np.diff(loss, axis=0) >= -1e-6).all(), np.diff(loss, axis=0).min(axis=0)
        ok = res.batch.repaid_in_full()
        assert (np.diff(ok.astype(int), axis=0) <= 0).all(), "once broken a tranche stays broken"


def test_with_a_shortfall_commitment_the_subordinate_loss_is_not_monotone(ganzhou):
    """Why the monotonicity above is stated without support: in scenario (a) the guarantor pays the senior's
    shortfall, and the pool's later recoveries (more with more defaults) then reach the subordinate, whose loss
    falls as defaults rise past the point where the guarantor is drawn. Documented in structuring-stress.md."""
    res = run_stress_grid(ganzhou, StressGrid(default_multiplier=(3.0, 4.0, 8.0)), engine="deterministic")
    sub = res.batch.loss[:, ganzhou.names.tranches.index("次级")]
    assert sub[2] < sub[1]
    assert res.batch.support_draws[2].sum() > res.batch.support_draws[1].sum() > 0
    assert (res.batch.loss[:, 0] <= 1e-6).all()  # the senior is whole throughout


def test_tornado_and_heatmap_data(licence):
    g = StressGrid(default_multiplier=(1.0, 1.5, 3.0), recovery_haircut=(0.0, 0.3), recovery_lag_months=(0, 12),
                   cpr=(licence.scenario.assumptions.cpr, 0.2))
    cells = tornado_cells(licence, g)
    assert len(cells) == 1 + 2 + 1 + 1 + 1
    res = run_cells(licence, cells, engine="deterministic")
    tor = res.tornado("loss")
    k = len(licence.names.tranches)
    assert len(tor) == 4 * k
    sub = tor[tor["tranche"] == "次级"]
    assert list(sub["swing"]) == sorted(sub["swing"], reverse=True)
    row = sub[sub["axis"] == "default_multiplier"].iloc[0]
    assert row["low_value"] == 1.5 and row["high_value"] == 3.0 and row["delta_high"] > 0
    full = run_stress_grid(licence, g, engine="deterministic")
    assert full.tornado("loss").equals(tor)  # the full grid holds the same one-at-a-time cells
    hm = full.heatmap("default_multiplier", "recovery_haircut", "次级", "loss")
    assert hm.shape == (2, 3)
    assert list(hm.columns) == [1.0, 1.5, 3.0] and list(hm.index) == [0.0, 0.3]
    with pytest.raises(ValueError, match="base cell"):
        run_cells(licence, grid_cells(licence, StressGrid(default_multiplier=(2.0, 3.0))),
                  engine="deterministic").tornado()


def test_progress_reports_and_cancels(licence):
    seen = []
    run_cells(licence, grid_cells(licence, StressGrid(default_multiplier=(1.0, 2.0))), engine="deterministic",
              progress=lambda d, n: seen.append((d, n)))
    assert seen[-1] == (2, 2)

    def stop(d, n):
        raise Cancelled("stop")

    with pytest.raises(Cancelled):
        run_cells(licence, grid_cells(licence, StressGrid(default_multiplier=(1.0, 2.0))), engine="deterministic",
                  progress=stop)


def test_correlation_is_refused_on_the_deterministic_engine(licence):
    with pytest.raises(InputError, match="Monte Carlo axis"):
        run_stress_grid(licence, StressGrid(correlation=(0.1, 0.3)), engine="deterministic")


def test_presets_are_labelled_market_practice():
    assert MARKET_PRACTICE == "market practice, DOMAIN.md §5 [U]"
    assert all(s.source == MARKET_PRACTICE for s in AGENCY_STRESSES)
    g = agency_grid()
    assert g.source == MARKET_PRACTICE
    assert g.default_multiplier == (1.0, 1.5, 2.0, 3.0) and g.recovery_haircut == (0.0, 0.3)
    assert g.recovery_lag_months == (0, 12) and g.cpr == (0.0, 0.1, 0.2)
    keys = {s.key for s in AGENCY_STRESSES}
    assert {"default_x1.5", "default_x2", "default_x3", "recovery_-30%", "lag_+12m", "cpr_0%", "cpr_20%"} <= keys


def test_axis_labels_come_from_the_glossary():
    assert axis_label("default_multiplier", "zh") == "违约率倍数"
    assert axis_label("support_default", "en") == "support provider in default"
    assert all(axis_label(a, "zh") != f"stress_axis_{a}" for a in AXES)


def test_the_example_grid_file_loads():
    g = StressGrid.from_toml(SCENARIOS / "stress_grid_example.toml")
    assert g.source == MARKET_PRACTICE
    assert len(g) == 4 * 2 * 2 * 3 * 2
    assert g.axes == ("default_multiplier", "recovery_haircut", "recovery_lag_periods", "cpr", "support_default")


def test_named_stresses_from_the_example_file():
    stresses = named_stresses_from_toml(SCENARIOS / "stress_grid_example.toml")
    assert [s.key for s in stresses] == ["base", "default_x2", "recovery_-30%_lag_+12m", "guarantor_default"]
    assert stresses[0].is_base and stresses[0].source == "scenario base case"
    assert stresses[2].recovery_haircut == 0.3 and stresses[2].recovery_lag_months == 12
    assert stresses[3].support_default and stresses[3].source == MARKET_PRACTICE


@pytest.mark.parametrize(("body", "table", "field", "message"), [
    ('[[stress]]\nkey = "a"\n', "stress[0]", "source", "missing source"),
    ('[[stress]]\nsource = "s"\n', "stress[0]", "key", "missing key"),
    ('[[stress]]\nkey = "a"\nsource = "s"\n[[stress]]\nkey = "a"\nsource = "s"\n', "stress[1]", "key",
     "duplicate"),
    ('[[stress]]\nkey = "a"\nsource = "s"\nrecovery_haircut = 1.3\n', "stress[0]", "recovery_haircut", "outside"),
    ('[[stress]]\nkey = "a"\nsource = "s"\nlag = 3\n', "stress[0]", "lag", "unknown key"),
    ('[grid]\ncpr = [0.1]\n', "stress", None, "missing [[stress]]"),
])
def test_named_stress_errors_name_the_file_table_and_field(tmp_path, body, table, field, message):
    p = tmp_path / "stresses.toml"
    p.write_text(body, encoding="utf-8")
    with pytest.raises(InputError) as e:
        named_stresses_from_toml(p)
    assert any(i.file == str(p) and i.table == table and i.field == field and message in i.message
               for i in e.value.issues), str(e.value)


@pytest.mark.parametrize(("body", "field", "message"), [
    ("[grid]\ndefault_multiplier = [1.0, -2.0]\n", "default_multiplier", "outside"),
    ("[grid]\ndefault_multipler = [1.0]\n", "default_multipler", "unknown key"),
    ("[grid]\nrecovery_haircut = 0.3\n", "recovery_haircut", "non-empty list"),
    ("[grid]\nsupport_default = [1, 0]\n", "support_default", "not true or false"),
    ("[grid]\nrecovery_lag_months = [0, 1.5]\n", "recovery_lag_months", "not a whole number"),
    ("[grid]\nrecovery_lag_months = [0]\nrecovery_lag_periods = [0]\n", "recovery_lag_months", "not both"),
    ("[grid]\ncpr = [0.1, 0.1]\n", "cpr", "repeat"),
    ("version = 2\n[grid]\ncpr = [0.1]\n", "version", "unsupported version"),
    ("[grids]\ncpr = [0.1]\n", "grids", "unknown table"),
])
def test_grid_file_errors_name_the_file_and_the_field(tmp_path, body, field, message):
    p = tmp_path / "bad_grid.toml"
    p.write_text(body, encoding="utf-8")
    with pytest.raises(InputError) as e:
        StressGrid.from_toml(p)
    text = str(e.value)
    assert str(p) in text and f"field '{field}'" in text and message in text, text
    assert any(i.file == str(p) and i.field == field for i in e.value.issues)


def test_grid_file_that_is_not_toml(tmp_path):
    p = tmp_path / "g.toml"
    p.write_text("[grid\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a UTF-8 TOML file"):
        StressGrid.from_toml(p)
    with pytest.raises(InputError, match="file not found"):
        StressGrid.from_toml(tmp_path / "missing.toml")
