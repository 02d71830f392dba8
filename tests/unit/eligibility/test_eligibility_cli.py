"""``ipabs eligibility`` and ``ipabs selfcheck`` through ipabs.cli.main: exit codes, report files, messages."""

from __future__ import annotations

import openpyxl

from ipabs.cli import main

ARGS = ["--as-of", "2026-04-15", "--legal-maturity", "2028-04-20"]


def test_eligibility_prints_a_summary_and_writes_the_xlsx_report(scenarios_dir, tmp_path, capsys):
    out = tmp_path / "report"
    rc = main(["eligibility", str(scenarios_dir / "tapes" / "ganzhou_pledge_pool.csv"), *ARGS, "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "GZP-2026-013" in text and "loan-to-value 45.5% exceeds the limit of 30.0%" in text
    wb = openpyxl.load_workbook(out / "eligibility.xlsx", read_only=True)
    assert {"assets", "firms", "pool limits", "best pool"} <= set(wb.sheetnames)
    assert wb["assets"].max_row == 17  # header + 16 assets
    assert (out / "eligibility.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_eligibility_in_chinese_uses_chinese_reasons_and_headers(scenarios_dir, tmp_path, capsys):
    rc = main(["eligibility", str(scenarios_dir / "tapes" / "ganzhou_pledge_pool.xlsx"), *ARGS, "--lang", "zh",
               "--out", str(tmp_path)])
    assert rc == 0
    assert "企业有逾期或违约记录" in capsys.readouterr().out
    ws = openpyxl.load_workbook(tmp_path / "eligibility.xlsx", read_only=True)["assets"]
    header = [c.value for c in next(ws.iter_rows(max_row=1))]
    assert "资产编号" in header and "不合格原因" in header


def test_a_bad_criteria_file_exits_2_naming_the_file_and_key(scenarios_dir, tmp_path, capsys):
    bad = tmp_path / "criteria.toml"
    bad.write_text('extends = "ganzhou-default"\n[asset.loan_to_value]\nmax_lvt = 0.2\n', encoding="utf-8")
    rc = main(["eligibility", str(scenarios_dir / "tapes" / "ganzhou_pledge_pool.csv"), "--criteria", str(bad)])
    assert rc == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "[asset.loan_to_value]" in err and "max_lvt" in err


def test_a_bad_tape_exits_2(tmp_path, capsys):
    assert main(["eligibility", str(tmp_path / "missing.csv")]) == 2
    bad = tmp_path / "tape.csv"
    bad.write_text("asset_id,obligor_id\nA1,F1\n", encoding="utf-8")
    assert main(["eligibility", str(bad)]) == 2
    assert "error:" in capsys.readouterr().err


def test_selfcheck_runs_the_example_and_exits_0(scenarios_dir, capsys):
    assert main(["selfcheck", str(scenarios_dir / "selfcheck-example.toml"), "--lang", "zh"]) == 0
    assert "结论：可以入池" in capsys.readouterr().out


def test_a_bad_selfcheck_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "self.toml"
    bad.write_text("[firm]\n", encoding="utf-8")
    assert main(["selfcheck", str(bad)]) == 2
    assert "required key is missing" in capsys.readouterr().err
