"""The pipeline file is validated row by row: every rejected row is reported with file, row and field."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from policy_helpers import SAMPLE_PIPELINE

from ipabs.errors import InputError
from ipabs.policy.pipeline import pipeline_from_frame, read_pipeline


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8") as f:
        r = csv.DictReader(f)
        return list(r.fieldnames), list(r)


def _write(path: Path, header, rows) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    return path


def test_the_sample_pipeline_validates_with_no_rejected_row():
    pl = read_pipeline(SAMPLE_PIPELINE)
    assert len(pl.securitizations) == 32 and len(pl.loans) == 16
    assert pl.rejected == ()
    assert len(pl.deal_ids) == 4
    assert pl.firm_names["GZ-F01"] == "示例稀金材料01"
    assert len(pl.fingerprint) == 64


def test_the_same_pipeline_as_xlsx_reads_the_same(tmp_path: Path):
    header, rows = _rows(SAMPLE_PIPELINE)
    df = pd.DataFrame(rows, columns=header)
    xlsx = tmp_path / "pipeline.xlsx"
    df.to_excel(xlsx, index=False, sheet_name="pipeline")
    a, b = read_pipeline(SAMPLE_PIPELINE), read_pipeline(xlsx, sheet="pipeline")
    assert a.securitizations == b.securitizations and a.loans == b.loans


def test_a_gb18030_csv_from_chinese_excel_reads_the_same(tmp_path: Path):
    f = tmp_path / "gbk.csv"
    f.write_bytes(SAMPLE_PIPELINE.read_text(encoding="utf-8").encode("gb18030"))
    assert read_pipeline(f).securitizations == read_pipeline(SAMPLE_PIPELINE).securitizations


def test_a_bad_pipeline_names_every_bad_row_and_field(tmp_path: Path):
    header, rows = _rows(SAMPLE_PIPELINE)
    rows[0]["amount"] = "-5"  # row 1
    rows[2]["planned_date"] = "2027-02-30"  # row 3
    rows[3]["kind"] = "bond"  # row 4
    rows[40]["cnipa_pledge_registered"] = "maybe"  # row 41
    rows[41]["pd"] = ""  # row 42: required for pledge loans
    rows[5]["term_months"] = "12"  # row 6: a securitization row with a loan column
    f = _write(tmp_path / "bad.csv", header, rows)
    with pytest.raises(InputError) as ei:
        read_pipeline(f)
    got = {(i.row, i.field) for i in ei.value.issues}
    assert {(1, "amount"), (3, "planned_date"), (4, "kind"), (41, "cnipa_pledge_registered"), (42, "pd"),
            (6, "term_months")} <= got
    assert all(i.file == str(f) for i in ei.value.issues)
    assert "row 3 field 'planned_date'" in str(ei.value)


def test_rows_of_one_deal_must_agree_and_loan_ids_must_be_unique(tmp_path: Path):
    header, rows = _rows(SAMPLE_PIPELINE)
    rows[1]["completion_probability"] = "0.5"  # row 2, deal GZ-ABS-2027-01 says 0.9 in row 1
    rows[33]["loan_id"] = rows[32]["loan_id"]  # row 34 repeats row 33's loan
    rows[47]["pd"] = "0.09"  # row 48: GZ-F08 has one pledge loan only -> fine; change a firm with two loans
    rows[46]["pd"] = "0.01"  # row 47: GZ-F05's second loan (L15) disagrees with L02
    f = _write(tmp_path / "bad.csv", header, rows)
    with pytest.raises(InputError) as ei:
        read_pipeline(f)
    got = {(i.row, i.field) for i in ei.value.issues}
    assert (2, "completion_probability") in got
    assert (34, "loan_id") in got
    assert (47, "pd") in got
    assert not any(r == 48 for r, _ in got)


def test_unknown_columns_are_refused_but_x_columns_are_kept_out_of_the_way(tmp_path: Path):
    header, rows = _rows(SAMPLE_PIPELINE)
    f = _write(tmp_path / "typo.csv", header + ["ammount"], rows)
    with pytest.raises(InputError) as ei:
        read_pipeline(f)
    assert [(i.row, i.field) for i in ei.value.issues] == [(0, "ammount")]
    f2 = _write(tmp_path / "extra.csv", header + ["x_owner"], rows)
    assert len(read_pipeline(f2).loans) == 16


def test_skip_invalid_rows_drops_only_the_bad_rows_and_lists_them(tmp_path: Path):
    header, rows = _rows(SAMPLE_PIPELINE)
    rows[0]["amount"] = "abc"
    f = _write(tmp_path / "bad.csv", header, rows)
    pl = read_pipeline(f, skip_invalid_rows=True)
    assert len(pl.securitizations) == 31
    assert [(i.row, i.field) for i in pl.rejected] == [(1, "amount")]


def test_an_empty_file_or_one_without_kind_is_an_input_error(tmp_path: Path):
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="no header"):
        read_pipeline(tmp_path / "empty.csv")
    (tmp_path / "nokind.csv").write_text("firm_id,amount\nA,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="kind"):
        read_pipeline(tmp_path / "nokind.csv")


def test_a_dataframe_from_the_ui_validates_like_a_file():
    header, rows = _rows(SAMPLE_PIPELINE)
    df = pd.DataFrame(rows, columns=header)
    pl = pipeline_from_frame(df)
    assert pl.loans[1].invention_patents == 5
    assert pl.loans[1].amount == Decimal("8000000.00")
    assert pl.loans[1].other_ip_types == ["trademark"]


def test_booleans_accept_the_usual_spellings_including_chinese(tmp_path: Path):
    header, rows = _rows(SAMPLE_PIPELINE)
    rows[32]["cnipa_pledge_registered"] = "否"
    rows[33]["cnipa_pledge_registered"] = "YES"
    pl = read_pipeline(_write(tmp_path / "b.csv", header, rows))
    assert pl.loans[0].cnipa_pledge_registered is False and pl.loans[1].cnipa_pledge_registered is True
