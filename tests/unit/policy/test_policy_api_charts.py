"""The library interface the UI uses, and the charts (plotly figures, no Streamlit)."""

from __future__ import annotations

import plotly.graph_objects as go
from policy_helpers import SAMPLE_PIPELINE, SAMPLE_PORTFOLIO

from ipabs.policy import api
from ipabs.policy.charts import budget_chart, fund_chart


def test_the_api_lists_the_presets_with_their_items():
    df = api.policies_table()
    row = df.set_index("name").loc["ganzhou-2025"]
    assert row["status"] == "P" and "pledge_patent" in row["items"]
    assert set(df["name"]) == set(api.list_presets())


def test_the_api_runs_the_budget_with_progress_and_no_printing(capsys):
    calls = []
    r = api.run_subsidy(SAMPLE_PIPELINE, "ganzhou-2025", n_paths=120, seed=1,
                        progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (120, 120)
    assert capsys.readouterr() == ("", "")
    frames = api.budget_frames(r)
    assert {"budget_by_year", "firms", "firm_totals", "cap_binding", "entitlements_planned"} <= set(frames)


def test_every_public_api_function_has_a_docstring():
    for name in api.__all__:
        assert getattr(api, name).__doc__, name


def test_the_charts_are_plotly_figures_in_both_languages():
    r = api.run_subsidy(SAMPLE_PIPELINE, n_paths=100, seed=2)
    for lang in ("en", "zh"):
        fig = budget_chart(r, lang)
        assert isinstance(fig, go.Figure) and len(fig.data) >= 4
    assert "补贴" in budget_chart(r, "zh").layout.title.text or "预算" in budget_chart(r, "zh").layout.title.text
    f = api.run_fund(SAMPLE_PORTFOLIO, "zhuhai", leverage=8, n_paths=100, seed=2)
    fig = fund_chart(f)
    assert isinstance(fig, go.Figure) and any(t.yaxis == "y2" for t in fig.data)
    import ipabs.policy.charts as charts

    with open(charts.__file__, encoding="utf-8") as f:
        assert "import streamlit" not in f.read()
