"""Tests of the pool-tape reader (ipabs.scenario.tape), the sample tapes and the bad-tape corpus."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import logging
import math
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipabs import defaults
from ipabs.errors import Issue, TapeError
from ipabs.glossary import TAPE_COLUMN_ALIASES
from ipabs.scenario.tape import (
    DEFAULTS_BY_ASSET_TYPE,
    IP_LIST_COLUMNS,
    TAPE_COLUMNS,
    TapeResult,
    read_tape,
    validate_tape_frame,
)

ROOT = Path(__file__).resolve().parents[2]
TAPES = ROOT / "scenarios" / "tapes"
BAD = ROOT / "tests" / "data" / "bad_tapes"
MANIFEST = tomllib.loads((BAD / "manifest.toml").read_text(encoding="utf-8"))["case"]

#: Sample tape → (deal cut-off, number of assets, total principal).
SAMPLES = {
    "ganzhou_pledge_pool.csv": (dt.date(2026, 4, 15), 16, 200_000_000),
    "licence_pool.csv": (dt.date(2026, 6, 30), 11, 300_000_000),
    "lease_pool.csv": (dt.date(2026, 5, 31), 20, 500_000_000),
    "abn_pool.csv": (dt.date(2026, 6, 15), 10, 156_840_000),
}
PLEDGE_VARIANTS = [
    "ganzhou_pledge_pool.csv",
    "ganzhou_pledge_pool_gbk.csv",
    "ganzhou_pledge_pool.xlsx",
    "ganzhou_pledge_pool.parquet",
]

HEADER = ["asset_id", "obligor_id", "industry", "asset_type", "principal", "rate", "start_date", "maturity_date",
          "ip_type", "ip_appraised_value", "overdue_history"]  # fmt: skip
ROWS = [
    ["A1", "G1", "nev", "pledge_loan", "12000000", "0.045", "2026-03-15", "2027-03-15", "invention_patent",
     "30000000", "false"],
    ["A2", "G2", "furniture", "finance_lease", "8000000", "0.055", "2026-02-01", "2028-02-01",
     "invention_patent;copyright", "10000000;4000000", "no"],
    ["A3", "G3", "agri_gi", "receivable", "3000000", "0", "2026-04-01", "2026-10-01", "", "", ""],
]  # fmt: skip


def write_csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> Path:
    """Write a small tape with the csv module (the reader's own format)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def load_script(path: Path, name: str):
    """Import a script (make_tapes.py, make_bad_tapes.py) as a module."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the script runs
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


# ------------------------------------------------------------------------------------------------------------
# the sample tapes
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*SAMPLES, *PLEDGE_VARIANTS[1:]])
def test_every_sample_tape_reads_with_zero_rejections(name):
    result = read_tape(TAPES / name, strict=True)
    assert result.rejected == []
    assert result.n_accepted == result.n_rows > 0


def test_every_reader_of_the_pledge_tape_gives_the_same_frame(tmp_path):
    reference = read_tape(TAPES / "ganzhou_pledge_pool.csv").assets
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + (TAPES / "ganzhou_pledge_pool.csv").read_bytes())
    for path in [bom, *(TAPES / n for n in PLEDGE_VARIANTS[1:])]:
        pd.testing.assert_frame_equal(read_tape(path).assets, reference, check_exact=True, obj=path.name)


def test_the_gbk_pledge_tape_really_is_gb18030_with_chinese_names():
    raw = (TAPES / "ganzhou_pledge_pool_gbk.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "赣州" in raw.decode("gb18030")


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_contracts_start_after_2025_and_are_running_at_their_deal_cut_off(name):
    cutoff, n_assets, total = SAMPLES[name]
    assets = read_tape(TAPES / name).assets
    assert len(assets) == n_assets
    assert assets.principal.sum() == pytest.approx(total, abs=0.01)
    assert (assets.start_date > dt.date(2025, 12, 31)).all()
    assert (assets.start_date <= cutoff).all()
    assert (assets.maturity_date > cutoff).all()
    for expiries, maturity in zip(assets.ip_expiry_date, assets.maturity_date, strict=True):
        assert all(e > maturity for e in expiries), "no IP right lapses before its asset matures"


def test_the_pledge_tape_has_the_documented_shape():
    a = read_tape(TAPES / "ganzhou_pledge_pool.csv").assets
    assert a.obligor_id.nunique() == 15
    assert set(a.asset_type) == {"pledge_loan"}
    assert set(a.payment_frequency) == {"quarterly"} and set(a.amortization) == {"interest_only"}
    assert a.principal.between(5_000_000, 30_000_000, inclusive="neither").all()
    assert a.rate.between(0.035, 0.055).all()
    assert set(a.rating) <= {"AA", "AA-", "A+", "A", "BBB+"}
    assert (a.financing_amount == a.principal).all()
    assert (a.maturity_date.map(lambda d: (d.year, d.month)) >= (2027, 3)).all()
    share = a.groupby("industry").principal.sum() / a.principal.sum()
    expected = {"rare_earth_tungsten": 0.30, "nev": 0.20, "electronics": 0.20, "furniture": 0.15,
                "biomedicine": 0.10, "agri_gi": 0.05}  # fmt: skip
    assert share.to_dict() == pytest.approx(expected, abs=1e-9)
    for types in a.ip_type:
        assert 1 <= types.count("invention_patent") <= 5
        assert set(types) <= {"invention_patent", "trademark"}
    assert a.obligor_name.str.startswith("赣州").all()


def test_the_pledge_tape_has_exactly_the_three_documented_ineligible_assets():
    a = read_tape(TAPES / "ganzhou_pledge_pool.csv").assets
    ltv = a.principal / a.ip_appraised_value.map(sum)
    overdue = set(a.asset_id[a.overdue_history])
    expiring = set(a.asset_id[a.ip_expiry_date.map(lambda e: min(e) < dt.date(2028, 1, 1))])
    high_ltv = set(a.asset_id[ltv > 0.30])
    unregistered = set(a.asset_id[~a.cnipa_pledge_registered])
    assert overdue == {"GZP-2026-005"}
    assert expiring == {"GZP-2026-009"}
    assert high_ltv == unregistered == {"GZP-2026-013"}
    readme = (TAPES / "README.md").read_text(encoding="utf-8")
    for asset_id in ("GZP-2026-005", "GZP-2026-009", "GZP-2026-013"):
        assert asset_id in readme
    assert not a.blacklisted.any()


def test_the_sample_tapes_and_their_generator_say_they_are_synthetic():
    assert "SYNTHETIC" in (TAPES / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in (ROOT / "scenarios" / "make_tapes.py").read_text(encoding="utf-8").split('"""')[1]


def test_make_tapes_regenerates_byte_identical_files(tmp_path):
    make_tapes = load_script(ROOT / "scenarios" / "make_tapes.py", "make_tapes")
    written = make_tapes.write_all(tmp_path)
    assert {p.name for p in written} == {*SAMPLES, *PLEDGE_VARIANTS}
    for path in written:
        assert path.read_bytes() == (TAPES / path.name).read_bytes(), path.name


# ------------------------------------------------------------------------------------------------------------
# the typed result
# ------------------------------------------------------------------------------------------------------------


def test_assets_columns_are_the_documented_order_then_source_row_then_extras(tmp_path):
    path = write_csv(tmp_path / "t.csv", [*HEADER, "x_branch", "Notes"], [r + ["b1", "ok"] for r in ROWS])
    assets = read_tape(path).assets
    assert list(assets.columns) == [*TAPE_COLUMNS, "source_row", "x_branch", "Notes"]
    assert assets["x_branch"].tolist() == ["b1"] * 3


def test_assets_dtypes_are_as_documented():
    a = read_tape(TAPES / "ganzhou_pledge_pool.csv").assets
    for name in ("principal", "rate", "pd", "financing_amount"):
        assert a[name].dtype == np.float64
    for name in ("cnipa_pledge_registered", "whitelisted", "overdue_history", "blacklisted"):
        assert a[name].dtype == bool
    assert a.source_row.dtype == np.int64
    for name in ("start_date", "maturity_date", "custom_schedule", *IP_LIST_COLUMNS):
        assert a[name].dtype == object
    assert pd.api.types.is_string_dtype(a.asset_id)
    assert all(type(d) is dt.date for d in a.start_date)
    row = a.iloc[0]
    assert all(isinstance(x, list) for x in row[list(IP_LIST_COLUMNS)])
    assert all(type(d) is dt.date for d in row.ip_expiry_date)
    assert all(type(v) is float for v in row.ip_appraised_value)
    assert all(type(v) is bool for v in row.ip_prior_pledge)
    assert row.custom_schedule == []


def test_defaults_are_filled_from_the_asset_type_and_the_obligor(tmp_path):
    a = read_tape(write_csv(tmp_path / "t.csv", HEADER, ROWS)).assets.set_index("asset_id")
    for asset_id, asset_type in [("A1", "pledge_loan"), ("A2", "finance_lease"), ("A3", "receivable")]:
        frequency, amortization = DEFAULTS_BY_ASSET_TYPE[asset_type]
        assert a.loc[asset_id, "payment_frequency"] == frequency
        assert a.loc[asset_id, "amortization"] == amortization
    assert a.obligor_name.tolist() == a.obligor_id.tolist()
    assert a.financing_amount.tolist() == a.principal.tolist()
    assert not a.whitelisted.any() and not a.cnipa_pledge_registered.any()
    assert math.isnan(a.loc["A1", "pd"]) and pd.isna(a.loc["A1", "rating"]) and pd.isna(a.loc["A1", "county"])
    a2 = a.loc["A2"]
    assert a2.ip_type == ["invention_patent", "copyright"]
    assert a2.ip_owner_id == ["G2", "G2"] and a2.ip_valuation == ["external", "external"]
    assert a2.ip_prior_pledge == [False, False] and a2.ip_registration_no == [None, None]
    assert a2.ip_expiry_date == [None, None]
    assert a.loc["A3", "ip_type"] == [] and a.loc["A3", "ip_appraised_value"] == []


def test_source_row_counts_data_records_after_the_header_and_blank_rows_are_skipped(tmp_path):
    blank = [""] * len(HEADER)
    path = write_csv(tmp_path / "t.csv", HEADER, [ROWS[0], blank, ROWS[1], ROWS[2]])
    result = read_tape(path)
    assert result.assets.source_row.tolist() == [1, 3, 4]
    assert result.n_rows == 3


def test_validate_tape_frame_reproduces_the_assets_it_is_given():
    first = read_tape(TAPES / "ganzhou_pledge_pool.parquet")
    again = validate_tape_frame(first.assets)
    assert again.rejected == []
    pd.testing.assert_frame_equal(again.assets, first.assets, check_exact=True)


def test_validate_tape_frame_numbers_rows_from_one_without_a_source_row():
    frame = pd.DataFrame(ROWS, columns=HEADER)
    frame.loc[1, "principal"] = "-1"
    result = validate_tape_frame(frame, file="ui-edit")
    assert result.assets.source_row.tolist() == [1, 3]
    assert [(i.file, i.row, i.field) for i in result.rejected] == [("ui-edit", 2, "principal")]


# ------------------------------------------------------------------------------------------------------------
# forgiving value parsing
# ------------------------------------------------------------------------------------------------------------


def one_row(tmp_path: Path, **cells) -> TapeResult:
    """Read a one-row tape built from ROWS[0] with some cells replaced."""
    header = list(HEADER) + [c for c in cells if c not in HEADER]
    row = dict(zip(HEADER, ROWS[0], strict=True)) | cells
    return read_tape(write_csv(tmp_path / "one.csv", header, [[row.get(h, "") for h in header]]))


@pytest.mark.parametrize(
    "text", ["1,200,000", " 1200000 ", "１，２００，０００", "￥1,200,000", "1.2e6", "1200000.00", "+1,200,000.0"]
)
def test_amounts_accept_thousands_separators_spaces_and_full_width_digits(tmp_path, text):
    result = one_row(tmp_path, principal=text)
    assert result.assets.principal.tolist() == [1_200_000.0]


@pytest.mark.parametrize("text", ["3.5%", " 3.5 % ", "３．５％", "0.035"])
def test_rates_accept_percentages_and_decimals(tmp_path, text):
    result = one_row(tmp_path, rate=text, pd=text)
    assert result.assets.rate.iloc[0] == pytest.approx(0.035, abs=1e-15)
    assert result.assets.pd.iloc[0] == pytest.approx(0.035, abs=1e-15)


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("FALSE", False), ("Yes", True), ("no", False), ("1", True), ("0", False),
     ("是", True), ("否", False), ("Y", True), ("n", False), (" ｙｅｓ ", True)],
)  # fmt: skip
def test_booleans_accept_english_chinese_and_digits(tmp_path, text, value):
    assert one_row(tmp_path, overdue_history=text).assets.overdue_history.tolist() == [value]


@pytest.mark.parametrize(
    "text", ["2026-03-15", "2026/3/15", "20260315", "2026.03.15", "2026年3月15日", "2026-03-15 00:00:00", "２０２６-０３-１５"]
)
def test_dates_accept_iso_slashes_compact_and_chinese_forms(tmp_path, text):
    assert one_row(tmp_path, start_date=text).assets.start_date.tolist() == [dt.date(2026, 3, 15)]


def test_chinese_and_loosely_written_headers_are_recognised(tmp_path):
    header = ["资产编号", "债务人编号", " 行业 ", "资产类型", "贷款金额", "年利率", "起始日", "到期日", "Payment Frequency",
              "AMORTIZATION", "是否质押登记", "备注"]  # fmt: skip
    rows = [["Z1", "G9", "nev", "知识产权质押贷款", "5,000,000", "4%", "2026/3/18", "2027/3/18", "quarterly", "先息后本",
             "是", "首笔"]]  # fmt: skip
    result = read_tape(write_csv(tmp_path / "zh.csv", header, rows, encoding="gb18030"))
    assert result.rejected == []
    row = result.assets.iloc[0]
    assert (row.asset_id, row.asset_type, row.principal, row.rate) == ("Z1", "pledge_loan", 5_000_000.0, 0.04)
    assert row.amortization == "interest_only" and bool(row.cnipa_pledge_registered)
    assert row["备注"] == "首笔"


def test_every_chinese_header_alias_names_a_tape_column():
    assert set(TAPE_COLUMN_ALIASES.values()) <= set(TAPE_COLUMNS) | {"note"}
    assert TAPE_COLUMN_ALIASES["评估价值"] == "ip_appraised_value"
    assert TAPE_COLUMN_ALIASES["违约概率"] == "pd"


def test_chinese_glossary_labels_are_accepted_as_values(tmp_path):
    result = one_row(tmp_path, asset_type="知识产权融资租赁", ip_type="发明专利", amortization="等额本息")
    row = result.assets.iloc[0]
    assert (row.asset_type, row.amortization, row.ip_type) == ("finance_lease", "level_payment", ["invention_patent"])


def test_xlsx_date_cells_numbers_and_excel_serials_are_read(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "pool"
    other = wb.create_sheet("notes")
    other.append(["nothing here"])
    ws.append(HEADER)
    ws.append(["A1", 1001, "nev", "pledge_loan", 12_000_000, 0.045, dt.datetime(2026, 3, 15), 46461,
               "invention_patent", 30_000_000, True])  # fmt: skip
    path = tmp_path / "t.xlsx"
    wb.save(path)
    result = read_tape(path, sheet="POOL")
    row = result.assets.iloc[0]
    assert row.obligor_id == "1001"
    assert row.start_date == dt.date(2026, 3, 15)
    assert row.maturity_date == dt.date(2027, 3, 15)  # Excel serial 46461
    assert row.ip_appraised_value == [30_000_000.0] and bool(row.overdue_history)
    with pytest.raises(TapeError, match="no sheet named 'missing'; the workbook has: pool, notes"):
        read_tape(path, sheet="missing")


def test_parquet_with_native_list_columns_is_read(tmp_path):
    frame = pd.DataFrame(ROWS, columns=HEADER)
    frame["principal"] = frame.principal.astype(float)
    frame["ip_type"] = [["invention_patent"], ["invention_patent", "copyright"], []]
    frame["ip_appraised_value"] = [[30e6], [10e6, 4e6], []]
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    result = read_tape(path)
    assert result.rejected == []
    assert result.assets.ip_appraised_value.tolist() == [[30e6], [10e6, 4e6], []]


# ------------------------------------------------------------------------------------------------------------
# file-level problems
# ------------------------------------------------------------------------------------------------------------


def test_a_missing_file_raises_a_tape_error_naming_the_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(TapeError) as info:
        read_tape(path)
    assert info.value.issues == [Issue("file not found", file=str(path))]


def test_a_directory_is_refused(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(TapeError, match="not a regular file"):
        read_tape(tmp_path / "d.csv")


def test_a_file_larger_than_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "t.csv", HEADER, ROWS)
    monkeypatch.setattr(defaults, "MAX_TAPE_BYTES", 100)
    with pytest.raises(TapeError, match="file is too large: .* the limit is 100 bytes"):
        read_tape(path)


def test_a_sheet_given_for_a_csv_tape_is_an_error(tmp_path):
    with pytest.raises(TapeError, match="not an XLSX workbook"):
        read_tape(write_csv(tmp_path / "t.csv", HEADER, ROWS), sheet="Sheet1")


def test_every_missing_required_column_is_listed_at_once(tmp_path):
    header = [h for h in HEADER if h not in ("obligor_id", "industry", "start_date")]
    rows = [[v for h, v in zip(HEADER, r, strict=True) if h in header] for r in ROWS]
    with pytest.raises(TapeError) as info:
        read_tape(write_csv(tmp_path / "t.csv", header, rows))
    assert [i.field for i in info.value.issues] == ["obligor_id", "industry", "start_date"]


# ------------------------------------------------------------------------------------------------------------
# the bad-tape corpus (tests/data/bad_tapes/manifest.toml)
# ------------------------------------------------------------------------------------------------------------


def matches(issue: Issue, expected: dict) -> bool:
    return (
        ("field" not in expected or issue.field == expected["field"])
        and ("row" not in expected or issue.row == expected["row"])
        and expected["message"].lower() in issue.message.lower()
    )


def test_the_bad_tape_corpus_has_at_least_twenty_files_and_both_kinds():
    assert len(MANIFEST) >= 20
    assert {c["kind"] for c in MANIFEST} == {"file", "row"}
    for case in MANIFEST:
        assert (BAD / case["file"]).is_file(), case["file"]
        assert case["issues"], case["file"]


@pytest.mark.parametrize("case", MANIFEST, ids=[c["file"] for c in MANIFEST])
def test_each_bad_tape_fails_as_its_manifest_entry_says(case):
    path = BAD / case["file"]
    if case["kind"] == "file":
        with pytest.raises(TapeError) as info:
            read_tape(path)
        issues = info.value.issues
        assert all(i.file == str(path) for i in issues)
    else:
        result = read_tape(path)
        issues = result.rejected
        assert sorted({i.row for i in issues}) == case["rejected_rows"]
        assert result.n_accepted == result.n_rows - len(case["rejected_rows"])
        assert set(result.assets.source_row).isdisjoint(case["rejected_rows"])
        assert all(i.file == str(path) and i.row is not None and i.field for i in issues)
    for expected in case["issues"]:
        assert any(matches(i, expected) for i in issues), (expected, [str(i) for i in issues])


@pytest.mark.parametrize(
    "case", [c for c in MANIFEST if c["kind"] == "row"], ids=[c["file"] for c in MANIFEST if c["kind"] == "row"]
)
def test_strict_reading_raises_on_every_row_level_bad_tape(case):
    with pytest.raises(TapeError) as info:
        read_tape(BAD / case["file"], strict=True)
    assert sorted({i.row for i in info.value.issues}) == case["rejected_rows"]


def test_the_committed_bad_tapes_equal_a_fresh_run_of_their_generator(tmp_path):
    make_bad = load_script(BAD / "make_bad_tapes.py", "make_bad_tapes")
    for path in make_bad.write_all(tmp_path):
        assert path.read_bytes() == (BAD / path.name).read_bytes(), path.name


def test_duplicate_asset_ids_are_rejected_naming_the_first_row(tmp_path):
    rows = [ROWS[0], ROWS[1], [*ROWS[2][:0], "A1", *ROWS[2][1:]], ["A1", "G9", *ROWS[1][2:]]]
    result = read_tape(write_csv(tmp_path / "t.csv", HEADER, rows))
    assert [(i.row, i.field) for i in result.rejected] == [(3, "asset_id"), (4, "asset_id")]
    assert all("first seen in row 1" in i.message for i in result.rejected)
    assert result.assets.source_row.tolist() == [1, 2]


def test_all_problems_of_a_row_are_collected_not_just_the_first(tmp_path):
    result = one_row(tmp_path, principal="-1", rate="40", start_date="2026-02-30", overdue_history="maybe")
    assert [i.field for i in result.rejected] == ["principal", "rate", "start_date", "overdue_history"]
    assert result.n_rejected_rows == 1 and result.n_accepted == 0


def test_the_rejection_table_lists_row_field_and_message(tmp_path):
    result = read_tape(BAD / "several_problems_one_row.csv")
    table = result.rejection_table()
    assert list(table.columns) == ["row", "field", "message"]
    assert table.row.tolist() == [2, 2, 2]
    assert table.field.tolist() == ["principal", "rate", "maturity_date"]
    empty = read_tape(TAPES / "abn_pool.csv").rejection_table()
    assert list(empty.columns) == ["row", "field", "message"] and empty.empty


def test_expected_rejections_print_nothing_and_log_no_warning(tmp_path, capsys, caplog):
    with caplog.at_level(logging.WARNING):
        read_tape(BAD / "several_problems_one_row.csv")
        with pytest.raises(TapeError):
            read_tape(BAD / "missing_columns.csv")
    assert caplog.records == []
    assert capsys.readouterr() == ("", "")


# ------------------------------------------------------------------------------------------------------------
# property tests
# ------------------------------------------------------------------------------------------------------------

_ID = st.from_regex(r"[B-MO-Z][A-Z0-9_]{0,8}", fullmatch=True)
_NAME = st.text(alphabet="赣州稀土新材料有限公司（）ABC", min_size=1, max_size=12)
_CENTS = st.integers(min_value=1, max_value=10**13)


@st.composite
def valid_rows(draw):
    """(csv cells dict, expected typed values dict) for a list of valid rows with unique ids."""
    n = draw(st.integers(1, 6))
    ids = draw(st.lists(_ID, min_size=n, max_size=n, unique=True))
    rows = []
    for k, asset_id in enumerate(ids):
        principal = draw(_CENTS) / 100
        rate = draw(st.integers(0, 3600)) / 10_000
        start = draw(st.dates(dt.date(2000, 1, 1), dt.date(2080, 12, 31)))
        maturity = start + dt.timedelta(days=draw(st.integers(1, 3650)))
        asset_type = draw(st.sampled_from(list(DEFAULTS_BY_ASSET_TYPE)))
        custom = draw(st.booleans()) and (maturity - start).days >= 3
        schedule = []
        if custom:
            days = sorted(draw(st.sets(st.integers(1, (maturity - start).days), min_size=1, max_size=3)))
            cents = round(principal * 100)
            cuts = sorted(draw(st.lists(st.integers(0, cents), min_size=len(days) - 1, max_size=len(days) - 1)))
            parts = [b - a for a, b in zip([0, *cuts], [*cuts, cents], strict=True)]
            schedule = [(start + dt.timedelta(days=d), p / 100) for d, p in zip(days, parts, strict=True)]
        n_ip = draw(st.integers(0, 3))
        ip_types = draw(st.lists(st.sampled_from(["invention_patent", "trademark", "data_ip"]), min_size=n_ip,
                                 max_size=n_ip))  # fmt: skip
        expiries = [draw(st.dates(dt.date(2000, 1, 1), dt.date(2099, 1, 1))) for _ in range(n_ip)]
        values = [draw(_CENTS) / 100 for _ in range(n_ip)]
        flags = draw(st.lists(st.booleans(), min_size=4, max_size=4))
        pd_value = draw(st.one_of(st.none(), st.integers(0, 9999).map(lambda x: x / 10_000)))
        date_fmt = draw(st.sampled_from(["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"]))
        thousands = draw(st.booleans())
        expected = {
            "asset_id": asset_id, "obligor_id": f"O{k}", "obligor_name": draw(_NAME), "industry": "nev",
            "asset_type": asset_type, "principal": principal, "rate": rate, "start_date": start,
            "maturity_date": maturity, "amortization": "custom" if custom else DEFAULTS_BY_ASSET_TYPE[asset_type][1],
            "custom_schedule": schedule, "pd": math.nan if pd_value is None else pd_value,
            "ip_type": ip_types, "ip_expiry_date": expiries, "ip_appraised_value": values,
            "whitelisted": flags[0], "overdue_history": flags[1], "blacklisted": flags[2],
            "cnipa_pledge_registered": flags[3],
        }  # fmt: skip
        cells = dict(expected)
        cells["principal"] = f"{principal:,.2f}" if thousands else repr(principal)
        cells["rate"] = repr(rate)
        cells["start_date"] = start.strftime(date_fmt)
        cells["maturity_date"] = maturity.strftime(date_fmt)
        cells["amortization"] = "custom" if custom else ""
        cells["custom_schedule"] = ";".join(f"{d.isoformat()}:{a!r}" for d, a in schedule)
        cells["pd"] = "" if pd_value is None else repr(pd_value)
        cells["ip_type"] = ";".join(ip_types)
        cells["ip_expiry_date"] = ";".join(d.strftime(date_fmt) for d in expiries)
        cells["ip_appraised_value"] = ";".join(repr(v) for v in values)
        for name in ("whitelisted", "overdue_history", "blacklisted", "cnipa_pledge_registered"):
            cells[name] = draw(st.sampled_from(["true", "yes", "1", "是", "Y"] if expected[name] else
                                               ["false", "no", "0", "否", "N"]))  # fmt: skip
        rows.append((cells, expected))
    return rows


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=valid_rows())
def test_random_valid_rows_round_trip_through_csv_unchanged(tmp_path, rows):
    header = list(rows[0][1])
    path = write_csv(tmp_path / "prop.csv", header, [[cells[h] for h in header] for cells, _ in rows])
    result = read_tape(path, strict=True)
    assert result.n_accepted == len(rows)
    for (_, expected), (_, got) in zip(rows, result.assets.iterrows(), strict=True):
        for name, value in expected.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(got[name])
            else:
                assert got[name] == value, name
        assert len(got.ip_owner_id) == len(expected["ip_type"])


_JUNK_TEXT = st.text(max_size=40)
_JUNK_OBJECT = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), _JUNK_TEXT, st.binary(max_size=8), st.dates(),
    st.datetimes(), st.decimals(), st.lists(st.one_of(st.integers(), _JUNK_TEXT, st.floats()), max_size=3),
    st.tuples(_JUNK_TEXT, st.integers()),
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=_JUNK_TEXT, row=st.integers(-1, len(ROWS) - 1), column=st.integers(0, len(HEADER)))
def test_junk_text_in_any_csv_cell_gives_a_rejection_or_a_tape_error_and_nothing_else(tmp_path, junk, row, column):
    header = [*HEADER, "x_extra"]
    rows = [[*r, ""] for r in ROWS]
    if row < 0:
        header[column] = junk
    else:
        rows[row][column] = junk
    path = tmp_path / "junk.csv"
    try:
        write_csv(path, header, rows)
    except UnicodeEncodeError:
        return
    try:
        result = read_tape(path)
    except TapeError as e:
        assert e.issues and all(i.file == str(path) for i in e.issues)
        return
    assert result.n_accepted + result.n_rejected_rows == result.n_rows
    assert all(i.row is not None and i.field for i in result.rejected)


@settings(max_examples=200, deadline=None)
@given(junk=_JUNK_OBJECT, row=st.integers(0, len(ROWS) - 1), column=st.integers(0, len(HEADER) - 1))
def test_junk_objects_in_a_frame_cell_give_a_rejection_or_a_tape_error_and_nothing_else(junk, row, column):
    frame = pd.DataFrame(ROWS, columns=HEADER, dtype=object)
    frame.iat[row, column] = junk
    try:
        result = validate_tape_frame(frame)
    except TapeError:
        return
    assert result.n_accepted + result.n_rejected_rows == result.n_rows
