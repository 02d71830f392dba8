"""The vectorised tape reader (pyarrow CSV, validation column by column on distinct cells) gives exactly what the
row-by-row reference gives: the same frame, the same rejected rows and messages, on the bad-tape corpus, the sample
tapes and randomly mutated tapes; and a tape over the documented size limits is refused before validation."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pandas as pd
import pytest

import ipabs.scenario.tape as T
from ipabs import defaults
from ipabs.cli import main
from ipabs.errors import TapeError

ROOT = Path(__file__).resolve().parents[2]
BAD_TAPES = ROOT / "tests" / "data" / "bad_tapes"
SAMPLE_TAPES = ROOT / "scenarios" / "tapes"
TAPES = sorted(p for p in [*BAD_TAPES.iterdir(), *SAMPLE_TAPES.iterdir()]
               if p.suffix in (".csv", ".xlsx", ".parquet", ".txt", ".xls"))


def reference(path: Path) -> T.TapeResult:
    """The row-by-row reference: the standard-library CSV reader and ``_validate_reference``."""
    file = str(path)
    kind = T._check_file(path, file, None)
    table, pre = None, {}
    if kind == "csv":
        header, columns, rows, pre = T._read_csv(path.read_bytes(), file)
    elif kind == "xlsx":
        header, columns, rows, table = T._read_xlsx(path, None, file)
    else:  # every cell as a Python object, as the reference did
        import pyarrow.parquet as pq

        t = pq.read_table(path)
        header, rows = [str(c) for c in t.column_names], list(range(1, t.num_rows + 1))
        columns = [t.column(j).to_pylist() for j in range(t.num_columns)]
    return T._validate_reference(header, columns, rows, file=file, table=table, strict=False, pre_issues=pre)


def outcome(fn, *args):
    try:
        return fn(*args)
    except TapeError as e:
        return e.issues


def assert_same(fast, ref) -> None:
    if isinstance(ref, list) or isinstance(fast, list):
        assert fast == ref
        return
    assert (fast.n_rows, fast.n_accepted, fast.file) == (ref.n_rows, ref.n_accepted, ref.file)
    assert fast.rejected == ref.rejected
    pd.testing.assert_frame_equal(fast.assets, ref.assets)


@pytest.mark.parametrize("path", TAPES, ids=[p.name for p in TAPES])
def test_every_corpus_and_sample_tape_reads_exactly_as_the_reference(path: Path) -> None:
    assert_same(outcome(T.read_tape, path), outcome(reference, path))


def test_the_sample_csv_takes_the_pyarrow_path() -> None:
    assert T._read_csv_arrow(SAMPLE_TAPES / "ganzhou_pledge_pool.csv") is not None
    assert T._read_csv_arrow(SAMPLE_TAPES / "ganzhou_pledge_pool_gbk.csv") is None  # GBK: the reference reader


HOSTILE = ["", " ", "nan", "NaN", "-", "n/a", "—", "inf", "-1", "0", "1e30", "1,000", "1,00", "12%", "abc",
           "2026-02-30", "2026/1/31", "20260131", "1989-12-31", "true", "是", "maybe", ";", "a;;b", " x ",
           "x\ny", '"quoted"', "ＧＺ００１", "invention_patent;trademark", "5000000;", "GZ001;GZ002", "0.5",
           "custom", "at_maturity", "2027-01-01:100;2027-06-01:200"]


def mutated_tape(seed: int) -> str:
    """The pledge sample with a few random cells replaced by hostile values, and sometimes a blank line, a short or
    a long row, a duplicate id or an obligor that disagrees with itself."""
    rng = random.Random(seed)
    rows = list(csv.reader(io.StringIO((SAMPLE_TAPES / "ganzhou_pledge_pool.csv").read_text("utf-8"))))
    header, body = rows[0], rows[1:]
    for _ in range(rng.randint(1, 8)):
        r = rng.randrange(len(body))
        body[r][rng.randrange(len(header))] = rng.choice(HOSTILE)
    if rng.random() < 0.3:
        body[rng.randrange(len(body))][0] = body[0][0]
    if rng.random() < 0.3:
        body.insert(rng.randrange(len(body)), [])
    if rng.random() < 0.2:
        body[rng.randrange(len(body))] = body[0][:5]
    if rng.random() < 0.2:
        body[rng.randrange(len(body))].append("stray")
    out = io.StringIO()
    csv.writer(out, lineterminator=rng.choice(["\n", "\r\n"])).writerows([header, *body])
    return out.getvalue()


@pytest.mark.parametrize("seed", range(60))
def test_randomly_mutated_tapes_read_exactly_as_the_reference(seed: int, tmp_path: Path) -> None:
    path = tmp_path / f"mutated_{seed}.csv"
    path.write_text(mutated_tape(seed), encoding="utf-8-sig" if seed % 3 == 0 else "utf-8")
    assert_same(outcome(T.read_tape, path), outcome(reference, path))


@pytest.mark.parametrize("seed", range(10))
def test_randomly_mutated_parquet_tapes_read_exactly_as_the_reference(seed: int, tmp_path: Path) -> None:
    rows = [r for r in csv.reader(io.StringIO(mutated_tape(seed))) if r]
    width = len(rows[0])
    frame = pd.DataFrame([(r + [""] * width)[:width] for r in rows[1:]], columns=rows[0], dtype=object)
    if seed % 2:
        frame = frame.replace({"": None})  # nulls as well as blank text
    path = tmp_path / "mutated.parquet"
    try:
        frame.to_parquet(path, index=False)
    except ValueError:  # duplicate column names after a mutation: not a Parquet case
        pytest.skip("not writable as Parquet")
    assert_same(outcome(T.read_tape, path), outcome(reference, path))


def test_validate_tape_frame_agrees_with_the_reference_on_a_mutated_frame() -> None:
    rows = [r for r in csv.reader(io.StringIO(mutated_tape(5))) if r]
    frame = pd.DataFrame([(r + [""] * len(rows[0]))[: len(rows[0])] for r in rows[1:]], columns=rows[0], dtype=object)
    header = [str(c) for c in frame.columns]
    columns = [frame.iloc[:, j].tolist() for j in range(frame.shape[1])]
    ref = outcome(lambda: T._validate_reference(header, columns, list(range(1, len(frame) + 1)), file="<frame>",
                                                table=None, strict=False, pre_issues={}))
    assert_same(outcome(T.validate_tape_frame, frame), ref)


def test_a_tape_over_the_row_limit_is_refused_before_validation(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(defaults, "MAX_TAPE_ROWS", 10)
    with pytest.raises(TapeError, match="16 rows, more than the 10 a tape may have"):
        T.read_tape(SAMPLE_TAPES / "ganzhou_pledge_pool.csv")
    with pytest.raises(TapeError, match="more than the 10"):
        T.read_tape(SAMPLE_TAPES / "ganzhou_pledge_pool.xlsx")
    assert main(["eligibility", str(SAMPLE_TAPES / "ganzhou_pledge_pool_gbk.csv")]) == 2
    assert "more than the 10 a tape may have" in capsys.readouterr().err


def test_a_tape_over_the_byte_limit_is_refused_before_it_is_read(monkeypatch, capsys) -> None:
    monkeypatch.setattr(defaults, "MAX_TAPE_BYTES", 1000)
    assert main(["eligibility", str(SAMPLE_TAPES / "ganzhou_pledge_pool.csv")]) == 2
    assert "the limit is 1,000 bytes" in capsys.readouterr().err


def test_a_20000_row_tape_reads_quickly_with_its_rejections(tmp_path) -> None:
    """The test-suite version of benchmarks/test_bench_tape.py (1,000,000 rows there)."""
    import sys
    import time

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from tapegen import write_tape

    path = write_tape(tmp_path / "tape.csv", 20_000, bad_every=100)
    t0 = time.process_time()
    r = T.read_tape(path)
    assert time.process_time() - t0 < 10
    assert (r.n_rows, r.n_accepted, r.n_rejected_rows) == (20_000, 19_800, 200)
    assert r.rejected[0].row == 1 and r.rejected[0].field == "principal" and "is negative" in r.rejected[0].message
    assert r.assets["source_row"].iloc[0] == 2 and len(r.assets) == 19_800
