"""Plotly figures of the structuring results: the stress grid's heat map and tornado, and a sizing run's trials.

Figure builders only (no streamlit, no numerics beyond putting the library's tables on axes), shared by the app's
pages and any report or CLI that wants the same charts. Labels come from :mod:`ipabs.glossary` in ``lang``
(``"zh"`` default); metrics that are fractions (losses, probabilities, rates) are shown in percent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ipabs.glossary import TERMS, label

__all__ = ["PERCENT_METRICS", "metric_label", "axis_value_text", "heatmap_figure", "tornado_figure",
           "sizing_trials_figure"]

#: Metrics of :class:`ipabs.structuring.stress.StressResult` that are fractions (shown ×100, in %).
PERCENT_METRICS = ("expected_loss", "expected_loss_se", "default_probability", "default_probability_se",
                   "interest_shortfall_probability", "interest_shortfall_probability_se", "pool_default_rate",
                   "pool_loss_rate", "loss_rate", "recovery_haircut", "cpr")
#: Axes whose values are fractions (shown in %).
_PERCENT_AXES = ("recovery_haircut", "cpr", "correlation")


def _label(key: str, lang: str) -> str:
    for k in (f"stress_axis_{key}", key, f"ui_{key}"):
        if k in TERMS:
            return label(k, lang)
    return key


def metric_label(metric: str, lang: str = "zh") -> str:
    """A metric's display label with its unit: ``预期损失 (%)``, ``本金损失 (万元)``, ``最低覆盖倍数``."""
    text = _label(metric, lang)
    if metric in PERCENT_METRICS:
        return f"{text} (%)"
    if metric in ("loss", "interest_paid", "principal_paid", "pool_defaults"):
        return f"{text} ({label('ui_unit_wan_yuan_short', lang)})"
    return text


def _scale(metric: str) -> float:
    if metric in PERCENT_METRICS:
        return 100.0
    if metric in ("loss", "interest_paid", "principal_paid", "pool_defaults"):
        return 1e-4
    return 1.0


def axis_value_text(axis: str, value: Any, lang: str = "zh") -> str:
    """An axis value as shown on a chart: ``×1.5``, ``30%``, ``+4``, ``是``/``否``."""
    if isinstance(value, bool | type(None)) or axis == "support_default":
        return label("yes" if value else "no", lang)
    if axis == "default_multiplier":
        return f"×{float(value):g}"
    if axis in _PERCENT_AXES:
        return f"{100 * float(value):g}%"
    if axis == "recovery_lag_periods":
        return f"+{int(value)}"
    return f"{value}"


def heatmap_figure(pivot: pd.DataFrame, x: str, y: str, metric: str, *, title: str = "", lang: str = "zh",
                   height: int = 420) -> go.Figure:
    """A heat map of :meth:`StressResult.heatmap` (index = axis ``y``, columns = axis ``x``), each cell annotated
    with its value (percent for fractions, 万元 for amounts)."""
    f = _scale(metric)
    z = pivot.to_numpy(dtype=float) * f
    xs = [axis_value_text(x, v, lang) for v in pivot.columns]
    ys = [axis_value_text(y, v, lang) for v in pivot.index]
    digits = 4 if f == 100.0 else 2
    text = [["" if math.isnan(v) else f"{v:.{digits}f}" for v in row] for row in z]
    finite = z[~np.isnan(z)]
    lo = min(0.0, float(finite.min())) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 1.0
    hi = hi if hi > lo else lo + 1.0  # a flat grid (e.g. no loss anywhere) shows as the low colour, not mid-scale
    fig = go.Figure(go.Heatmap(z=z, x=xs, y=ys, text=text, texttemplate="%{text}", colorscale="Reds", zmin=lo, zmax=hi,
                               colorbar={"title": {"text": metric_label(metric, lang)}},
                               hovertemplate=f"{_label(x, lang)} %{{x}}<br>{_label(y, lang)} %{{y}}<br>"
                                             f"{metric_label(metric, lang)} %{{z:.{digits}f}}<extra></extra>"))
    fig.update_layout(title=title or metric_label(metric, lang), height=height, margin={"t": 50, "b": 40},
                      xaxis={"title": _label(x, lang), "type": "category"},
                      yaxis={"title": _label(y, lang), "type": "category"})
    return fig


def tornado_figure(tornado: pd.DataFrame, tranche: str, metric: str, *, title: str = "", lang: str = "zh",
                   height: int = 380) -> go.Figure:
    """A tornado of one tranche from :meth:`StressResult.tornado`: per axis one bar from the base to the metric at
    the axis's lowest and highest stressed value (largest swing on top), in the metric's display unit."""
    t = tornado[tornado["tranche"] == tranche]
    t = t.sort_values("swing", ascending=True, kind="stable")  # plotly draws the first bar at the bottom
    f = _scale(metric)
    names = [_label(a, lang) for a in t["axis"]]
    fig = go.Figure()
    for side, col, val, color in (("low", "delta_low", "low_value", "#1f77b4"),
                                  ("high", "delta_high", "high_value", "#d62728")):
        text = [axis_value_text(a, v, lang) for a, v in zip(t["axis"], t[val], strict=True)]
        fig.add_bar(y=names, x=t[col] * f, base=t["base"] * f, orientation="h", name=_label(f"stress_{side}", lang),
                    text=text, textposition="auto", marker_color=color,
                    hovertemplate="%{y} %{text}: %{x:.4f}<extra></extra>")
    if len(t):
        fig.add_vline(x=float(t["base"].iloc[0]) * f, line_dash="dash", line_color="grey")
    fig.update_layout(title=title or f"{tranche} · {metric_label(metric, lang)}", barmode="overlay",
                      height=height, margin={"t": 50, "b": 40}, xaxis_title=metric_label(metric, lang),
                      legend={"orientation": "h", "y": -0.25})
    return fig


def sizing_trials_figure(trials: pd.DataFrame, answer: float, band: Sequence[float] | None = None, *,
                         title: str = "", lang: str = "zh", height: int = 360) -> go.Figure:
    """A sizing run's trials (:meth:`SizingResult.frame`): the rating metric (%) against the trial balance
    (万元), passing trials in green and failing ones in red, the threshold as a line, the answer and its Monte
    Carlo error band as vertical marks."""
    df = trials.sort_values("balance")
    x = df["balance"] / 1e4
    ok = df["ok"].astype(bool)
    fig = go.Figure()
    has_metric = df["metric"].notna()
    for passed, color in ((True, "#2ca02c"), (False, "#d62728")):
        sel = (ok == passed) & has_metric
        fig.add_scatter(x=x[sel], y=df.loc[sel, "metric"].astype(float) * 100, mode="markers",
                        marker={"color": color, "size": 9},
                        name=label("ui_result_pass" if passed else "ui_result_fail", lang))
    thr = df["threshold"].astype(float)
    if thr.notna().any():
        fig.add_scatter(x=x[thr.notna()], y=thr[thr.notna()] * 100, mode="lines", line={"dash": "dot"},
                        name=label("ui_rating_threshold", lang))
    if band is not None and band[1] > band[0]:
        fig.add_vrect(x0=band[0] / 1e4, x1=band[1] / 1e4, fillcolor="grey", opacity=0.15, line_width=0)
    fig.add_vline(x=answer / 1e4, line_color="black")
    fig.update_layout(title=title or label("ui_sizing_trials", lang), height=height, margin={"t": 50, "b": 40},
                      xaxis_title=f"{label('balance', lang)} ({label('ui_unit_wan_yuan_short', lang)})",
                      yaxis_title=f"{label('ui_rating_metric', lang)} (%)", legend={"orientation": "h", "y": -0.3})
    return fig
