"""``ipabs run --report``: one self-contained printable HTML report (ipabs.report.html.render_report) in both
languages — the deal, every tranche, the charts the app shows, no network resources, laid out for A4."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from ipabs.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_A = ROOT / "scenarios" / "ganzhou_pledge_2026.toml"
#: Anything a browser would fetch: a script or stylesheet by URL, a CSS import or url(), a frame or image source.
EXTERNAL = re.compile(r"<script[^>]*\bsrc\s*=|<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//|@import|"
                      r"url\(\s*[\"']?(https?:)?//|<(iframe|img)[^>]*\bsrc\s*=\s*[\"']?(https?:)?//", re.I)
HEADINGS = {"zh": ["交易概况", "证券档次", "蒙特卡洛模拟结果", "现金流覆盖倍数（基准情形）", "假设", "数据来源与版本"],
            "en": ["Deal summary", "Tranches", "Monte Carlo results", "Cash-flow coverage ratio (base case)",
                   "Assumptions", "Provenance"]}


@pytest.fixture(scope="module", params=["zh", "en"])
def report(request, tmp_path_factory) -> tuple[str, str]:
    out = tmp_path_factory.mktemp("report") / request.param
    code = main(["run", str(SCENARIO_A), "--paths", "300", "--out", str(out), "--quiet", "--lang", request.param,
                 "--report"])
    assert code == 0
    return request.param, (out / "report.html").read_text("utf-8")


def _text(doc: str) -> str:
    """The page without its inlined scripts (plotly.js), tags unescaped."""
    doc = re.sub(r"<script[^>]*>.*?</script>", "", doc, flags=re.S)
    return html.unescape(doc)


@pytest.mark.slow
def test_the_report_names_the_deal_every_tranche_and_its_sections(report):
    lang, doc = report
    text = _text(doc)
    assert "赣州经开区知识产权质押贷款ABS 2026-1 (synthetic)" in text
    for tranche in ("优先A", "次级"):
        assert f"<td>{tranche}</td>" in text
    for heading in HEADINGS[lang]:
        assert f"<h2>{heading}</h2>" in text, heading
    assert ("场景文件设定（假设）" if lang == "zh" else "scenario file (assumption)") in text
    assert re.search(r"[0-9a-f]{64}", text)  # the scenario hash
    assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in doc


@pytest.mark.slow
def test_the_report_embeds_the_apps_charts_with_plotly_inlined_once_and_nothing_fetched(report):
    _, doc = report
    for div in ("chart-loss", "chart-paydown", "chart-coverage"):
        assert f'id="{div}"' in doc and f'Plotly.newPlot(                        "{div}"' in doc
    assert doc.count("* plotly.js v") == 1  # the library, inlined once
    assert not EXTERNAL.search(doc), EXTERNAL.search(doc).group(0)


@pytest.mark.slow
def test_the_report_is_laid_out_for_a4_printing(report):
    _, doc = report
    assert "@page { size: A4;" in doc
    assert "thead { display: table-header-group; }" in doc  # long tables repeat their headers on every page


def test_render_report_without_a_monte_carlo_has_the_deterministic_sections(tmp_path):
    from ipabs.api import compile_scenario, load_scenario, run_deterministic
    from ipabs.report.html import render_report

    det = run_deterministic(compile_scenario(load_scenario(SCENARIO_A)))
    doc = render_report(det, None, "zh")
    assert 'id="chart-coverage"' in doc and 'id="chart-loss"' not in doc
    assert "<h2>蒙特卡洛模拟结果</h2>" not in doc and "<h2>假设</h2>" in doc
    with pytest.raises(ValueError):
        render_report(det, None, "fr")


def test_the_chart_and_report_modules_do_not_import_streamlit():
    import os
    import subprocess
    import sys

    code = ("import sys, ipabs.report.charts, ipabs.report.html, ipabs.report.writer; "
            "assert 'streamlit' not in sys.modules, 'streamlit imported'")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)


def test_the_app_draws_the_librarys_figures():
    source = (ROOT / "apps" / "pages" / "deal.py").read_text("utf-8")
    for name in ("loss_chart", "paydown_chart", "coverage_chart"):
        assert f"charts.{name}(" in source, name
    assert "go.Bar(" not in source and "add_scatter(" not in source


DEAL_SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*.toml") if "[deal]" in p.read_text("utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("path", DEAL_SCENARIOS, ids=lambda p: p.stem)
def test_every_sample_deal_gets_a_report_and_a_workbook_in_both_languages(path, tmp_path):
    import openpyxl

    from ipabs.api import compile_scenario, load_scenario, run_deterministic, simulate
    from ipabs.report.writer import write_run

    loaded = load_scenario(path)
    deal = compile_scenario(loaded)
    det = run_deterministic(deal)
    mc = simulate(deal, n_paths=256, seed=3, statistics="full")
    english = re.compile(r"\b(normal|accelerated|post_default|True|False|collection|senior|mezzanine|subordinate|"
                         r"quarterly|monthly|nan|None)\b")
    for lang in ("zh", "en"):
        folder = tmp_path / lang
        folder.mkdir()
        write_run(folder, det, mc, loaded.tape, lang=lang, report=True)
        doc = (folder / "report.html").read_text("utf-8")
        assert loaded.scenario.deal.name in html.unescape(doc)
        assert all(f"<td>{html.escape(t.name)}</td>" in doc for t in loaded.scenario.tranches)
        assert not EXTERNAL.search(doc)
        wb = openpyxl.load_workbook(folder / "cashflows.xlsx")
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    if isinstance(c.value, str):
                        assert not c.value.startswith(("{", "[")), (ws.title, c.coordinate)
                        if lang == "zh" and not (ws.title == "封面" and c.column == 3):
                            assert not english.search(c.value), (ws.title, c.coordinate, c.value)
