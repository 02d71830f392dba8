"""Write the bad pool-tape corpus and its manifest (``python tests/data/bad_tapes/make_bad_tapes.py``).

Each case is one small tape with one kind of problem, built from a valid three-row base tape (synthetic data).
``manifest.toml`` (written from the same list, so the two never drift) says, per file, whether
:func:`ipabs.scenario.tape.read_tape` must raise ``TapeError`` (``kind = "file"``) or return with given rows
rejected (``kind = "row"``; ``strict=True`` then raises), and which issues (row, field, message substring) it must
report. The CLI tests reuse the manifest: ``ipabs validate`` on a scenario pointing at any file here exits with 2
(for ``kind = "row"`` cases with ``pool.strict = true``).

The output is deterministic (a fixed seed for the random-bytes case); tests/unit/test_tape.py checks that the
committed files equal a fresh run.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

HEADER = [
    "asset_id", "obligor_id", "obligor_name", "industry", "county", "asset_type", "principal", "rate",
    "start_date", "maturity_date", "payment_frequency", "amortization", "custom_schedule", "rating", "pd",
    "ip_type", "ip_registration_no", "ip_expiry_date", "ip_appraised_value", "cnipa_pledge_registered",
    "overdue_history",
]  # fmt: skip
BASE = [
    {
        "asset_id": "A001", "obligor_id": "G001", "obligor_name": "赣州甲测试科技有限公司", "industry": "nev",
        "county": "赣州经开区", "asset_type": "pledge_loan", "principal": "12000000", "rate": "0.045",
        "start_date": "2026-03-15", "maturity_date": "2027-03-15", "payment_frequency": "quarterly",
        "amortization": "interest_only", "custom_schedule": "", "rating": "AA", "pd": "",
        "ip_type": "invention_patent;trademark", "ip_registration_no": "ZL202110123456.7;12345678",
        "ip_expiry_date": "2041-05-01;2031-06-30", "ip_appraised_value": "30000000;5000000",
        "cnipa_pledge_registered": "true", "overdue_history": "false",
    },
    {
        "asset_id": "A002", "obligor_id": "G002", "obligor_name": "赣州乙测试稀土有限公司",
        "industry": "rare_earth_tungsten", "county": "赣县区", "asset_type": "pledge_loan", "principal": "8000000",
        "rate": "0.05", "start_date": "2026-03-20", "maturity_date": "2027-03-20", "payment_frequency": "",
        "amortization": "", "custom_schedule": "", "rating": "A+", "pd": "",
        "ip_type": "invention_patent", "ip_registration_no": "ZL201910654321.0", "ip_expiry_date": "2039-02-01",
        "ip_appraised_value": "25000000", "cnipa_pledge_registered": "true", "overdue_history": "false",
    },
    {
        "asset_id": "A003", "obligor_id": "G003", "obligor_name": "赣州丙测试医药有限公司", "industry": "biomedicine",
        "county": "章贡区", "asset_type": "royalty_licence", "principal": "20000000", "rate": "0.04",
        "start_date": "2026-06-30", "maturity_date": "2029-06-30", "payment_frequency": "quarterly",
        "amortization": "level_payment", "custom_schedule": "", "rating": "AA-", "pd": "",
        "ip_type": "invention_patent;utility_model_patent", "ip_registration_no": "ZL201810111222.3;ZL202120333444.5",
        "ip_expiry_date": "2038-01-10;2031-04-20", "ip_appraised_value": "40000000;8000000",
        "cnipa_pledge_registered": "true", "overdue_history": "false",
    },
]  # fmt: skip


@dataclass
class Case:
    """One bad tape: its file, expected outcome and bytes."""

    file: str
    kind: str  # "file" or "row"
    description: str
    data: bytes
    issues: list[dict] = field(default_factory=list)  # each: {row?, field?, message}
    rejected_rows: list[int] = field(default_factory=list)


def csv_bytes(rows: list[dict], header: list[str] | None = None, *, encoding: str = "utf-8",
              line_end: str = "\n") -> bytes:  # fmt: skip
    header = header or HEADER
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return out.getvalue().encode(encoding)


def base(**changes_by_row: dict) -> list[dict]:
    """The base rows with changes: base(r2={"principal": "-1"}) edits data row 2."""
    rows = [dict(r) for r in BASE]
    for key, change in changes_by_row.items():
        rows[int(key[1:]) - 1].update(change)
    return rows


def row_case(file: str, description: str, rows: list[dict], issues: list[tuple[int, str, str]],
             header: list[str] | None = None, **kw) -> Case:  # fmt: skip
    data = kw.pop("data", None) or csv_bytes(rows, header, **kw)
    return Case(
        file=file,
        kind="row",
        description=description,
        data=data,
        issues=[{"row": r, "field": f, "message": m} for r, f, m in issues],
        rejected_rows=sorted({r for r, _, _ in issues}),
    )


def file_case(file: str, description: str, data: bytes, issues: list[tuple[str | None, str]]) -> Case:
    return Case(
        file=file,
        kind="file",
        description=description,
        data=data,
        issues=[({"field": f} if f else {}) | {"message": m} for f, m in issues],
    )


def cases() -> list[Case]:
    rng = np.random.default_rng(20260415)
    good = csv_bytes(base())
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" + bytes(64)
    dup_ids = base() + [dict(BASE[1], asset_id="A001"), dict(BASE[2], asset_id="A001")]
    zh_header = ["资产编号", "企业编号", "企业名称", "所属行业", "资产类型", "贷款金额", "年利率", "起始日", "到期日",
                 "是否质押登记"]  # fmt: skip
    zh_rows = [
        dict(zip(zh_header, ["Z001", "G101", "赣州丁测试家具有限公司", "furniture", "知识产权质押贷款", "5,600,000",
                             "4.2%", "2026/3/18", "2027/3/18", "是"], strict=True)),
        dict(zip(zh_header, ["Z002", "G102", "赣州戊测试果业有限公司", "agri_gi", "知识产权质押贷款", "壹佰万",
                             "4.5%", "20260320", "20270320", "否"], strict=True)),
    ]  # fmt: skip
    stray = csv_bytes(base()).decode("utf-8").splitlines()
    stray[2] += ",oops"
    return [
        # ---------------------------------------------------------------- file level
        file_case("empty.csv", "a 0-byte file", b"", [(None, "empty")]),
        file_case("header_only.csv", "a header and no data rows", csv_bytes([]), [(None, "no data rows")]),
        file_case(
            "invalid_encoding.csv",
            "bytes that are neither UTF-8 nor GB18030 (0xff)",
            good.replace("赣州甲测试科技有限公司".encode(), b"\xff\xfe\xff bad"),
            [(None, "tried encodings utf-8-sig, gb18030")],
        ),
        file_case("random_bytes.csv", "2 KB of random bytes", rng.bytes(2048), [(None, "binary")]),
        file_case("png_header.csv", "a PNG image renamed to .csv", png, [(None, "PNG image")]),
        file_case("zip_renamed.csv", "a ZIP archive renamed to .csv", b"PK\x03\x04" + bytes(60),
                  [(None, "ZIP archive")]),  # fmt: skip
        file_case("text_file.xlsx", "a CSV text file with the .xlsx extension", good, [(None, "not a valid XLSX")]),
        file_case("text_file.parquet", "a CSV text file with the .parquet extension", good,
                  [(None, "not a valid Parquet")]),  # fmt: skip
        file_case("tape.txt", "a valid CSV with the .txt extension", good, [(None, "unsupported file extension")]),
        file_case("legacy.xls", "a legacy .xls name", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
                  [(None, "legacy .xls is not supported")]),  # fmt: skip
        file_case(
            "missing_columns.csv",
            "principal and maturity_date columns absent",
            csv_bytes(base(), [h for h in HEADER if h not in ("principal", "maturity_date")]),
            [("principal", "required column 'principal' is missing"),
             ("maturity_date", "required column 'maturity_date' is missing")],
        ),  # fmt: skip
        file_case(
            "unknown_column_typo.csv",
            "header 'princpal' (typo of principal)",
            csv_bytes([{("princpal" if k == "principal" else k): v for k, v in r.items()} for r in base()],
                      ["princpal" if h == "principal" else h for h in HEADER]),  # fmt: skip
            [("princpal", "did you mean 'principal'"), ("principal", "required column 'principal' is missing")],
        ),
        file_case(
            "duplicate_columns.csv",
            "the rate column twice",
            csv_bytes([dict(r) for r in base()], HEADER + ["rate"]),
            [("rate", "duplicate column 'rate'")],
        ),
        file_case(
            "duplicate_alias_columns.csv",
            "principal given twice, once as the Chinese alias 本金",
            csv_bytes([dict(r, 本金=r["principal"]) for r in base()], HEADER + ["本金"]),
            [("principal", "duplicate column 'principal'")],
        ),
        file_case(
            "title_row.csv",
            "a title row above the header, as some Excel reports have",
            "资产池明细表\n".encode() + good,
            [(None, "the first row must be the header")],
        ),
        file_case(
            "unheaded_column.csv",
            "a column with values but an empty header",
            csv_bytes([dict(r, **{"": "1"}) for r in base()], HEADER + [""]),
            [(None, "has values but no header")],
        ),
        # ---------------------------------------------------------------- row level
        row_case("negative_principal.csv", "principal -1,000,000 in row 2", base(r2={"principal": "-1000000"}),
                 [(2, "principal", "negative")]),  # fmt: skip
        row_case("nan_principal.csv", "principal NaN in row 1", base(r1={"principal": "NaN"}),
                 [(1, "principal", "missing")]),  # fmt: skip
        row_case("infinite_principal.csv", "principal inf in row 3", base(r3={"principal": "inf"}),
                 [(3, "principal", "infinite")]),  # fmt: skip
        row_case("absurd_principal.csv", "principal 1e15 yuan in row 2", base(r2={"principal": "1e15"}),
                 [(2, "principal", "absurd")]),  # fmt: skip
        row_case("misplaced_thousands_separator.csv", "principal '1,20,0000' in row 1",
                 base(r1={"principal": "1,20,0000"}), [(1, "principal", "misplaced thousands separators")]),  # fmt: skip
        row_case("rate_out_of_range.csv", "rate 5.0 (meant 5%) in row 3", base(r3={"rate": "5.0"}),
                 [(3, "rate", "outside [0, 0.36]")]),  # fmt: skip
        row_case("pd_out_of_range.csv", "pd 1.5 in row 1", base(r1={"pd": "1.5"}), [(1, "pd", "outside [0, 1)")]),
        row_case(
            "maturity_before_start.csv",
            "maturity 2025-03-15 before start 2026-03-15 in row 1",
            base(r1={"maturity_date": "2025-03-15"}),
            [(1, "maturity_date", "not after start_date")],
        ),
        row_case(
            "bad_dates.csv",
            "start 2026-02-30 (row 1), maturity 31/01/2027 (row 2), start 'tomorrow' (row 3)",
            base(r1={"start_date": "2026-02-30"}, r2={"maturity_date": "31/01/2027"}, r3={"start_date": "tomorrow"}),
            [(1, "start_date", "not a valid calendar date"), (2, "maturity_date", "not a date"),
             (3, "start_date", "not a date")],
        ),  # fmt: skip
        row_case(
            "duplicate_asset_ids.csv",
            "asset_id A001 in rows 1, 4 and 5",
            dup_ids,
            [(4, "asset_id", "first seen in row 1"), (5, "asset_id", "first seen in row 1")],
        ),
        row_case(
            "missing_required_values.csv",
            "blank obligor_id (row 1) and industry (row 2)",
            base(r1={"obligor_id": ""}, r2={"industry": " "}),
            [(1, "obligor_id", "missing"), (2, "industry", "missing")],
        ),
        row_case("unknown_asset_type.csv", "asset_type 'royalty' in row 3", base(r3={"asset_type": "royalty"}),
                 [(3, "asset_type", "unknown")]),  # fmt: skip
        row_case(
            "unknown_amortization_and_frequency.csv",
            "amortization 'balloon' (row 1), payment_frequency 'weekly' (row 3)",
            base(r1={"amortization": "balloon"}, r3={"payment_frequency": "weekly"}),
            [(1, "amortization", "unknown"), (3, "payment_frequency", "unknown")],
        ),
        row_case("unknown_ip_type.csv", "ip_type 'patent' in row 2", base(r2={"ip_type": "patent"}),
                 [(2, "ip_type", "unknown")]),  # fmt: skip
        row_case(
            "ip_list_length_mismatch.csv",
            "two IP types but one expiry date and three values in row 1",
            base(r1={"ip_expiry_date": "2041-05-01", "ip_appraised_value": "1;2;3"}),
            [(1, "ip_expiry_date", "has 1 entry but ip_type has 2"),
             (1, "ip_appraised_value", "has 3 entries but ip_type has 2")],
        ),  # fmt: skip
        row_case(
            "bad_custom_schedule.csv",
            "custom schedules: short sum (row 1), malformed (row 2), date after maturity (row 3)",
            base(
                r1={"amortization": "custom", "custom_schedule": "2026-09-15:6000000;2027-03-15:5000000"},
                r2={"amortization": "custom", "custom_schedule": "2026-13-01:abc;2027-03-20"},
                r3={"amortization": "custom", "custom_schedule": "2027-06-30:10000000;2029-12-31:10000000"},
            ),
            [(1, "custom_schedule", "sum to 11,000,000.00, not the principal 12,000,000.00"),
             (2, "custom_schedule", "malformed"), (3, "custom_schedule", "outside")],
        ),  # fmt: skip
        row_case(
            "custom_without_schedule.csv",
            "amortization custom with no schedule (row 2); a schedule with amortization level_payment (row 3)",
            base(r2={"amortization": "custom"}, r3={"custom_schedule": "2029-06-30:20000000"}),
            [(2, "custom_schedule", "missing"), (3, "custom_schedule", "amortization is 'level_payment'")],
        ),
        row_case("bad_booleans.csv", "overdue_history 'maybe' in row 2", base(r2={"overdue_history": "maybe"}),
                 [(2, "overdue_history", "not a yes/no value")]),  # fmt: skip
        row_case(
            "inconsistent_obligor.csv",
            "obligor G001 with rating AA (row 1) and A (row 4)",
            base() + [dict(BASE[1], asset_id="A004", obligor_id="G001", obligor_name=BASE[0]["obligor_name"],
                           industry="nev", rating="A")],
            [(4, "rating", "differs")],
        ),  # fmt: skip
        row_case(
            "several_problems_one_row.csv",
            "row 2: negative principal, rate 50%, maturity 'soon' — all three reported",
            base(r2={"principal": "-5", "rate": "50%", "maturity_date": "soon"}),
            [(2, "principal", "negative"), (2, "rate", "outside"), (2, "maturity_date", "not a date")],
        ),
        row_case(
            "stray_cells.csv",
            "row 2 has one more (non-blank) cell than the header",
            [],
            [(2, "column 22", "cells but the header has 21 columns")],
            data=("\n".join(stray) + "\n").encode(),
        ),
        row_case(
            "gbk_chinese_headers.csv",
            "GB18030, Chinese headers, 5,600,000 / 4.2% / 2026/3/18 / 是 parse; 壹佰万 (row 2) is not a number",
            zh_rows,
            [(2, "principal", "not a number")],
            header=zh_header,
            encoding="gb18030",
            line_end="\r\n",
        ),
    ]


def toml_value(v) -> str:
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def manifest(all_cases: list[Case]) -> str:
    lines = [
        "# Bad pool tapes for ipabs.scenario.tape (written by make_bad_tapes.py: edit that, not this file).",
        "#",
        '# kind = "file": read_tape raises TapeError; every listed issue is matched by one of its issues',
        "#               (same field when given; message contains the text, case-insensitive).",
        '# kind = "row":  read_tape returns; exactly rejected_rows are rejected (1-based data rows, header = row 0);',
        "#               every listed issue is matched by a rejection with the same row and field; strict=True raises.",
        "# `ipabs validate` on a scenario pointing at any of these tapes exits with code 2 (row cases: pool.strict = true).",
        "",
    ]
    for c in all_cases:
        lines += ["[[case]]", f"file = {toml_value(c.file)}", f"kind = {toml_value(c.kind)}",
                  f"description = {toml_value(c.description)}"]  # fmt: skip
        if c.kind == "row":
            lines.append(f"rejected_rows = {toml_value(c.rejected_rows)}")
        lines.append("issues = [")
        lines += [f"  {toml_value(i)}," for i in c.issues]
        lines += ["]", ""]
    return "\n".join(lines)


def write_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    all_cases = cases()
    names = [c.file for c in all_cases]
    assert len(names) == len(set(names)), "duplicate case file names"
    written = []
    for c in all_cases:
        (out / c.file).write_bytes(c.data)
        written.append(out / c.file)
    (out / "manifest.toml").write_text(manifest(all_cases), encoding="utf-8")
    return [*written, out / "manifest.toml"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the bad pool-tape corpus and manifest.toml.")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: this folder)")
    args = parser.parse_args(argv)
    for path in write_all(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
