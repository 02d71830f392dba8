"""``ipabs subsidy`` and ``ipabs fund`` through :func:`ipabs.cli.main`: outputs, summary and exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook
from policy_helpers import SAMPLE_PIPELINE, SAMPLE_PORTFOLIO

from ipabs.cli import main


def test_the_sample_pipeline_budget_runs_from_the_cli_and_reports_percentiles_with_standard_errors(
        tmp_path: Path, capsys):
    out = tmp_path / "budget"
    rc = main(["subsidy", str(SAMPLE_PIPELINE), "--policy", "ganzhou-2025", "--paths", "300", "--seed", "7",
               "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    assert "P50" in printed and "P99" in printed and "±" in printed and "standard error" in printed
    assert "caps that bind" in printed and "GZ-F05" in printed
    by_year = pd.read_parquet(out / "budget_by_year.parquet")
    assert {"mean", "mean_se", "p50", "p50_se", "p90_se", "p95_se", "p99", "p99_se"} <= set(by_year.columns)
    assert by_year["year"].iloc[-1] == "total"
    paths = pd.read_parquet(out / "paths.parquet")
    assert len(paths) == 300 and list(paths.columns[:2]) == ["path", "2027"]
    planned = pd.read_parquet(out / "entitlements_planned.parquet")
    assert planned["reasons"].str.contains("cap per firm per year").any()
    reasons = pd.read_parquet(out / "reasons_planned.parquet")
    assert reasons["zh"].str.contains("不重复资助").any()
    wb = load_workbook(out / "budget.xlsx", read_only=True)
    assert {"budget_by_year", "firms", "cap_binding", "entitlements_planned"} <= set(wb.sheetnames)
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["seed"] == 7 and prov["n_paths"] == 300 and prov["policy"] == "ganzhou-2025"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary folder left behind"


def test_rerunning_into_the_same_folder_replaces_it_with_identical_numbers(tmp_path: Path, capsys):
    out = tmp_path / "b"
    args = ["subsidy", str(SAMPLE_PIPELINE), "--paths", "200", "--seed", "1", "--out", str(out)]
    assert main(args) == 0
    first = pd.read_parquet(out / "paths.parquet")
    assert main(args) == 0
    assert first.equals(pd.read_parquet(out / "paths.parquet"))


def test_a_bad_pipeline_file_gives_exit_2_naming_the_row_and_field(tmp_path: Path, capsys):
    with open(SAMPLE_PIPELINE, encoding="utf-8") as f:
        r = csv.DictReader(f)
        header, rows = list(r.fieldnames), list(r)
    rows[2]["amount"] = "twelve million"
    bad = tmp_path / "bad.csv"
    with open(bad, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    rc = main(["subsidy", str(bad), "--paths", "10", "--out", str(tmp_path / "never")])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{bad} row 3 field 'amount'" in err
    assert not (tmp_path / "never").exists()


def test_a_bad_policy_file_or_a_missing_lpr_gives_exit_2(tmp_path: Path, capsys):
    pol = tmp_path / "p.toml"
    pol.write_text('name = "p"\ntitle = "t"\njurisdiction = "j"\nsource = "s"\nstatus = "U"\n'
                   'rounding = "down"\n[securitization]\nclause = "c"\nrate = -1\n', encoding="utf-8")
    assert main(["subsidy", str(SAMPLE_PIPELINE), "--policy", str(pol), "--paths", "10"]) == 2
    assert "field 'rate'" in capsys.readouterr().err
    assert main(["subsidy", str(SAMPLE_PIPELINE), "--policy", "beijing-zgc", "--paths", "10"]) == 2
    assert "--lpr" in capsys.readouterr().err
    assert main(["subsidy", str(SAMPLE_PIPELINE), "--policy", "beijing-zgc", "--lpr", "0.030",
                 "--paths", "10"]) == 0


def test_the_fund_runs_from_the_cli(tmp_path: Path, capsys):
    out = tmp_path / "fund"
    rc = main(["fund", str(SAMPLE_PORTFOLIO), "--policy", "zhongshan", "--leverage", "10", "--paths", "300",
               "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0 and "P(exhausted by)" in printed and "supported leverage" in printed
    df = pd.read_parquet(out / "fund_by_year.parquet")
    assert {"draw_mean", "draw_mean_se", "draw_p99", "draw_p99_se", "prob_exhausted_by_year"} <= set(df.columns)
    assert (out / "fund.xlsx").exists() and (out / "leverage.parquet").exists()


def test_the_fund_without_a_size_gives_exit_2(capsys):
    assert main(["fund", str(SAMPLE_PORTFOLIO), "--paths", "10"]) == 2
    assert "fund size" in capsys.readouterr().err


def test_a_failed_write_leaves_the_previous_outputs_untouched(tmp_path: Path):
    import pytest

    from ipabs.policy.io import write_atomic

    out = tmp_path / "res"
    write_atomic(out, lambda d: (d / "a.txt").write_text("old"))

    def boom(d: Path) -> None:
        (d / "a.txt").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(out, boom)
    assert (out / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["res"]
