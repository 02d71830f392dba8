"""The worked example of docs/methodology/waterfall.md §6: its input files are read from the page, run through the
whole pipeline (tape reader, QuantLib schedules, kernels), and every number of its tables is checked — by hand-typed
values here and against the page's own tables, so the page cannot drift from the engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ipabs.api import run_deterministic
from ipabs.reference.waterfall import run_path as twin_run_path

DOC = Path(__file__).resolve().parents[2] / "docs" / "methodology" / "waterfall.md"
SECTION = DOC.read_text("utf-8").split("## 6. Worked example", 1)[1]

# period rows: (cash in, fee, senior interest, senior principal, senior balance end, sub principal, sub balance end)
WATERFALL = [
    (1_680_000.00, 10_000.00, 80_000.00, 1_590_000.00, 6_410_000.00, 0.00, 2_000_000.00),
    (1_650_000.00, 10_000.00, 64_100.00, 1_575_900.00, 4_834_100.00, 0.00, 2_000_000.00),
    (1_560_000.00, 10_000.00, 48_341.00, 1_501_659.00, 3_332_441.00, 0.00, 2_000_000.00),
    (3_530_000.00, 10_000.00, 33_324.41, 3_332_441.00, 0.00, 154_234.59, 1_845_765.41),
]
# pool rows: (balance start, interest, principal, defaults, recoveries, balance end, state)
POOL = [
    (10_000_000.00, 180_000.00, 1_500_000.00, 0.00, 0.00, 8_500_000.00, "normal"),
    (8_500_000.00, 150_000.00, 1_500_000.00, 0.00, 0.00, 7_000_000.00, "normal"),
    (7_000_000.00, 60_000.00, 1_500_000.00, 4_000_000.00, 0.00, 1_500_000.00, "accelerated"),
    (1_500_000.00, 30_000.00, 1_500_000.00, 0.00, 2_000_000.00, 0.00, "accelerated"),
]


def block(kind: str) -> str:
    m = re.search(rf"```{kind}\n(.*?)```", SECTION, re.S)
    assert m, f"no ```{kind} block in the worked example"
    return m.group(1)


def table_rows(first_header: str) -> list[list[str]]:
    lines = SECTION.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def money(x: float) -> str:
    return f"{x:,.2f}"


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    folder = tmp_path_factory.mktemp("worked_example")
    (folder / "pool.csv").write_text(block("csv"), encoding="utf-8")
    (folder / "example.toml").write_text(block("toml"), encoding="utf-8")
    return run_deterministic(folder / "example.toml")


def test_the_worked_example_compiles_to_four_quarters_of_exactly_a_quarter_year(example):
    assert example.deal.n_periods == 4
    assert list(example.deal.waterfall.yf) == [0.25] * 4
    assert example.deal.pool_balance == 10_000_000.0
    assert not example.deal.warnings


def test_the_worked_example_pool_flows_are_those_of_the_page(example):
    pool = example.pool_frame()
    for t, (start, interest, principal, defaults, recoveries, end, state) in enumerate(POOL):
        row = pool.iloc[t]
        assert row["pool_balance_start"] == pytest.approx(start, abs=0.005)
        assert row["interest_collected"] == pytest.approx(interest, abs=0.005)
        assert row["principal_collected"] == pytest.approx(principal, abs=0.005)
        assert row["defaults"] == pytest.approx(defaults, abs=0.005)
        assert row["recoveries"] == pytest.approx(recoveries, abs=0.005)
        assert row["pool_balance_end"] == pytest.approx(end, abs=0.005)
        assert row["state"] == state


def test_the_worked_example_waterfall_pays_what_the_page_says(example):
    senior, sub = example.tranche_frame("优先A"), example.tranche_frame("次级")
    fees = example.fees_frame()
    for t, (cash, fee, s_int, s_prin, s_bal, j_prin, j_bal) in enumerate(WATERFALL):
        assert example.out.cash_in[t] == pytest.approx(cash, abs=0.005)
        assert fees["管理费_paid"][t] == pytest.approx(fee, abs=0.005)
        assert senior["interest_paid"][t] == pytest.approx(s_int, abs=0.005)
        assert senior["principal_paid"][t] == pytest.approx(s_prin, abs=0.005)
        assert senior["balance_end"][t] == pytest.approx(s_bal, abs=0.005)
        assert sub["principal_paid"][t] == pytest.approx(j_prin, abs=0.005)
        assert sub["balance_end"][t] == pytest.approx(j_bal, abs=0.005)
    summary = {r["name"]: r for r in example.tranche_summary()}
    assert summary["优先A"]["loss"] == 0.0
    assert summary["优先A"]["interest_paid"] == pytest.approx(225_765.41, abs=0.005)
    assert summary["次级"]["loss"] == pytest.approx(1_845_765.41, abs=0.005)
    assert example.out.coverage[0] == pytest.approx(1_680_000 / 90_000)
    assert example.out.coverage[3] == pytest.approx(3_530_000 / (10_000 + 33_324.41 + 3_332_441), abs=1e-12)


def test_the_reference_twin_gives_the_same_worked_example(example):
    res = twin_run_path(example.deal)
    for t, (_, _, s_int, s_prin, _, j_prin, j_bal) in enumerate(WATERFALL):
        p = res.periods[t]
        assert p.interest_paid["优先A"] == pytest.approx(s_int, abs=0.005)
        assert p.principal_paid["优先A"] == pytest.approx(s_prin, abs=0.005)
        assert p.principal_paid["次级"] == pytest.approx(j_prin, abs=0.005)
        assert p.balance_end["次级"] == pytest.approx(j_bal, abs=0.005)


def test_the_page_tables_print_exactly_these_numbers():
    waterfall = table_rows("period | cash in")
    assert [r[1:] for r in waterfall] == [[money(x) for x in row] for row in WATERFALL]
    pool = table_rows("period | pool balance start")
    assert [[r[1], r[2], r[3], r[4], r[5], r[7], r[9]] for r in pool] == [
        [money(x) for x in row[:-1]] + [row[-1]] for row in POOL]
    assert "**1,845,765.41**" in SECTION and "8,420,000.00" in SECTION
