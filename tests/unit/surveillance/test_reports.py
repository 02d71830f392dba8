"""Period report readers: formats, encodings, every rejected row reported, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest
from surveil_samples import SAMPLE_DATES, servicer_path, trustee_path

from ipabs.surveillance import ReportError, read_servicer_report, read_trustee_report
from ipabs.surveillance.reports import check_against_deal


def test_the_sample_servicer_report_reads_in_utf8_gbk_xlsx_and_parquet_alike(tmp_path):
    base = read_servicer_report(servicer_path("ganzhou_pledge_2026"))
    gbk = read_servicer_report(str(servicer_path("ganzhou_pledge_2026")).replace(".csv", "-gbk.csv"))
    raw = pd.read_csv(servicer_path("ganzhou_pledge_2026"), dtype=str, keep_default_na=False)
    raw.to_excel(tmp_path / "r.xlsx", index=False)
    raw.to_parquet(tmp_path / "r.parquet", index=False)
    xlsx = read_servicer_report(tmp_path / "r.xlsx")
    pq = read_servicer_report(tmp_path / "r.parquet")
    assert not base.rejected and base.report_date == SAMPLE_DATES["ganzhou_pledge_2026"]
    for other in (gbk, xlsx, pq):
        assert not other.rejected
        pd.testing.assert_frame_equal(other.rows, base.rows)


def test_chinese_headers_are_accepted(tmp_path):
    raw = pd.read_csv(servicer_path("interbank_abn_2026"), dtype=str, keep_default_na=False)
    raw = raw.rename(columns={"asset_id": "资产编号", "days_past_due": "逾期天数", "status": "资产状态",
                              "outstanding_principal": "未偿本金"})
    raw.to_csv(tmp_path / "zh.csv", index=False, encoding="gb18030")
    r = read_servicer_report(tmp_path / "zh.csv")
    assert not r.rejected and len(r.rows) == len(raw)


def _rows() -> pd.DataFrame:
    return pd.read_csv(servicer_path("ganzhou_pledge_2026"), dtype=str, keep_default_na=False)


def test_every_bad_row_is_rejected_with_file_row_and_field():
    df = _rows()
    df.loc[0, "days_past_due"] = "-3"
    df.loc[1, "status"] = "bankrupt"
    df.loc[2, "outstanding_principal"] = "12,00,000"
    df.loc[3, "status"] = "performing"
    df.loc[3, "days_past_due"] = "12"
    r = read_servicer_report(df, file="bad.csv")
    got = {(i.row, i.field) for i in r.rejected}
    assert {(1, "days_past_due"), (2, "status"), (3, "outstanding_principal"), (4, "status")} <= got
    assert all(i.file == "bad.csv" for i in r.rejected)
    assert len(r.rows) == len(df) - 4  # the rest kept, nothing else dropped
    with pytest.raises(ReportError, match="4 row"):
        r.raise_if_rejected()


def test_a_default_date_after_the_report_date_is_rejected_as_out_of_order():
    df = _rows()
    i = df.index[df["status"] == "defaulted"][0]
    df.loc[i, "default_date"] = "2027-01-01"
    r = read_servicer_report(df)
    assert any(x.field == "default_date" and "out of order" in x.message for x in r.rejected)


def test_unknown_and_missing_columns_and_mixed_dates_are_clear_errors(tmp_path):
    df = _rows()
    with pytest.raises(ReportError, match="unknown column 'colour'"):
        read_servicer_report(df.assign(colour="red"))
    with pytest.raises(ReportError, match="missing required column"):
        read_servicer_report(df.drop(columns=["status"]))
    df2 = df.copy()
    df2.loc[0, "report_date"] = "2026-07-20"
    with pytest.raises(ReportError, match="one report date"):
        read_servicer_report(df2)


def test_a_wrong_encoding_or_binary_file_is_a_clear_error(tmp_path):
    p = tmp_path / "r.csv"
    p.write_bytes(b"asset_id,status\n\xff\xfe\x00\x00garbage\x00")
    with pytest.raises(ReportError, match="NUL|decode"):
        read_servicer_report(p)
    q = tmp_path / "r.xlsx"
    q.write_text("not a workbook")
    with pytest.raises(ReportError, match="not a valid XLSX"):
        read_servicer_report(q)


def test_unknown_assets_and_tape_assets_missing_from_the_report_are_reported(ganzhou):
    df = _rows()
    df.loc[0, "asset_id"] = "NOPE-1"
    r = read_servicer_report(df, file="s.csv")
    info = ganzhou.info
    issues = check_against_deal(r, None, asset_ids=info.asset_ids, asset_obligors={}, names={})
    assert any(i.row == 1 and i.field == "asset_id" and "unknown asset 'NOPE-1'" in i.message for i in issues)
    assert any("missing from the report" in i.message and "GZP-2026-001" in i.message for i in issues)


def test_trustee_report_items_are_validated():
    df = pd.read_csv(trustee_path("ganzhou_pledge_2026"), dtype=str, keep_default_na=False)
    ok = read_trustee_report(df)
    assert not ok.rejected and ok.period == 2
    df.loc[0, "item"] = "collections_magic"
    df.loc[1, "value"] = "abc"
    df.loc[6, "name"] = ""  # a tranche item without its tranche
    bad = read_trustee_report(df, file="t.csv")
    assert {(i.row, i.field) for i in bad.rejected} == {(1, "item"), (2, "value"), (7, "name")}
