"""``ipabs breakeven | largest-obligor | rate | stress | size``: exit codes, printed tables, the output folder (its
numbers equal the library's)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from ipabs.api import compile_scenario, load_scenario
from ipabs.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_A = ROOT / "scenarios" / "ganzhou_pledge_2026.toml"
DEAL_SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*.toml")
                        if "deal" in tomllib.loads(p.read_text("utf-8")))


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def deal_a():
    return compile_scenario(load_scenario(SCENARIO_A))


def test_breakeven_writes_the_library_numbers_and_prints_every_measure(tmp_path, capsys, deal_a):
    from ipabs.structuring.breakeven import breakeven

    out = tmp_path / "be"
    code, text, err = cli(capsys, "breakeven", SCENARIO_A, "--no-support", "--out", out, "--quiet")
    assert code == 0, err
    for m in ("cdr", "cumulative_default_rate", "recovery_rate", "default_multiplier"):
        assert m in text
    df = pd.read_parquet(out / "breakevens.parquet")
    doc = json.loads((out / "summary.json").read_text("utf-8"))
    assert doc["command"] == "breakeven" and doc["support"] is False
    lib = breakeven(deal_a, "优先A", "cdr", support=False)
    row = df[(df.tranche == "优先A") & (df.measure == "cdr")].iloc[0]
    assert row["value"] == lib.value and bool(row["breaks"]) == lib.breaks
    assert (out / "breakeven.xlsx").exists()


def test_largest_obligor_names_the_obligors_that_break_the_senior_without_support(tmp_path, capsys):
    out = tmp_path / "lo"
    code, text, err = cli(capsys, "largest-obligor", SCENARIO_A, "--out", out, "--quiet")
    assert code == 0, err
    assert "with support: no set of largest obligors breaks the senior" in text
    assert "without support: the 1 largest obligor(s) break the senior: GZ007" in text
    doc = json.loads((out / "summary.json").read_text("utf-8"))
    assert doc["obligors_breaking_senior"]["without_support"]["obligor_ids"] == ["GZ007"]
    df = pd.read_parquet(out / "largest_obligor.parquet")
    assert set(df["obligors"]) == {1, 3, 5}


@pytest.mark.parametrize("args", [["--counts", "0"], ["--counts", "x"], ["--counts", "1,99"]])
def test_largest_obligor_with_bad_counts_is_an_input_error(tmp_path, capsys, args):
    code, _, err = cli(capsys, "largest-obligor", SCENARIO_A, *args, "--out", tmp_path / "x")
    assert code == 2 and "--counts" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
@pytest.mark.parametrize("path", DEAL_SCENARIOS, ids=lambda p: p.stem)
def test_breakeven_and_largest_obligor_run_on_every_sample_scenario(tmp_path, capsys, path):
    assert cli(capsys, "breakeven", path, "--measure", "cdr", "--out", tmp_path / "be", "--quiet")[0] == 0
    assert cli(capsys, "largest-obligor", path, "--out", tmp_path / "lo", "--quiet")[0] == 0


def test_a_missing_scenario_is_an_input_error(tmp_path, capsys):
    code, _, err = cli(capsys, "breakeven", tmp_path / "nope.toml")
    assert code == 2 and "nope.toml" in err


def test_rate_refuses_an_untabulated_horizon_without_the_interpolation_flag(tmp_path, capsys):
    code, _, err = cli(capsys, "rate", SCENARIO_A, "--paths", "500", "--out", tmp_path / "r", "--quiet")
    assert code == 2 and "log_linear" in err
    assert not (tmp_path / "r").exists()


def test_rate_writes_implied_ratings_with_their_labels_and_the_bdr_sdr_table(tmp_path, capsys, deal_a):
    from ipabs.engine.montecarlo import simulate
    from ipabs.structuring.ratings import tranche_ratings

    out = tmp_path / "r"
    code, text, err = cli(capsys, "rate", SCENARIO_A, "--paths", "3000", "--interpolation", "log_linear",
                          "--out", out, "--quiet")
    assert code == 0, err
    assert "AAAsf" in text and "ASSUMPTION mapping" in text and "BDR against SDR" in text
    df = pd.read_parquet(out / "ratings.parquet")
    lib = tranche_ratings(simulate(deal_a, 3000, deal_a.scenario.simulation.seed), deal_a,
                          interpolation="log_linear")
    assert list(df["rating"]) == [r.rating for r in lib]
    assert list(df["value"]) == [r.value for r in lib]
    assert (out / "bdr_vs_sdr.parquet").exists()


def test_stress_writes_the_grid_the_tornado_and_the_prospectus_table(tmp_path, capsys, deal_a):
    from openpyxl import load_workbook

    from ipabs.structuring.stress import StressGrid, run_stress_grid

    grid_file = ROOT / "scenarios" / "stress_grid_example.toml"
    out = tmp_path / "s"
    code, text, err = cli(capsys, "stress", SCENARIO_A, "--grid", grid_file, "--deterministic", "--tornado",
                          "--lang", "zh", "--out", out, "--quiet")
    assert code == 0, err
    df = pd.read_parquet(out / "stress_grid.parquet")
    lib = run_stress_grid(deal_a, StressGrid.from_toml(grid_file), engine="deterministic")
    assert len(df) == len(lib.table) and list(df["loss"]) == list(lib.table["loss"])
    assert (out / "tornado.parquet").exists() and (out / "prospectus.md").exists()
    wb = load_workbook(out / "prospectus.xlsx")
    assert any("压力" in str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row)
    pt = pd.read_parquet(out / "prospectus.parquet")
    assert set(pt["stress"]) >= {"base", "guarantor_default"}


@pytest.mark.slow
def test_a_monte_carlo_stress_grid_on_two_workers_equals_the_local_one(tmp_path, capsys):
    pytest.importorskip("distributed")
    grid = tmp_path / "g.toml"
    grid.write_text('version = 1\n[grid]\ndefault_multiplier = [1.0, 2.0]\nrecovery_haircut = [0.0, 0.3]\n',
                    encoding="utf-8")
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli(capsys, "stress", SCENARIO_A, "--grid", grid, "--paths", "4000", "--out", a, "--quiet")[0] == 0
    assert cli(capsys, "stress", SCENARIO_A, "--grid", grid, "--paths", "4000", "--workers", "2", "--out", b,
               "--quiet")[0] == 0
    pd.testing.assert_frame_equal(pd.read_parquet(a / "stress_grid.parquet"), pd.read_parquet(b / "stress_grid.parquet"))
