"""Structuring subcommands: ``ipabs breakeven | largest-obligor | rate | stress | size``.

Each verb loads and compiles the scenario through :mod:`ipabs.api`, calls one library function of
:mod:`ipabs.structuring`, prints a summary table and writes ``summary.json`` plus the tables as Parquet (English
columns, yuan) and one XLSX workbook (``--lang zh`` for Chinese headers) into ``--out`` (default
``out/<scenario>-<verb>``), atomically. Exit codes as everywhere: 2 invalid input, 1 run-time failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ipabs import api
from ipabs.cli_cluster import add_cluster_arguments, cluster_kwargs


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", type=Path)
    p.add_argument("--out", type=Path, default=None, help="output folder (default out/<scenario>-<command>)")
    p.add_argument("--lang", choices=["en", "zh"], default="en", help="column labels of the XLSX workbook")
    p.add_argument("--strict", action="store_true", help="fail on any rejected tape row")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("breakeven", help="breakeven default rate, recovery and default multiple of every tranche")
    _common(p)
    p.add_argument("--measure", action="append", default=None,
                   choices=["cdr", "cumulative_default_rate", "recovery_rate", "default_multiplier"],
                   help="what to solve for (repeatable; default: cdr, cumulative_default_rate, recovery_rate, "
                        "default_multiplier)")
    p.add_argument("--tranche", action="append", default=None, help="tranche name (repeatable; default: the "
                   "rated tranches)")
    p.add_argument("--no-support", action="store_true", help="support providers off (差额支付/担保 not drawn)")
    p.add_argument("--tol", type=float, default=1e-6, help="tolerance of the search (default 1e-6)")
    p.set_defaults(func=cmd_breakeven, verb="breakeven")

    p = sub.add_parser("largest-obligor", help="大额借款人违约压力测试: the largest obligors default in the first "
                       "period, with and without support, at zero and at the scenario's recovery")
    _common(p)
    p.add_argument("--counts", default="1,3,5", help="numbers of largest obligors (default 1,3,5)")
    p.add_argument("--no-base-cdr", action="store_true", help="default only those obligors (no base CDR on top)")
    p.set_defaults(func=cmd_largest_obligor, verb="largest-obligor")

    p = sub.add_parser("rate", help="implied ratings from the Monte Carlo (PD/EL against a rating table) and BDR "
                       "against SDR")
    _common(p)
    p.add_argument("--paths", type=int, default=None, help="Monte Carlo paths (default: the scenario's)")
    p.add_argument("--seed", type=int, default=None, help="Monte Carlo seed (default: the scenario's)")
    p.add_argument("--basis", choices=["pd", "el"], default="pd", help="metric compared with the table (pd: "
                   "P(loss or interest shortfall); el: needs an EL table, unconfirmed)")
    p.add_argument("--table", default="moodys_idealized", help="target table: a shipped name or a TOML file "
                   "(default moodys_idealized: the confirmed 10-year PDs)")
    p.add_argument("--mapping", default=None, help="rating-scale mapping TOML (default: the shipped Moody's → "
                   "AAAsf… mapping, an assumption)")
    p.add_argument("--interpolation", choices=["none", "log_linear"], default="none",
                   help="horizons not in the table: none (refuse) or log_linear (constant hazard between horizons)")
    p.add_argument("--allow-unconfirmed", action="store_true", help="allow tables marked unconfirmed (labelled "
                   "in every output)")
    p.add_argument("--no-bdr", action="store_true", help="skip the BDR vs SDR table")
    add_cluster_arguments(p)
    p.set_defaults(func=cmd_rate, verb="rate")

    p = sub.add_parser("stress", help="stress grid (Monte Carlo or deterministic), tornado and the prospectus "
                       "stress-test table (现金流压力测试)")
    _common(p)
    p.add_argument("--grid", type=Path, default=None, help="stress file (TOML: [grid] axes and [[stress]] named "
                   "scenarios; default: the agency-style preset, market practice)")
    p.add_argument("--deterministic", action="store_true", help="run the grid on the batch deterministic engine "
                   "(default: Monte Carlo, losses-only, common random numbers)")
    p.add_argument("--paths", type=int, default=None, help="Monte Carlo paths per cell (default: the scenario's)")
    p.add_argument("--seed", type=int, default=None, help="Monte Carlo seed (default: the scenario's)")
    p.add_argument("--tornado", action="store_true", help="also the one-at-a-time cells (tornado data)")
    add_cluster_arguments(p)
    p.set_defaults(func=cmd_stress, verb="stress")


# ---- shared ----------------------------------------------------------------------------------------------------

def load(args: argparse.Namespace):
    """Loaded scenario and compiled deal (input errors raise InputError → exit 2)."""
    loaded = api.load_scenario(args.scenario, strict=args.strict or None)
    return loaded, api.compile_scenario(loaded)


def progress_bar(args: argparse.Namespace, unit: str) -> Callable[[int, int], None] | None:
    if args.quiet or not sys.stderr.isatty():
        return None

    def cb(done: int, total: int) -> None:
        width = 40
        filled = int(width * done / total) if total else width
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} {unit}", end="", file=sys.stderr,
              flush=True)

    return cb


def end_progress(cb: Any) -> None:
    if cb is not None:
        print(file=sys.stderr)


def write_outputs(args: argparse.Namespace, deal, summary: dict[str, Any], tables: dict[str, pd.DataFrame],
                  extra: Callable[[Path], Any] | None = None) -> Path:
    """summary.json, one Parquet per table and <verb>.xlsx (and whatever ``extra(folder)`` writes), atomically
    into the output folder."""
    from ipabs.engine.results import provenance
    from ipabs.report.export import atomic_dir, write_json, write_parquet, write_xlsx

    out_dir = args.out or Path("out") / f"{args.scenario.stem}-{args.verb}"
    doc = {"command": args.verb, "deal": deal.scenario.deal.name, "provenance": provenance(deal), **summary}
    with atomic_dir(out_dir) as tmp:
        write_json(tmp / "summary.json", doc)
        for name, df in tables.items():
            write_parquet(tmp / f"{name}.parquet", parquet_safe(df))
        write_xlsx(tmp / f"{args.verb}.xlsx", tables, lang=args.lang)
        if extra is not None:
            extra(tmp)
    return out_dir


def _has_named_stresses(path: Path) -> bool:
    """Whether a stress file has [[stress]] tables (else the prospectus uses the default named stresses)."""
    from ipabs.scenario.io import read_toml

    return "stress" in read_toml(path)


def parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns that mix types (e.g. an axis value that is a number on one row and a flag on another) as
    text, so that Parquet can store them."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object and len({type(v) for v in out[c] if v is not None}) > 1:
            out[c] = out[c].map(lambda v: None if v is None else str(v))
    return out


def print_table(df: pd.DataFrame) -> None:
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_colwidth", 40):
        print(df.to_string(index=False))


def _pct(x: float) -> str:
    return "-" if x != x else f"{100 * x:.4f}%"


# ---- verbs -----------------------------------------------------------------------------------------------------

def cmd_breakeven(args: argparse.Namespace) -> int:
    from ipabs.structuring.breakeven import MEASURES, breakeven_frame, breakevens

    loaded, deal = load(args)
    measures = tuple(args.measure or MEASURES)
    cb = progress_bar(args, "scenarios")
    res = breakevens(deal, measures, args.tranche, support=not args.no_support, tol=args.tol, progress=cb)
    end_progress(cb)
    df = breakeven_frame(res)
    print(f"{deal.scenario.deal.name}: breakeven levels (highest stress at which each tranche is still repaid in "
          f"full with no interest shortfall; lowest recovery){'; support off' if args.no_support else ''}")
    shown = pd.DataFrame({
        "tranche": df["tranche"], "measure": df["measure"],
        "breakeven": [f"{v:.6f}" if m == "default_multiplier" else _pct(v) for v, m in zip(df["value"],
                                                                                           df["measure"], strict=True)],
        "base": [f"{v:.6f}" if m == "default_multiplier" else _pct(v) for v, m in zip(df["base_value"],
                                                                                      df["measure"], strict=True)],
        "breaks in bounds": df["breaks"], "note": df["note"],
    })
    print_table(shown)
    out = write_outputs(args, deal, {"support": not args.no_support, "tolerance": args.tol,
                                     "breakevens": df.to_dict(orient="records")}, {"breakevens": df})
    print(f"results written to {out}/")
    return 0


def cmd_largest_obligor(args: argparse.Namespace) -> int:
    from ipabs.errors import InputError, Issue
    from ipabs.structuring.largest_obligor import largest_obligor_test, obligor_exposures, obligors_breaking

    try:
        counts = tuple(int(x) for x in str(args.counts).split(",") if x.strip())
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise InputError([Issue(f"--counts must be positive integers separated by commas, not {args.counts!r}",
                                field="--counts")])
    loaded, deal = load(args)
    n_obligors = len(deal.info.obligor_ids)
    if max(counts) > n_obligors:
        raise InputError([Issue(f"--counts asks for {max(counts)} obligors; the pool has {n_obligors}",
                                field="--counts")])
    res = largest_obligor_test(deal, counts, base_cdr=not args.no_base_cdr)
    df = res.frame()
    tables = {"largest_obligor": df, "exposures": obligor_exposures(deal)}
    breaking = {}
    for support in (True, False) if deal.names.supports else (False,):
        b = obligors_breaking(deal, support=support, base_cdr=not args.no_base_cdr)
        key = "with_support" if support else "without_support"
        breaking[key] = None if b is None else {"k": b.k, "obligor_ids": list(b.obligor_ids),
                                                "obligor_names": list(b.obligor_names)}
        if b is not None:
            tables[f"obligors_breaking_{key}"] = b.frame()
    print(f"{deal.scenario.deal.name}: largest-obligor default test (default in period 1; amounts in yuan)")
    print_table(pd.DataFrame({
        "case": df["case"], "tranche": df["tranche"], "repaid in full": df["repaid_in_full"],
        "loss (yuan)": [f"{x:,.2f}" for x in df["loss"]],
        "interest shortfall (yuan)": [f"{x:,.2f}" for x in df["interest_shortfall"]],
        "min coverage": [f"{x:.4f}" if x == x else "-" for x in df["min_coverage_ratio"]],
    }))
    for key, b in breaking.items():
        what = ("no set of largest obligors breaks the senior" if b is None
                else f"the {b['k']} largest obligor(s) break the senior: {', '.join(b['obligor_ids'])}")
        print(f"{key.replace('_', ' ')}: {what}")
    out = write_outputs(args, deal, {"counts": list(counts), "base_cdr": not args.no_base_cdr,
                                     "cases": df.to_dict(orient="records"), "obligors_breaking_senior": breaking},
                        tables)
    print(f"results written to {out}/")
    return 0


def cmd_rate(args: argparse.Namespace) -> int:
    from ipabs.structuring.ratings import ratings_frame, tranche_ratings
    from ipabs.structuring.sdr import bdr_sdr_table

    cluster = cluster_kwargs(args)
    loaded, deal = load(args)
    kw = {"table": args.table, "mapping": args.mapping, "allow_unconfirmed": args.allow_unconfirmed,
          "interpolation": args.interpolation}
    if args.basis == "pd":
        from ipabs.structuring.ratings import load_target_table

        load_target_table(args.table, "pd", allow_unconfirmed=args.allow_unconfirmed)  # bad flags fail before the run
    cb = progress_bar(args, "paths")
    mc = api.simulate(deal, n_paths=args.paths, seed=args.seed, progress=cb, statistics="full", **cluster)
    end_progress(cb)
    ratings = tranche_ratings(mc, deal, basis=args.basis, **kw)
    rf = ratings_frame(ratings)
    tables = {"ratings": rf}
    summary: dict[str, Any] = {"n_paths": mc.n_paths, "seed": mc.seed, "basis": args.basis, **kw,
                               "ratings": rf.to_dict(orient="records")}
    print(f"{deal.scenario.deal.name}: implied ratings from {mc.n_paths:,} paths (seed {mc.seed}), basis "
          f"{args.basis}, table {args.table}; ± is the Monte Carlo standard error")
    print_table(pd.DataFrame({
        "tranche": rf["tranche"], "WAL(y)": [f"{w:.3f}" for w in rf["wal_years"]],
        args.basis.upper(): [f"{100 * v:.4f}% ±{100 * e:.4f}%" for v, e in zip(rf["value"], rf["se"], strict=True)],
        "rating": rf["rating"].fillna("below scale"), "中文评级": rf["rating_cn"].fillna("-"),
        "margin to next notch down": [_pct(x) if x is not None else "-" for x in rf["margin_down"]],
        "flips within 2 SE": rf["flips_within_2se"],
    }))
    labels = sorted({lb for r in ratings for lb in r.labels})
    for lb in labels:
        print(f"  note: {lb}")
    if not args.no_bdr:
        bt = bdr_sdr_table(mc, deal, method_basis=args.basis, **kw)
        tables.update(bdr_vs_sdr=bt.frame(), sdr=bt.sdr_frame(), implied_by_method=bt.implied_frame())
        summary["bdr_vs_sdr"] = bt.implied_frame().to_dict(orient="records")
        print("BDR against SDR (S&P-style): the highest rating whose SDR the tranche's breakeven default rate covers")
        imp = bt.implied_frame()
        print_table(imp[[c for c in ("tranche", "bdr", "rating", "rating_cn", "sdr", "margin", "flips_within_2se",
                                     "method_rating", "method_rating_cn") if c in imp.columns]])
    summary["labels"] = labels
    out = write_outputs(args, deal, summary, tables)
    print(f"results written to {out}/")
    return 0


def cmd_stress(args: argparse.Namespace) -> int:
    from ipabs.structuring.prospectus import (
        default_stresses,
        prospectus_markdown,
        prospectus_table,
        write_prospectus_xlsx,
    )
    from ipabs.structuring.stress import StressGrid, agency_grid, named_stresses_from_toml

    cluster = cluster_kwargs(args)
    loaded, deal = load(args)
    grid = StressGrid.from_toml(args.grid) if args.grid else agency_grid()
    named = named_stresses_from_toml(args.grid) if args.grid and _has_named_stresses(args.grid) else []
    engine = "deterministic" if args.deterministic else "mc"
    cb = progress_bar(args, "cells")
    from ipabs.structuring.distributed import run_stress

    res = run_stress(deal, grid, engine=engine, n_paths=args.paths, seed=args.seed, progress=cb, **cluster)
    tornado = run_stress(deal, grid, engine=engine, n_paths=args.paths, seed=args.seed, tornado=True,
                         **cluster) if args.tornado else None
    end_progress(cb)
    tables = {"stress_grid": res.table}
    if tornado is not None:
        tables["tornado"] = tornado.tornado()
    stresses = named or default_stresses(deal)
    pt = prospectus_table(deal, stresses)
    tables["prospectus"] = pt
    metric = "expected_loss" if engine == "mc" else "loss_rate"
    print(f"{deal.scenario.deal.name}: stress grid '{grid.name}' ({grid.source}), {len(res.cells)} cells, "
          f"{'Monte Carlo ' + format(res.meta.get('n_paths', 0), ',') + ' paths per cell (losses only, common random numbers)' if engine == 'mc' else 'deterministic'}")
    worst = res.table.sort_values(metric, ascending=False).groupby("tranche", sort=False).head(1)
    print_table(worst[["tranche", "label", metric]].rename(columns={"label": "worst cell"}))
    print("prospectus stress-test table:")
    print(prospectus_markdown(pt, lang=args.lang))
    out_dir = args.out or Path("out") / f"{args.scenario.stem}-{args.verb}"
    summary = {"grid": grid.name, "grid_source": grid.source, "engine": engine, "n_cells": len(res.cells),
               "meta": res.meta, "prospectus": pt.to_dict(orient="records")}
    out = write_outputs(args, deal, summary, tables, extra=lambda tmp: (
        write_prospectus_xlsx(pt, tmp / "prospectus.xlsx", lang=args.lang),
        (tmp / "prospectus.md").write_text(prospectus_markdown(pt, lang=args.lang), encoding="utf-8")))
    assert out == out_dir
    print(f"results written to {out}/")
    return 0
