"""Plotly figures of surveillance (no Streamlit import): actual against expected with Monte Carlo bands."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ipabs.glossary import label


def actual_vs_expected_chart(df: pd.DataFrame, lang: str = "en", title: str = "") -> go.Figure:
    """One panel per measure (cumulative default ratio, collections, pool balance): the Monte Carlo 5–95% band and
    median, the base case and the reported actuals, by payment date (:func:`ipabs.surveillance.history
    .actual_vs_expected`)."""
    measures = [m for m in ("cumulative_default_ratio", "collections", "pool_balance") if m in set(df["measure"])]
    fig = make_subplots(rows=1, cols=max(1, len(measures)), subplot_titles=[label(m, lang) for m in measures])
    for j, m in enumerate(measures, start=1):
        d = df[df["measure"] == m]
        x = [str(v) for v in d["payment_date"]]
        show = j == 1
        fig.add_scatter(x=x, y=d["mc_p95"], mode="lines", line={"width": 0}, showlegend=False, row=1, col=j)
        fig.add_scatter(x=x, y=d["mc_p5"], mode="lines", line={"width": 0}, fill="tonexty",
                        fillcolor="rgba(31,119,180,0.2)", name=label("mc_band", lang), showlegend=show, row=1, col=j)
        fig.add_scatter(x=x, y=d["mc_p50"], mode="lines", line={"dash": "dot"}, name=label("mc_median", lang),
                        showlegend=show, row=1, col=j)
        fig.add_scatter(x=x, y=d["base_case"], mode="lines", name=label("base_case", lang), showlegend=show,
                        row=1, col=j)
        fig.add_scatter(x=x, y=d["actual"], mode="markers", marker={"size": 11, "symbol": "diamond"},
                        name=label("actual", lang), showlegend=show, row=1, col=j)
    fig.update_layout(title=title or label("actual_vs_expected", lang), legend={"orientation": "h", "y": -0.2})
    return fig
