"""Compare scenarios: the runs saved on the Deal structuring page (this session), side by side."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import ui_common as ui

st.title(ui.t("page_compare"))
saved: list[dict] = st.session_state.get("saved_runs", [])
if len(saved) < 2:
    st.info(ui.t("no_saved_runs"))
if not saved:
    st.stop()

labels = [r["label"] for r in saved]
chosen = st.multiselect(ui.t("select_runs"), labels, default=labels[-2:], key="cmp_runs")
runs = [r for r in saved if r["label"] in chosen]


def column(r: dict) -> dict[str, str]:
    """One run's facts and results as display strings, in a fixed order of rows."""
    s = r["scenario"]
    a, sim = s.get("assumptions", {}), s.get("simulation", {})
    out = {ui.t("deal_name"): r["deal_name"], ui.t("n_paths"): f"{r['n_paths']:,}", ui.t("seed"): str(r["seed"]),
           ui.pct_header("cdr"): f"{100 * a.get('cdr', 0):.2f}",
           ui.pct_header("recovery_rate"): f"{100 * a.get('recovery_rate', 0):.1f}",
           ui.t("correlation"): f"{sim.get('correlation', '')}"}
    for tr in r["tranches"]:
        n = tr["name"]
        out[f"{n} · {ui.t('original_balance')}"] = ui.fmt_amount(tr["original_balance"])
        out[f"{n} · {ui.t('coupon')}"] = ui.fmt_pct(tr["coupon"], 3)
        out[f"{n} · {ui.t('expected_loss')}"] = ui.fmt_pct_se(tr["expected_loss"], tr["expected_loss_se"])
        out[f"{n} · {ui.t('default_probability')}"] = ui.fmt_pct_se(tr["default_probability"],
                                                                   tr["default_probability_se"])
        out[f"{n} · {ui.t('wal_years')}"] = f"{tr['wal_years']:.2f}"
        out[f"{n} · {ui.t('yield')}"] = ui.fmt_pct(tr["yield"], 3)
    p = r["pool"]
    out[ui.t("pool_loss_rate")] = ui.fmt_pct_se(p["loss_rate_mean"], p["loss_rate_se"])
    out[ui.t("pool_default_rate")] = ui.fmt_pct_se(p["default_rate_mean"], p["default_rate_se"])
    mcr = p.get("min_coverage_ratio")
    out[ui.t("min_coverage_ratio")] = "–" if mcr is None else f"{mcr:.2f}"
    return out


if runs:
    cols = {r["label"]: column(r) for r in runs}
    rows = list(dict.fromkeys(k for c in cols.values() for k in c))
    table = pd.DataFrame({lab: [c.get(k, "–") for k in rows] for lab, c in cols.items()}, index=rows)
    st.dataframe(table.rename_axis(ui.t("metric")), key="cmp_table", height=min(36 * (len(rows) + 1) + 4, 1400))
    fig = go.Figure()
    for r in runs:
        ec = r["paydown"]
        for name, g in ec.groupby("tranche", sort=False):
            fig.add_scatter(x=[ui.fmt_date(d) for d in g["payment_date"]], y=g["balance_mean"] / ui.WAN,
                            mode="lines+markers", name=f"{r['label']} · {name}")
    ui.wan_yaxis(fig)
    fig.update_layout(title=f"{ui.h('balance')} · {ui.t('mean')}", yaxis_title=ui.wan_header("balance"),
                      xaxis_title=ui.h("payment_date"), height=400, legend={"orientation": "h", "y": -0.25})
    st.plotly_chart(fig, key="cmp_chart")

if st.button(ui.h("clear_runs"), key="cmp_clear"):
    st.session_state.saved_runs = []
    st.rerun()
