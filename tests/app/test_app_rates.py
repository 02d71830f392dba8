"""The app runs a scenario with Hull–White index paths (``simulation.rates``) end to end: uploaded with its tape,
run, and the index paths' chart and table shown beside the tranche statistics (issue 14)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "oracle"))

from test_apptest import no_exception, run_deal, start, upload_scenario  # noqa: E402
from test_mc_rates import scenario_text  # noqa: E402


@pytest.mark.slow
def test_an_uploaded_scenario_with_simulated_index_paths_runs_and_shows_them() -> None:
    tape = (ROOT / "scenarios" / "tapes" / "abn_pool.csv").read_bytes()
    text = scenario_text(0.008).replace('tape = "tapes/abn_pool.csv"', 'tape = "abn_pool.csv"')
    at = upload_scenario(start(), ("hw.toml", text.encode("utf-8")), ("abn_pool.csv", tape))
    assert not at.error, [e.value for e in at.error]
    run_deal(at)
    no_exception(at)
    tables = [df.value for df in at.dataframe]
    index_tables = [t for t in tables if "基准利率" in t.columns]
    assert index_tables, [list(t.columns) for t in tables]
    ix = index_tables[0]
    assert set(ix["基准利率"]) == {"LPR_1Y"} and len(ix) == 12
    assert (ix["P95 (%)"] >= ix["P5 (%)"]).all() and (ix["P95 (%)"] - ix["P5 (%)"]).iloc[-1] > 1.0


@pytest.mark.slow
def test_the_rate_model_is_set_from_the_monte_carlo_tab() -> None:
    tape = (ROOT / "scenarios" / "tapes" / "abn_pool.csv").read_bytes()
    text = scenario_text(None).replace('tape = "tapes/abn_pool.csv"', 'tape = "abn_pool.csv"')
    at = upload_scenario(start(), ("fwd.toml", text.encode("utf-8")), ("abn_pool.csv", tape))
    assert not at.error, [e.value for e in at.error]
    assert at.number_input(key="f_rate_volatility").value == 0.0
    run_deal(at)
    assert not [df for df in at.dataframe if "基准利率" in df.value.columns], "no simulated paths at σ = 0, no table"
    at.number_input(key="f_rate_mean_reversion").set_value(0.1)
    at.number_input(key="f_rate_volatility").set_value(1.0)  # 100 bp
    run_deal(at)
    no_exception(at)
    assert at.session_state["scn"]["simulation"]["rates"] == {"model": "hull_white", "mean_reversion": 0.1,
                                                              "volatility": 0.01}
    ix = next(df.value for df in at.dataframe if "基准利率" in df.value.columns)
    assert (ix["P95 (%)"] - ix["P5 (%)"]).iloc[-1] > 1.0
