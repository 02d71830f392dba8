"""Deal structuring: load a sample or uploaded scenario, edit its terms in a form, run the deterministic case and the
Monte Carlo, read the results, download them. The numerics are all in ipabs; this page edits a scenario dict."""

from __future__ import annotations

import copy
import datetime as dt
import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import ui_common as ui
import ui_runs as runs

from ipabs.errors import Cancelled, InputError
from ipabs.report import charts
from ipabs.scenario.io import dump_toml, read_toml

DEFAULT_SAMPLE = "ganzhou_pledge_2026.toml"
FORM_PREFIX = "f_"
MAX_SAVED_RUNS = 12
#: Most paths one run may ask for in the app (memory: results are cached per session); the CLI has no such cap.
MAX_PATHS = 1_000_000


# --- scenario state -------------------------------------------------------------------------------------------------

def set_scenario(data: dict, base_dir: str, name: str) -> None:
    """Make ``data`` the scenario being edited; the form's widgets start again from its values."""
    st.session_state.scn = data
    st.session_state.scn_base_dir = base_dir
    st.session_state.scn_name = name
    for k in [k for k in st.session_state if isinstance(k, str) and k.startswith(FORM_PREFIX)]:
        del st.session_state[k]
    st.session_state.pop("last_run", None)


def ensure_scenario() -> None:
    if "scn" not in st.session_state:
        samples = runs.sample_scenarios(str(ui.SCENARIOS))
        name = DEFAULT_SAMPLE if DEFAULT_SAMPLE in samples else next(iter(samples))
        set_scenario(copy.deepcopy(samples[name]), str(ui.SCENARIOS), name)
        try:
            data = st.session_state.scn
            check = runs.check_scenario(runs.canonical_key(data, ui.SCENARIOS), data, str(ui.SCENARIOS), name)
            st.session_state.pool_balance = check.pool_balance
        except InputError:  # shown when the user runs it
            pass


def try_load(data: dict, base_dir: str, name: str, show: bool = True) -> InputError | None:
    """Validate a scenario with its tape; make it current when it is valid, else show every problem (or, with
    ``show=False``, return them)."""
    try:
        check = runs.check_scenario(runs.canonical_key(data, base_dir), data, base_dir, name)
    except InputError as e:
        if show:
            ui.show_input_error(e)
        return e
    set_scenario(data, base_dir, name)
    st.session_state.pool_balance = check.pool_balance
    ui.show_issues_warning(ui.t("rejected_rows", n=check.n_rows - check.n_accepted), list(check.rejected))
    return None


def loaded_text() -> str:
    return ui.t("loaded_scenario", name=f"{st.session_state.scn['deal'].get('name', '')} "
                                        f"({st.session_state.scn_name})")


def upload_key(name: str) -> str:
    """The uploader's key; a new one after a rejected upload, which empties the uploader (Streamlit has no way to
    remove a file from an uploader but to make a new one)."""
    gen = st.session_state.get("upload_gen", 0)
    return name if gen == 0 else f"{name}_{gen}"


def reject_upload(name: str, err: InputError) -> None:
    """Keep the library's message for the uploader and empty the uploaders (the rerun shows both)."""
    st.session_state.upload_rejected = (name, err)
    st.session_state.upload_gen = st.session_state.get("upload_gen", 0) + 1
    st.rerun()


def source_section() -> None:
    with st.expander(f"{ui.h('scenario_source')} · {loaded_text()}", expanded=False):
        samples = runs.sample_scenarios(str(ui.SCENARIOS))
        tab_sample, tab_upload = st.tabs([ui.h("sample_scenario"), ui.h("upload_scenario")])
        with tab_sample:
            names = list(samples)
            choice = st.selectbox(ui.t("sample_scenario"), names, key="sample_choice",
                                  index=names.index(DEFAULT_SAMPLE) if DEFAULT_SAMPLE in names else 0,
                                  format_func=lambda n: f"{samples[n]['deal'].get('name', n)} ({n})")
            if st.button(ui.h("load"), key="load_sample"):
                try_load(copy.deepcopy(samples[choice]), str(ui.SCENARIOS), choice)
        with tab_upload:
            scn_file = ui.uploader("scenario_file", ["toml"], key=upload_key("up_scenario"))
            tape_file = ui.uploader("tape_file", ["csv", "xlsx", "parquet"], key=upload_key("up_tape"))
            st.caption(ui.t("tape_file_hint"))
            rejected = st.session_state.get("upload_rejected")
            if rejected is not None and scn_file is None and tape_file is None:
                name, err = rejected
                st.error(ui.t("upload_rejected", name=name))
                ui.show_input_error(err)
            elif rejected is not None:  # a new file: the old message goes
                st.session_state.pop("upload_rejected", None)
            if st.button(ui.h("load"), key="load_upload", disabled=scn_file is None):
                try:
                    scn_path = ui.save_upload(scn_file)
                    data = read_toml(scn_path)
                    # only files uploaded with it: the uploaded tape, never a path on the server
                    data = ui.confine_uploaded_scenario(
                        data, scn_path, ui.save_upload(tape_file) if tape_file is not None else None)
                except InputError as e:
                    reject_upload(scn_file.name, e)
                    return
                err = try_load(data, str(scn_path.parent), scn_file.name, show=False)
                if err is not None:
                    reject_upload(tape_file.name if tape_file is not None else scn_file.name, err)


# --- the form -------------------------------------------------------------------------------------------------------

def _date(v: Any) -> dt.date | None:
    if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, pd.Timestamp | dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str) and v.strip():
        return dt.date.fromisoformat(v.strip()[:10])
    return None


def _num(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _yuan(wan: float | None) -> float | None:
    return None if wan is None else round(wan * ui.WAN, 2)


def _rate(pct: float | None) -> float | None:
    return None if pct is None else round(pct / 100, 12)


def _opt(options: list[str], value: Any) -> list[str]:
    return options if value in options else [*options, str(value)]


def deal_tab(scn: dict) -> dict:
    d = scn["deal"]
    c1, c2 = st.columns([2, 1])
    out = {"name": c1.text_input(ui.t("deal_name"), value=d.get("name", ""), key="f_deal_name")}
    markets = _opt(["exchange", "interbank"], d.get("market", "exchange"))
    out["market"] = c2.selectbox(ui.t("market"), markets, index=markets.index(d.get("market", "exchange")),
                                 format_func=ui.term_fn(), key="f_market")
    c = st.columns(4)
    for col, k in zip(c, ("cutoff_date", "closing_date", "first_payment_date", "legal_maturity"), strict=True):
        out[k] = col.date_input(ui.t(k), value=_date(d.get(k)), key=f"f_{k}", format="YYYY/MM/DD")
    freqs = _opt(["monthly", "quarterly", "semiannual", "annual"], d.get("payment_frequency", "quarterly"))
    out["payment_frequency"] = c[0].selectbox(ui.t("payment_frequency"), freqs,
                                              index=freqs.index(d.get("payment_frequency", "quarterly")),
                                              format_func=ui.term_fn(), key="f_payment_frequency")
    return out


def tranche_tab(scn: dict) -> tuple[list[float], pd.DataFrame]:
    trs = scn["tranches"]
    st.markdown(f"**{ui.h('tranche_sizes')}**")
    cols = st.columns(min(len(trs), 4))
    sizes = []
    for i, tr in enumerate(trs):
        sizes.append(cols[i % len(cols)].number_input(
            f"{tr['name']} · {ui.wan_header('original_balance')}", min_value=0.0, value=float(tr["balance"]) / ui.WAN,
            step=100.0, format="%.2f", key=f"f_size_{i}"))
    sizes_caption = st.empty()  # filled below from the sizes and seniorities as edited (not the loaded scenario's)
    st.markdown(f"**{ui.h('tranche_terms')}**")
    df = pd.DataFrame({
        "name": [tr["name"] for tr in trs],
        "seniority": [tr.get("seniority", "senior") for tr in trs],
        "coupon": [100 * float(tr.get("coupon", 0.0)) for tr in trs],
        "amortization": [tr.get("amortization", "pass_through") for tr in trs],
        "expected_maturity": [_date(tr.get("expected_maturity")) for tr in trs],
    })
    edited = st.data_editor(df, key="f_tranches", hide_index=True, num_rows="fixed", column_config={
        "name": st.column_config.TextColumn(ui.t("name"), disabled=True),
        "seniority": st.column_config.SelectboxColumn(ui.t("seniority"), options=["senior", "mezzanine", "subordinate"],
                                                      format_func=ui.term_fn(), required=True),
        "coupon": st.column_config.NumberColumn(ui.pct_header("coupon"), min_value=0.0, max_value=100.0,
                                                format="%.3f", step=0.001),
        "amortization": st.column_config.SelectboxColumn(ui.t("amortization"),
                                                         options=["bullet", "pass_through", "scheduled"],
                                                         format_func=ui.term_fn(), required=True),
        "expected_maturity": st.column_config.DateColumn(ui.t("expected_maturity"), format="YYYY/MM/DD"),
    })
    sizes_caption.caption(sizes_text(sizes, list(edited["seniority"])))
    return sizes, edited


def sizes_text(sizes_wan: list[float], seniorities: list[str]) -> str:
    """``发行总额 2亿元 · 次级占比 5.0% · 资产池余额 …`` for the sizes (万元) as they stand in the form."""
    total = sum(float(x) for x in sizes_wan) * ui.WAN
    sub = sum(float(x) for x, sen in zip(sizes_wan, seniorities, strict=True) if sen == "subordinate") * ui.WAN
    pool = st.session_state.get("pool_balance")
    return (f"{ui.t('total_issued')} {ui.fmt_amount(total)} · {ui.t('subordinate_share')} "
            f"{ui.fmt_pct(sub / total if total else None, 1)}"
            + (f" · {ui.t('pool_balance')} {ui.fmt_amount(pool)}" if pool else ""))


def fees_tab(scn: dict) -> pd.DataFrame:
    fees = scn.get("fees", [])
    df = pd.DataFrame({
        "name": pd.Series([f["name"] for f in fees], dtype=object),
        "basis": pd.Series([f.get("basis", "fixed") for f in fees], dtype=object),
        "rate": pd.Series([100 * float(f.get("rate", 0.0)) for f in fees], dtype=float),
        "annual_amount": pd.Series([float(f.get("annual_amount", 0.0)) / ui.WAN for f in fees], dtype=float),
    })
    return st.data_editor(df, key="f_fees", hide_index=True, num_rows="dynamic", column_config={
        "name": st.column_config.TextColumn(ui.t("name"), required=True),
        "basis": st.column_config.SelectboxColumn(
            ui.t("basis"), options=["fixed", "pool_balance", "tranche_balance", "interest_collections"],
            format_func=ui.term_fn(), required=True, default="fixed"),
        "rate": st.column_config.NumberColumn(ui.pct_header("rate"), min_value=0.0, max_value=100.0, format="%.4f",
                                              default=0.0),
        "annual_amount": st.column_config.NumberColumn(ui.wan_header("annual_amount"), min_value=0.0, format="%.2f",
                                                       default=0.0),
    })


def support_tab(scn: dict) -> pd.DataFrame | None:
    sup = scn.get("support", [])
    edited = None
    if sup:
        df = pd.DataFrame({
            "name": [s["name"] for s in sup],
            "kind": [s.get("kind", "shortfall_commitment") for s in sup],
            "cap": pd.Series([None if s.get("cap") is None else float(s["cap"]) / ui.WAN for s in sup], dtype=float),
            "pd": pd.Series([None if s.get("pd") is None else 100 * float(s["pd"]) for s in sup], dtype=float),
        })
        edited = st.data_editor(df, key="f_support", hide_index=True, num_rows="fixed", column_config={
            "name": st.column_config.TextColumn(ui.t("name"), disabled=True),
            "kind": st.column_config.SelectboxColumn(ui.t("kind"), options=["shortfall_commitment", "guarantee"],
                                                     format_func=ui.term_fn(), required=True),
            "cap": st.column_config.NumberColumn(ui.wan_header("cap"), min_value=0.0, format="%.2f"),
            "pd": st.column_config.NumberColumn(ui.pct_header("support_pd"), min_value=0.0, max_value=100.0,
                                                format="%.4f"),
        })
    steps = scn.get("waterfall", {}).get("normal", [])
    if steps:
        st.markdown(f"**{ui.h('waterfall')}** ({ui.t('normal')})")
        st.dataframe(pd.DataFrame([{k: (", ".join(v) if isinstance(v, list) else v) for k, v in s.items()}
                                   for s in steps]), hide_index=True)
    return edited


def assumptions_tab(scn: dict) -> dict:
    a = scn.get("assumptions", {})
    c = st.columns(4)
    return {
        "cdr": c[0].number_input(ui.pct_header("cdr"), 0.0, 100.0, 100 * float(a.get("cdr", 0.0)), 0.25,
                                 format="%.2f", key="f_cdr"),
        "recovery_rate": c[1].number_input(ui.pct_header("recovery_rate"), 0.0, 100.0,
                                           100 * float(a.get("recovery_rate", 0.0)), 5.0, format="%.1f",
                                           key="f_recovery_rate"),
        "recovery_lag_periods": c[2].number_input(ui.t("recovery_lag_periods"), 0, 480,
                                                  int(a.get("recovery_lag_periods", 0)), 1, key="f_recovery_lag"),
        "cpr": c[3].number_input(ui.pct_header("cpr"), 0.0, 100.0, 100 * float(a.get("cpr", 0.0)), 1.0,
                                 format="%.2f", key="f_cpr"),
    }


def simulation_tab(scn: dict) -> dict:
    s = scn.get("simulation", {})
    c = st.columns(3)
    n_default = int(s.get("n_paths", 10_000))
    out = {
        "n_paths": c[0].number_input(ui.t("n_paths"), 100, MAX_PATHS, min(max(n_default, 100), MAX_PATHS), 1000,
                                     key="f_n_paths"),
        "seed": c[1].number_input(ui.t("seed"), 0, 2**53 - 1, min(int(s.get("seed", 20260101)), 2**53 - 1), 1,
                                 key="f_seed"),
        "label": c[2].text_input(ui.t("run_label"), value="", key="f_run_label"),
    }
    c = st.columns(3)
    out["correlation"] = c[0].number_input(ui.t("correlation"), 0.0, 1.0, float(s.get("correlation", 0.2)), 0.05,
                                           format="%.2f", key="f_correlation")
    out["sector_correlation"] = c[1].number_input(ui.t("sector_correlation"), 0.0, 1.0,
                                                  float(s.get("sector_correlation", 0.1)), 0.05, format="%.2f",
                                                  key="f_sector_correlation")
    models = _opt(["ip_disposal", "fixed_rate"], s.get("recovery_model", "ip_disposal"))
    out["recovery_model"] = c[2].selectbox(ui.t("recovery_model"), models,
                                           index=models.index(s.get("recovery_model", "ip_disposal")),
                                           format_func=ui.term_fn(), key="f_recovery_model")
    rr = s.get("revenue_risk") or {}
    c = st.columns(3)
    out["revenue_volatility"] = c[0].number_input(ui.t("revenue_volatility"), 0.0, 3.0,
                                                  float(rr.get("volatility", 0.0)), 0.05, format="%.2f",
                                                  help=ui.t("revenue_help"), key="f_revenue_volatility")
    out["revenue_floor"] = c[1].number_input(ui.t("revenue_floor"), 0.0, 1.0, float(rr.get("floor", 0.0)), 0.05,
                                             format="%.2f", key="f_revenue_floor")
    out["revenue_factor_loading"] = c[2].number_input(ui.t("revenue_factor_loading"), 0.0, 1.0,
                                                      float(rr.get("factor_loading", 0.0)), 0.05, format="%.2f",
                                                      key="f_revenue_factor_loading")
    if any(t.get("floating") for t in scn.get("tranches", [])) or scn.get("pool", {}).get("floating"):
        rm = s.get("rates") or {}
        c = st.columns(3)
        out["rate_mean_reversion"] = c[0].number_input(ui.t("rate_mean_reversion"), 0.001, 5.0,
                                                       float(rm.get("mean_reversion", 0.05)), 0.01, format="%.3f",
                                                       help=ui.t("rates_help"), key="f_rate_mean_reversion")
        out["rate_volatility"] = c[1].number_input(ui.pct_header("rate_volatility"), 0.0, 20.0,
                                                   100 * float(rm.get("volatility", 0.0)), 0.1, format="%.2f",
                                                   key="f_rate_volatility")
    return out


def build_scenario(scn: dict, deal: dict, sizes: list[float], tranches: pd.DataFrame, fees: pd.DataFrame,
                   support: pd.DataFrame | None, assumptions: dict, sim: dict) -> dict:
    """The edited scenario dict: the loaded one with the form's values put in (amounts back in yuan)."""
    new = copy.deepcopy(scn)
    new["deal"].update({k: v for k, v in deal.items() if v is not None})
    for i, (tr, row) in enumerate(zip(new["tranches"], tranches.to_dict(orient="records"), strict=True)):
        tr["balance"] = _yuan(sizes[i])
        tr["seniority"] = row["seniority"]
        tr["coupon"] = _rate(_num(row["coupon"])) or 0.0
        tr["amortization"] = row["amortization"]
        tr.pop("expected_maturity", None)
        if (m := _date(row["expected_maturity"])) is not None:
            tr["expected_maturity"] = m
    old_fees = {f["name"]: f for f in scn.get("fees", [])}
    new_fees = []
    for row in fees.to_dict(orient="records"):
        name = str(row.get("name") or "").strip()
        if not name:
            continue
        fee = {k: v for k, v in old_fees.get(name, {}).items() if k == "tranches"}
        fee.update({"name": name, "basis": row.get("basis") or "fixed"})
        rate, amount = _rate(_num(row.get("rate"))), _yuan(_num(row.get("annual_amount")))
        if rate or fee["basis"] != "fixed":
            fee["rate"] = rate or 0.0
        if amount or fee["basis"] == "fixed":
            fee["annual_amount"] = amount or 0.0
        new_fees.append(fee)
    new["fees"] = new_fees
    if support is not None:
        for s, row in zip(new["support"], support.to_dict(orient="records"), strict=True):
            s["kind"] = row["kind"]
            s.pop("cap", None)
            s.pop("pd", None)
            if (cap := _num(row.get("cap"))) is not None:
                s["cap"] = _yuan(cap)
            if (p := _num(row.get("pd"))) is not None:
                s["pd"] = _rate(p)
    a = new.setdefault("assumptions", {})
    a["cdr"] = _rate(assumptions["cdr"])
    a["recovery_rate"] = _rate(assumptions["recovery_rate"])
    a["recovery_lag_periods"] = int(assumptions["recovery_lag_periods"])
    a["cpr"] = _rate(assumptions["cpr"])
    s = new.setdefault("simulation", {})
    s.update({"n_paths": int(sim["n_paths"]), "seed": int(sim["seed"]), "correlation": float(sim["correlation"]),
              "sector_correlation": float(sim["sector_correlation"]), "recovery_model": sim["recovery_model"]})
    vol = float(sim.get("revenue_volatility") or 0.0)
    if "revenue_risk" in s or vol > 0.0:  # sales-linked royalties (by_sector and asset_types kept from the file)
        s["revenue_risk"] = {**s.get("revenue_risk", {}), "volatility": vol,
                             "floor": float(sim.get("revenue_floor") or 0.0)}
        if float(sim.get("revenue_factor_loading") or 0.0) > 0.0 or "factor_loading" in s["revenue_risk"]:
            s["revenue_risk"]["factor_loading"] = float(sim.get("revenue_factor_loading") or 0.0)
    rvol = _rate(sim.get("rate_volatility")) or 0.0
    if "rate_volatility" in sim and ("rates" in s or rvol > 0.0):  # simulated index paths (floating instruments)
        s["rates"] = {**s.get("rates", {}), "model": "hull_white",
                      "mean_reversion": float(sim["rate_mean_reversion"]), "volatility": rvol}
    return new


def scenario_form() -> tuple[bool, dict | None, str]:
    scn = st.session_state.scn
    with st.form("deal_form", enter_to_submit=False):
        tabs = st.tabs([ui.h("deal_terms"), ui.h("tranche"), ui.h("fees"), ui.h("credit_enhancement"),
                        ui.h("assumptions"), ui.h("monte_carlo")])
        with tabs[0]:
            deal = deal_tab(scn)
        with tabs[1]:
            sizes, tranches = tranche_tab(scn)
        with tabs[2]:
            fees = fees_tab(scn)
        with tabs[3]:
            support = support_tab(scn)
        with tabs[4]:
            assumptions = assumptions_tab(scn)
        with tabs[5]:
            sim = simulation_tab(scn)
        submitted = st.form_submit_button(ui.h("run"), type="primary", key="run_deal")
    if not submitted:
        return False, None, ""
    return True, build_scenario(scn, deal, sizes, tranches, fees, support, assumptions, sim), sim["label"]


# --- running ----------------------------------------------------------------------------------------------------------

def run(new: dict, label: str) -> None:
    st.session_state.scn = new
    base, name = st.session_state.scn_base_dir, st.session_state.scn_name
    key = runs.canonical_key(new, base)
    seed, n_paths = int(new["simulation"]["seed"]), int(new["simulation"]["n_paths"])
    area = st.empty()
    with area.container():
        # a first run after installation compiles the kernels (30-60 s) before the first progress report: say so
        bar = st.progress(0.0, ui.t("compiling") if runs.kernels_cold() else ui.t("running", done=0,
                                                                                   total=f"{n_paths:,}"))
        st.button(ui.h("cancel"), key="cancel_run")
    ok, res = ui.guarded_run(area, lambda: runs.run_deal(key, seed, n_paths, new, base, name,
                                                         _progress=ui.progress_callback(bar),
                                                         _scheduler=ui.scheduler_address()))
    if not ok:  # invalid input, an unreachable dask scheduler, or cancelled: shown by guarded_run
        return
    st.session_state.pool_balance = float(res.det.deal.pool_balance)
    st.session_state.last_run = {"key": key, "seed": seed, "n_paths": n_paths, "data": new, "base": base,
                                 "name": name}
    save_run(res, new, label)


def save_run(res: runs.DealRun, scn: dict, label: str) -> None:
    """Keep a compact copy of the run for the Compare page."""
    saved = st.session_state.setdefault("saved_runs", [])
    st.session_state.run_counter = st.session_state.get("run_counter", 0) + 1
    n = st.session_state.run_counter
    trs = scn["tranches"]
    auto = f"#{n} {trs[0]['name']} {ui.fmt_amount(trs[0]['balance'])} · {res.mc.n_paths:,}"
    det_rows = res.det.tranche_summary()
    saved.append({
        "label": label.strip() or auto,
        "deal_name": scn["deal"]["name"],
        "scenario": scn,
        "n_paths": res.mc.n_paths,
        "seed": res.mc.seed,
        "tranches": [{**d, **m} for d, m in zip(det_rows, res.mc.tranche_stats(), strict=True)],
        "pool": {**res.det.pool_summary(), **res.mc.pool_stats()},
        "paydown": res.mc.expected_cashflows(),
    })
    del saved[:-MAX_SAVED_RUNS]


# --- results ----------------------------------------------------------------------------------------------------------

def tranche_table(res: runs.DealRun) -> pd.DataFrame:
    rows = []
    for d, m in zip(res.det.tranche_summary(), res.mc.tranche_stats(), strict=True):
        rows.append({
            "name": d["name"], "seniority": d["seniority"], "original_balance": d["original_balance"],
            "coupon": d["coupon"], "wal_years": d["wal_years"], "yield": d["yield"],
            "expected_loss": m["expected_loss"], "expected_loss_se": m["expected_loss_se"],
            "default_probability": m["default_probability"], "default_probability_se": m["default_probability_se"],
            "interest_shortfall_probability": m["interest_shortfall_probability"],
        })
    df = pd.DataFrame(rows)
    df["expected_loss_se"] *= 100
    df["default_probability_se"] *= 100
    se = f"{ui.t('standard_error')} (%)"
    df = df.rename(columns={"expected_loss_se": f"{ui.t('expected_loss')} · {se}",
                            "default_probability_se": f"{ui.t('default_probability')} · {se}"})
    return ui.display_frame(df, amounts=["original_balance"],
                            pcts=["coupon", "yield", "expected_loss", "default_probability",
                                  "interest_shortfall_probability"], terms=["seniority"])


def loss_chart(res: runs.DealRun) -> go.Figure:
    """The library's figure (:mod:`ipabs.report.charts`): the printable report embeds the same one."""
    return charts.loss_chart(res.mc, ui.lang())


def paydown_chart(res: runs.DealRun) -> go.Figure:
    fig = charts.paydown_chart(res.mc, ui.lang())
    ec = res.mc.expected_cashflows()
    fig.update_yaxes(**ui.wan_axis(float(ec["balance_p95"].max() / ui.WAN) if len(ec) else 0.0))
    return fig


def index_table(res: runs.DealRun) -> pd.DataFrame:
    """The simulated index fixings per period, in percent."""
    ix = res.mc.index_summary()
    out = pd.DataFrame({ui.t("index"): ix["index"], ui.t("period"): ix["period"],
                        ui.t("fixing_date"): [ui.fmt_date(d) for d in ix["fixing_date"]]})
    for c, name in (("forward", ui.t("index_forward")), ("mean", ui.t("index_mean")), ("p5", ui.t("index_p5")),
                    ("p50", ui.t("index_p50")), ("p95", ui.t("index_p95"))):
        out[f"{name} (%)"] = (ix[c] * 100).round(3)
    return out


def coverage_chart(res: runs.DealRun) -> go.Figure:
    return charts.coverage_chart(res.det, ui.lang())


def waterfall_table(res: runs.DealRun) -> pd.DataFrame:
    det = res.det
    pf = det.pool_frame()
    unit = ui.t("unit_wan_yuan_short")
    out = pd.DataFrame({ui.t("period"): pf["period"], ui.t("payment_date"): [ui.fmt_date(d) for d in pf["payment_date"]]})
    for c in ("interest_collected", "principal_collected", "prepayment", "defaults", "recoveries"):
        out[ui.wan_header(c)] = pf[c] / ui.WAN
    fees = det.fees_frame()
    for name in det.deal.names.fees:
        out[f"{name} · {ui.t('fee_paid')} ({unit})"] = fees[f"{name}_paid"] / ui.WAN
    acc = det.accounts_frame()
    for name in det.deal.names.supports:
        out[f"{name} · {ui.t('support_draw')} ({unit})"] = acc[f"{name}_draw"] / ui.WAN
    for k, name in enumerate(det.deal.names.tranches):
        tf = det.tranche_frame(k)
        for c in ("interest_paid", "principal_paid", "balance_end"):
            out[f"{name} · {ui.t(c)} ({unit})"] = tf[c] / ui.WAN
        if tf["residual_paid"].any():
            out[f"{name} · {ui.t('residual_paid')} ({unit})"] = tf["residual_paid"] / ui.WAN
    out[ui.t("coverage_ratio")] = pd.to_numeric(pf["coverage_ratio"], errors="coerce")
    out = out.round(2)
    out[ui.t("state")] = [ui.term(s) for s in pf["state"]]
    return out


def show_results() -> None:
    last = st.session_state.get("last_run")
    if not last:
        st.info(ui.t("run_first"))
        return
    try:
        res = runs.run_deal(last["key"], last["seed"], last["n_paths"], last["data"], last["base"], last["name"])
    except (InputError, Cancelled) as e:  # only when the cache entry was evicted and the inputs changed meanwhile
        st.warning(str(e))
        return
    mc, det = res.mc, res.det
    st.subheader(ui.h("results"))
    st.caption(runs.run_done_text(res) + f" · {ui.t('seed')} {mc.seed}")
    ui.show_issues_warning(ui.t("rejected_rows", n=res.tape.n_rows - res.tape.n_accepted), list(res.tape.rejected))
    for w in det.deal.warnings:
        st.warning(w)
    stats = mc.tranche_stats()
    pool = mc.pool_stats()
    psum = det.pool_summary()
    cols = st.columns(4)
    senior = stats[0]
    se = ui.t("standard_error")
    cols[0].metric(f"{senior['name']} · {ui.t('expected_loss')}", ui.fmt_pct(senior["expected_loss"], 3),
                   delta=f"{se} ± {ui.fmt_pct(senior['expected_loss_se'], 3)}", delta_color="off", delta_arrow="off")
    cols[1].metric(f"{senior['name']} · {ui.t('default_probability')}", ui.fmt_pct(senior["default_probability"], 3),
                   delta=f"{se} ± {ui.fmt_pct(senior['default_probability_se'], 3)}", delta_color="off",
                   delta_arrow="off")
    cols[2].metric(ui.t("pool_loss_rate"), ui.fmt_pct(pool["loss_rate_mean"], 3),
                   delta=f"{se} ± {ui.fmt_pct(pool['loss_rate_se'], 3)}", delta_color="off", delta_arrow="off")
    mcr = psum.get("min_coverage_ratio")
    cols[3].metric(ui.t("min_coverage_ratio"), "–" if mcr is None else f"{mcr:.2f}",
                   delta=ui.t("deterministic_case"), delta_color="off", delta_arrow="off")
    if "revenue_shortfall_mean" in pool:  # sales-linked royalties: what the pool loss rate does not include
        st.metric(ui.t("revenue_shortfall"), ui.fmt_pct(pool["revenue_shortfall_mean"], 3),
                  delta=f"{se} ± {ui.fmt_pct(pool['revenue_shortfall_se'], 3)}", delta_color="off", delta_arrow="off",
                  help=ui.t("revenue_shortfall_help"))
    st.markdown(f"**{ui.h('tranche_loss_stats')}**")
    with st.container(key="tranche_stats"):
        st.dataframe(tranche_table(res), hide_index=True)
    c1, c2 = st.columns(2)
    c1.plotly_chart(loss_chart(res), key="chart_loss")
    c2.plotly_chart(paydown_chart(res), key="chart_paydown")
    if mc.index_levels is not None:  # simulated index paths (simulation.rates): the fixings' fan and table
        rm = mc.meta.get("rate_model", {})
        st.markdown(f"**{ui.h('sheet_index_paths')}** · {ui.t('hull_white')}: a = {rm.get('mean_reversion')}, "
                    f"σ = {rm.get('volatility')}")
        st.plotly_chart(charts.index_chart(mc, ui.lang()), key="chart_index")
        with st.container(key="index_paths"):
            st.dataframe(index_table(res), hide_index=True)
    ratings_section(res, last)
    st.markdown(f"**{ui.h('waterfall_table')}** · {ui.t('deterministic_case')}")
    with st.container(key="waterfall"):
        st.dataframe(waterfall_table(res), hide_index=True)
    st.plotly_chart(coverage_chart(res), key="chart_coverage")
    downloads(res, last)


def ratings_section(res: runs.DealRun, last: dict) -> None:
    """Implied ratings of the run's tranches (ipabs.structuring.ratings, PD basis, the confirmed table) with the
    labels the library returns (interpolation rule, mapping, horizon) and the flip flags."""
    import ui_structuring as us

    st.markdown(f"**{ui.h('implied_ratings')}**")
    interpolation = us.interpolation_choice("rt_interpolation")
    try:
        ratings = us.deal_ratings(last["key"], last["seed"], last["n_paths"], interpolation, res.mc, res.det.deal)
    except InputError as e:
        ui.show_input_error(e)
        return
    with st.container(key="implied_ratings"):
        st.dataframe(us.ratings_table(ratings), hide_index=True)
    us.show_rating_labels(ratings)


def downloads(res: runs.DealRun, last: dict) -> None:
    st.markdown(f"**{ui.h('downloads')}**")
    files = runs.deal_exports(last["key"], last["seed"], last["n_paths"], ui.lang(), res)
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in last["name"].removesuffix(".toml"))
    c = st.columns(4)
    c[0].download_button(ui.h("download_toml"), dump_toml(last["data"]), f"{stem}.toml", "application/toml",
                         key="dl_toml", on_click="ignore")
    c[1].download_button(ui.h("download_xlsx"), files["cashflows.xlsx"], f"{stem}-results.xlsx",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="dl_xlsx",
                         on_click="ignore")
    c[2].download_button(ui.h("download_parquet"), files["parquet.zip"], f"{stem}-parquet.zip", "application/zip",
                         key="dl_parquet", on_click="ignore")
    c[3].download_button(ui.h("download_report"), files["report.html"], f"{stem}-report.html",
                         "text/html", key="dl_report", on_click="ignore")


# --- page -------------------------------------------------------------------------------------------------------------

st.title(ui.t("page_deal"))
ensure_scenario()
st.caption(loaded_text())  # at the top: the source panel below starts collapsed
source_section()
submitted, new_scn, run_label = scenario_form()
if submitted and new_scn is not None:
    run(new_scn, run_label)
elif st.session_state.get("cancel_run"):
    st.warning(ui.t("cancelled"))
show_results()
