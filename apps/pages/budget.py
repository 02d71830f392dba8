"""Subsidy budget (finance bureau): choose or edit a policy preset, upload or edit a pipeline of planned deals and
pledge loans, run the budget Monte Carlo, read the budget by year with percentiles and each firm's entitlements with
the caps and exclusions that applied. The rules and numbers are ipabs.policy's; this page collects inputs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pandas as pd
import streamlit as st
import ui_common as ui
import ui_uploads as uploads

from ipabs.errors import Cancelled, InputError

st.title(ui.t("page_budget"))
try:
    from ipabs.policy import api as policy_api
    from ipabs.policy.charts import budget_chart
    from ipabs.policy.io import PRESET_DIR, read_table
except ImportError as e:  # the policy engine is another issue's work
    ui.missing_module_notice(getattr(e, "name", None) or "ipabs.policy")
    st.stop()

DEFAULT_PRESET = "ganzhou-2025"
PROGRESS_STEPS = 20


@st.cache_data(show_spinner=False, max_entries=32)
def pipeline_table(path: str) -> pd.DataFrame:
    """A pipeline file as a table of text cells (the library's reader: encodings, XLSX), for the editor."""
    header, rows = read_table(path)
    return pd.DataFrame([[r.get(h, "") for h in header] for r in rows], columns=header, dtype=object)


@st.cache_data(show_spinner=False, max_entries=16)
def run_budget(key: str, n_paths: int, seed: int, lpr: float | None, rho: float, sector_rho: float, skip: bool,
               _policy_text: str, _pipeline: pd.DataFrame, _source: str, _progress: Any = None) -> Any:
    """Validate the policy and the pipeline and run the budget Monte Carlo (cached on the inputs' digest)."""
    policy = policy_api.parse_policy(_policy_text, file="policy")
    pipeline = policy_api.pipeline_from_frame(_pipeline, source=_source, skip_invalid_rows=skip)
    chunk = max(256, -(-n_paths // PROGRESS_STEPS))
    return policy_api.simulate_budget(pipeline, policy, n_paths=n_paths, seed=seed, lpr=lpr, rho=rho, sector_rho=sector_rho,
                           chunk_paths=chunk, progress=_progress)


@st.cache_data(show_spinner=False, max_entries=16)
def budget_files(key: str, _result: Any) -> dict[str, bytes]:
    """The outputs of ``ipabs subsidy`` (:func:`ipabs.policy.api.write_budget`) as bytes, plus a zip of them all."""
    return ui.written_files(lambda folder: policy_api.write_budget(_result, folder), "budget.zip")


@st.cache_data(show_spinner=False)
def preset_titles() -> dict[str, str]:
    table = policy_api.policies_table()
    return {r["name"]: f"{r['title']} ({r['name']})" for r in table.to_dict(orient="records")}


def policy_section() -> str:
    titles = preset_titles()
    presets = policy_api.list_presets()
    c = st.columns([1, 2])
    preset = c[0].selectbox(ui.t("policy_preset"), presets, key="bp_preset", format_func=lambda n: titles.get(n, n),
                            index=presets.index(DEFAULT_PRESET) if DEFAULT_PRESET in presets else 0)
    upload = c[1].file_uploader(ui.t("upload_policy"), type=["toml"], key=uploads.key("bp_policy_upload"),
                                help=ui.t("upload_help", mb=ui.UPLOAD_MB), max_upload_size=ui.UPLOAD_MB)
    with c[1]:
        uploads.show("bp_policy_upload", upload)
    if upload is not None:
        try:
            text = upload.getvalue().decode("utf-8-sig")
        except UnicodeDecodeError:
            uploads.reject("bp_policy_upload", upload.name,
                           InputError("not UTF-8 text (policy files are UTF-8 TOML)", title="invalid policy"))
        source = f"upload-{hashlib.sha256(upload.getvalue()).hexdigest()[:12]}"
    else:
        text = (PRESET_DIR / f"{preset}.toml").read_text(encoding="utf-8")
        source = preset
    with st.expander(ui.h("policy_text")):
        return st.text_area(ui.t("policy_text"), text, height=320, key=f"bp_policy_text_{source}",
                            label_visibility="collapsed")


def pipeline_section() -> tuple[pd.DataFrame | None, str]:
    samples = sorted(p.name for p in ui.SCENARIOS.glob("pipeline-*") if p.suffix in (".csv", ".xlsx"))
    c = st.columns([1, 2])
    sample = c[0].selectbox(ui.t("sample_pipeline"), samples, key="bp_sample") if samples else None
    upload = c[1].file_uploader(ui.t("upload_pipeline"), type=["csv", "xlsx"], key=uploads.key("bp_pipeline_upload"),
                                help=ui.t("upload_help", mb=ui.UPLOAD_MB), max_upload_size=ui.UPLOAD_MB)
    with c[1]:
        uploads.show("bp_pipeline_upload", upload)
    path = ui.save_upload(upload) if upload is not None else (ui.SCENARIOS / sample if sample else None)
    if path is None:
        return None, ""
    try:
        return pipeline_table(str(path)), path.name
    except InputError as e:
        if upload is not None:
            uploads.reject("bp_pipeline_upload", upload.name, e)
        ui.show_input_error(e)
        return None, path.name


# --- the pipeline as the user reads it --------------------------------------------------------------------------------

#: Pipeline columns in yuan, shown in 万元 (the file and the library keep yuan).
PIPELINE_AMOUNTS = ("amount", "deal_size")
PIPELINE_FLAGS = ("in_pool", "already_funded", "cnipa_pledge_registered")


def _pl_header(col: str) -> str:
    key = f"pl_{col}"
    if ui.glossary_key(key) is None:
        return col
    return ui.wan_header(key) if col in PIPELINE_AMOUNTS else ui.t(key)


def _value_labels(col: str) -> dict[str, str]:
    """Code → label of a column's coded values in the current language (sector, kind, yes/no)."""
    if col == "sector":
        from ipabs.glossary import TERMS

        return {k.removeprefix("ui_industry_"): ui.industry(k.removeprefix("ui_industry_")) for k in TERMS
                if k.startswith("ui_industry_")}
    if col == "kind":
        return {k: ui.t(f"pl_{k}") for k in ("securitization", "pledge_loan")}
    if col in PIPELINE_FLAGS:
        return {"true": ui.t("pl_true"), "false": ui.t("pl_false")}
    return {}


def pipeline_display(table: pd.DataFrame) -> pd.DataFrame:
    """The pipeline file's table as the editor shows it: glossary headers, sector and kind names, yes/no, amounts in
    万元 (:func:`pipeline_for_library` reverses it)."""
    out = table.copy()
    for col in out.columns:
        if col in PIPELINE_AMOUNTS:
            out[col] = (pd.to_numeric(out[col].replace("", None), errors="coerce") / ui.WAN).round(2)
        elif labels := _value_labels(col):
            out[col] = [labels.get(str(v).strip().lower() if col in PIPELINE_FLAGS else str(v), v) for v in out[col]]
    return out.rename(columns={c: _pl_header(c) for c in out.columns})


def pipeline_for_library(shown: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The edited display table back in the pipeline file's layout (codes, yuan as text with two decimals)."""
    out = shown.copy()
    out.columns = columns
    for col in columns:
        if col in PIPELINE_AMOUNTS:
            wan = pd.to_numeric(out[col], errors="coerce")
            out[col] = ["" if pd.isna(v) else f"{v * ui.WAN:.2f}" for v in wan]
        elif labels := _value_labels(col):
            back = {label: code for code, label in labels.items()}
            out[col] = [back.get(v, v) if isinstance(v, str) else v for v in out[col]]
    return out.astype(object)


def show_results(res: Any) -> None:
    lang = ui.lang()
    if res.rejected:
        ui.show_issues_warning(ui.t("rejected_rows", n=len({i.row for i in res.rejected})), list(res.rejected))
    by_year = res.by_year()
    years = [y for y in by_year["year"] if y != "total"]
    next_year = str(dt.date.today().year + 1)
    pick = st.selectbox(ui.t("year"), years, key="bp_year", index=years.index(next_year) if next_year in years else 0)
    row = by_year[by_year["year"] == pick].iloc[0]
    total = by_year[by_year["year"] == "total"].iloc[0]
    c = st.columns(3)
    c[0].metric(ui.t("budget_p90_year", year=pick), ui.fmt_amount(row["p90"]),
                help=f"± {ui.fmt_amount(1.96 * row['p90_se'])} (95%)")
    c[1].metric(ui.t("budget_mean_year", year=pick), ui.fmt_amount(row["mean"]),
                help=f"± {ui.fmt_amount(1.96 * row['mean_se'])} (95%)")
    c[2].metric(f"{ui.t('total')} P90", ui.fmt_amount(total["p90"]))
    st.markdown(f"**{ui.h('budget_by_year')}** · {res.n_paths:,} {ui.t('n_paths')} · {ui.t('seed')} {res.seed}")
    unit = ui.t("unit_wan_yuan_short")
    table = pd.DataFrame({ui.t("year"): [ui.t("total") if y == "total" else y for y in by_year["year"]]})
    for col, head in (("mean", ui.t("mean")), ("mean_se", ui.t("standard_error")), ("p50", "P50"), ("p90", "P90"),
                      ("p95", "P95"), ("p99", "P99")):
        table[f"{head} ({unit})"] = by_year[col] / ui.WAN
    for col in [c for c in by_year.columns if c.startswith("mean_") and c != "mean_se"]:
        table[f"{ui.t(col.removeprefix('mean_'))} · {ui.t('mean')} ({unit})"] = by_year[col] / ui.WAN
    st.dataframe(table.round(2), hide_index=True, key="bp_by_year")
    st.plotly_chart(ui.wan_yaxis(budget_chart(res, lang)), key="bp_chart")
    if res.planned is not None:
        st.markdown(f"**{ui.h('planned_entitlements')}**")
        planned = res.planned.to_frame(lang).drop(columns=["payable_fen", "item"], errors="ignore").rename(
            columns={"item_label": "subsidy_item", "year": "entitlement_year", "base": "base_amount",
                     "gross": "gross_amount", "payable": "amount_payable", "reasons": "reason_trail"})
        st.dataframe(ui.display_frame(planned, amounts=["base_amount", "gross_amount", "cap_reduction",
                                                        "amount_payable"], pcts=["rate"]),
                     hide_index=True, key="bp_planned")
    st.markdown(f"**{ui.h('firm_totals')}**")
    ft = res.firm_totals_frame().rename(columns={"p50": "P50", "p95": "P95", "max": "max", "mean_se": "mean_se"})
    st.dataframe(ui.display_frame(ft, amounts=["mean", "mean_se", "P50", "P95", "max"], pcts=["prob_positive"]),
                 hide_index=True, key="bp_firms")
    binding = res.cap_binding()
    if len(binding):
        st.markdown(f"**{ui.h('cap_binding_firms')}**")
        binding = binding.assign(item=[ui.term(v) for v in binding["item"]]).rename(
            columns={"item": "subsidy_item", "year": "entitlement_year"})
        st.dataframe(ui.display_frame(binding, amounts=["mean", "mean_cap_reduction"],
                                      pcts=["prob_paid", "prob_cap_binds"]), hide_index=True, key="bp_binding")
    last = st.session_state.bp_last
    files = budget_files(f"{last['key']}:{last['n_paths']}:{last['seed']}:{last['lpr']}:{last['rho']}:"
                         f"{last['sector_rho']}:{last['skip']}", res)
    st.markdown(f"**{ui.h('downloads')}**")
    c = st.columns(3)
    c[0].download_button(ui.h("download_xlsx"), files["budget.xlsx"], "subsidy-budget.xlsx",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="bp_dl_xlsx",
                         on_click="ignore")
    c[1].download_button(ui.h("download_csv"), by_year.to_csv(index=False).encode("utf-8-sig"),
                         "subsidy-budget-by-year.csv", "text/csv", key="bp_dl_csv", on_click="ignore")
    c[2].download_button(ui.h("download_parquet"), files["budget.zip"], "subsidy-budget.zip", "application/zip",
                         key="bp_dl_zip", on_click="ignore")


# --- page -------------------------------------------------------------------------------------------------------------

st.subheader(ui.h("policy"))
policy_text = policy_section()
st.subheader(ui.h("pipeline"))
table, source = pipeline_section()
if table is not None:
    with st.form("budget_form", enter_to_submit=False):
        shown = st.data_editor(pipeline_display(table), key=f"bp_editor_{source}_{ui.lang()}", num_rows="dynamic",
                               hide_index=True)
        edited = pipeline_for_library(shown, list(table.columns))
        skip = st.checkbox(ui.t("skip_invalid_rows"), value=False, key="bp_skip")
        st.markdown(f"**{ui.h('budget_settings')}**")
        c = st.columns(5)
        n_paths = c[0].number_input(ui.t("n_paths"), 100, 1_000_000, 10_000, 1000, key="bp_paths")
        seed = c[1].number_input(ui.t("seed"), 0, 2**53 - 1, 20260101, 1, key="bp_seed")
        lpr_pct = c[2].number_input(f"{ui.t('lpr')} (%)", 0.0, 20.0, 0.0, 0.05, format="%.2f", key="bp_lpr")
        rho = c[3].number_input(ui.t("rho"), 0.0, 0.99, 0.2, 0.05, format="%.2f", key="bp_rho")
        sector_rho = c[4].number_input(ui.t("sector_correlation"), 0.0, 0.99, 0.1, 0.05, format="%.2f",
                                       key="bp_sector_rho")
        submitted = st.form_submit_button(ui.h("run"), type="primary", key="bp_run")
    if submitted:
        lpr = round(lpr_pct / 100, 6) if lpr_pct > 0 else None
        key = hashlib.sha256(json.dumps([policy_text, edited.to_csv(index=False), source], ensure_ascii=False)
                             .encode("utf-8")).hexdigest()
        args = {"key": key, "n_paths": int(n_paths), "seed": int(seed), "lpr": lpr, "rho": float(rho),
                "sector_rho": float(sector_rho), "skip": bool(skip)}
        area = st.empty()
        with area.container():
            bar = st.progress(0.0, ui.t("running", done=0, total=f"{int(n_paths):,}"))
            st.button(ui.h("cancel"), key="bp_cancel")
        try:
            run_budget(**args, _policy_text=policy_text, _pipeline=edited, _source=source,
                       _progress=ui.progress_callback(bar))
            st.session_state.bp_last = {**args, "policy_text": policy_text, "pipeline": edited, "source": source}
        except InputError as e:
            ui.show_input_error(e)
        except Cancelled:
            st.warning(ui.t("cancelled"))
        area.empty()
    elif st.session_state.get("bp_cancel"):
        st.warning(ui.t("cancelled"))

last = st.session_state.get("bp_last")
if last:
    try:
        result = run_budget(**{k: last[k] for k in ("key", "n_paths", "seed", "lpr", "rho", "sector_rho", "skip")},
                            _policy_text=last["policy_text"], _pipeline=last["pipeline"], _source=last["source"])
    except InputError as e:
        ui.show_input_error(e)
    else:
        show_results(result)
