"""The run's charts as plotly figures, in Chinese or English: the pool loss distribution, the expected paydown with
its 5–95% bands, and the coverage ratio of the base case. The app shows these figures and the printable report
(:mod:`ipabs.report.html`) embeds the same ones. No streamlit here; labels come from :mod:`ipabs.glossary`.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from ipabs.glossary import TERMS, label

WAN = 10_000.0
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]


def t(key: str, lang: str) -> str:
    """A label as the app finds it: its own ``ui_<key>`` first, then the library's ``<key>``."""
    for k in (f"ui_{key}", key):
        if k in TERMS:
            return label(k, lang)
    return key


def h(key: str, lang: str) -> str:
    """A heading: capitalised in English."""
    text = t(key, lang)
    return text[:1].upper() + text[1:] if lang != "zh" else text


def wan_header(key: str, lang: str) -> str:
    return f"{t(key, lang)} ({t('unit_wan_yuan_short', lang)})"


def pct_header(key: str, lang: str) -> str:
    return f"{t(key, lang)} (%)"


def fmt_date(d: Any, lang: str) -> str:
    """``2026年4月20日`` (zh) or ``2026-04-20`` (en)."""
    if d is None or (isinstance(d, float) and math.isnan(d)):
        return ""
    if isinstance(d, str):
        d = dt.date.fromisoformat(d[:10])
    if isinstance(d, pd.Timestamp | dt.datetime):
        d = d.date()
    return f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else d.isoformat()


def loss_chart(mc, lang: str) -> go.Figure:
    """Histogram of the pool loss rate over the Monte Carlo paths (1% bins, the empty tail cut)."""
    ld = mc.loss_distribution()
    pool = ld[ld["series"] == "pool_loss_rate"]
    nz = pool.index[pool["count"] > 0]
    if len(nz):
        pool = pool.loc[: max(nz.max(), pool.index[0] + 9)]
    fig = go.Figure(go.Bar(x=pool["bin_lo"] * 100, y=pool["probability"] * 100, width=1.0, offset=0,
                           name=t("pool_loss_rate", lang)))
    fig.update_layout(title=h("pool_loss_distribution", lang), xaxis_title=pct_header("pool_loss_rate", lang),
                      yaxis_title=pct_header("probability", lang), height=360, margin={"t": 50, "b": 40})
    return fig


def paydown_chart(mc, lang: str) -> go.Figure:
    """Each tranche's mean balance by payment date with its median and 5–95% band (decision 019)."""
    ec = mc.expected_cashflows()
    fig = go.Figure()
    for i, (name, g) in enumerate(ec.groupby("tranche", sort=False)):
        color = PALETTE[i % len(PALETTE)]
        x = [fmt_date(d, lang) for d in g["payment_date"]]
        fig.add_scatter(x=x, y=g["balance_p95"] / WAN, mode="lines", line={"width": 0, "color": color},
                        showlegend=False, hoverinfo="skip")
        fig.add_scatter(x=x, y=g["balance_p5"] / WAN, mode="lines", line={"width": 0, "color": color},
                        fill="tonexty", opacity=0.25, name=f"{name} {t('percentile_band', lang)}")
        # hover: the median with its resolution (0 = exact: a value many paths share, such as the face)
        fig.add_scatter(x=x, y=g["balance_p50"] / WAN, mode="lines", line={"dash": "dot", "color": color},
                        name=f"{name} {t('median', lang)}", customdata=g["balance_resolution"] / WAN,
                        hovertemplate=f"{name} {t('median', lang)}: %{{y:,.2f}}<br>"
                                      f"{t('balance_resolution', lang)}: %{{customdata:,.2f}}<extra></extra>")
        fig.add_scatter(x=x, y=g["balance_mean"] / WAN, mode="lines+markers", line={"color": color},
                        name=f"{name} {t('mean', lang)}")
    fig.update_layout(title=h("expected_paydown", lang), yaxis_title=wan_header("balance", lang), height=440,
                      margin={"t": 50, "b": 40}, xaxis={"tickangle": -30}, legend={"orientation": "h", "y": -0.4})
    return fig


def index_chart(mc, lang: str) -> go.Figure:
    """Each simulated index (``simulation.rates``) by fixing date: the forward path, the mean and the 5–95% band."""
    ix = mc.index_summary()
    fig = go.Figure()
    for i, (name, g) in enumerate(ix.groupby("index", sort=False)):
        color = PALETTE[i % len(PALETTE)]
        x = [fmt_date(d, lang) for d in g["fixing_date"]]
        fig.add_scatter(x=x, y=g["p95"] * 100, mode="lines", line={"width": 0, "color": color}, showlegend=False,
                        hoverinfo="skip")
        fig.add_scatter(x=x, y=g["p5"] * 100, mode="lines", line={"width": 0, "color": color}, fill="tonexty",
                        opacity=0.25, name=f"{name} {t('percentile_band', lang)}")
        fig.add_scatter(x=x, y=g["forward"] * 100, mode="lines", line={"dash": "dash", "color": color},
                        name=f"{name} {t('index_forward', lang)}")
        fig.add_scatter(x=x, y=g["mean"] * 100, mode="lines+markers", line={"color": color},
                        name=f"{name} {t('mean', lang)}")
    fig.update_layout(title=h("sheet_index_paths", lang), yaxis_title=pct_header("index", lang), height=360,
                      margin={"t": 50, "b": 40}, xaxis={"tickangle": -30}, legend={"orientation": "h", "y": -0.4})
    return fig


def coverage_chart(det, lang: str) -> go.Figure:
    """The base case's cash-flow coverage ratio by payment date, with the line at 1."""
    pf = det.pool_frame()
    fig = go.Figure(go.Scatter(x=[fmt_date(d, lang) for d in pf["payment_date"]],
                               y=pd.to_numeric(pf["coverage_ratio"], errors="coerce"), mode="lines+markers",
                               name=t("coverage_ratio", lang)))
    fig.add_hline(y=1.0, line_dash="dash", line_color="grey")
    fig.update_layout(title=f"{h('coverage_ratio', lang)} · {t('deterministic_case', lang)}",
                      yaxis_title=h("coverage_ratio", lang), height=320, margin={"t": 50, "b": 40})
    return fig
