"""Plotly figures of the budget and the fund (no Streamlit import; the UI shows them with ``st.plotly_chart``).

Labels come from :mod:`ipabs.glossary` (``lang='zh'`` or ``'en'``). Amounts are shown in 万元 (CNY 10,000).
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ipabs.glossary import label
from ipabs.policy.budget import BudgetResult
from ipabs.policy.fund import FundResult
from ipabs.policy.reasons import ITEMS

_WAN = 10_000.0


def budget_chart(result: BudgetResult, lang: str = "en") -> go.Figure:
    """Mean budget per year paid, stacked by item, with P50/P95/P99 markers (error bars: ± 1.96 SE)."""
    df = result.by_year()
    df = df[df["year"] != "total"]
    years = df["year"].tolist()
    fig = go.Figure()
    for it in ITEMS:
        col = f"mean_{it}"
        if df[col].abs().sum() == 0:
            continue
        fig.add_bar(x=years, y=df[col] / _WAN, name=label(it, lang))
    for key, symbol in (("p50", "circle"), ("p95", "diamond"), ("p99", "x")):
        fig.add_scatter(
            x=years, y=df[key] / _WAN, mode="markers", name=key.upper(), marker={"symbol": symbol, "size": 10},
            error_y={"type": "data", "array": 1.959964 * df[f"{key}_se"] / _WAN, "visible": True},
        )
    unit = label("unit_wan_yuan", lang)
    fig.update_layout(
        barmode="stack",
        title=f"{label('subsidy', lang)} {label('budget', lang)} — {result.policy} ({result.n_paths:,} paths)",
        xaxis_title=label("pay_year", lang), yaxis_title=f"{label('budget', lang)} ({unit})",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def fund_chart(result: FundResult, lang: str = "en") -> go.Figure:
    """Mean yearly fund draws with P95/P99 markers, and the probability the fund is exhausted by each year."""
    df = result.by_year()
    df = df[df["year"] != "total"]
    years = df["year"].tolist()
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    unit = label("unit_wan_yuan", lang)
    fig.add_bar(x=years, y=df["draw_mean"] / _WAN, name=f"{label('fund_draw', lang)} ({label('mean', lang)})")
    for key, symbol in (("p95", "diamond"), ("p99", "x")):
        fig.add_scatter(x=years, y=df[f"draw_{key}"] / _WAN, mode="markers", name=key.upper(),
                        marker={"symbol": symbol, "size": 10},
                        error_y={"type": "data", "array": 1.959964 * df[f"draw_{key}_se"] / _WAN})
    fig.add_scatter(x=years, y=df["prob_exhausted_by_year"], mode="lines+markers",
                    name=label("fund_exhausted", lang), secondary_y=True)
    fig.update_layout(title=f"{label('risk_compensation_fund', lang)} — {result.policy} ({result.n_paths:,} paths)",
                      legend={"orientation": "h", "y": -0.2})
    fig.update_yaxes(title_text=f"{label('fund_draw', lang)} ({unit})", secondary_y=False)
    fig.update_yaxes(title_text=f"P({label('fund_exhausted', lang)})", range=[0, 1], secondary_y=True)
    return fig
