"""The printed output of ``ipabs run`` (issue 15, item 4): units on every amount column of the tranche table, the
subordinate tranche's yield labelled as its residual yield, and a first run's compile of the kernels said and
timed apart from the simulation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ipabs import cli_deal
from ipabs.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_A = ROOT / "scenarios" / "ganzhou_pledge_2026.toml"

ROWS = [
    {"name": "优先A", "seniority": "senior", "original_balance": 190_000_000.0, "coupon": 0.028, "wal_years": 1.2,
     "yield": 0.0281, "modified_duration": 1.1, "loss": 0.0},
    {"name": "次级", "seniority": "subordinate", "original_balance": 10_000_000.0, "coupon": 0.0, "wal_years": 2.0,
     "yield": 0.081, "modified_duration": 1.8, "loss": 0.0},
]
MC = [{"expected_loss": 1e-6, "expected_loss_se": 1e-6, "default_probability": 0.0, "default_probability_se": 0.0},
      {"expected_loss": 0.1, "expected_loss_se": 0.01, "default_probability": 0.2, "default_probability_se": 0.01}]


def test_every_amount_column_of_the_tranche_table_carries_its_unit():
    table = cli_deal.tranche_table(ROWS, MC)
    amounts = [c for c in table.columns if "balance" in c or "loss" in c and "EL" not in c]
    assert amounts and all("(yuan)" in c for c in amounts), list(table.columns)


def test_the_subordinate_yield_is_labelled_as_the_residual_yield():
    table = cli_deal.tranche_table(ROWS, MC)
    assert table["yield"].iloc[1].endswith("residual")
    assert not table["yield"].iloc[0].endswith("residual")


def test_the_run_prints_units_and_the_residual_note(tmp_path, capsys):
    code = main(["run", str(SCENARIO_A), "--paths", "200", "--out", str(tmp_path / "a"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "balance (yuan)" in out and "base loss (yuan)" in out
    assert "residual yield" in out


def test_a_cold_kernel_cache_is_announced_and_its_compile_timed_apart(tmp_path, capsys, monkeypatch):
    """The CLI's wiring: a cold cache (kernels_cold) prints the compile notice on stderr and the compile time apart
    from the simulation's (the engine's meta)."""
    from ipabs import api
    from ipabs.engine import montecarlo

    monkeypatch.setattr(api, "kernels_cold", lambda: True)
    real = montecarlo.simulate

    def cold_simulate(*a, **k):
        mc = real(*a, **k)
        mc.meta.update(kernels_cold=True, compile_seconds=29.5)
        return mc

    monkeypatch.setattr(montecarlo, "simulate", cold_simulate)
    code = main(["run", str(SCENARIO_A), "--paths", "200", "--out", str(tmp_path / "a")])
    captured = capsys.readouterr()
    assert code == 0
    assert "compiling the Monte Carlo kernels" in captured.err
    line = next(x for x in captured.out.splitlines() if x.startswith("Monte Carlo:"))
    assert "plus 29.5 s compiling the kernels" in line


def test_a_warm_run_says_nothing_about_compiling(tmp_path, capsys):
    main(["run", str(SCENARIO_A), "--paths", "200", "--out", str(tmp_path / "a"), "--quiet"])  # warm
    code = main(["run", str(SCENARIO_A), "--paths", "200", "--out", str(tmp_path / "b")])
    captured = capsys.readouterr()
    assert code == 0 and "compiling" not in captured.err + captured.out


@pytest.mark.slow
def test_the_first_run_with_an_empty_numba_cache_says_it_is_compiling(tmp_path):
    """End to end in a fresh process with an empty numba cache (takes the 30-60 s of a first compile)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "ipabs.cli", "run", str(SCENARIO_A), "--paths", "2000", "--out",
                           str(tmp_path / "out")], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "compiling the Monte Carlo kernels" in proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("Monte Carlo:"))
    assert "s compiling the kernels, once" in line, line
