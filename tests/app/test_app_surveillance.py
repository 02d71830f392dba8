"""The 存续期监测 / Surveillance page under AppTest: renders in both languages, re-projects a sample deal from its
sample reports and shows the watchlist, the trigger gauges and the tranche table; a bad upload shows the library's
messages."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "apps" / "streamlit_app.py"
PAGE = "pages/surveillance.py"


def start(lang: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.session_state["lang"] = lang
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_surveillance_page_renders(lang):
    at = start(lang)
    assert at.title[0].value == ("存续期监测" if lang == "zh" else "Surveillance")


@pytest.mark.slow
def test_a_sample_deal_reprojects_from_its_sample_reports_with_watchlist_and_gauges():
    at = start("zh")
    at.selectbox(key="sv_sample").select("ganzhou_pledge_2026 · 2026-10-20").run()
    at.number_input(key="sv_paths").set_value(500)
    at.button(key="sv_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    frames = [d.value for d in at.dataframe]
    watch = next(df for df in frames if "预警原因" in df.columns)
    assert list(watch.iloc[:2, 0]) == ["GZ006", "GZ003"]
    assert "资产已违约" in watch.iloc[0]["预警原因"]
    assert any("3个月内触发概率" in df.columns for df in frames)
    assert any("累计违约率超过10%" in p.text for p in at.get("progress"))
    assert {m.label for m in at.metric} >= {"报告日", "已兑付期数", "对账差异"}
    assert at.get("plotly_chart"), "actual against expected from the earlier sample report"


@pytest.mark.slow
def test_a_bad_uploaded_report_shows_the_library_messages():
    at = start("en")
    at.selectbox(key="sv_sample").select("ganzhou_pledge_2026 · 2026-10-20").run()
    data = (ROOT / "scenarios" / "reports" / "ganzhou_pledge_2026-servicer-2026-10-20.csv").read_bytes()
    data = data.replace(b"GZP-2026-001", b"GHOST-001", 1)
    at.file_uploader(key="sv_up_servicer").set_value(("bad-report.csv", data, "text/csv"))
    at.run()
    at.number_input(key="sv_paths").set_value(100)
    at.button(key="sv_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error and "unknown asset 'GHOST-001'" in at.error[0].value
