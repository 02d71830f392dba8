"""``ipabs surveil`` and ``ipabs watchlist``: sample reports run out of the box; bad input exits 2, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ipabs.cli import main

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "scenarios" / "reports"
SAMPLES = {
    "ganzhou_pledge_2026": "2026-10-20",
    "interbank_abn_2026": "2026-12-25",
    "ip_lease_2026": "2027-03-26",
    "licence_relicence_2026": "2027-01-26",
}


def _args(name: str, date: str) -> list[str]:
    return ["surveil", str(ROOT / "scenarios" / f"{name}.toml"), "--report",
            str(REPORTS / f"{name}-servicer-{date}.csv"), "--trustee", str(REPORTS / f"{name}-trustee-{date}.csv"),
            "--as-of", date]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_sample_deal_reprojects_from_its_sample_report(name, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(_args(name, SAMPLES[name]) + ["--paths", "200", "--no-breakeven", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "checks, 0 break(s)" in text and "watchlist:" in text
    assert {p.name for p in out.iterdir() if p.name != ".ipabs-output"} == {
        "surveillance.xlsx", "surveillance.json", "projection.parquet", "monitoring-report.html"}
    meta = json.loads((out / "surveillance.json").read_text(encoding="utf-8"))
    assert meta["as_of"] == SAMPLES[name] and meta["reconciliation_breaks"] == 0
    sheets = pd.read_excel(out / "surveillance.xlsx", sheet_name=None)
    assert {"watchlist", "alerts", "triggers", "tranches", "projection", "reconciliation"} <= set(sheets)


def test_watchlist_over_all_sample_reports_in_chinese(tmp_path, capsys):
    files = [str(REPORTS / f"{n}-servicer-{d}.csv") for n, d in SAMPLES.items()]
    code = main(["watchlist", *files, "--lang", "zh", "--out", str(tmp_path / "w")])
    text = capsys.readouterr().out
    assert code == 0
    assert "watchlist: 11 firm(s)" in text and "资产已违约" in text
    assert (tmp_path / "w" / "watchlist.xlsx").exists()


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\nxxxx"), "PNG"),
    (lambda p: p.write_text("asset_id,colour\nA,red\n"), "unknown column"),
    (lambda p: p.write_bytes(b"asset_id,status\n" + "赣州".encode("utf-16-le") + b"\xff"), "decode|NUL"),
])
def test_a_bad_report_exits_2_with_a_clear_message(tmp_path, capsys, mutate, message):
    p = tmp_path / "bad.csv"
    mutate(p)
    name, date = "ganzhou_pledge_2026", SAMPLES["ganzhou_pledge_2026"]
    args = _args(name, date)
    args[3] = str(p)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert pd.Series([err]).str.contains(message).iloc[0]


def test_an_unknown_asset_and_a_date_out_of_order_exit_2(tmp_path, capsys):
    name, date = "ganzhou_pledge_2026", SAMPLES["ganzhou_pledge_2026"]
    df = pd.read_csv(REPORTS / f"{name}-servicer-{date}.csv", dtype=str, keep_default_na=False)
    df.loc[0, "asset_id"] = "GHOST-1"
    p = tmp_path / "s.csv"
    df.to_csv(p, index=False)
    args = _args(name, date)
    args[3] = str(p)
    args[-1] = "2026-09-01"  # before the report date
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "unknown asset 'GHOST-1'" in err and "after the as-of date 2026-09-01" in err


def test_watchlist_with_reports_out_of_order_exits_2(capsys):
    f = str(REPORTS / "ganzhou_pledge_2026-servicer-2026-10-20.csv")
    assert main(["watchlist", f, f]) == 2
    assert "out of order" in capsys.readouterr().err


@pytest.mark.slow
def test_the_monitoring_report_has_actual_against_expected_from_the_history(tmp_path, capsys):
    out = tmp_path / "m"
    args = _args("ganzhou_pledge_2026", SAMPLES["ganzhou_pledge_2026"]) + [
        "--paths", "200", "--no-breakeven", "--lang", "zh", "--out", str(out),
        "--history", str(REPORTS / "ganzhou_pledge_2026-servicer-2026-07-20.csv")]
    assert main(args) == 0
    page = (out / "monitoring-report.html").read_text(encoding="utf-8")
    assert "知识产权融资监测报告" in page and "实际与预期对比" in page and "plotly" in page
    assert "GZ006" in page and "资产已违约" in page
    sheets = pd.read_excel(out / "surveillance.xlsx", sheet_name=None)
    assert "actual_vs_expected" in sheets and len(sheets["actual_vs_expected"]) == 8


@pytest.mark.slow
def test_book_outlook_runs_on_the_sample_book_and_writes_its_workbook(tmp_path, capsys):
    out = tmp_path / "b"
    code = main(["book-outlook", str(ROOT / "scenarios" / "fund-portfolio-ganzhou.csv"), "--report",
                 str(REPORTS / "book-ganzhou-servicer-2026-12-31.csv"), "--as-of", "2026-12-31", "--leverage", "10",
                 "--paths", "300", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "known claims 4,218,480.00" in text and "P(exhausted ever)" in text
    assert {p.name for p in out.iterdir() if p.name != ".ipabs-output"} == {"book-outlook.xlsx", "book-outlook.json"}


def test_book_outlook_without_a_fund_size_exits_2(capsys):
    code = main(["book-outlook", str(ROOT / "scenarios" / "fund-portfolio-ganzhou.csv"), "--report",
                 str(REPORTS / "book-ganzhou-servicer-2026-12-31.csv"), "--as-of", "2026-12-31", "--paths", "10"])
    assert code == 2 and "no fund size" in capsys.readouterr().err


def test_subsidy_lapse_runs_on_the_sample_pipeline(capsys):
    code = main(["subsidy-lapse", str(ROOT / "scenarios" / "pipeline-ganzhou-2027.csv"), "--report",
                 str(REPORTS / "pipeline-ganzhou-servicer-2027-09-30.csv"), "--as-of", "2027-09-30"])
    text = capsys.readouterr().out
    assert code == 0 and "expected to lapse" in text and "GZ-F09" in text


@pytest.mark.slow
def test_the_bureau_monitoring_report_covers_every_deal_the_book_the_fund_and_the_subsidies(tmp_path, capsys):
    out = tmp_path / "mon"
    code = main(["monitor", str(REPORTS / "monitoring-ganzhou.toml"), "--paths", "200", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "4 deal(s)" in text and "subsidies expected to lapse: 63,959.93" in text
    page = (out / "monitoring-report.html").read_text(encoding="utf-8")
    assert page.count("知识产权融资监测报告") >= 5  # the bureau's report and one section per deal
    assert "风险补偿资金" in page and "GZ-P19" in page and "GL005" in page
    sheets = pd.read_excel(out / "monitoring-report.xlsx", sheet_name=None)
    assert {"overview", "watchlist", "fund_by_year", "subsidy_lapse"} <= set(sheets)
    assert len(sheets["overview"]) == 4


def test_a_bad_monitoring_manifest_exits_2(tmp_path, capsys):
    p = tmp_path / "m.toml"
    p.write_text('name = "x"\n[[deals]]\nscenario = "a.toml"\n', encoding="utf-8")
    assert main(["monitor", str(p)]) == 2
    assert "report" in capsys.readouterr().err
