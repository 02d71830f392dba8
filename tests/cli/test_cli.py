"""``ipabs validate | run | schema`` through ``ipabs.cli.main`` (exit codes, printed output, the output folder)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import ipabs
from ipabs.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEAL_SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*.toml")
                        if "deal" in tomllib.loads(p.read_text("utf-8")))
SCENARIO_A = ROOT / "scenarios" / "ganzhou_pledge_2026.toml"
TRANCHE_KEYS = {"name", "original_balance", "coupon", "wal_years", "yield", "modified_duration", "loss"}
HAN = re.compile(r"[\u4e00-\u9fff]")


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def numbers(doc) -> list[float]:
    if isinstance(doc, dict):
        return [x for v in doc.values() for x in numbers(v)]
    if isinstance(doc, list):
        return [x for v in doc for x in numbers(v)]
    return [float(doc)] if isinstance(doc, int | float) and not isinstance(doc, bool) else []


@pytest.fixture(scope="module")
def run_a(tmp_path_factory):
    """One run of scenario (a) with 200 paths (shared by the output checks)."""
    out = tmp_path_factory.mktemp("run") / "a"
    code = main(["run", str(SCENARIO_A), "--paths", "200", "--out", str(out), "--quiet"])
    return code, out


def test_validate_on_each_sample_scenario_reports_the_deal_and_exits_0(capsys):
    for path in DEAL_SCENARIOS:
        code, out, err = cli(capsys, "validate", str(path))
        assert code == 0, err
        assert out.startswith("scenario OK: ") and "payment periods" in out
        assert "0 rejected" in out
        assert "warning" not in out, f"{path.name}: {out}"  # holidays are listed for every year after 2026


def test_schema_prints_the_json_schema_of_scenario_files(capsys):
    code, out, _ = cli(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert {"deal", "pool", "tranches", "waterfall"} <= set(schema["required"])
    assert "Step" in schema["$defs"] and "pay_residual" in json.dumps(schema["$defs"]["Step"])


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, _ = cli(capsys)
    assert code == 2 and "validate" in out and "run" in out


@pytest.mark.slow
def test_run_prints_the_tranche_table_and_writes_summary_parquet_and_workbook(run_a):
    code, out = run_a
    assert code == 0
    assert {p.name for p in out.iterdir()} >= {"summary.json", "cashflows.parquet", "cashflows.xlsx"}
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "temporary folders were left behind"


@pytest.mark.slow
def test_summary_json_has_deal_provenance_and_the_tranche_fields(run_a):
    _, out = run_a
    doc = json.loads((out / "summary.json").read_text("utf-8"))
    assert {"deal", "provenance", "tranches"} <= set(doc)
    assert doc["deal"]["name"].startswith("赣州经开区")
    prov = doc["provenance"]
    assert prov["ipabs_version"] == ipabs.__version__
    assert re.fullmatch(r"[0-9a-f]{64}", prov["scenario_hash"])
    assert prov["n_paths"] == 200 and prov["seed"] == 20260415
    assert [t["name"] for t in doc["tranches"]] == ["优先A", "次级"]
    for t in doc["tranches"]:
        assert set(t) >= TRANCHE_KEYS, TRANCHE_KEYS - set(t)
    senior = doc["tranches"][0]
    assert senior["original_balance"] == 190_000_000 and senior["coupon"] == 0.025 and senior["loss"] == 0
    assert all(math.isfinite(x) for x in numbers(doc))
    # every Monte Carlo estimate carries its standard error, quantiles and percentiles included
    for t in doc["tranches"]:
        for est in ("loss_quantiles", "wal_percentiles", "yield_percentiles"):
            assert set(t[f"{est}_se"]) == set(t[est]) and all(v >= 0 for v in t[f"{est}_se"].values()), est
        assert t["wal_mean_se"] >= 0 and t["yield_mean_se"] >= 0
    pool = doc["monte_carlo"]["pool"]
    for est in ("default_rate_quantiles", "loss_rate_quantiles"):
        assert set(pool[f"{est}_se"]) == set(pool[est])


@pytest.mark.slow
def test_cashflows_parquet_holds_every_tranche_schedule(run_a, capsys):
    _, out = run_a
    df = pd.read_parquet(out / "cashflows.parquet")
    assert set(df["tranche"]) == {"优先A", "次级"}
    assert {"payment_date", "interest_due", "interest_paid", "interest_shortfall", "principal_paid", "balance_end",
            "residual_paid"} <= set(df.columns)
    assert len(df) == 2 * 8
    assert df.groupby("tranche", sort=False)["principal_paid"].sum().round(2).tolist() == [190_000_000.0, 10_000_000.0]


@pytest.fixture(scope="module")
def run_zh(tmp_path_factory):
    """The same run as ``run_a`` with ``--lang zh``."""
    out = tmp_path_factory.mktemp("run") / "zh"
    code = main(["run", str(SCENARIO_A), "--paths", "200", "--out", str(out), "--quiet", "--lang", "zh"])
    assert code == 0
    return out


SHEETS = {
    "en": ["Cover", "优先A", "次级", "Pool", "Fees", "Accounts", "Monte Carlo · tranches", "Monte Carlo · pool",
           "Expected cash flows"],
    "zh": ["封面", "优先A", "次级", "资产池", "费用", "账户", "蒙特卡洛·档次统计", "蒙特卡洛·资产池", "预期现金流"],
}
#: Canonical values that must never appear as such in a Chinese workbook (deal states, flags, seniorities …).
ENGLISH_VALUES = re.compile(r"\b(normal|accelerated|post_default|True|False|collection|senior|subordinate|quarterly|"
                            r"nan|None|exchange|gaussian|ip_disposal|full)\b")


def _headers(ws, row: int = 1) -> list[str]:
    return [c.value for c in ws[row] if c.value is not None]


def _column(ws, header: str) -> list:
    """The cells of the column headed ``header`` (row 1), below the header."""
    j = _headers(ws).index(header) + 1
    return [ws.cell(row=i, column=j) for i in range(2, ws.max_row + 1)]


def _strings(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str):
                    yield ws.title, c


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_workbook_has_a_cover_and_a_sheet_per_tranche_pool_fees_accounts_and_monte_carlo(lang, run_a, run_zh):
    import openpyxl

    out = run_a[1] if lang == "en" else run_zh
    wb = openpyxl.load_workbook(out / "cashflows.xlsx")
    assert wb.sheetnames == SHEETS[lang]
    for ws in wb.worksheets[1:]:
        assert ws.freeze_panes in ("A2", "B2"), ws.title  # the header row stays in view
        assert all((ws.column_dimensions[c.column_letter].width or 0) >= 10 for c in ws[1] if c.value), ws.title
    for sheet, cell in _strings(wb):
        assert not cell.value.lstrip().startswith(("{", "[")), (sheet, cell.coordinate, cell.value)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_workbook_amounts_are_in_wan_yuan_with_two_decimals_rates_as_percentages_and_dates_as_dates(lang, run_a,
                                                                                                   run_zh):
    import openpyxl

    out = run_a[1] if lang == "en" else run_zh
    wb = openpyxl.load_workbook(out / "cashflows.xlsx")
    names = SHEETS[lang]
    senior = wb["优先A"]
    h = {"en": ("payment date", "interest paid (CNY 10,000)", "ending balance (CNY 10,000)", "cumulative default ratio",
                "balance P50 (CNY 10,000)", "expected loss", "deal state"),
         "zh": ("兑付日", "实付利息（万元）", "期末余额（万元）", "累计违约率", "余额中位数（万元）", "预期损失",
                "交易状态")}[lang]
    assert h[0] in _headers(senior) and h[1] in _headers(senior)
    dates = _column(senior, h[0])
    assert all(c.is_date and c.number_format == "yyyy-mm-dd" for c in dates)
    balance = _column(senior, h[2])
    assert balance[0].value == 19_000 and all(c.number_format == "#,##0.00" for c in balance)  # 1.9亿 = 19,000万
    pool = wb[names[3]]
    assert all("%" in c.number_format for c in _column(pool, h[3]))
    assert {c.value for c in _column(pool, h[6])} == ({"normal"} if lang == "en" else {"正常"})
    ec = wb[names[-1]]
    p50 = _column(ec, h[4])
    assert p50[0].value == 19_000 and p50[0].number_format == "#,##0.00"
    el = _column(wb[names[6]], h[5])
    assert len(el) == 2 and all("%" in c.number_format and isinstance(c.value, float | int) for c in el)
    cover = wb[names[0]]
    text = [c.value for row in cover.iter_rows() for c in row if c.value is not None]
    assert json.loads((out / "summary.json").read_text("utf-8"))["provenance"]["scenario_hash"] in text
    assert ipabs.__version__ in text and 20260415 in text and 200 in text
    assert any(isinstance(v, dt.datetime) for v in text)  # the run's date
    assert ("scenario file (assumption)" if lang == "en" else "场景文件设定（假设）") in text


@pytest.mark.slow
def test_the_chinese_workbook_has_chinese_headers_and_no_english_value_labels(run_zh):
    import openpyxl

    wb = openpyxl.load_workbook(run_zh / "cashflows.xlsx")
    for ws in wb.worksheets[1:]:
        for header in _headers(ws):
            assert HAN.search(header), (ws.title, header)
    for sheet, cell in _strings(wb):
        if sheet == "封面" and cell.column == 3:  # sources quote the rating table's own (English) source note
            continue
        assert not ENGLISH_VALUES.search(cell.value), (sheet, cell.coordinate, cell.value)
    tranche = wb["优先A"]
    assert {"兑付日", "应付利息（万元）", "实付利息（万元）", "偿还本金（万元）", "期末余额（万元）"} <= set(_headers(tranche))
    assert {"期数", "利息回收（万元）", "违约金额（万元）", "现金流覆盖倍数", "交易状态", "清仓回购"} <= set(
        _headers(wb["资产池"]))
    assert {c.value for c in _column(wb["资产池"], "清仓回购")} == {"否"}
    assert "归集账户 · 账户余额（万元）" in _headers(wb["账户"])


@pytest.mark.slow
def test_rejected_tape_rows_get_their_own_translated_sheet(tmp_path, capsys):
    import openpyxl

    tape = (ROOT / "scenarios" / "tapes" / "ganzhou_pledge_pool.csv").read_text("utf-8").splitlines()
    bad = tape[1].split(",")
    bad[0], bad[6] = "GZP-BAD-001", "-5"  # a negative principal: the row is rejected, the others run
    (tmp_path / "tape.csv").write_text("\n".join([*tape, ",".join(bad)]) + "\n", encoding="utf-8")
    text = SCENARIO_A.read_text("utf-8").replace('tape = "tapes/ganzhou_pledge_pool.csv"', 'tape = "tape.csv"')
    (tmp_path / "s.toml").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    code, _, err = cli(capsys, "run", str(tmp_path / "s.toml"), "--paths", "0", "--out", str(out), "--lang", "zh")
    assert code == 0, err
    wb = openpyxl.load_workbook(out / "cashflows.xlsx")
    assert "未采用的明细行" in wb.sheetnames and "蒙特卡洛·档次统计" not in wb.sheetnames
    ws = wb["未采用的明细行"]
    assert _headers(ws) == ["文件", "行号", "表", "字段", "说明"]
    assert any(c.value == "principal" for c in _column(ws, "字段"))


@pytest.mark.slow
def test_parquet_outputs_stay_in_yuan_with_english_column_names(run_zh):
    ec = pd.read_parquet(run_zh / "expected_cashflows.parquet")
    assert {"balance_p5", "balance_p50", "balance_p95", "balance_resolution", "payment_resolution"} <= set(ec.columns)
    assert ec["balance_p50"].iloc[0] == 190_000_000.0
    cf = pd.read_parquet(run_zh / "cashflows.parquet")
    assert "interest_paid" in cf.columns


@pytest.mark.slow
def test_a_failing_run_leaves_no_output_folder_and_exits_1(tmp_path, capsys, monkeypatch):
    import ipabs.report.writer as writer

    def broken(folder, *args, **kwargs):
        (Path(folder) / "summary.json").write_text("{}", encoding="utf-8")
        raise OSError("disk full")

    monkeypatch.setattr(writer, "write_run", broken)
    out = tmp_path / "results"
    code, _, err = cli(capsys, "run", str(SCENARIO_A), "--paths", "0", "--out", str(out))
    assert code == 1
    assert "run failed" in err and "disk full" in err and "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [], "a temporary folder was left behind"


@pytest.mark.slow
def test_a_failing_run_keeps_the_previous_output_folder_intact(tmp_path, capsys, monkeypatch):
    import ipabs.report.writer as writer

    out = tmp_path / "results"
    out.mkdir()
    (out / "summary.json").write_text('{"previous": true}', encoding="utf-8")
    # an earlier ipabs output (decision 018: only a folder with the marker may be replaced)
    (out / writer.MARKER_NAME).write_text('{"format": "ipabs-output", "command": "run"}', encoding="utf-8")

    def broken(folder, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(writer, "write_run", broken)
    code, _, _ = cli(capsys, "run", str(SCENARIO_A), "--paths", "0", "--out", str(out))
    assert code == 1
    assert json.loads((out / "summary.json").read_text("utf-8")) == {"previous": True}
    assert [p.name for p in tmp_path.iterdir()] == ["results"]


@pytest.mark.slow
@pytest.mark.parametrize("path", DEAL_SCENARIOS, ids=[p.stem for p in DEAL_SCENARIOS])
def test_every_sample_scenario_runs_end_to_end_with_exit_0_and_no_nan(path, tmp_path, capsys):
    out = tmp_path / path.stem
    code, printed, err = cli(capsys, "run", str(path), "--paths", "100", "--out", str(out), "--quiet")
    assert code == 0, err
    assert "nan" not in printed.lower()
    doc = json.loads((out / "summary.json").read_text("utf-8"))
    assert all(math.isfinite(x) for x in numbers(doc))
    for t in doc["tranches"]:
        assert set(t) >= TRANCHE_KEYS
        if t["seniority"] != "subordinate":
            assert t["yield"] is not None and t["wal_years"] is not None and t["modified_duration"] is not None


@pytest.mark.slow
def test_sample_paths_writes_the_full_cash_flows_of_the_first_paths_as_the_engine_computes_them(tmp_path):
    from ipabs import api

    scenario = ROOT / "scenarios" / "licence_relicence_2026.toml"  # sales-linked royalties: every path differs
    out = tmp_path / "b"
    assert main(["run", str(scenario), "--paths", "300", "--seed", "5", "--sample-paths", "4", "--out", str(out),
                 "--quiet"]) == 0
    df = pd.read_parquet(out / "path_sample.parquet")
    deal = api.compile_scenario(api.load_scenario(scenario))
    assert sorted(df["path"].unique()) == [0, 1, 2, 3]
    assert len(df) == 4 * deal.n_periods * len(deal.names.tranches)
    mc = api.simulate(deal, n_paths=4, seed=5)
    last = df[df["period"] == deal.n_periods].set_index(["path", "tranche"])["balance_end"]
    for p in range(4):
        for k, name in enumerate(deal.names.tranches):
            assert last[(p, name)] / deal.waterfall.tr_bal0[k] == pytest.approx(mc.loss[p, k], abs=1e-12)
    assert not (tmp_path / "c").exists()
    assert main(["run", str(scenario), "--paths", "10", "--out", str(tmp_path / "c"), "--quiet"]) == 0
    assert not (tmp_path / "c" / "path_sample.parquet").exists()  # only on request
