"""The Streamlit app under streamlit.testing's AppTest: every page renders without an exception in both languages,
and the main interactions work with tiny path counts (run the default deal, change the senior size, switch the
language, check a firm, screen a tape, run the budget, compare runs, and bad uploads show the library's messages)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from ipabs.api import load_scenario
from ipabs.scenario.io import dump_toml, parse_scenario, read_toml

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "apps"
APP = APPS / "streamlit_app.py"
PAGES = ["pages/deal.py", "pages/compare.py", "pages/eligibility.py", "pages/budget.py", "pages/fund.py",
         "pages/surveillance.py"]
BAD_TAPES = ROOT / "tests" / "data" / "bad_tapes"
TIMEOUT = 180
PATHS = 200


def start(lang: str = "zh") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    return at.run()


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def run_deal(at: AppTest, paths: int = PATHS) -> AppTest:
    at.number_input(key="f_n_paths").set_value(paths)
    at.button(key="run_deal").click().run()
    no_exception(at)
    return at


def metric(at: AppTest, label_part: str) -> str:
    found = [m.value for m in at.metric if label_part in m.label]
    assert found, f"no metric labelled '{label_part}' in {[m.label for m in at.metric]}"
    return found[0]


# --- every page -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_an_exception(page: str, lang: str) -> None:
    at = start(lang)
    at.switch_page(page).run()
    no_exception(at)
    assert at.title, "every page has a title"


def test_the_app_opens_in_chinese_on_the_deal_page() -> None:
    at = start()
    no_exception(at)
    assert at.title[0].value == "交易结构设计"
    assert at.session_state["scn"]["deal"]["name"].startswith("赣州")


# --- deal structuring -------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_default_deal_runs_and_shows_tranche_statistics_charts_and_downloads() -> None:
    at = run_deal(start())
    el = metric(at, "优先A · 预期损失")
    assert el.endswith("%")
    assert not at.error
    tables = [d.value for d in at.dataframe]
    stats = next(df for df in tables if "预期损失 (%)" in df.columns)
    assert list(stats["名称"]) == ["优先A", "次级"]
    assert stats["发行规模 (万元)"].tolist() == [19000.0, 1000.0]
    assert "预期损失 · 标准误 (%)" in stats.columns and "违约概率 · 标准误 (%)" in stats.columns
    waterfall = next(df for df in tables if "现金流覆盖倍数" in df.columns)
    assert waterfall["兑付日"].iloc[0] == "2026年7月20日"
    assert len(at.get("plotly_chart")) >= 3
    labels = {b.label for b in at.get("download_button")}
    assert {"场景文件 (TOML)", "结果 (XLSX)", "结果 (Parquet, zip)", "报告 (HTML，可打印)"} <= labels
    assert not any("JSON" in x for x in labels)  # the printable report replaced the JSON summary
    assert len(at.session_state["saved_runs"]) == 1


@pytest.mark.slow
def test_changing_the_senior_size_changes_the_scenario_and_the_results() -> None:
    at = run_deal(start())
    at.number_input(key="f_size_0").set_value(18_000.0)
    run_deal(at)
    assert at.session_state["scn"]["tranches"][0]["balance"] == 180_000_000
    edited = tomllib.loads(dump_toml(at.session_state["scn"]))  # the TOML download, read back, still validates
    loaded = load_scenario(ROOT / "scenarios" / "edited.toml", data=edited, base_dir=ROOT / "scenarios")
    assert loaded.scenario.tranches[0].balance == 180_000_000
    stats = next(d.value for d in at.dataframe if "预期损失 (%)" in d.value.columns)
    assert stats["发行规模 (万元)"].tolist() == [18000.0, 1000.0]
    assert len(at.session_state["saved_runs"]) == 2


@pytest.mark.slow
def test_an_invalid_edit_shows_the_validation_message_and_no_traceback() -> None:
    at = start()
    at.date_input(key="f_first_payment_date").set_value(at.session_state["scn"]["deal"]["cutoff_date"])
    run_deal(at)
    assert at.error and "first_payment_date" in at.error[0].value


@pytest.mark.slow
def test_the_language_switch_translates_labels_and_dates() -> None:
    at = run_deal(start())
    at.session_state["lang"] = "en"
    at.run()
    no_exception(at)
    assert at.title[0].value == "Deal structuring"
    assert metric(at, "优先A · expected loss").endswith("%")
    waterfall = next(d.value for d in at.dataframe if "cash-flow coverage ratio" in d.value.columns)
    assert waterfall["payment date"].iloc[0] == "2026-07-20"
    at.session_state["lang"] = "zh"
    at.run()
    assert at.title[0].value == "交易结构设计"


# --- bad uploads ------------------------------------------------------------------------------------------------------

def upload_scenario(at: AppTest, scenario: tuple[str, bytes], tape: tuple[str, bytes] | None = None) -> AppTest:
    at.file_uploader(key="up_scenario").set_value((scenario[0], scenario[1], "application/toml"))
    if tape is not None:
        at.file_uploader(key="up_tape").set_value((tape[0], tape[1], "text/csv"))
    at.run()
    at.button(key="load_upload").click().run()
    no_exception(at)
    return at


DEFAULT_TOML = (ROOT / "scenarios" / "ganzhou_pledge_2026.toml").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize(("name", "data", "expect"), [
    ("garbage.toml", bytes(range(256)) * 4, "not UTF-8"),
    ("gbk.toml", "[deal]\nname = \"赣州\"\n".encode("gb18030"), "not UTF-8"),
    ("broken.toml", b"[deal\nname = 1\n", "not valid TOML"),
    ("incomplete.toml", b"[deal]\nname = \"x\"\n", "required key is missing"),
])
def test_a_bad_scenario_upload_shows_the_library_messages(name: str, data: bytes, expect: str) -> None:
    at = upload_scenario(start(), (name, data))
    assert at.error and expect in errors(at)
    assert name in errors(at) and "ipabs-uploads" not in errors(at), "named as the user named it"
    assert at.session_state["scn_name"] == "ganzhou_pledge_2026.toml", "the current scenario is kept"


@pytest.mark.slow
@pytest.mark.parametrize(("tape", "expect"), [
    ("missing_columns.csv", "required column"),
    ("random_bytes.csv", ""),
    ("invalid_encoding.csv", ""),
    ("empty.csv", ""),
])
def test_a_bad_tape_upload_shows_the_library_messages(tape: str, expect: str) -> None:
    at = upload_scenario(start(), ("deal.toml", DEFAULT_TOML), (tape, (BAD_TAPES / tape).read_bytes()))
    assert at.error, f"{tape}: an error is shown"
    assert expect.lower() in errors(at).lower()
    assert "Traceback" not in errors(at)


@pytest.mark.slow
def test_an_uploaded_scenario_with_its_tape_becomes_current_and_runs() -> None:
    tape = (ROOT / "scenarios" / "tapes" / "ganzhou_pledge_pool_gbk.csv").read_bytes()
    at = upload_scenario(start(), ("my-deal.toml", DEFAULT_TOML), ("pool.csv", tape))
    assert not at.error
    assert at.session_state["scn_name"] == "my-deal.toml"
    assert at.session_state["scn"]["pool"]["tape"].endswith("pool.csv")
    run_deal(at)
    assert metric(at, "预期损失").endswith("%")


# --- uploads are confined to the session (issue 15 item 5) -----------------------------------------------------------

@pytest.mark.parametrize("tape_ref", ["tapes/ganzhou_pledge_pool.csv",
                                      str(ROOT / "scenarios" / "tapes" / "ganzhou_pledge_pool.csv"),
                                      "../../../../../../etc/passwd"])
def test_an_uploaded_scenario_without_its_tape_never_reads_a_path_on_the_server(tape_ref: str) -> None:
    data = DEFAULT_TOML.decode("utf-8").replace('tape = "tapes/ganzhou_pledge_pool.csv"', f"tape = '{tape_ref}'")
    assert tape_ref in data
    at = upload_scenario(start(), ("my-deal.toml", data.encode("utf-8")))
    assert at.error and any("was not uploaded with the scenario" in e.value for e in at.error)
    assert any("my-deal.toml" in e.value and "field 'tape'" in e.value for e in at.error)
    assert at.session_state["scn_name"] == "ganzhou_pledge_2026.toml", "the current scenario is kept"


def test_an_uploaded_self_check_may_name_only_a_bundled_criteria_set() -> None:
    pytest.importorskip("ipabs.eligibility")
    text = (ROOT / "scenarios" / "selfcheck-example.toml").read_text("utf-8")
    text = 'criteria = "../src/ipabs/data/criteria/ganzhou-default.toml"\n' + "\n".join(
        x for x in text.splitlines() if not x.startswith("criteria"))
    at = start()
    at.switch_page("pages/eligibility.py").run()
    at.file_uploader(key="sc_upload").set_value(("mine.toml", text.encode("utf-8"), "application/toml")).run()
    at.button(key="sc_upload_check").click().run()
    no_exception(at)
    assert at.error and any("only a bundled criteria set" in e.value for e in at.error)


def test_each_session_keeps_its_uploads_in_its_own_private_folder_removed_when_it_ends(tmp_path) -> None:
    import gc
    import os
    import stat
    import time

    sys.path.insert(0, str(APPS))
    import ui_common

    a, b = ui_common.SessionUploads(), ui_common.SessionUploads()
    assert a.path != b.path
    assert stat.S_IMODE(a.path.stat().st_mode) == 0o700

    class Upload:
        name = "../../pool.csv"

        def getvalue(self) -> bytes:
            return b"asset_id\n1\n"

    saved = ui_common.save_upload(Upload(), a.path)
    assert saved.is_relative_to(a.path) and saved.name == "pool.csv"
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    path = a.path
    del a
    gc.collect()
    assert not path.exists(), "the folder goes with the session's state"
    b.remove()
    assert not b.path.exists()
    # retention: folders of ours unused for longer are swept; recent ones and other names are kept
    old, recent, other = tmp_path / "ipabs-upload-old", tmp_path / "ipabs-upload-new", tmp_path / "mine"
    for d in (old, recent, other):
        d.mkdir()
    past = time.time() - (ui_common.UPLOAD_RETENTION_HOURS + 1) * 3600
    os.utime(old, (past, past))
    os.utime(other, (past, past))
    assert ui_common.sweep_stale_uploads(root=tmp_path) == [old]
    assert recent.exists() and other.exists()


def test_confining_an_uploaded_scenario_uses_the_uploaded_tape(tmp_path) -> None:
    sys.path.insert(0, str(APPS))
    import ui_common

    scn = tmp_path / "a" / "deal.toml"
    tape = tmp_path / "b" / "pool.csv"
    data = {"pool": {"tape": "/etc/passwd", "sheet": None}}
    assert ui_common.confine_uploaded_scenario(data, scn, tape)["pool"]["tape"] == str(tape)
    assert ui_common.confine_uploaded_scenario({"deal": {}}, scn, None) == {"deal": {}}  # the schema reports it


# --- eligibility, budget, compare -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_self_check_form_gives_a_verdict_with_subsidy_and_cost() -> None:
    pytest.importorskip("ipabs.eligibility")
    at = start()
    at.switch_page("pages/eligibility.py").run()
    at.button(key="sc_submit").click().run()
    no_exception(at)
    assert at.success and "通过" in at.success[0].value
    assert metric(at, "预计证券化补贴").endswith("万元")
    at.checkbox(key="sc_black").check()
    at.button(key="sc_submit").click().run()
    assert at.error and "黑名单" in at.markdown[-1].value + "".join(e.value for e in at.error)


@pytest.mark.slow
def test_screening_the_sample_tape_finds_the_best_eligible_pool() -> None:
    pytest.importorskip("ipabs.eligibility")
    at = start()
    at.switch_page("pages/eligibility.py").run()
    at.button(key="ps_submit").click().run()
    no_exception(at)
    assert metric(at, "资产笔数") == "13 / 16"
    assert metric(at, "最优合格资产池").endswith("亿元")


@pytest.mark.slow
def test_the_budget_runs_and_shows_the_p90_of_a_year() -> None:
    pytest.importorskip("ipabs.policy.budget")
    at = start()
    at.switch_page("pages/budget.py").run()
    at.number_input(key="bp_paths").set_value(300)
    at.button(key="bp_run").click().run()
    no_exception(at)
    assert not at.error
    assert metric(at, "预算 P90").endswith("万元")
    assert len(at.get("plotly_chart")) == 1


@pytest.mark.slow
def test_a_bad_policy_upload_shows_the_library_messages() -> None:
    pytest.importorskip("ipabs.policy.budget")
    at = start()
    at.switch_page("pages/budget.py").run()
    at.file_uploader(key="bp_policy_upload").set_value(("p.toml", b"name = [", "application/toml")).run()
    at.button(key="bp_run").click().run()
    no_exception(at)
    assert at.error and "not valid TOML" in at.error[0].value


@pytest.mark.slow
def test_two_saved_runs_are_compared_side_by_side() -> None:
    at = run_deal(start())
    at.number_input(key="f_size_0").set_value(17_000.0)
    run_deal(at)
    at.switch_page("pages/compare.py").run()
    no_exception(at)
    table = at.dataframe[0].value
    assert table.shape[1] == 2
    assert any(v == "1.7亿元" for v in table.iloc[:, 1])
    import json

    ticks = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["yaxis"]["ticktext"]
    assert "1亿" in ticks, ticks  # 万/亿, not plotly's 5k / 10k


# --- conventions ------------------------------------------------------------------------------------------------------

def test_every_label_the_app_uses_is_in_the_glossary() -> None:
    sys.path.insert(0, str(APPS))
    from ipabs.glossary import TERMS

    pattern = re.compile(r"""\b(?:t|h|wan_header|pct_header)\(["']([a-z0-9_]+)["']""")
    used = set()
    for path in APPS.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            used |= set(pattern.findall(line))
    assert used, "the app uses glossary labels"
    missing = sorted(k for k in used if f"ui_{k}" not in TERMS and k not in TERMS)
    assert not missing, f"labels missing from ipabs.glossary.TERMS: {missing}"


def test_the_upload_limit_is_set_and_stated() -> None:
    sys.path.insert(0, str(APPS))
    import ui_common

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == ui_common.UPLOAD_MB
    at = start()
    helps = [u.help for u in at.file_uploader]
    assert helps and all(f"{ui_common.UPLOAD_MB} MB" in h for h in helps)


SAMPLES = sorted(p.name for p in (ROOT / "scenarios").glob("*.toml") if "[deal]" in p.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("sample", SAMPLES)
def test_every_sample_deal_goes_through_the_form_unchanged_and_runs(sample: str) -> None:
    at = start()
    at.selectbox(key="sample_choice").set_value(sample)
    at.button(key="load_sample").click().run()
    no_exception(at)
    assert at.session_state["scn_name"] == sample
    run_deal(at)
    assert not at.error, [e.value for e in at.error]
    assert metric(at, "预期损失").endswith("%")
    through_form = parse_scenario(at.session_state["scn"]).model_dump()
    from_file = parse_scenario(read_toml(ROOT / "scenarios" / sample)).model_dump()
    through_form["simulation"]["n_paths"] = from_file["simulation"]["n_paths"]
    assert through_form == from_file, "the form writes back exactly what it was given"


@pytest.mark.slow
def test_the_royalty_sales_volatility_and_floor_go_into_the_scenario() -> None:
    at = run_deal(start())
    assert "revenue_risk" not in at.session_state["scn"]["simulation"]  # 0 and no table: no revenue risk
    at.selectbox(key="sample_choice").set_value("licence_relicence_2026.toml")
    at.button(key="load_sample").click().run()
    assert at.number_input(key="f_revenue_volatility").value == pytest.approx(0.12)
    at.number_input(key="f_revenue_volatility").set_value(0.3)
    at.number_input(key="f_revenue_floor").set_value(0.5)
    run_deal(at)
    rr = at.session_state["scn"]["simulation"]["revenue_risk"]
    assert rr["volatility"] == 0.3 and rr["floor"] == 0.5 and "rare_earth_tungsten" in rr["by_sector"]
    assert metric(at, "许可费缺口").endswith("%")  # the royalty shortfall is shown beside the pool loss rate


@pytest.mark.slow
def test_the_sales_shock_factor_loading_goes_into_the_scenario() -> None:
    at = start()
    at.selectbox(key="sample_choice").set_value("licence_relicence_2026.toml")
    at.button(key="load_sample").click().run()
    assert at.number_input(key="f_revenue_factor_loading").value == 0.0
    at.number_input(key="f_revenue_factor_loading").set_value(0.4)
    run_deal(at)
    assert not at.error, [e.value for e in at.error]
    assert at.session_state["scn"]["simulation"]["revenue_risk"]["factor_loading"] == 0.4


@pytest.mark.slow
def test_the_fund_page_runs_the_risk_compensation_fund_and_refuses_a_policy_without_one() -> None:
    from ipabs.policy import api as policy_api

    at = start()
    at.switch_page("pages/fund.py").run()
    at.number_input(key="fd_paths").set_value(500)
    at.button(key="fd_run").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert metric(at, "资金池规模").endswith("万元")
    # the same numbers as the library call (ipabs fund) with these inputs
    ref = policy_api.run_fund(ROOT / "scenarios" / "fund-portfolio-ganzhou.csv", "zhongshan", leverage=10.0,
                              n_paths=500, seed=20260101, rho=0.2, sector_rho=0.1)
    exhausted = metric(at, "耗尽概率")
    assert exhausted == ui_pct(ref.by_year()["prob_exhausted_by_year"].iloc[-1])
    assert {b.label for b in at.get("download_button")} >= {"结果 (XLSX)"}
    at.selectbox(key="fd_preset").set_value("ganzhou-2025")
    at.button(key="fd_run").click().run()
    no_exception(at)
    assert at.error and "risk_compensation" in at.error[0].value


def ui_pct(x: float) -> str:
    sys.path.insert(0, str(APPS))
    import ui_common

    return ui_common.fmt_pct(float(x), 2)


def test_the_app_runs_full_statistics_even_for_a_losses_only_scenario() -> None:
    """The deal page shows WAL, yields and bands: a scenario that asks for losses-only statistics (decision 012)
    must not leave the page without them."""
    sys.path.insert(0, str(APPS))
    import ui_runs

    path = ROOT / "scenarios" / "ganzhou_pledge_2026.toml"
    data = read_toml(path)
    data["simulation"] = {**data.get("simulation", {}), "statistics": "losses"}
    run = ui_runs.run_deal("losses-only-test", 1, 500, data, str(path.parent), path.name)
    assert run.mc.statistics == "full"
    assert len(run.mc.expected_cashflows()) > 0


# --- rough edges (issue 15, item 4) -----------------------------------------------------------------------------------

def errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


@pytest.mark.slow
def test_the_sizes_caption_follows_the_edited_sizes_after_a_run() -> None:
    at = run_deal(start())
    before = next(c.value for c in at.caption if c.value.startswith("发行总额"))
    assert "发行总额 2亿元" in before and "次级占比 5.0%" in before
    at.number_input(key="f_size_0").set_value(18_000.0)
    run_deal(at)
    after = next(c.value for c in at.caption if c.value.startswith("发行总额"))
    assert "发行总额 1.9亿元" in after and "次级占比 5.3%" in after, after


def test_the_self_check_shows_plain_citations_without_internal_notes() -> None:
    pytest.importorskip("ipabs.eligibility")
    at = start()
    at.switch_page("pages/eligibility.py").run()
    at.button(key="sc_submit").click().run()
    no_exception(at)
    shown = "\n".join(x.value for x in [*at.text, *at.markdown, *at.success, *at.error, *at.caption])
    assert "参考：" in shown and "来源：" in shown, "the market reference carries a citation in Chinese"
    for internal in ("DOMAIN", "§", "[C", "[U]", "all-in cost"):
        assert internal not in shown, internal


def test_the_eligibility_frames_cite_sources_without_internal_notes() -> None:
    pytest.importorskip("ipabs.eligibility")
    import datetime as dt

    from ipabs.eligibility import evaluate_pool, load_criteria
    from ipabs.scenario.tape import read_tape

    tape = read_tape(ROOT / "scenarios" / "tapes" / "ganzhou_pledge_pool.csv")
    report = evaluate_pool(tape.assets, load_criteria("ganzhou-default"), as_of=dt.date(2026, 4, 15),
                           legal_maturity=dt.date(2028, 4, 20))
    for lang in ("zh", "en"):
        for frame in (report.failures_frame(lang), report.limits_frame(lang)):
            text = frame.to_string()
            assert "DOMAIN" not in text and "[C" not in text and "[U]" not in text and "§" not in text
            if lang == "zh":  # the citation in the user's language
                assert not any(w in text for w in ("market practice", "rating practice", "policy item")), text


def test_the_budget_pipeline_preview_has_translated_headers_sector_names_and_wan() -> None:
    pytest.importorskip("ipabs.policy.budget")
    at = start()
    at.switch_page("pages/budget.py").run()
    no_exception(at)
    editor = next(d.value for d in at.dataframe if "融资金额 (万元)" in d.value.columns)
    assert not {"kind", "deal_id", "sector", "amount"} & set(editor.columns)
    assert {"类型", "项目编号", "行业", "计划日期"} <= set(editor.columns)
    assert editor["融资金额 (万元)"].iloc[0] == 2000.0
    assert editor["行业"].iloc[0] == "稀土与钨新材料" and editor["类型"].iloc[0] == "证券化"


@pytest.mark.slow
def test_the_budget_still_runs_from_the_translated_editor() -> None:
    import json

    pytest.importorskip("ipabs.policy.budget")
    at = start()
    at.switch_page("pages/budget.py").run()
    at.number_input(key="bp_paths").set_value(300)
    at.button(key="bp_run").click().run()
    no_exception(at)
    assert not at.error, errors(at)
    assert metric(at, "预算 P90").endswith("万元")
    ticks = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["yaxis"]["ticktext"]
    assert any(t.endswith("万") or t.endswith("亿") for t in ticks), ticks  # not plotly's 5k / 10k


def test_small_shares_are_shown_in_basis_points_not_as_zero() -> None:
    sys.path.insert(0, str(APPS))
    import ui_common

    assert ui_common.fmt_pct(1e-6, 3) != "0.000%"
    assert ui_common.fmt_pct(1e-6, 3).startswith("0.01")
    assert "0.000%" not in ui_common.fmt_pct_se(1.2e-6, 4e-7)
    assert ui_common.fmt_pct(0.0, 3) == "0.000%"  # a true zero stays zero
    assert ui_common.fmt_pct(0.0012, 3) == "0.120%"


@pytest.mark.slow
def test_the_paydown_axis_reads_wan_and_yi() -> None:
    import json

    at = run_deal(start())
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    paydown = next(s for s in specs if "预期本金摊还" in json.dumps(s["layout"].get("title"), ensure_ascii=False))
    ticks = paydown["layout"]["yaxis"]["ticktext"]
    assert "1亿" in ticks and "5,000万" in ticks, ticks


def test_the_language_is_kept_in_the_url() -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["lang"] = "en"
    at.run()
    no_exception(at)
    assert at.title[0].value == "Deal structuring", "a shared link with ?lang=en opens in English"
    at2 = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert at2.title[0].value == "交易结构设计"
    assert at2.query_params["lang"] in ("zh", ["zh"])
    at2.radio(key="lang_switch").set_value("en").run()
    assert at2.query_params["lang"] in ("en", ["en"]), "the switch writes the language into the URL"
    assert at2.title[0].value == "Deal structuring"
    at2.run()
    assert at2.title[0].value == "Deal structuring", "the switch holds on the next rerun (it did not: issue 15)"
    reloaded = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    reloaded.query_params.update(at2.query_params)
    reloaded.run()
    assert reloaded.title[0].value == "Deal structuring", "a reload keeps the language"


@pytest.mark.slow
def test_a_rejected_upload_shows_the_library_message_and_is_cleared() -> None:
    at = upload_scenario(start(), ("broken.toml", b"[deal\nname = 1\n"))
    shown = errors(at)
    assert "broken.toml" in shown and "not valid TOML" in shown
    assert "未被接受" in shown
    assert all(not u.value for u in at.file_uploader), "the rejected file is removed from the uploader"


def test_streamlit_chrome_the_app_controls_is_hidden() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["toolbarMode"] == "minimal", "no Deploy button"
    forms = 0
    for path in APPS.rglob("*.py"):
        for call in re.findall(r"st\.form\(([^)]*)\)", path.read_text(encoding="utf-8")):
            forms += 1
            assert "enter_to_submit=False" in call, f"{path.name}: {call} shows 'Press Enter to submit form'"
    assert forms >= 5


def test_the_loaded_scenario_is_named_at_the_top() -> None:
    at = start()
    no_exception(at)
    assert "赣州" in at.main.caption[0].value and "ganzhou_pledge_2026.toml" in at.main.caption[0].value
    assert "ganzhou_pledge_2026.toml" in at.expander[0].label


def test_the_run_caption_states_a_first_compile_apart() -> None:
    """The deal page's "done" line gives the simulation's own time and a first run's compile apart."""
    sys.path.insert(0, str(APPS))
    from types import SimpleNamespace

    import ui_runs

    def res(cold: bool) -> SimpleNamespace:
        meta = {"compile_seconds": 31.2 if cold else 0.3, "kernels_cold": cold}
        return SimpleNamespace(mc=SimpleNamespace(meta=meta, elapsed_seconds=1.33, n_paths=100_000))

    first = ui_runs.run_done_text(res(True))
    assert "1.3" in first and "31" in first and "编译" in first, first
    assert "编译" not in ui_runs.run_done_text(res(False))


def test_the_engine_reports_the_kernels_load_apart_from_the_simulation() -> None:
    """elapsed_seconds is the simulation's own time: loading or compiling the kernels is meta["compile_seconds"],
    and kernels_cold() is False once they are loaded (a cheap check: it does not slow a warm run)."""
    from ipabs.api import kernels_cold
    from ipabs.credit.synthetic import synthetic_deal
    from ipabs.engine.montecarlo import simulate

    mc = simulate(synthetic_deal(n_obligors=10, n_periods=12), 300, 1, threads=1)
    assert "compile_seconds" in mc.meta and mc.meta["compile_seconds"] >= 0
    assert mc.meta["kernels_cold"] in (True, False)
    assert kernels_cold() is False


@pytest.mark.parametrize(("page", "uploader", "name", "data"), [
    ("pages/budget.py", "bp_pipeline_upload", "pipeline.xlsx", b"not a workbook"),
    ("pages/budget.py", "bp_policy_upload", "policy.toml", "name = '赣州'".encode("gb18030")),
])
def test_a_rejected_upload_on_the_policy_pages_is_explained_and_cleared(page: str, uploader: str, name: str,
                                                                        data: bytes) -> None:
    pytest.importorskip("ipabs.policy.budget")
    at = start()
    at.switch_page(page).run()
    at.file_uploader(key=uploader).set_value((name, data, "application/octet-stream")).run()
    no_exception(at)
    shown = errors(at)
    assert name in shown and "未被接受" in shown, shown
    assert all(not u.value for u in at.file_uploader), "the rejected file is removed from the uploader"
