"""The structuring figure builders (ipabs.report.structuring_charts): they put the library's tables on the axes
unchanged (fractions ×100, amounts in 万元), label them from the glossary in either language, and need no streamlit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ipabs.report.structuring_charts import (
    axis_value_text,
    heatmap_figure,
    metric_label,
    sizing_trials_figure,
    tornado_figure,
)


def test_the_heat_map_shows_the_pivot_in_percent_with_axis_values_in_the_language() -> None:
    pivot = pd.DataFrame([[0.0, 0.1], [0.2, 0.5]], index=pd.Index([0.0, 0.3], name="recovery_haircut"),
                         columns=pd.Index([1.0, 2.0], name="default_multiplier"))
    fig = heatmap_figure(pivot, "default_multiplier", "recovery_haircut", "loss_rate", lang="zh")
    hm = fig.data[0]
    assert np.allclose(np.asarray(hm.z), [[0.0, 10.0], [20.0, 50.0]])
    assert list(hm.x) == ["×1", "×2"] and list(hm.y) == ["0%", "30%"]
    assert fig.layout.xaxis.title.text == "违约率倍数"
    assert metric_label("loss_rate", "en") == "loss rate (%)"


def test_a_flat_heat_map_starts_its_colour_scale_at_zero() -> None:
    pivot = pd.DataFrame([[0.0, 0.0]], index=[0.0], columns=[1.0, 2.0])
    hm = heatmap_figure(pivot, "default_multiplier", "recovery_haircut", "expected_loss").data[0]
    assert hm.zmin == 0.0 and hm.zmax > 0.0


def test_the_tornado_draws_one_bar_per_axis_and_side_from_the_base() -> None:
    t = pd.DataFrame({"tranche": ["A", "A", "B"], "axis": ["default_multiplier", "cpr", "cpr"],
                      "base_value": [1.0, 0.0, 0.0], "low_value": [1.5, 0.1, 0.1], "high_value": [3.0, 0.2, 0.2],
                      "base": [0.01, 0.01, 0.2], "at_low": [0.02, 0.01, 0.2], "at_high": [0.05, 0.012, 0.3],
                      "delta_low": [0.01, 0.0, 0.0], "delta_high": [0.04, 0.002, 0.1], "swing": [0.04, 0.002, 0.1]})
    fig = tornado_figure(t, "A", "expected_loss", lang="en")
    low, high = fig.data
    assert list(high.y) == ["annual prepayment rate", "default multiplier"]  # largest swing on top (drawn last)
    assert np.allclose(high.x, [0.2, 4.0]) and np.allclose(high.base, [1.0, 1.0])
    assert list(high.text) == ["20%", "×3"]


def test_the_sizing_chart_marks_passing_and_failing_trials_and_the_answer() -> None:
    trials = pd.DataFrame({"balance": [2e8, 0.0, 1e8], "metric": [0.002, 0.0, None], "threshold": [1e-3, 1e-3, None],
                           "ok": [False, True, False]})
    fig = sizing_trials_figure(trials, 1.5e8, (1e8, 1.6e8), lang="zh")
    passed, failed = fig.data[0], fig.data[1]
    assert list(passed.x) == [0.0] and list(failed.x) == [20000.0]  # in 万元; a trial without a metric is not drawn
    assert fig.data[2].name == "目标评级阈值"
    assert axis_value_text("support_default", True, "zh") == "是"


def test_the_chart_module_does_not_import_streamlit() -> None:
    import ipabs.report.structuring_charts as charts

    source = Path(charts.__file__).read_text(encoding="utf-8")
    assert "import streamlit" not in source and "from streamlit" not in source
