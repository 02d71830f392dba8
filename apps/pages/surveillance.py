"""存续期监测 / Surveillance: choose a sample deal's period reports (or upload a servicer and a trustee report),
re-project the deal from the report date and read the watchlist, the distance to each trigger with its Monte Carlo
breach probabilities, the tranches' change since issuance and the re-projection. The numbers are
ipabs.surveillance's (``ipabs surveil``); this page collects inputs and shows results."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st
import ui_common as ui

from ipabs import api
from ipabs.errors import InputError

st.title(ui.t("page_surveillance"))
REPORTS = ui.SCENARIOS / "reports"


def samples() -> dict[str, tuple[str, str, str, tuple[str, ...]]]:
    """Sample deal · date → (scenario, servicer report, trustee report, earlier servicer reports) from
    scenarios/reports/ (latest date first)."""
    out = {}
    files = [p for p in sorted(REPORTS.glob("*-servicer-*.csv")) if not p.stem.endswith("-gbk")]
    for p in sorted(files, key=lambda p: p.stem.partition("-servicer-")[2], reverse=True):
        deal, _, date = p.stem.partition("-servicer-")
        trustee = REPORTS / f"{deal}-trustee-{date}.csv"
        scenario = ui.SCENARIOS / f"{deal}.toml"
        earlier = tuple(str(q) for q in files if q.stem.startswith(f"{deal}-servicer-")
                        and q.stem.partition("-servicer-")[2] < date)
        if scenario.exists():
            out[f"{deal} · {date}"] = (str(scenario), str(p), str(trustee) if trustee.exists() else "", earlier)
    return out


@st.cache_data(show_spinner=False, max_entries=8)
def run_surveil(scenario: str, report: str, trustee: str, as_of: str, n_paths: int, seed: int,
                history: tuple[str, ...] = ()) -> Any:
    """:func:`ipabs.surveillance.surveil` (cached on the inputs), with actual against expected over ``history``."""
    return api.surveillance.surveil(scenario, report, trustee or None, as_of=dt.date.fromisoformat(as_of),
                                    n_paths=n_paths, seed=seed, history=list(history))


def show(r: Any) -> None:
    rb = r.rebased
    c = st.columns(4)
    c[0].metric(ui.t("report_date"), ui.fmt_date(rb.as_of))
    c[1].metric(ui.t("periods_paid"), f"{rb.t0} / {rb.original.n_periods}")
    c[2].metric(ui.t("cumulative_default_ratio"), ui.fmt_pct(rb.cumulative_default_offset, 2))
    breaks = len(r.reconciliation.breaks) if r.reconciliation is not None else None
    c[3].metric(ui.t("reconciliation_break"), "–" if breaks is None else str(breaks))
    if r.reconciliation is not None and r.reconciliation.breaks:
        st.dataframe(r.reconciliation.frame(), hide_index=True, key="sv_breaks")
    st.markdown(f"**{ui.h('watchlist')}**")
    reasons = "reasons_zh" if ui.lang() == "zh" else "reasons_en"
    if r.watch.empty:
        st.info(ui.t("no_alerts"))
    else:
        w = r.watch[["subject", "name", "level", "max_severity", "score", reasons]].rename(
            columns={"subject": ui.t("obligor"), "name": ui.t("name"), "level": ui.t("alert_level"),
                     "max_severity": ui.t("severity"), "score": ui.t("score"), reasons: ui.t("alert_reasons")})
        st.dataframe(w, hide_index=True, key="sv_watch")
        inter = "intervention_zh" if ui.lang() == "zh" else "intervention_en"
        a = r.alerts[["subject", "rule_id", "severity", "observed", "threshold", inter, "source"]].rename(
            columns={"subject": ui.t("obligor"), "rule_id": ui.t("rule"), "severity": ui.t("severity"), "observed": ui.t("observed"),
                     "threshold": ui.t("threshold"), inter: ui.t("intervention")})
        st.dataframe(a, hide_index=True, key="sv_alerts")
    st.markdown(f"**{ui.h('trigger_gauges')}**")
    for trg in r.triggers.to_dict("records"):
        if trg["condition"] != "cumulative_default_ratio":
            continue
        frac = min(1.0, max(0.0, trg["value_now"] / trg["threshold"])) if trg["threshold"] > 0 else 0.0
        st.progress(frac, f"{trg['trigger']}: {ui.fmt_pct(trg['value_now'])} / {ui.fmt_pct(trg['threshold'])} · "
                          f"{ui.t('headroom')} {ui.fmt_pct(trg['headroom'])}")
    tt = pd.DataFrame({ui.t("trigger"): r.triggers["trigger"], ui.t("threshold"): r.triggers["threshold"],
                       ui.t("headroom"): r.triggers["headroom"].round(6)})
    for m in (1, 3, 6, 12):
        tt[ui.t("breach_within", months=m)] = r.triggers[f"p_breach_{m}m"].round(4)
    st.dataframe(tt, hide_index=True, key="sv_triggers")
    st.markdown(f"**{ui.h('tranche_change')}**")
    st.dataframe(r.tranches.round(6), hide_index=True, key="sv_tranches")
    if r.history is not None:
        from ipabs.surveillance.charts import actual_vs_expected_chart

        st.markdown(f"**{ui.h('actual_vs_expected')}**")
        st.plotly_chart(actual_vs_expected_chart(r.history, ui.lang(), rb.original.scenario.deal.name),
                        key="sv_ave_chart")
    st.markdown(f"**{ui.h('reprojection')}**")
    p = r.projection.pivot_table(index="payment_date", columns="tranche", values="balance_end", sort=False)
    st.line_chart(p / ui.WAN)
    if r.notes:
        with st.expander(ui.h("notes")):
            for n in r.notes:
                st.markdown(f"- {n}")


options = samples()
c = st.columns([2, 2, 2])
choice = c[0].selectbox(ui.t("sample_reports"), list(options), key="sv_sample") if options else None
up_s = c[1].file_uploader(ui.t("upload_servicer_report"), type=["csv", "xlsx", "parquet"], key="sv_up_servicer",
                          max_upload_size=ui.UPLOAD_MB)
up_t = c[2].file_uploader(ui.t("upload_trustee_report"), type=["csv", "xlsx", "parquet"], key="sv_up_trustee",
                          max_upload_size=ui.UPLOAD_MB)
scenario, report, trustee, history = options[choice] if choice else ("", "", "", ())
if up_s is not None:
    report = str(ui.save_upload(up_s))
    trustee = str(ui.save_upload(up_t)) if up_t is not None else ""
    history = ()
default_date = dt.date.fromisoformat(choice.rpartition(" · ")[2]) if choice else dt.date.today()
with st.form("surveil_form", enter_to_submit=False):
    c = st.columns(3)
    as_of = c[0].date_input(ui.t("report_date"), default_date, key=f"sv_as_of_{choice}")  # follows the sample
    n_paths = c[1].number_input(ui.t("n_paths"), 0, 200_000, 2000, 500, key="sv_paths")
    seed = c[2].number_input(ui.t("seed"), 0, 2**53 - 1, 20260101, 1, key="sv_seed")
    submitted = st.form_submit_button(ui.h("run"), type="primary", key="sv_run")
if submitted and scenario and report:
    args = {"scenario": scenario, "report": report, "trustee": trustee, "as_of": as_of.isoformat(),
            "n_paths": int(n_paths), "seed": int(seed), "history": tuple(history)}
    try:
        with st.spinner(ui.t("running", done=0, total=f"{int(n_paths):,}")):
            run_surveil(**args)
        st.session_state.sv_last = args
    except InputError as e:
        ui.show_input_error(e)

last = st.session_state.get("sv_last")
if last:
    try:
        show(run_surveil(**last))
    except InputError as e:
        ui.show_input_error(e)
