"""Cached structuring calls (sizing, stress grids, ratings) and their display helpers, for the Tranche sizing and
Stress grid pages and the deal page's implied-ratings section. The numerics are all in :mod:`ipabs.structuring`;
this module only calls it, keyed like :mod:`ui_runs` on the canonical scenario JSON plus the settings.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
import ui_common as ui
import ui_runs as runs

from ipabs.api import compile_scenario, load_scenario
from ipabs.errors import InputError
from ipabs.glossary import label

DEFAULT_SAMPLE = "ganzhou_pledge_2026.toml"
#: Interpolation rules offered for the rating horizon; log-linear first: the confirmed table is 10-year only.
INTERPOLATIONS = ("log_linear", "none")
TABLE = "moodys_idealized"


# --- the current scenario -------------------------------------------------------------------------------------------

def ensure_scenario() -> tuple[dict, str, str]:
    """The scenario the deal page edits (``st.session_state.scn``); the default sample when none is loaded yet."""
    if "scn" not in st.session_state:
        samples = runs.sample_scenarios(str(ui.SCENARIOS))
        name = DEFAULT_SAMPLE if DEFAULT_SAMPLE in samples else next(iter(samples))
        st.session_state.scn = copy.deepcopy(samples[name])
        st.session_state.scn_base_dir = str(ui.SCENARIOS)
        st.session_state.scn_name = name
    return st.session_state.scn, st.session_state.scn_base_dir, st.session_state.scn_name


def scenario_caption() -> None:
    scn, _, name = ensure_scenario()
    st.caption(ui.t("loaded_scenario", name=f"{scn['deal'].get('name', '')} ({name})") + " · "
               + ui.t("edit_on_deal_page"))


def page_deal() -> tuple[dict, str, str, Any]:
    """The scenario the deal page holds, named in a caption and compiled: (data, base folder, name, deal); when it is
    invalid its problems are shown and the page stops here."""
    scn, base, name = ensure_scenario()
    scenario_caption()
    try:
        deal = compiled_deal(runs.canonical_key(scn, base), scn, base, name)
    except InputError as err:
        ui.show_input_error(err)
        st.stop()
    return scn, base, name, deal


@st.cache_resource(show_spinner=False, max_entries=16)
def compiled_deal(key: str, _data: dict, _base_dir: str, _name: str) -> Any:
    """The compiled deal of a scenario (immutable; shared across reruns and sessions by its canonical key)."""
    loaded = load_scenario(Path(_base_dir) / _name, data=_data, base_dir=_base_dir)
    return compile_scenario(loaded)


def settings_key(settings: dict) -> str:
    return json.dumps(settings, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))


# --- labels -----------------------------------------------------------------------------------------------------------

def constraint_label(name: str) -> str:
    return ui.t(f"constraint_{name}")


def stress_name(stress: Any, code: str | None = None) -> str:
    """A named stress (:class:`ipabs.structuring.stress.NamedStress`) as the prospectus prints it."""
    from ipabs.structuring.prospectus import stress_description

    row = {"default_multiplier": stress.default_multiplier, "recovery_haircut": stress.recovery_haircut,
           "recovery_lag_months": stress.recovery_lag_months,
           "cpr": math.nan if stress.cpr is None else stress.cpr, "support_default": stress.support_default}
    return stress_description(row, code or ui.lang())


def axis_name(axis: str, code: str | None = None) -> str:
    from ipabs.structuring.stress import axis_label

    return axis_label(axis, code or ui.lang())


def axis_name_fn() -> Any:
    code = ui.lang()
    return lambda axis: axis_name(axis, code)


def yes_no(b: Any) -> str:
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return "–"
    return ui.t("yes" if bool(b) else "no")


def pct(x: Any, digits: int = 4) -> float | None:
    """A fraction as a percentage number for a table (None stays empty)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(100 * float(x), digits)


# --- implied ratings --------------------------------------------------------------------------------------------------

def label_fn(prefix: str = "", special: dict[Any, str] | None = None) -> Any:
    """A widget's ``format_func``: the glossary label of ``prefix + value`` in the current language, bound now
    (Streamlit may call it later, outside this script run)."""
    code = ui.lang()
    special = dict(special or {})

    def fmt(v: Any) -> str:
        if v in special:
            return label(special[v], code)
        k = ui.glossary_key(f"{prefix}{v}")
        return label(k, code) if k else str(v)

    return fmt


def interpolation_choice(key: str) -> str:
    return st.radio(ui.t("rating_interpolation"), INTERPOLATIONS, key=key, horizontal=True,
                    format_func=label_fn("interp_"), help=ui.t("interpolation_help"))


def ratings_table(ratings: list) -> pd.DataFrame:
    """The library's :class:`ImpliedRating` s as a display table: the metric ± its standard error, both scales,
    the margins and the flip flag, the horizon and where it comes from."""
    rows = []
    for r in ratings:
        rows.append({
            ui.t("name"): r.tranche,
            ui.t("wal_years"): round(r.wal_years, 3),
            ui.t("wal_source"): ui.t(f"wal_source_{r.wal_source}") if r.wal_source in ("mc_expected_wal", "given")
            else r.wal_source,
            f"{ui.t('rating_metric')} (%)": pct(r.value),
            f"{ui.t('standard_error')} (%)": pct(r.se),
            ui.t("rating_scale"): r.rating or ui.t("below_scale"),
            ui.t("rating_cn"): r.rating_cn or ui.t("below_scale"),
            f"{ui.t('margin_down')} (%)": pct(r.margin_down),
            f"{ui.t('margin_up')} (%)": pct(r.margin_up),
            ui.t("flips_within_2se"): yes_no(r.flips_within_2se),
            ui.t("rating_interpolation"): ui.t(f"interp_{r.interpolation}"),
        })
    return pd.DataFrame(rows)


def show_rating_labels(ratings: list, extra: tuple[str, ...] = ()) -> None:
    """Every assumption the ratings rest on, as the library states it (table, interpolation rule, mapping, WAL
    source, standard-error floors): never hidden."""
    if not ratings:
        return
    r0 = ratings[0]
    lines = [ui.t("rating_table_line", name=r0.table, version=r0.table_version, status=r0.table_status,
                  source=r0.table_source),
             ui.t("rating_mapping_line", name=r0.mapping, version=r0.mapping_version, status=r0.mapping_status,
                  source=r0.mapping_source),
             f"{ui.t('metric')}: {r0.metric}"]
    labels = list(dict.fromkeys([lb for r in ratings for lb in r.labels] + list(extra)))
    labels += [f"{r.tranche}: {r.se_note}" for r in ratings if r.se_note]
    body = "\n".join(f"- {x}" for x in lines + labels)
    flips = [r.tranche for r in ratings if r.flips_within_2se]
    if flips:
        st.warning(ui.t("flips_warning", tranches=ui.t("list_separator").join(str(f) for f in flips)))
    st.info(f"**{ui.h('rating_labels')}**\n{body}")


def bdr_sdr_display(table: Any) -> pd.DataFrame:
    """Per tranche the BDR/SDR method's rating beside the PD/EL method's (:meth:`BdrSdrTable.implied_frame`)."""
    rows = []
    for r in table.implied:
        rows.append({
            ui.t("name"): r.tranche, f"{ui.t('bdr')} (%)": pct(r.bdr), ui.t("bdr_rating"): r.rating_cn or "–",
            ui.t("rating_scale"): r.rating or "–", f"{ui.t('sdr')} (%)": pct(r.sdr),
            f"{ui.t('margin')} (%)": pct(r.margin), ui.t("flips_within_2se"): yes_no(r.flips_within_2se),
            ui.t("method_rating"): r.method_rating_cn or "–",
            f"{ui.t('method_rating')} · {ui.t('flips_within_2se')}": yes_no(r.method_flips_within_2se),
        })
    return pd.DataFrame(rows)


def bdr_sdr_rows(table: Any) -> pd.DataFrame:
    """Every tranche × rating row of the BDR/SDR table (:meth:`BdrSdrTable.frame`)."""
    rows = []
    for r in table.rows:
        rows.append({
            ui.t("name"): r.tranche, ui.t("rating_scale"): r.rating, ui.t("rating_cn"): r.rating_cn or "–",
            f"{ui.t('target_pd')} (%)": pct(r.target_pd), f"{ui.t('bdr')} (%)": pct(r.bdr),
            f"{ui.t('sdr')} (%)": pct(r.sdr), f"{ui.t('sdr')} · {ui.t('standard_error')} (%)": pct(r.sdr_se),
            f"{ui.t('margin')} (%)": pct(r.margin), ui.t("passes"): yes_no(r.passes),
            ui.t("flips_within_2se"): yes_no(r.flips_within_2se), ui.t("sdr_resolved"): yes_no(r.resolved),
        })
    return pd.DataFrame(rows)


@st.cache_data(show_spinner=False, max_entries=32)
def deal_ratings(key: str, seed: int, n_paths: int, interpolation: str, _mc: Any, _deal: Any) -> list:
    """Implied ratings of a deal-page run (:func:`ipabs.structuring.ratings.tranche_ratings`, PD basis, the
    confirmed table; raises the library's InputError when the horizon needs interpolation and none is chosen)."""
    from ipabs.structuring.ratings import tranche_ratings

    return tranche_ratings(_mc, _deal, basis="pd", table=TABLE, interpolation=interpolation)


# --- sizing -----------------------------------------------------------------------------------------------------------

def sizing_stress_options(deal: Any) -> dict[str, Any]:
    """The named stresses a sizing run can require (the agency-style presets, base case excluded; support-provider
    default is a stress-grid axis, not an assumptions change the sizing solver takes)."""
    from ipabs.structuring.stress import AGENCY_STRESSES

    return {s.key: s for s in AGENCY_STRESSES if not s.is_base and not s.support_default}


@dataclass(frozen=True)
class SizingRun:
    """A sizing result, the Monte Carlo of the sized structure and its ratings / BDR-vs-SDR (or the library's
    message when the ratings cannot be given with the chosen settings)."""

    result: Any  # ipabs.structuring.sizing.SizingResult
    mc: Any  # MCResult of the sized deal (full statistics)
    ratings: list | None
    bdr: Any  # BdrSdrTable or None
    rating_issues: tuple[str, ...]
    stresses: tuple[str, ...]
    seconds: float


@st.cache_data(show_spinner=False, max_entries=12)
def run_sizing(key: str, settings: str, _data: dict, _base_dir: str, _name: str, _progress: Any = None,
               _progress_paths: Any = None) -> SizingRun:
    """:func:`ipabs.structuring.sizing.size_tranche` with the page's settings, then a full Monte Carlo of the sized
    deal (same paths and seed) for its implied ratings and the BDR/SDR table (cached on the scenario and settings)."""
    from ipabs.api import simulate
    from ipabs.structuring.ratings import tranche_ratings
    from ipabs.structuring.sdr import bdr_sdr_table
    from ipabs.structuring.sizing import size_tranche
    from ipabs.structuring.stress import named_cells

    t0 = time.perf_counter()
    s = json.loads(settings)
    deal = compiled_deal(key, _data, _base_dir, _name)
    options = sizing_stress_options(deal)
    chosen = [options[k] for k in s["stresses"]]
    stresses = {c.label: c.assumptions for c in named_cells(deal, chosen)} if chosen else None
    rating_kw = {"table": TABLE, "interpolation": s["interpolation"], "allow_unconfirmed": s["allow_unconfirmed"]}
    target = None if s["target"] == "none" else (s["target"], rating_kw)
    res = size_tranche(deal, s["tranche"], target, basis=s["basis"], min_coverage=s["min_coverage"] or None,
                       stresses=stresses, largest_obligors=s["largest_obligors"] or None, absorb=s["absorb"],
                       n_paths=s["n_paths"], seed=s["seed"], progress=_progress)
    mc = simulate(res.deal, n_paths=s["n_paths"], seed=s["seed"], statistics="full", progress=_progress_paths)
    ratings = bdr = None
    issues: tuple[str, ...] = ()
    try:
        ratings = tranche_ratings(mc, res.deal, basis=s["basis"], **rating_kw)
        bdr = bdr_sdr_table(mc, res.deal, method_basis=s["basis"], **rating_kw)
    except InputError as e:
        issues = tuple(str(i) for i in e.issues)
    return SizingRun(res, mc, ratings, bdr, issues, tuple(s["stresses"]), time.perf_counter() - t0)


def sized_scenario(data: dict, result: Any) -> dict:
    """The scenario dict with the sized balances (every tranche's, as the solver left them: the absorbing one too)
    and scheduled targets scaled as the library scaled them."""
    new = copy.deepcopy(data)
    for tr, sized in zip(new["tranches"], result.deal.scenario.tranches, strict=True):
        tr["balance"] = round(float(sized.balance), 2)
        if sized.schedule and "schedule" in tr:
            tr["schedule"] = [{**old, "balance": round(float(x.balance), 2)}
                              for old, x in zip(tr["schedule"], sized.schedule, strict=True)]
    return new


def sizing_summary(run: SizingRun, settings: dict) -> dict:
    r = run.result
    return {"command": "size", "settings": settings, "tranche": r.tranche, "absorbing": r.absorbing,
            "balance": r.balance, "subordination": r.subordination, "band": list(r.band), "binding": r.binding,
            "also_failing": list(r.also_failing), "feasible": r.feasible, "metric": r.metric, "se": r.se,
            "threshold": r.threshold, "wal_years": r.wal_years, "min_coverage": r.min_coverage, "meta": r.meta,
            "sized_balances": {t.name: t.balance for t in r.deal.scenario.tranches},
            "rating_issues": list(run.rating_issues),
            "ratings": None if run.ratings is None else [x.as_dict() for x in run.ratings],
            "bdr_vs_sdr": None if run.bdr is None else run.bdr.implied_frame().to_dict(orient="records")}


@st.cache_data(show_spinner=False, max_entries=12)
def sizing_exports(key: str, settings: str, lang: str, _run: SizingRun) -> dict[str, bytes]:
    """summary.json, the trials and ratings as Parquet, one XLSX workbook (``lang`` headers) and a zip of the
    Parquet files — what ``ipabs size`` writes."""
    from ipabs.engine.results import provenance
    from ipabs.report.export import write_json, write_parquet, write_xlsx
    from ipabs.structuring.cli import parquet_safe
    from ipabs.structuring.ratings import ratings_frame

    r = _run.result
    tables = {"trials": r.frame(),
              "sized_structure": pd.DataFrame([{"tranche": t.name, "seniority": t.seniority, "balance": t.balance,
                                                "coupon": t.coupon} for t in r.deal.scenario.tranches])}
    if _run.ratings is not None:
        tables["ratings"] = ratings_frame(_run.ratings)
    if _run.bdr is not None:
        tables.update(bdr_vs_sdr=_run.bdr.frame(), sdr=_run.bdr.sdr_frame(), implied_by_method=_run.bdr.implied_frame())

    def write(folder: Path) -> Path:
        folder.mkdir()
        doc = {"deal": r.deal.scenario.deal.name, "provenance": provenance(r.deal),
               **sizing_summary(_run, json.loads(settings))}
        write_json(folder / "summary.json", doc)
        for name, df in tables.items():
            write_parquet(folder / f"{name}.parquet", parquet_safe(df))
        write_xlsx(folder / "size.xlsx", tables, lang=lang)
        return folder

    return ui.written_files(write, "parquet.zip", ".parquet")


# --- stress grids -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StressRun:
    grid: Any  # StressGrid
    result: Any  # StressResult (the whole grid)
    tornado: Any  # StressResult of the one-at-a-time cells, or None
    prospectus: pd.DataFrame
    seconds: float


@st.cache_data(show_spinner=False, max_entries=12)
def run_stress(key: str, settings: str, _data: dict, _base_dir: str, _name: str, _progress: Any = None) -> StressRun:
    """:func:`ipabs.structuring.stress.run_stress_grid` over the page's grid (and its tornado cells), and the
    prospectus stress-test table of the default named stresses (cached on the scenario and settings)."""
    from ipabs.structuring.prospectus import default_stresses, prospectus_table
    from ipabs.structuring.stress import StressGrid, run_stress_grid

    t0 = time.perf_counter()
    s = json.loads(settings)
    deal = compiled_deal(key, _data, _base_dir, _name)
    grid = StressGrid(**s["axes"], name=s["name"], source=s["source"])
    kw = {"engine": s["engine"], "n_paths": s["n_paths"], "seed": s["seed"]}
    res = run_stress_grid(deal, grid, progress=_progress, **kw)
    tornado = run_stress_grid(deal, grid, tornado=True, progress=_progress, **kw) if s["tornado"] else None
    pt = prospectus_table(deal, default_stresses(deal), progress=_progress)
    return StressRun(grid, res, tornado, pt, time.perf_counter() - t0)


@st.cache_data(show_spinner=False, max_entries=12)
def stress_exports(key: str, settings: str, lang: str, _run: StressRun, _deal: Any) -> dict[str, bytes]:
    """What ``ipabs stress`` writes: summary.json, the long table, tornado and prospectus table as Parquet, one XLSX
    workbook, the prospectus table as printed (prospectus.xlsx, prospectus.md); plus a zip of the Parquet files."""
    from ipabs.engine.results import provenance
    from ipabs.report.export import write_json, write_parquet, write_xlsx
    from ipabs.structuring.cli import parquet_safe
    from ipabs.structuring.prospectus import prospectus_markdown, write_prospectus_xlsx

    res, pt = _run.result, _run.prospectus
    tables = {"stress_grid": res.table}
    if _run.tornado is not None:
        tables["tornado"] = _run.tornado.tornado()
    tables["prospectus"] = pt

    def write(folder: Path) -> Path:
        folder.mkdir()
        doc = {"command": "stress", "deal": _deal.scenario.deal.name, "provenance": provenance(_deal),
               "grid": _run.grid.name, "grid_source": _run.grid.source, "engine": res.engine,
               "n_cells": len(res.cells), "meta": res.meta, "settings": json.loads(settings),
               "prospectus": pt.to_dict(orient="records")}
        write_json(folder / "summary.json", doc)
        for name, df in tables.items():
            write_parquet(folder / f"{name}.parquet", parquet_safe(df))
        write_xlsx(folder / "stress.xlsx", tables, lang=lang)
        write_prospectus_xlsx(pt, folder / "prospectus.xlsx", lang=lang)
        (folder / "prospectus.md").write_text(prospectus_markdown(pt, lang=lang), encoding="utf-8")
        return folder

    return ui.written_files(write, "parquet.zip", ".parquet")
