"""Tranche sizing: the largest balance of a tranche that meets a target implied rating, a minimum cash-flow coverage
ratio, the chosen named stresses and the largest-obligor test (ipabs.structuring.sizing.size_tranche), then the sized
structure's implied ratings and BDR against SDR. The numerics are all in ipabs; this page picks the settings."""

from __future__ import annotations

import copy

import pandas as pd
import streamlit as st
import ui_common as ui
import ui_structuring as us

from ipabs.errors import Cancelled, InputError
from ipabs.report.structuring_charts import sizing_trials_figure
from ipabs.scenario.io import dump_toml

MAX_PATHS = 1_000_000


def target_options() -> list[str]:
    from ipabs.structuring.ratings import load_mapping

    return [*load_mapping().scale, "none"]


def settings_form(scn: dict, deal) -> dict | None:
    names = [tr["name"] for tr in scn["tranches"]]
    sim = scn.get("simulation", {})
    stress_opts = us.sizing_stress_options(deal)
    code = ui.lang()
    with st.form("sizing_form", enter_to_submit=False):
        st.markdown(f"**{ui.h('sizing_settings')}**")
        c = st.columns(3)
        tranche = c[0].selectbox(ui.t("sized_tranche"), names, index=0, key="sz_tranche")
        absorb_opts = names[::-1]
        absorb = c[1].selectbox(ui.t("absorbing_tranche"), absorb_opts, index=0, key="sz_absorb",
                                help=ui.t("absorbing_help"))
        targets = target_options()
        target = c[2].selectbox(ui.t("target_rating"), targets, index=0, key="sz_target",
                                format_func=us.label_fn(special={"none": "ui_no_rating_target"}))
        c = st.columns(3)
        basis = c[0].selectbox(ui.t("rating_basis"), ["pd", "el"], key="sz_basis",
                               format_func=us.label_fn("basis_"))
        with c[1]:
            interpolation = us.interpolation_choice("sz_interpolation")
        allow = c[2].checkbox(ui.t("allow_unconfirmed"), value=False, key="sz_allow_unconfirmed")
        c = st.columns(3)
        min_cov = c[0].number_input(ui.t("min_coverage"), 0.0, 10.0, 1.2, 0.05, format="%.2f", key="sz_min_coverage",
                                    help=ui.t("min_coverage_help"))
        largest = c[1].number_input(ui.t("largest_obligors"), 0, 50, 0, 1, key="sz_largest_obligors",
                                    help=ui.t("largest_obligors_help"))
        stresses = c[2].multiselect(ui.t("sizing_stresses"), list(stress_opts), default=[], key="sz_stresses",
                                    format_func=lambda k: us.stress_name(stress_opts[k], code),
                                    help=ui.t("sizing_stresses_help"), placeholder=ui.t("choose_options"))
        c = st.columns(3)
        n_paths = c[0].number_input(ui.t("n_paths"), 100, MAX_PATHS, min(max(int(sim.get("n_paths", 10_000)), 100),
                                                                          MAX_PATHS), 1000, key="sz_n_paths")
        seed = c[1].number_input(ui.t("seed"), 0, 2**53 - 1, min(int(sim.get("seed", 20260101)), 2**53 - 1), 1,
                                 key="sz_seed")
        submitted = st.form_submit_button(ui.h("run_sizing"), type="primary", key="run_sizing")
    if not submitted:
        return None
    return {"tranche": tranche, "absorb": None if absorb == tranche else absorb, "target": target, "basis": basis,
            "interpolation": interpolation, "allow_unconfirmed": bool(allow), "min_coverage": float(min_cov),
            "largest_obligors": int(largest), "stresses": list(stresses), "n_paths": int(n_paths), "seed": int(seed)}


def run(settings: dict) -> None:
    from ui_runs import canonical_key

    scn, base, name = us.ensure_scenario()
    key, settings_json = canonical_key(scn, base), us.settings_key(settings)
    area = st.empty()
    with area.container():
        bar = st.progress(0.0, ui.t("running_trials", done=0, total="…"))
        st.button(ui.h("cancel"), key="cancel_sizing")
    ok, _ = ui.guarded_run(area, lambda: us.run_sizing(key, settings_json, scn, base, name,
                                                       _progress=ui.progress_callback(bar, "running_trials"),
                                                       _progress_paths=ui.progress_callback(bar)))
    if not ok:
        return
    st.session_state.sizing_last = {"key": key, "settings": settings_json, "data": scn, "base": base, "name": name}


def structure_table(run: us.SizingRun, before: dict) -> pd.DataFrame:
    r = run.result
    rows = []
    for tr, old in zip(r.deal.scenario.tranches, before["tranches"], strict=True):
        b0 = float(old["balance"])
        rows.append({
            ui.t("name"): tr.name, ui.t("seniority"): ui.term(tr.seniority),
            ui.wan_header("balance_before"): round(b0 / ui.WAN, 2),
            ui.wan_header("sized_balance"): round(tr.balance / ui.WAN, 2),
            ui.wan_header("change"): round((tr.balance - b0) / ui.WAN, 2),
            ui.pct_header("coupon"): round(100 * tr.coupon, 4),
        })
    return pd.DataFrame(rows)


def trials_table(run: us.SizingRun) -> pd.DataFrame:
    from ipabs.structuring.sizing import CONSTRAINTS

    f = run.result.frame()
    out = pd.DataFrame({
        ui.t("trial"): f["trial"], ui.wan_header("balance"): (f["balance"] / ui.WAN).round(2),
        f"{ui.t('rating_metric')} (%)": [us.pct(x) for x in f["metric"]],
        f"{ui.t('standard_error')} (%)": [us.pct(x) for x in f["se"]],
        f"{ui.t('rating_threshold')} (%)": [us.pct(x) for x in f["threshold"]],
        ui.t("wal_years"): f["wal_years"].round(3), ui.t("min_coverage_ratio"): f["min_coverage"].round(4),
        ui.t("result_pass"): [us.yes_no(x) for x in f["ok"]],
    })
    for c in CONSTRAINTS:
        out[us.constraint_label(c)] = [us.yes_no(x) for x in f[f"pass_{c}"]]
    out[ui.t("failed_scenarios")] = f["failed_scenarios"]
    return out


def show_results() -> None:
    last = st.session_state.get("sizing_last")
    if not last:
        st.info(ui.t("sizing_first"))
        return
    try:
        run = us.run_sizing(last["key"], last["settings"], last["data"], last["base"], last["name"])
    except (InputError, Cancelled) as e:  # only when the cache entry was evicted and the inputs changed meanwhile
        st.warning(str(e))
        return
    r = run.result
    st.subheader(ui.h("results"))
    st.caption(ui.t("sizing_done", n=r.meta.get("trials", len(r.trials)), s=f"{run.seconds:.1f}")
               + (f" · {ui.t('n_paths')} {r.meta['n_paths']:,} · {ui.t('seed')} {r.meta['seed']}"
                  if "n_paths" in r.meta else ""))
    if not r.feasible:
        st.error(ui.t("sizing_infeasible", tranche=r.tranche,
                      failing=ui.t("list_separator").join(us.constraint_label(c) for c in r.also_failing)))
    c = st.columns(3)
    c[0].metric(f"{r.tranche} · {ui.t('sized_balance')}", ui.fmt_amount(r.balance),
                delta=f"±2σ {ui.fmt_amount(r.band[0])} – {ui.fmt_amount(r.band[1])}", delta_color="off",
                delta_arrow="off", help=ui.t("mc_band_help"))
    c[1].metric(ui.t("subordination"), ui.fmt_pct(r.subordination, 2))
    c[2].metric(ui.t("binding_constraint"), us.constraint_label(r.binding),
                delta=(f"{ui.t('also_failing')}: " + ui.t("list_separator").join(us.constraint_label(x)
                                                                                   for x in r.also_failing))
                if r.also_failing and r.feasible else None, delta_color="off", delta_arrow="off")
    if r.metric is not None and r.threshold is not None:
        st.caption(ui.t("sizing_metric_line", metric=ui.fmt_pct_se(r.metric, r.se or 0.0, 4),
                        threshold=ui.fmt_pct(r.threshold, 4), wal=f"{r.wal_years:.3f}",
                        coverage=f"{r.min_coverage:.4f}"))
    failed = sorted({s for t in r.trials for s in t.failed_scenarios})
    if failed:
        opts = us.sizing_stress_options(r.deal)
        st.caption(f"{ui.t('failed_scenarios')}: " + ui.t("list_separator").join(
            us.stress_name(opts[s]) if s in opts else s for s in failed))
    st.caption(ui.t("sizing_convention", absorbing=r.absorbing or "–"))
    st.markdown(f"**{ui.h('sized_structure')}**")
    with st.container(key="sized_structure"):
        st.dataframe(structure_table(run, last["data"]), hide_index=True)
    st.plotly_chart(sizing_trials_figure(r.frame(), r.balance, r.band, lang=ui.lang()), key="chart_sizing")
    with st.expander(ui.h("sizing_trials")):
        st.dataframe(trials_table(run), hide_index=True)
    st.markdown(f"**{ui.h('implied_ratings')}** · {ui.t('sized_structure')}")
    if run.rating_issues:
        st.error("\n".join([ui.t("input_problems")] + [f"- {x}" for x in run.rating_issues]))
    if run.ratings is not None:
        with st.container(key="sized_ratings"):
            st.dataframe(us.ratings_table(run.ratings), hide_index=True)
        st.markdown(f"**{ui.h('bdr_sdr')}**")
        with st.container(key="bdr_sdr"):
            st.dataframe(us.bdr_sdr_display(run.bdr), hide_index=True)
        with st.expander(ui.h("bdr_sdr_rows")):
            st.dataframe(us.bdr_sdr_rows(run.bdr), hide_index=True)
        us.show_rating_labels(run.ratings, tuple(run.bdr.labels))
    downloads(run, last)


def downloads(run: us.SizingRun, last: dict) -> None:
    st.markdown(f"**{ui.h('downloads')}**")
    files = us.sizing_exports(last["key"], last["settings"], ui.lang(), run)
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in last["name"].removesuffix(".toml"))
    sized = us.sized_scenario(last["data"], run.result)
    c = st.columns(4)
    c[0].download_button(ui.h("download_sized_toml"), dump_toml(sized), f"{stem}-sized.toml", "application/toml",
                         key="dl_sz_toml", on_click="ignore")
    c[1].download_button(ui.h("download_xlsx"), files["size.xlsx"], f"{stem}-size.xlsx",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="dl_sz_xlsx",
                         on_click="ignore")
    c[2].download_button(ui.h("download_parquet"), files["parquet.zip"], f"{stem}-size-parquet.zip",
                         "application/zip", key="dl_sz_parquet", on_click="ignore")
    c[3].download_button(ui.h("download_summary_json"), files["summary.json"], f"{stem}-size-summary.json",
                         "application/json", key="dl_sz_summary", on_click="ignore")
    if st.button(ui.h("use_sized"), key="use_sized"):
        st.session_state.scn = copy.deepcopy(sized)
        for k in [k for k in st.session_state if isinstance(k, str) and k.startswith("f_")]:
            del st.session_state[k]
        st.session_state.pop("last_run", None)
        st.success(ui.t("sized_applied"))


# --- page -------------------------------------------------------------------------------------------------------------

st.title(ui.t("page_tranche_sizing"))
scn, base, name, deal = us.page_deal()
new_settings = settings_form(scn, deal)
if new_settings is not None:
    run(new_settings)
elif st.session_state.get("cancel_sizing"):
    st.warning(ui.t("cancelled"))
show_results()
