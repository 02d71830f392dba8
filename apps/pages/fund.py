"""Risk-compensation fund (finance bureau): choose a policy with a loss-sharing split, a loan portfolio, the fund's
size (or the leverage it should support), run the fund Monte Carlo and read the draws by year, the probability
that the fund is exhausted, the leverage it supports and each loan's expected claim. The rules and numbers are
ipabs.policy's (``ipabs fund`` on the command line); this page collects inputs."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
import ui_common as ui
import ui_uploads as uploads

from ipabs.errors import Cancelled, InputError

st.title(ui.t("page_fund"))
try:
    from ipabs.policy import api as policy_api
except ImportError as e:  # the policy engine is another issue's work
    ui.missing_module_notice(getattr(e, "name", None) or "ipabs.policy")
    st.stop()

DEFAULT_PRESET = "zhongshan"
PROGRESS_STEPS = 20


@st.cache_data(show_spinner=False, max_entries=16)
def run_fund(path: str, preset: str, fund_wan: float, leverage: float, cap_wan: float, n_paths: int, seed: int,
             rho: float, sector_rho: float, _progress: Any = None) -> Any:
    """The fund Monte Carlo of :func:`ipabs.policy.api.run_fund` (cached on the inputs; a 0 means "not given")."""
    return policy_api.run_fund(path, preset, fund_size=fund_wan * ui.WAN if fund_wan > 0 else None,
                               leverage=leverage if leverage > 0 else None,
                               per_loan_cap=cap_wan * ui.WAN if cap_wan > 0 else None, n_paths=n_paths, seed=seed,
                               rho=rho, sector_rho=sector_rho, progress=_progress)


def fund_files(result: Any) -> dict[str, bytes]:
    """The outputs of ``ipabs fund --out`` as bytes, and a zip of them all."""
    return ui.written_files(lambda folder: policy_api.write_fund(result, folder), "fund.zip")


def show_results(res: Any) -> None:
    by_year = res.by_year()
    years = by_year[by_year["year"] != "total"] if (by_year["year"] == "total").any() else by_year
    c = st.columns(3)
    c[0].metric(ui.t("fund_size"), ui.fmt_amount(res.fund_size_fen / 100))
    c[1].metric(ui.t("portfolio_principal"), ui.fmt_amount(res.principal_fen / 100))
    c[2].metric(ui.t("prob_fund_exhausted"), ui.fmt_pct(float(years["prob_exhausted_by_year"].iloc[-1]), 2))
    st.markdown(f"**{ui.h('fund_by_year')}** · {res.n_paths:,} {ui.t('n_paths')} · {ui.t('seed')} {res.seed}")
    unit = ui.t("unit_wan_yuan_short")
    table = pd.DataFrame({ui.t("year"): by_year["year"].astype(str)})
    for col, head in (("draw_mean", ui.t("mean")), ("draw_mean_se", ui.t("standard_error")), ("draw_p95", "P95"),
                      ("draw_p99", "P99")):
        table[f"{ui.t('fund_draw')} {head} ({unit})"] = by_year[col] / ui.WAN
    table[ui.t("prob_fund_exhausted_by_year")] = by_year["prob_exhausted_by_year"]
    st.dataframe(table.round(4), hide_index=True, key="fd_by_year")
    st.markdown(f"**{ui.h('supported_leverage')}**")
    st.dataframe(res.leverage(), hide_index=True, key="fd_leverage")
    st.markdown(f"**{ui.h('loans')}**")
    st.dataframe(ui.display_frame(res.loans(), amounts=["mean_fund_claim"], pcts=["prob_loss"]), hide_index=True,
                 key="fd_loans")
    if res.assumptions:
        with st.expander(ui.h("assumptions")):
            for a in res.assumptions:
                st.markdown(f"- {a}")
    files = fund_files(res)
    st.markdown(f"**{ui.h('downloads')}**")
    c = st.columns(2)
    c[0].download_button(ui.h("download_xlsx"), files["fund.xlsx"], "risk-compensation-fund.xlsx",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="fd_dl_xlsx",
                         on_click="ignore")
    c[1].download_button(ui.h("download_parquet"), files["fund.zip"], "risk-compensation-fund.zip",
                         "application/zip", key="fd_dl_zip", on_click="ignore")


# --- page -------------------------------------------------------------------------------------------------------------

presets = policy_api.list_presets()
samples = sorted(p.name for p in ui.SCENARIOS.glob("fund-*") if p.suffix in (".csv", ".xlsx"))
c = st.columns([1, 1, 2])
preset = c[0].selectbox(ui.t("policy_preset"), presets, key="fd_preset",
                        index=presets.index(DEFAULT_PRESET) if DEFAULT_PRESET in presets else 0)
sample = c[1].selectbox(ui.t("sample_portfolio"), samples, key="fd_sample") if samples else None
upload = c[2].file_uploader(ui.t("upload_portfolio"), type=["csv", "xlsx"], key=uploads.key("fd_upload"),
                            help=ui.t("upload_help", mb=ui.UPLOAD_MB), max_upload_size=ui.UPLOAD_MB)
with c[2]:
    uploads.show("fd_upload", upload)
path = ui.save_upload(upload) if upload is not None else (ui.SCENARIOS / sample if sample else None)
with st.form("fund_form", enter_to_submit=False):
    c = st.columns(3)
    fund_wan = c[0].number_input(f"{ui.t('fund_size')} ({ui.t('unit_wan_yuan_short')})", 0.0, 1e8, 0.0, 100.0,
                                 key="fd_fund", help=ui.t("fund_size_help"))
    leverage = c[1].number_input(ui.t("leverage"), 0.0, 1000.0, 10.0, 1.0, key="fd_leverage_in")
    cap_wan = c[2].number_input(f"{ui.t('per_loan_cap')} ({ui.t('unit_wan_yuan_short')})", 0.0, 1e7, 0.0, 10.0,
                                key="fd_cap")
    c = st.columns(4)
    n_paths = c[0].number_input(ui.t("n_paths"), 100, 1_000_000, 10_000, 1000, key="fd_paths")
    seed = c[1].number_input(ui.t("seed"), 0, 2**53 - 1, 20260101, 1, key="fd_seed")
    rho = c[2].number_input(ui.t("rho"), 0.0, 0.99, 0.2, 0.05, format="%.2f", key="fd_rho")
    sector_rho = c[3].number_input(ui.t("sector_correlation"), 0.0, 0.99, 0.1, 0.05, format="%.2f", key="fd_srho")
    submitted = st.form_submit_button(ui.h("run"), type="primary", key="fd_run")
if submitted and path is not None:
    args = {"path": str(path), "preset": preset, "fund_wan": float(fund_wan),
            "leverage": 0.0 if fund_wan > 0 else float(leverage), "cap_wan": float(cap_wan), "n_paths": int(n_paths),
            "seed": int(seed), "rho": float(rho), "sector_rho": float(sector_rho)}
    area = st.empty()
    with area.container():
        bar = st.progress(0.0, ui.t("running", done=0, total=f"{int(n_paths):,}"))
        st.button(ui.h("cancel"), key="fd_cancel")
    try:
        run_fund(**args, _progress=ui.progress_callback(bar))
        st.session_state.fd_last = args
    except InputError as e:
        if upload is not None and uploads.names_file(e, path.name):
            area.empty()
            uploads.reject("fd_upload", upload.name, e)
        ui.show_input_error(e)
    except Cancelled:
        st.warning(ui.t("cancelled"))
    area.empty()

last = st.session_state.get("fd_last")
if last:
    try:
        show_results(run_fund(**last))
    except InputError as e:
        ui.show_input_error(e)
