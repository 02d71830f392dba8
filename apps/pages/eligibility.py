"""Eligibility self-check: one firm's check from a form or a self-check file (pass/fail with every reason, financing
range, expected subsidy, all-in cost), and the screening of a whole pool tape with the best eligible pool.
The rules and numbers are ipabs.eligibility's; this page collects inputs and shows results."""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
import ui_common as ui
import ui_uploads as uploads

from ipabs.errors import InputError, Issue

st.title(ui.t("page_eligibility"))
try:
    from ipabs.eligibility import (
        bundled_criteria_names,
        evaluate_pool,
        load_criteria,
        load_selfcheck,
        self_check,
    )
    from ipabs.eligibility.report import write_xlsx
    from ipabs.scenario.tape import ASSET_TYPES, IP_TYPES, read_tape
except ImportError as e:  # the eligibility engine is another issue's work
    ui.missing_module_notice(getattr(e, "name", None) or "ipabs.eligibility")
    st.stop()

SELFCHECK_EXAMPLE = ui.SCENARIOS / "selfcheck-example.toml"
TAPES = ui.SCENARIOS / "tapes"


@st.cache_data(show_spinner=False)
def example_input() -> dict[str, Any]:
    """The shipped self-check example (scenarios/selfcheck-example.toml) as plain data for the form's defaults."""
    try:
        inp, _ = load_selfcheck(SELFCHECK_EXAMPLE)
    except InputError:
        return {"firm": {"name": ""}, "request": {"amount": 5_000_000, "term_months": 12}, "ip": []}
    return inp.model_dump()


@st.cache_data(show_spinner=False, max_entries=32)
def screen(tape_path: str, criteria: str, as_of: dt.date, legal_maturity: dt.date | None) -> tuple[Any, Any]:
    """Read a tape (the library's validation) and check it against a criteria set, with the best eligible pool."""
    tape = read_tape(tape_path)
    report = evaluate_pool(tape.assets, load_criteria(criteria), as_of=as_of, legal_maturity=legal_maturity)
    return tape, report


@st.cache_data(show_spinner=False, max_entries=16)
def report_xlsx(tape_path: str, criteria: str, as_of: dt.date, legal_maturity: dt.date | None, lang: str) -> bytes:
    _, report = screen(tape_path, criteria, as_of, legal_maturity)
    with tempfile.TemporaryDirectory(prefix="ipabs-elig-") as tmp:
        path = write_xlsx(report, Path(tmp) / "eligibility.xlsx", lang=lang)
        return Path(path).read_bytes()


def _num(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _date(v: Any) -> dt.date | None:
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp | dt.datetime):
        return v.date()
    return v if isinstance(v, dt.date) else None


def _options(values: list[str], current: Any) -> list[str]:
    return values if current in values or current in (None, "") else [*values, str(current)]


# --- one firm ---------------------------------------------------------------------------------------------------------

def selfcheck_form(criteria_name: str) -> dict | None:
    ex = example_input()
    firm, req = ex["firm"], ex["request"]
    crit = load_criteria(criteria_name)
    counties = list(crit.firm.region.counties) if crit.firm.region else []
    industries = list(crit.firm.industry.allowed) if crit.firm.industry else []
    ratings = [""] + (list(crit.firm.whitelist_or_rating.rating_scale) if crit.firm.whitelist_or_rating else [])
    with st.form("selfcheck_form", enter_to_submit=False):
        st.markdown(f"**{ui.h('firm')}**")
        c = st.columns(4)
        name = c[0].text_input(ui.t("firm_name"), firm.get("name", ""), key="sc_name")
        county_opts = _options(counties, firm.get("county"))
        county = c[1].selectbox(ui.t("county"), county_opts, key="sc_county",
                                index=county_opts.index(firm["county"]) if firm.get("county") in county_opts else 0)
        ind_opts = _options(industries, firm.get("industry"))
        ind = c[2].selectbox(ui.t("industry"), ind_opts, format_func=ui.industry_fn(), key="sc_industry",
                             index=ind_opts.index(firm["industry"]) if firm.get("industry") in ind_opts else 0)
        rat_opts = _options(ratings, firm.get("rating"))
        rating = c[3].selectbox(ui.t("rating"), rat_opts, key="sc_rating",
                                index=rat_opts.index(firm.get("rating") or ""))
        c = st.columns(4)
        whitelisted = c[0].checkbox(ui.t("whitelisted"), bool(firm.get("whitelisted")), key="sc_white")
        overdue = c[1].checkbox(ui.t("overdue_history"), bool(firm.get("overdue_history")), key="sc_overdue")
        black = c[2].checkbox(ui.t("blacklisted"), bool(firm.get("blacklisted")), key="sc_black")
        earlier = c[3].number_input(ui.wan_header("financing_earlier_this_year"), 0.0, 1e8,
                                    float(firm.get("financing_earlier_this_year") or 0) / ui.WAN, 100.0,
                                    format="%.2f", key="sc_earlier")
        st.markdown(f"**{ui.h('financing_request')}**")
        c = st.columns(4)
        amount = c[0].number_input(ui.wan_header("request_amount"), 1.0, 1e8, float(req["amount"]) / ui.WAN, 50.0,
                                   format="%.2f", key="sc_amount")
        term_m = c[1].number_input(ui.t("term_months"), 1, 360, int(req["term_months"]), 1, key="sc_term")
        start = c[2].date_input(ui.t("start_date"), req.get("start_date") or dt.date.today(), key="sc_start",
                                format="YYYY/MM/DD")
        types = list(ASSET_TYPES)
        atype = c[3].selectbox(ui.t("asset_type"), types, format_func=ui.term_fn(), key="sc_asset_type",
                               index=types.index(req.get("asset_type", "pledge_loan")))
        c = st.columns(4)
        reg_opts = ["not_yet", "yes", "no"]
        reg_now = {None: "not_yet", True: "yes", False: "no"}[req.get("cnipa_pledge_registered")]
        registered = c[0].selectbox(ui.t("cnipa_pledge_registered"), reg_opts, index=reg_opts.index(reg_now),
                                    format_func=ui.term_fn(), key="sc_registered")
        legal = c[1].date_input(ui.t("legal_maturity"), req.get("legal_maturity"), key="sc_legal",
                                format="YYYY/MM/DD")
        as_of = c[2].date_input(ui.t("as_of"), ex.get("as_of") or dt.date.today(), key="sc_as_of",
                                format="YYYY/MM/DD")
        st.markdown(f"**{ui.h('ip_rights')}**")
        ips = pd.DataFrame({
            "type": pd.Series([ip["type"] for ip in ex["ip"]], dtype=object),
            "registration_no": pd.Series([ip.get("registration_no") for ip in ex["ip"]], dtype=object),
            "expiry_date": pd.Series([ip.get("expiry_date") for ip in ex["ip"]], dtype=object),
            "appraised_value": pd.Series([(ip.get("appraised_value") or 0) / ui.WAN for ip in ex["ip"]], dtype=float),
            "valuation": pd.Series([ip.get("valuation", "external") for ip in ex["ip"]], dtype=object),
            "prior_pledge": pd.Series([bool(ip.get("prior_pledge")) for ip in ex["ip"]], dtype=bool),
        })
        edited = st.data_editor(ips, key="sc_ips", hide_index=True, num_rows="dynamic", column_config={
            "type": st.column_config.SelectboxColumn(ui.t("ip_type"), options=list(IP_TYPES), format_func=ui.term_fn(),
                                                     required=True, default="invention_patent"),
            "registration_no": st.column_config.TextColumn(ui.t("ip_registration_no")),
            "expiry_date": st.column_config.DateColumn(ui.t("ip_expiry_date"), format="YYYY/MM/DD"),
            "appraised_value": st.column_config.NumberColumn(ui.wan_header("appraised_value"), min_value=0.0,
                                                             format="%.2f"),
            "valuation": st.column_config.SelectboxColumn(ui.t("valuation"), options=["external", "internal"],
                                                          format_func=ui.term_fn(), default="external"),
            "prior_pledge": st.column_config.CheckboxColumn(ui.t("prior_pledge"), default=False),
        })
        submitted = st.form_submit_button(ui.h("check"), type="primary", key="sc_submit")
    if not submitted:
        return None
    ip_list = []
    for row in edited.to_dict(orient="records"):
        if not row.get("type"):
            continue
        value = _num(row.get("appraised_value"))
        reg = row.get("registration_no")
        ip_list.append({"type": row["type"], "registration_no": reg.strip() if isinstance(reg, str) and reg.strip()
                        else None,
                        "expiry_date": _date(row.get("expiry_date")),
                        "appraised_value": None if value is None else round(value * ui.WAN, 2),
                        "valuation": row.get("valuation") or "external",
                        "prior_pledge": bool(row.get("prior_pledge"))})
    return {
        "as_of": as_of,
        "firm": {"name": name, "obligor_id": firm.get("obligor_id") or "self", "county": county or None,
                 "industry": ind or None, "rating": rating or None, "whitelisted": whitelisted,
                 "overdue_history": overdue, "blacklisted": black,
                 "financing_earlier_this_year": round(earlier * ui.WAN, 2)},
        "request": {"amount": round(amount * ui.WAN, 2), "term_months": int(term_m), "start_date": start,
                    "asset_type": atype, "legal_maturity": legal,
                    "cnipa_pledge_registered": {"not_yet": None, "yes": True, "no": False}[registered]},
        "ip": ip_list,
    }


def show_selfcheck(result: Any) -> None:
    lang = ui.lang()
    lines = result.lines(lang)
    head = f"{result.firm.name}: " + (ui.t("result_pass") if result.eligible else ui.t("result_fail"))
    (st.success if result.eligible else st.error)(head + " — " + (lines[1] if len(lines) > 1 else ""))
    if result.failures:
        st.markdown(f"**{ui.h('reasons')}**")
        st.markdown("\n".join(f"- {r}" for r in result.reasons(lang)))
    d = result.to_dict()
    c = st.columns(4)
    c[0].metric(ui.t("financing_range"), f"{ui.fmt_amount(d['financing_min'])} – {ui.fmt_amount(d['financing_max'])}")
    c[1].metric(ui.t("expected_subsidy"), ui.fmt_amount(d["expected_subsidy"]))
    c[2].metric(f"{ui.t('all_in_cost')} · {ui.t('after_subsidy')}", ui.fmt_pct(d["all_in_after_subsidy"]))
    c[3].metric(f"{ui.t('all_in_cost')} · {ui.t('before_subsidy')}", ui.fmt_pct(d["all_in_before_subsidy"]))
    with st.expander(ui.h("self_check"), expanded=True):
        st.text("\n".join(lines))


def selfcheck_tab(criteria_name: str) -> None:
    data = selfcheck_form(criteria_name)
    upload = ui.uploader("upload_selfcheck", ["toml"], key=uploads.key("sc_upload"))
    uploads.show("sc_upload", upload)
    try:
        if data is not None:
            st.session_state.sc_result = self_check(data, load_criteria(criteria_name))
        elif upload is not None and st.button(ui.h("check"), key="sc_upload_check"):
            path = ui.save_upload(upload)
            try:
                inp, _ = load_selfcheck(path)
                if inp.criteria and inp.criteria not in bundled_criteria_names():
                    # an uploaded file may not name a file on the server: only the bundled criteria sets
                    raise InputError([Issue(f"criteria '{inp.criteria}': an uploaded self-check may name only a "
                                            f"bundled criteria set ({', '.join(bundled_criteria_names())})",
                                            file=upload.name, field="criteria")], title="invalid self-check file")
            except InputError as e:
                uploads.reject("sc_upload", upload.name, e)
            st.session_state.sc_result = self_check(inp, base_dir=None)
    except InputError as e:
        ui.show_input_error(e)
        return
    if st.session_state.get("sc_result") is not None:
        show_selfcheck(st.session_state.sc_result)


# --- a whole tape -----------------------------------------------------------------------------------------------------

def pool_tab(criteria_name: str) -> None:
    samples = sorted(p.name for p in TAPES.glob("*") if p.suffix in (".csv", ".xlsx", ".parquet"))
    with st.form("screen_form", enter_to_submit=False):
        c = st.columns(3)
        default = "ganzhou_pledge_pool.csv"
        sample = c[0].selectbox(ui.t("sample_tape"), samples, key="ps_sample",
                                index=samples.index(default) if default in samples else 0)
        as_of = c[1].date_input(ui.t("as_of"), dt.date(2026, 4, 15), key="ps_as_of", format="YYYY/MM/DD")
        legal = c[2].date_input(ui.t("legal_maturity"), dt.date(2028, 4, 20), key="ps_legal", format="YYYY/MM/DD")
        upload = ui.uploader("upload_tape", ["csv", "xlsx", "parquet"], key=uploads.key("ps_upload"))
        uploads.show("ps_upload", upload)
        submitted = st.form_submit_button(ui.h("screen"), type="primary", key="ps_submit")
    if submitted:
        path = ui.save_upload(upload) if upload is not None else TAPES / sample
        st.session_state.ps_args = (str(path), criteria_name, as_of, legal)
        st.session_state.ps_upload_name = upload.name if upload is not None else None
    args = st.session_state.get("ps_args")
    if not args:
        return
    try:
        tape, report = screen(*args)
    except InputError as e:
        name = st.session_state.get("ps_upload_name")
        if submitted and name:
            st.session_state.pop("ps_args", None)
            uploads.reject("ps_upload", name, e)
        ui.show_input_error(e)
        return
    lang = ui.lang()
    ui.show_issues_warning(ui.t("rejected_rows", n=tape.n_rows - tape.n_accepted), list(tape.rejected))
    s = report.summary()
    c = st.columns(4)
    c[0].metric(ui.t("n_assets"), f"{s['n_eligible']} / {s['n_assets']}")
    c[1].metric(ui.t("pool_eligible"), ui.fmt_amount(s["eligible_balance"]))
    c[2].metric(ui.t("pool_best"), ui.fmt_amount(s["best_balance"]))
    c[3].metric(ui.t("n_firms"), f"{s['n_firms_eligible']} / {s['n_firms']}")
    st.text("\n".join(report.summary_lines(lang)))
    amounts = ["principal", "appraised_value", "balance", "pool_balance", "excess_amount", "reduction_needed"]
    pcts = ["loan_to_value", "share", "limit_share", "excess_share"]
    tabs = st.tabs([ui.h("asset"), ui.h("reasons"), ui.h("limit"), ui.h("pool_best")])
    frames = (report.assets_frame(lang), report.failures_frame(lang), report.limits_frame(lang),
              report.best_pool_frame(lang))
    for tab, frame in zip(tabs, frames, strict=True):
        if "industry" in frame:
            frame = frame.assign(industry=[ui.industry(v) for v in frame["industry"]])
        tab.dataframe(ui.display_frame(frame, amounts=amounts, pcts=pcts), hide_index=True)
    st.download_button(ui.h("download_xlsx"), report_xlsx(*args, lang), "eligibility.xlsx",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="ps_xlsx",
                       on_click="ignore")


names = bundled_criteria_names()
titles = {n: load_criteria(n).title(ui.lang()) for n in names}
criteria_name = st.selectbox(ui.t("criteria_set"), names, key="criteria_name", format_func=titles.__getitem__)
tab_firm, tab_pool = st.tabs([ui.h("self_check"), ui.h("pool_screening")])
with tab_firm:
    selfcheck_tab(criteria_name)
with tab_pool:
    pool_tab(criteria_name)
