"""The structuring pages under AppTest: Tranche sizing and Stress grid render in both languages; a sizing run shows the
balance the library's ``size_tranche`` gives for the same inputs, with the binding constraint, the sized structure's
implied ratings (with their labels) and BDR against SDR; a deterministic stress grid shows the library's long table,
heat map, tornado and prospectus table; the downloads are there; a cancelled run says so; the deal page shows the
implied ratings with the interpolation rule they rest on. Few paths throughout."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from ipabs.api import compile_scenario, load_scenario
from ipabs.errors import Cancelled

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "apps"
APP = APPS / "streamlit_app.py"
SCENARIO = ROOT / "scenarios" / "ganzhou_pledge_2026.toml"
PAGES = ["pages/tranche_sizing.py", "pages/stress_grid.py"]
TIMEOUT = 300
PATHS = 2000
SEED = 7


def start(lang: str = "zh", page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.run()
    if page:
        at.switch_page(page).run()
    no_exception(at)
    return at


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    for d in at.dataframe:
        if column in d.value.columns:
            return d.value
    raise AssertionError(f"no table with a column '{column}' in {[list(d.value.columns) for d in at.dataframe]}")


def downloads(at: AppTest) -> dict[str, object]:
    return {b.label: b for b in at.get("download_button")}


def deal():
    return compile_scenario(load_scenario(SCENARIO))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", PAGES)
def test_the_structuring_pages_render_without_an_exception(page: str, lang: str) -> None:
    at = start(lang, page)
    assert at.title[0].value == {("zh", PAGES[0]): "档次规模测算", ("en", PAGES[0]): "Tranche sizing",
                                 ("zh", PAGES[1]): "压力测试矩阵", ("en", PAGES[1]): "Stress grid"}[(lang, page)]


def size(at: AppTest, **settings) -> AppTest:
    at.number_input(key="sz_n_paths").set_value(PATHS)
    at.number_input(key="sz_seed").set_value(SEED)
    for k, v in settings.items():
        widget = {"stresses": at.multiselect, "largest_obligors": at.number_input}[k]
        widget(key=f"sz_{k}").set_value(v)
    at.button(key="run_sizing").click().run()
    no_exception(at)
    return at


@pytest.mark.slow
def test_a_sizing_run_shows_the_balance_of_size_tranche_with_the_same_inputs() -> None:
    from ipabs.structuring.sizing import size_tranche
    from ipabs.structuring.stress import AGENCY_STRESSES, named_cells

    at = size(start("zh", PAGES[0]), stresses=["default_x2"], largest_obligors=1)
    assert not at.error, [e.value for e in at.error]
    d = deal()
    stress = next(s for s in AGENCY_STRESSES if s.key == "default_x2")
    ref = size_tranche(d, "优先A", ("AAAsf", {"table": "moodys_idealized", "interpolation": "log_linear",
                                             "allow_unconfirmed": False}), basis="pd", min_coverage=1.2,
                       stresses={c.label: c.assumptions for c in named_cells(d, [stress])}, largest_obligors=1,
                       absorb="次级", n_paths=PATHS, seed=SEED)
    table = frame_with(at, "测算规模 (万元)")
    assert list(table["名称"]) == ["优先A", "次级"]
    assert table["测算规模 (万元)"].tolist() == [round(ref.balance / 1e4, 2), round((200_000_000 - ref.balance) / 1e4, 2)]
    assert table["测算前规模 (万元)"].tolist() == [19000.0, 1000.0]
    binding = {"coverage": "现金流覆盖倍数", "rating": "目标评级", "stress": "压力情景", "base_case": "基准情形足额偿付",
               "largest_obligor": "大额借款人违约测试", "bounds": "无（达到上限）"}[ref.binding]
    assert any(m.label == "起约束作用的条件" and m.value == binding for m in at.metric)
    # the sized structure's implied ratings, the labels they rest on and BDR against SDR
    ratings = frame_with(at, "评级（结构融资符号）")
    assert list(ratings["名称"]) == ["优先A", "次级"]
    assert set(ratings["评级期限插值"]) == {"对数线性（常数风险率）"}
    assert any("interpolated horizon: log_linear" in i.value for i in at.info)
    assert any("ASSUMPTION mapping" in i.value for i in at.info)
    bdr = frame_with(at, "BDR/SDR法评级")
    assert list(bdr["名称"]) == ["优先A", "次级"]
    labels = set(downloads(at))
    assert {"测算后场景 (TOML)", "结果 (XLSX)", "结果 (Parquet, zip)", "报告摘要 (JSON)"} <= labels


@pytest.mark.slow
def test_the_sizing_downloads_hold_the_sized_scenario_and_the_summary() -> None:
    import tomllib

    sys.path.insert(0, str(APPS))
    at = size(start("en", PAGES[0]))
    assert "Report summary (JSON)" in downloads(at)
    summary = json.loads(_download_bytes(at, "dl_sz_summary"))
    sized = tomllib.loads(_download_bytes(at, "dl_sz_toml").decode())
    assert sized["tranches"][0]["balance"] == pytest.approx(summary["balance"], abs=0.01)
    assert summary["binding"] in ("coverage", "rating", "bounds")
    assert summary["sized_balances"]["优先A"] == summary["balance"]
    zf = zipfile.ZipFile(io.BytesIO(_download_bytes(at, "dl_sz_parquet")))
    assert {"trials.parquet", "sized_structure.parquet", "ratings.parquet", "bdr_vs_sdr.parquet"} <= set(zf.namelist())
    assert _download_bytes(at, "dl_sz_xlsx")[:2] == b"PK"
    # the sized structure goes back to the deal page's scenario
    at.button(key="use_sized").click().run()
    no_exception(at)
    assert at.session_state["scn"]["tranches"][0]["balance"] == pytest.approx(summary["balance"], abs=0.01)


def _download_bytes(at: AppTest, key: str) -> bytes:
    """The bytes behind a download button, from the page's cached export (AppTest has no download)."""
    sys.path.insert(0, str(APPS))
    import ui_structuring as us

    last = at.session_state["sizing_last"] if key.startswith("dl_sz") else at.session_state["stress_last"]
    if key.startswith("dl_sz"):
        run = us.run_sizing(last["key"], last["settings"], last["data"], last["base"], last["name"])
        files = us.sizing_exports(last["key"], last["settings"], at.session_state["lang"], run)
        if key == "dl_sz_toml":
            from ipabs.scenario.io import dump_toml

            return dump_toml(us.sized_scenario(last["data"], run.result)).encode()
        return files[{"dl_sz_summary": "summary.json", "dl_sz_parquet": "parquet.zip", "dl_sz_xlsx": "size.xlsx"}[key]]
    run = us.run_stress(last["key"], last["settings"], last["data"], last["base"], last["name"])
    d = us.compiled_deal(last["key"], last["data"], last["base"], last["name"])
    files = us.stress_exports(last["key"], last["settings"], at.session_state["lang"], run, d)
    return files[{"dl_sg_xlsx": "stress.xlsx", "dl_sg_prospectus": "prospectus.xlsx", "dl_sg_md": "prospectus.md",
                  "dl_sg_parquet": "parquet.zip", "dl_sg_summary": "summary.json"}[key]]


@pytest.mark.slow
def test_a_deterministic_stress_grid_shows_the_library_table_heat_map_tornado_and_prospectus_table() -> None:
    from ipabs.structuring.prospectus import default_stresses, prospectus_markdown, prospectus_table
    from ipabs.structuring.stress import agency_grid, run_stress_grid

    at = start("zh", PAGES[1])
    assert at.radio(key="sg_engine").value == "deterministic"
    at.button(key="run_stress").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    d = deal()
    ref = run_stress_grid(d, agency_grid(), engine="deterministic").table
    shown = frame_with(at, "本金损失率 (%)")
    assert len(shown) == len(ref) == 96
    assert shown["证券档次" if "证券档次" in shown else "名称"].tolist() == ref["tranche"].tolist()
    assert shown["本金损失率 (%)"].tolist() == (ref["loss_rate"] * 100).round(4).tolist()
    assert shown["本金损失 (万元)"].tolist() == (ref["loss"] / 1e4).round(2).tolist()
    assert shown["违约率倍数"].tolist() == ref["default_multiplier"].tolist()
    assert shown["足额偿付"].tolist() == ["是" if x else "否" for x in ref["repaid_in_full"]]
    keys = {c.proto.id for c in at.get("plotly_chart")}
    assert len(at.get("plotly_chart")) == 2, keys  # heat map and tornado
    pt = prospectus_table(d, default_stresses(d))
    md = prospectus_markdown(pt, lang="zh")
    assert any(m.value.strip() == md.strip() for m in at.markdown)  # as printed, in an expander
    shown_pt = frame_with(at, "本金损失（万元）")
    assert shown_pt["本金损失（万元）"].tolist() == (pt["loss"] / 1e4).round(2).tolist()
    assert shown_pt["本金是否足额偿付"].tolist() == ["是" if x else "否" for x in pt["principal_repaid"]]
    assert shown_pt["压力情景"].iloc[2] == "违约率上升50%"
    labels = set(downloads(at))
    assert {"结果 (XLSX)", "压力测试表 (XLSX)", "压力测试表 (Markdown)", "结果 (Parquet, zip)",
            "报告摘要 (JSON)"} <= labels
    assert _download_bytes(at, "dl_sg_md").decode() == md
    summary = json.loads(_download_bytes(at, "dl_sg_summary"))
    assert summary["engine"] == "deterministic" and summary["n_cells"] == 48
    # the heat map's axes and the tranche can be changed
    at.selectbox(key="sg_view_tranche").set_value("次级").run()
    at.selectbox(key="sg_y").set_value("cpr").run()
    no_exception(at)


@pytest.mark.slow
def test_a_monte_carlo_stress_grid_runs_with_few_paths_in_english() -> None:
    at = start("en", PAGES[1])
    at.radio(key="sg_engine").set_value("mc")
    for axis, values in (("default_multiplier", [1.0, 2.0]), ("recovery_haircut", [0.0, 0.3]),
                         ("recovery_lag_months", []), ("cpr", [])):
        at.multiselect(key=f"sg_{axis}").set_value(values)
    at.number_input(key="sg_n_paths").set_value(500)
    at.button(key="run_stress").click().run()
    no_exception(at)
    shown = frame_with(at, "expected loss (%)")
    assert len(shown) == 4 * 2
    assert len(at.get("plotly_chart")) == 2


@pytest.mark.slow
def test_correlation_on_the_deterministic_engine_shows_the_library_message() -> None:
    at = start("en", PAGES[1])
    at.multiselect(key="sg_correlation").set_value([0.3])
    at.button(key="run_stress").click().run()
    no_exception(at)
    assert at.error and "correlation is a Monte Carlo axis" in at.error[0].value


@pytest.mark.slow
def test_a_cancelled_sizing_run_says_so_and_shows_no_result(monkeypatch) -> None:
    sys.path.insert(0, str(APPS))
    import ui_common

    def cancel(bar, key="running"):
        def cb(done, total):
            raise Cancelled("cancelled by the user")
        return cb

    at = start("zh", PAGES[0])
    monkeypatch.setattr(ui_common, "progress_callback", cancel)
    at.number_input(key="sz_n_paths").set_value(PATHS + 1)  # not a cached run
    at.button(key="run_sizing").click().run()
    no_exception(at)
    assert any(w.value == "已取消运行。" for w in at.warning)
    assert "sizing_last" not in at.session_state


@pytest.mark.slow
def test_the_deal_page_shows_implied_ratings_with_their_interpolation_and_labels() -> None:
    at = start("zh")
    at.number_input(key="f_n_paths").set_value(PATHS)
    at.button(key="run_deal").click().run()
    no_exception(at)
    ratings = frame_with(at, "评级（结构融资符号）")
    assert list(ratings["名称"]) == ["优先A", "次级"]
    assert set(ratings["评级期限插值"]) == {"对数线性（常数风险率）"}
    assert "2倍标准误内可能变动" in ratings.columns
    assert any("interpolated horizon: log_linear" in i.value for i in at.info)
    # no interpolation: the 1-year tranches are not in the 10-year table; the library's message, no traceback
    at.radio(key="rt_interpolation").set_value("none").run()
    no_exception(at)
    assert at.error and "interpolation" in at.error[0].value


@pytest.mark.slow
def test_sizing_to_a_rating_without_horizon_interpolation_shows_the_library_message() -> None:
    at = start("en", PAGES[0])
    at.radio(key="sz_interpolation").set_value("none")
    size(at)
    assert at.error and "interpolation" in at.error[0].value
    assert "sizing_last" not in at.session_state


@pytest.mark.slow
@pytest.mark.parametrize("sample", ["interbank_abn_2026.toml", "ip_lease_2026.toml", "licence_relicence_2026.toml"])
def test_every_other_sample_deal_sizes_and_stresses_without_an_error(sample: str) -> None:
    from ipabs.scenario.io import read_toml

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["lang"] = "zh"
    at.session_state["scn"] = read_toml(ROOT / "scenarios" / sample)  # as the deal page's Load leaves it
    at.session_state["scn_base_dir"] = str(ROOT / "scenarios")
    at.session_state["scn_name"] = sample
    at.run()
    at.switch_page(PAGES[0]).run()
    at.number_input(key="sz_n_paths").set_value(1000)
    at.button(key="run_sizing").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert any(m.label.endswith("测算规模") for m in at.metric)
    at.switch_page(PAGES[1]).run()
    at.button(key="run_stress").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 2
