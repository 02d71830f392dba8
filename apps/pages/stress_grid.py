"""Stress grid: PD multiplier × recovery haircut × recovery lag × prepayment × correlation × support-provider default
on the batch deterministic engine or the Monte Carlo (ipabs.structuring.stress), with the heat map, the tornado and
the prospectus stress-test table (ipabs.structuring.prospectus). The numerics are all in ipabs."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import ui_common as ui
import ui_structuring as us
from ui_runs import canonical_key

from ipabs.errors import Cancelled, InputError
from ipabs.glossary import label
from ipabs.report.structuring_charts import axis_value_text, heatmap_figure, metric_label, tornado_figure
from ipabs.structuring.prospectus import prospectus_markdown
from ipabs.structuring.stress import AXES, MARKET_PRACTICE, agency_grid

MAX_PATHS = 200_000
#: Values offered per axis (the agency-style preset's are selected by default); lag in months.
OPTIONS = {
    "default_multiplier": [1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0],
    "recovery_haircut": [0.0, 0.1, 0.2, 0.3, 0.5, 1.0],
    "recovery_lag_months": [0, 6, 12, 18, 24],
    "cpr": [0.0, 0.05, 0.1, 0.2, 0.3],
    "correlation": [0.05, 0.1, 0.2, 0.3, 0.4, 0.5],
    "support_default": [False, True],
}
DET_METRICS = ("loss_rate", "loss", "interest_paid", "principal_paid", "min_coverage_ratio")
MC_METRICS = ("expected_loss", "default_probability", "interest_shortfall_probability", "pool_default_rate",
              "pool_loss_rate")


def axis_title(axis: str) -> str:
    return ui.t("stress_axis_recovery_lag_months") if axis == "recovery_lag_months" else us.axis_name(axis)


def option_text(axis: str, value, code: str) -> str:
    if axis == "recovery_lag_months":
        return label("months_value", code).format(n=value)
    return axis_value_text(axis, value, code)


def settings_form(scn: dict, deal) -> dict | None:
    preset = agency_grid()
    sim = scn.get("simulation", {})
    has_support = bool(deal.names.supports)
    code = ui.lang()
    with st.form("stress_form", enter_to_submit=False):
        st.markdown(f"**{ui.h('stress_settings')}**")
        c = st.columns(3)
        engine = c[0].radio(ui.t("engine"), ["deterministic", "mc"], key="sg_engine", horizontal=True,
                            format_func=us.label_fn("engine_"))
        tornado = c[1].checkbox(ui.t("tornado_run"), value=True, key="sg_tornado")
        axes: dict[str, list] = {}
        cols = st.columns(3)
        for i, axis in enumerate(OPTIONS):
            if axis == "support_default" and not has_support:
                continue
            default = list(getattr(preset, axis, ()) or ())
            label = axis_title(axis) + (f" ({ui.t('mc_only')})" if axis == "correlation" else "")
            axes[axis] = cols[i % 3].multiselect(label, OPTIONS[axis], default=default, key=f"sg_{axis}",
                                                 format_func=lambda v, a=axis, c=code: option_text(a, v, c),
                                                 placeholder=ui.t("axis_at_base"))
        c = st.columns(3)
        n_paths = c[0].number_input(ui.t("n_paths"), 100, MAX_PATHS, min(max(int(sim.get("n_paths", 10_000)), 100),
                                                                          MAX_PATHS, 5_000), 1000, key="sg_n_paths",
                                    help=ui.t("stress_paths_help"))
        seed = c[1].number_input(ui.t("seed"), 0, 2**53 - 1, min(int(sim.get("seed", 20260101)), 2**53 - 1), 1,
                                 key="sg_seed")
        submitted = st.form_submit_button(ui.h("run_stress"), type="primary", key="run_stress")
    if not submitted:
        return None
    chosen = {a: sorted(v) for a, v in axes.items() if v}
    is_preset = all(tuple(chosen.get(a, ())) == tuple(getattr(preset, a, ()) or ()) for a in OPTIONS)
    return {"axes": chosen, "engine": engine, "tornado": bool(tornado), "n_paths": int(n_paths), "seed": int(seed),
            "name": preset.name if is_preset else "stress grid",
            "source": preset.source if is_preset else MARKET_PRACTICE}


def run(settings: dict) -> None:
    scn, base, name = us.ensure_scenario()
    key, settings_json = canonical_key(scn, base), us.settings_key(settings)
    area = st.empty()
    with area.container():
        bar = st.progress(0.0, ui.t("running_cells", done=0, total="…"))
        st.button(ui.h("cancel"), key="cancel_stress")
    ok, _ = ui.guarded_run(area, lambda: us.run_stress(key, settings_json, scn, base, name,
                                                       _progress=ui.progress_callback(bar, "running_cells")))
    if not ok:
        return
    st.session_state.stress_last = {"key": key, "settings": settings_json, "data": scn, "base": base, "name": name}


def cell_name(row: pd.Series, axes: tuple[str, ...]) -> str:
    """A cell by its stressed axes' values, in the language: ``违约率倍数 ×2 · 回收率下降比例 30%``."""
    if not axes:
        return ui.t("ps_base_case")
    return " · ".join(f"{us.axis_name(a)} {axis_value_text(a, row[a], ui.lang())}" for a in axes)


def long_table(run: us.StressRun) -> pd.DataFrame:
    """The library's long table (one row per cell × tranche) with glossary headers; fractions in %, amounts in 万元."""
    res = run.result
    t = res.table
    axes = run.grid.axes
    out = pd.DataFrame({ui.t("cell"): t["cell"], ui.t("cell_label"): [cell_name(r, axes) for _, r in t.iterrows()]})
    for a in AXES:
        out[us.axis_name(a)] = t[a]
    out[ui.t("name")] = t["tranche"]
    metrics = [m for m in res.metrics if m in t.columns]
    for m in metrics:
        col = t[m]
        if m in ("repaid_in_full", "shortfall_any"):
            out[ui.t(m)] = [us.yes_no(x) for x in col]
        elif m in ("loss", "interest_paid", "principal_paid", "pool_defaults"):
            out[metric_label(m, ui.lang())] = (col / ui.WAN).round(2)
        elif m == "min_coverage_ratio":
            out[ui.t(m)] = col.round(4)
        else:
            out[metric_label(m, ui.lang())] = (col * 100).round(4)
    return out


def prospectus_frame(pt: pd.DataFrame) -> pd.DataFrame:
    """The prospectus stress-test table (:func:`ipabs.structuring.prospectus.prospectus_table`) with the printed
    headers: amounts in 万元 with two decimals, flags as 是/否, the break point or "not broken up to …"."""
    from ipabs.structuring.prospectus import stress_description

    code = ui.lang()
    measure = pt.attrs.get("break_measure", "default_multiplier")
    is_pct = measure != "default_multiplier"
    head = {k: label(f"ps_{k}", code) for k in ("no", "scenario", "original_balance", "principal_paid",
                                                "interest_paid", "loss", "principal_repaid", "interest_repaid",
                                                "min_coverage")}
    brk = label({"default_multiplier": "ps_break_default_multiplier", "cdr": "ps_break_cdr",
                 "recovery_rate": "ps_break_recovery_rate"}[measure], code)

    def point(r: pd.Series) -> str:
        x = f"{r['break_point']:.2%}" if is_pct else f"{r['break_point']:.2f}"
        return x if r["breaks"] else label("ps_not_broken", code).format(x=x)

    return pd.DataFrame({
        head["no"]: pt["scenario"], head["scenario"]: [stress_description(r, code) for _, r in pt.iterrows()],
        ui.t("tranche"): pt["tranche"],
        head["original_balance"]: (pt["original_balance"] / ui.WAN).round(2),
        head["principal_paid"]: (pt["principal_paid"] / ui.WAN).round(2),
        head["interest_paid"]: (pt["interest_paid"] / ui.WAN).round(2),
        head["loss"]: (pt["loss"] / ui.WAN).round(2),
        head["principal_repaid"]: [us.yes_no(x) for x in pt["principal_repaid"]],
        head["interest_repaid"]: [us.yes_no(x) for x in pt["interest_repaid"]],
        head["min_coverage"]: pt["min_coverage_ratio"].round(2),
        brk: [point(r) for _, r in pt.iterrows()],
    })


def show_results() -> None:
    last = st.session_state.get("stress_last")
    if not last:
        st.info(ui.t("stress_first"))
        return
    try:
        run = us.run_stress(last["key"], last["settings"], last["data"], last["base"], last["name"])
    except (InputError, Cancelled) as e:
        st.warning(str(e))
        return
    res = run.result
    st.subheader(ui.h("results"))
    src = ui.t("ps_market_practice") if run.grid.source == MARKET_PRACTICE else run.grid.source
    engine = ui.t(f"engine_{res.engine}")
    extra = (f" · {ui.t('n_paths')} {res.meta['n_paths']:,} · {ui.t('seed')} {res.meta['seed']}"
             if res.engine == "mc" else "")
    st.caption(ui.t("stress_done", n=len(res.cells), s=f"{run.seconds:.1f}") + f" · {engine}{extra}")
    st.caption(ui.t("ps_source_note", source=src))
    st.markdown(f"**{ui.h('stress_table')}**")
    with st.container(key="stress_table"):
        st.dataframe(long_table(run), hide_index=True)
    tranches = list(dict.fromkeys(res.table["tranche"]))
    metrics = DET_METRICS if res.engine == "deterministic" else MC_METRICS
    c = st.columns(2)
    tranche = c[0].selectbox(ui.t("tranche"), tranches, key="sg_view_tranche")
    metric = c[1].selectbox(ui.t("metric"), metrics, key="sg_view_metric",
                            format_func=lambda m, c=ui.lang(): metric_label(m, c))
    multi = [a for a in run.grid.axes if res.table[a].nunique() > 1]
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{ui.h('heatmap')}**")
        if len(multi) >= 2:
            cc = st.columns(2)
            x = cc[0].selectbox(ui.t("x_axis"), multi, index=0, key="sg_x", format_func=us.axis_name_fn())
            y_opts = [a for a in multi if a != x]
            y = cc[1].selectbox(ui.t("y_axis"), y_opts, index=0, key="sg_y", format_func=us.axis_name_fn())
            pivot = res.heatmap(x, y, tranche, metric)
            st.plotly_chart(heatmap_figure(pivot, x, y, metric, title=f"{tranche} · {metric_label(metric, ui.lang())}",
                                           lang=ui.lang()), key="chart_heatmap")
            st.caption(ui.t("heatmap_fixed"))
        else:
            st.info(ui.t("heatmap_needs_two_axes"))
    with right:
        st.markdown(f"**{ui.h('tornado')}**")
        if run.tornado is not None:
            td = run.tornado.tornado(metric)
            if td.empty:
                st.info(ui.t("tornado_empty"))
            else:
                st.plotly_chart(tornado_figure(td, tranche, metric, lang=ui.lang()), key="chart_tornado")
                if not (td.loc[td["tranche"] == tranche, "swing"] > 0).any():
                    st.caption(ui.t("tornado_flat"))
        else:
            st.info(ui.t("tornado_not_run"))
    st.markdown(f"**{ui.h('ps_title')}**")
    with st.container(key="prospectus"):
        st.dataframe(prospectus_frame(run.prospectus), hide_index=True)
    with st.expander(ui.h("as_printed")):  # the Markdown download: title, notes and the table as printed
        st.markdown(prospectus_markdown(run.prospectus, lang=ui.lang()))
    downloads(run, last)


def downloads(run: us.StressRun, last: dict) -> None:
    st.markdown(f"**{ui.h('downloads')}**")
    deal = us.compiled_deal(last["key"], last["data"], last["base"], last["name"])
    files = us.stress_exports(last["key"], last["settings"], ui.lang(), run, deal)
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in last["name"].removesuffix(".toml"))
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    c = st.columns(5)
    c[0].download_button(ui.h("download_xlsx"), files["stress.xlsx"], f"{stem}-stress.xlsx", xlsx, key="dl_sg_xlsx",
                         on_click="ignore")
    c[1].download_button(ui.h("download_prospectus_xlsx"), files["prospectus.xlsx"], f"{stem}-prospectus.xlsx", xlsx,
                         key="dl_sg_prospectus", on_click="ignore")
    c[2].download_button(ui.h("download_prospectus_md"), files["prospectus.md"], f"{stem}-prospectus.md",
                         "text/markdown", key="dl_sg_md", on_click="ignore")
    c[3].download_button(ui.h("download_parquet"), files["parquet.zip"], f"{stem}-stress-parquet.zip",
                         "application/zip", key="dl_sg_parquet", on_click="ignore")
    c[4].download_button(ui.h("download_summary_json"), files["summary.json"], f"{stem}-stress-summary.json",
                         "application/json", key="dl_sg_summary", on_click="ignore")


# --- page -------------------------------------------------------------------------------------------------------------

st.title(ui.t("page_stress_grid"))
scn, base, name, deal = us.page_deal()
new_settings = settings_form(scn, deal)
if new_settings is not None:
    run(new_settings)
elif st.session_state.get("cancel_stress"):
    st.warning(ui.t("cancelled"))
show_results()
