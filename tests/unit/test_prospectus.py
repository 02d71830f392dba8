"""The prospectus stress-test table: rows and flags against the batch engine, break points (hand case and
consistency), the injectable breakeven, the XLSX sheet read back with openpyxl and the Markdown."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import openpyxl
import pytest

from ipabs.api import compile_scenario, load_scenario
from ipabs.credit.synthetic import SyntheticSpec, synthetic_deal
from ipabs.glossary import label
from ipabs.structuring.batch import ScenarioTable, run_batch
from ipabs.structuring.breakeven import breakeven as bisect_breakeven
from ipabs.structuring.prospectus import (
    COLUMNS,
    default_stresses,
    prospectus_markdown,
    prospectus_table,
    write_prospectus_xlsx,
)
from ipabs.structuring.stress import (
    AGENCY_STRESSES,
    MARKET_PRACTICE,
    NamedStress,
    named_cells,
    scenario_table,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="module")
def ganzhou():
    return compile_scenario(load_scenario(SCENARIOS / "ganzhou_pledge_2026.toml"))


#: A subset of the default stresses (the whole list runs in test_the_default_table_of_every_sample_deal, slow).
KEYS = ("base", "default_x1.5", "default_x3", "recovery_-30%", "lag_+12m", "support_default")


@pytest.fixture(scope="module")
def table(ganzhou):
    stresses = [s for s in default_stresses(ganzhou) if s.key in KEYS]
    return prospectus_table(ganzhou, stresses, breakeven=functools.partial(bisect_breakeven, tol=1e-4))


def test_default_stresses_add_the_support_provider_when_there_is_one(ganzhou):
    stresses = default_stresses(ganzhou)
    assert [s.key for s in stresses] == [s.key for s in AGENCY_STRESSES] + ["support_default"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ganzhou_pledge_2026", "interbank_abn_2026", "ip_lease_2026",
                                  "licence_relicence_2026"])
def test_the_default_table_of_every_sample_deal(tmp_path, name):
    deal = compile_scenario(load_scenario(SCENARIOS / f"{name}.toml"))
    df = prospectus_table(deal)
    assert len(df) == len(default_stresses(deal)) * len(deal.names.tranches)
    assert df.attrs["breakeven"]
    assert (df.loc[df["breaks"], "break_point"] >= 0).all()
    assert math.isnan(df[df["stress"] == "lag_+12m"]["cpr"].iloc[0])
    assert df[df["stress"] == "cpr_20%"]["cpr"].iloc[0] == 0.2
    write_prospectus_xlsx(df, tmp_path / "t.xlsx")
    assert "| 1 |" in prospectus_markdown(df)


def test_rows_and_flags_match_the_batch_engine(ganzhou, table):
    stresses = [s for s in default_stresses(ganzhou) if s.key in KEYS]
    k = len(ganzhou.names.tranches)
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == len(stresses) * k
    assert list(table["scenario"]) == [i + 1 for i in range(len(stresses)) for _ in range(k)]
    assert (table["source"] == MARKET_PRACTICE).all()
    # the "default x3" row equals run_batch with the multiplier tripled
    a = ganzhou.scenario.assumptions
    r = run_batch(ganzhou, ScenarioTable.from_assumptions(ganzhou, [a.model_copy(update={"default_multiplier": 3.0})]))
    rows = table[table["stress"] == "default_x3"]
    assert np.array_equal(rows["loss"].to_numpy(), r.loss[0])
    assert list(rows["principal_repaid"]) == list(r.loss[0] <= 0.005)
    assert list(rows["interest_repaid"]) == list(~r.shortfall_any[0])
    assert (rows["min_coverage_ratio"] == r.min_coverage[0]).all()
    # the lag row moves recoveries by 12 months = 4 quarterly periods
    lag = table[table["stress"] == "lag_+12m"].iloc[0]
    assert lag["recovery_lag_months"] == 12 and lag["recovery_lag_periods"] == 4
    assert math.isnan(lag["cpr"])


def test_break_points_are_where_the_tranche_stops_being_paid_in_full(ganzhou, table):
    assert table.attrs["break_measure"] == "default_multiplier"
    checked = 0
    for _, row in table[table["breaks"] & (table["stress"].isin(["base", "recovery_-30%", "support_default"]))] \
            .iterrows():
        c = [s for s in default_stresses(ganzhou) if s.key == row["stress"]][0]
        cell_t = scenario_table(ganzhou, named_cells(ganzhou, [c]))
        x = row["break_point"]
        probe = cell_t.take([0, 0]).with_columns(default_multiplier=[max(0.0, x - 1e-4), x + 1e-4])
        ok = run_batch(ganzhou, probe).repaid_in_full(row["tranche"])
        assert ok[0] or x == 0.0
        assert not ok[1]
        # the first break: repaid at every level below it
        below = cell_t.take(np.zeros(50, dtype=np.int64)).with_columns(default_multiplier=np.linspace(0, x, 50))
        assert run_batch(ganzhou, below).repaid_in_full(row["tranche"]).all()
        checked += 1
    assert checked >= 3
    # scenario (a)'s subordinate breaks between x1 and x1.5 (its loss at x1.5), though it is repaid again at very
    # high multiples when the guarantor pays the senior and recoveries reach it
    sub = table[(table["stress"] == "base") & (table["tranche"] == "次级")].iloc[0]
    assert sub["breaks"] and 1.0 < sub["break_point"] < 1.5
    # the multiplier rows share the base row's break point (the multiplier is what the break point measures)
    base = table[table["stress"] == "base"]["break_point"].to_numpy()
    assert np.array_equal(table[table["stress"] == "default_x3"]["break_point"].to_numpy(), base)


def test_break_even_cdr_of_a_hand_case():
    """Bullet assets at 0%, a 0% senior of 80% and zero recovery: the senior is repaid in full exactly while the
    pool's survival (1 − CDR)^T stays at or above 80%, so the break-even CDR is 1 − 0.8^(1/T)."""
    spec = SyntheticSpec(n_obligors=10, n_periods=12, frequency="quarterly", amortization="bullet", asset_rate=0.0,
                         senior_fraction=0.8, senior_coupon=0.0, recovery_rate=0.0, recovery_lag_periods=0)
    deal0 = synthetic_deal(spec)
    assert deal0.scenario.tranches[0].balance == pytest.approx(0.8 * 10 * spec.asset_principal)
    years = float(np.sum(deal0.waterfall.yf))
    expect = 1 - 0.8 ** (1 / years)
    be = bisect_breakeven(deal0, 0, measure="cdr", tol=1e-9)
    assert be.breaks and be.measure == "cdr"
    assert be.value == pytest.approx(expect, abs=1e-7)
    # and the default-multiplier measure on a base CDR of 1% gives the same point
    a = deal0.scenario.assumptions.model_copy(update={"cdr": 0.01})
    bm = bisect_breakeven(deal0, 0, measure="default_multiplier", base=a, tol=1e-7)
    assert bm.value * 0.01 == pytest.approx(expect, abs=1e-7)
    # recovery measure: with all assets defaulting at CDR 100% … the senior needs recovery ≥ 80%
    a1 = deal0.scenario.assumptions.model_copy(update={"cdr": 1.0})
    br = bisect_breakeven(deal0, 0, measure="recovery_rate", base=a1, tol=1e-7)
    assert br.breaks and br.value == pytest.approx(0.8, abs=1e-6)


def test_an_injected_breakeven_is_called_with_each_scenario(ganzhou):
    calls = []

    def fake(deal, tranche, measure="default_multiplier", base=None, support=True):
        calls.append((tranche, measure, base, support))
        return SimpleNamespace(value=7.0, breaks=tranche == "次级", measure=measure)

    stresses = [NamedStress("base"), NamedStress("rec", recovery_haircut=0.3),
                NamedStress("off", support_default=True, source="test")]
    df = prospectus_table(ganzhou, stresses, breakeven=fake)
    assert df.attrs["breakeven"].endswith("fake")
    assert (df["break_point"] == 7.0).all()
    assert list(df["breaks"]) == [t == "次级" for t in df["tranche"]]
    recs = [c for c in calls if c[2].recovery_multiplier == pytest.approx(0.7)]
    assert recs and all(c[3] for c in recs)
    assert any(not c[3] for c in calls)  # the support-default scenario asks without support
    assert list(df["source"].unique()) == [MARKET_PRACTICE, "test"]


def test_xlsx_is_laid_out_as_printed(tmp_path, table):
    path = write_prospectus_xlsx(table, tmp_path / "out" / "stress.xlsx", lang="zh")
    assert path.exists() and [p.name for p in path.parent.iterdir()] == ["stress.xlsx"]  # no temporary left
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["现金流压力测试"]
    ws = wb["现金流压力测试"]
    header = [c.value for c in ws[3]]
    assert header[:4] == ["序号", "压力情景", "证券档次", "发行规模（万元）"]
    assert "本金是否足额偿付" in header and "利息是否足额偿付" in header and "最低现金流覆盖倍数" in header
    assert header[-1] == "临界违约率倍数"
    assert ws.freeze_panes == "A4"
    assert ws.column_dimensions["B"].width >= 30
    first = [c for c in ws[4]]
    assert first[1].value == "基准情景"
    amount_cols = [header.index(h) for h in ("发行规模（万元）", "兑付本金（万元）", "兑付利息（万元）", "本金损失（万元）")]
    n = 0
    for row in ws.iter_rows(min_row=4, max_row=3 + len(table)):
        for j in amount_cols:
            assert isinstance(row[j].value, int | float) and row[j].number_format == "0.00"
            n += 1
    assert n == 4 * len(table)
    assert ws.cell(row=4, column=4).value == pytest.approx(table["original_balance"].iloc[0] / 1e4)
    texts = [c.value for r in ws.iter_rows() for c in r if isinstance(c.value, str)]
    assert not [t for t in texts if t.startswith(("{", "["))]
    assert "违约率上升50%" in texts and "回收率下降30%" in texts and "回收延迟12个月" in texts
    assert "金额单位：万元" in texts
    assert any(label("ps_market_practice", "zh") in t for t in texts)


def test_xlsx_english_and_atomic_replace(tmp_path, table, monkeypatch):
    path = tmp_path / "stress.xlsx"
    write_prospectus_xlsx(table, path, lang="en")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["cash-flow stress test"]
    assert [c.value for c in wb.active[3]][:3] == ["No.", "stress scenario", "tranche"]
    before = path.read_bytes()

    def boom(self, filename):
        Path(filename).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(openpyxl.Workbook, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        write_prospectus_xlsx(table, path, lang="zh")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["stress.xlsx"]


def test_markdown_has_the_headers_and_two_decimal_amounts(table):
    md = prospectus_markdown(table, "zh")
    assert md.startswith("### 现金流压力测试")
    for h in ("序号", "压力情景", "证券档次", "发行规模（万元）", "本金是否足额偿付", "利息是否足额偿付",
              "最低现金流覆盖倍数", "临界违约率倍数"):
        assert h in md
    assert "| 1 | 基准情景 | 优先A | 19000.00 |" in md
    assert "差额支付承诺人/担保人违约" in md
    en = prospectus_markdown(table, "en")
    assert "| No. | stress scenario | tranche |" in en and "default rate +50%" in en
    assert "market practice, DOMAIN.md §5 [U]" in en


def test_stress_keys_of_the_presets():
    assert [s.key for s in AGENCY_STRESSES][0] == "base" and AGENCY_STRESSES[0].is_base


def test_progress_and_cancellation(ganzhou):
    from ipabs.errors import Cancelled

    def fake(deal, tranche, measure="default_multiplier", base=None, support=True):
        return SimpleNamespace(value=1.0, breaks=True, measure=measure)

    seen = []
    prospectus_table(ganzhou, AGENCY_STRESSES[:2], breakeven=fake, progress=lambda d, n: seen.append((d, n)))
    assert seen[0] == (1, 5) and seen[-1] == (5, 5)

    def stop(d, n):
        if d > 1:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        prospectus_table(ganzhou, AGENCY_STRESSES[:2], breakeven=fake, progress=stop)
