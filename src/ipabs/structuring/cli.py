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

    p = sub.add_parser("size", help="size a tranche: the largest balance meeting a target implied rating, a "
                       "minimum coverage ratio, named stresses and the largest-obligor test; or its highest coupon")
    _common(p)
    p.add_argument("--tranche", default=None, help="tranche to size (default: the first)")
    p.add_argument("--target", default="AAAsf", help="target rating: Chinese sf scale (AAAsf, AA+sf, …) or the "
                   "table's scale (Aaa, …); default AAAsf")
    p.add_argument("--basis", choices=["pd", "el"], default="pd", help="metric of the rating test (default pd)")
    p.add_argument("--table", default="moodys_idealized", help="target table (as for ipabs rate)")
    p.add_argument("--mapping", default=None, help="rating-scale mapping TOML (as for ipabs rate)")
    p.add_argument("--interpolation", choices=["none", "log_linear"], default="none",
                   help="horizons not in the table: none (refuse) or log_linear")
    p.add_argument("--allow-unconfirmed", action="store_true", help="allow tables marked unconfirmed")
    p.add_argument("--min-coverage", type=float, default=1.2, help="minimum cash-flow coverage ratio in the base "
                   "case (default 1.2; 0 = no coverage test)")
    p.add_argument("--stress", action="append", default=[], metavar="NAME",
                   help="named stress the tranche must survive (repeatable): a preset key (default_x1.5, "
                        "default_x2, default_x3, recovery_-30%%, lag_+12m, cpr_0%%, cpr_20%%, combined) or a [[stress]] "
                        "key of --grid")
    p.add_argument("--grid", type=Path, default=None, help="stress file whose [[stress]] scenarios --stress names")
    p.add_argument("--largest-obligors", type=int, default=None, metavar="K",
                   help="the tranche must survive the default of the K largest obligors in the first period at zero "
                        "recovery (support on)")
    p.add_argument("--absorb", default=None, help="tranche whose balance absorbs the change (default: the most "
                   "junior)")
    p.add_argument("--paths", type=int, default=None, help="Monte Carlo paths (default: the scenario's)")
    p.add_argument("--seed", type=int, default=None, help="Monte Carlo seed (default: the scenario's)")
    p.add_argument("--max-coupon", action="store_true", help="also the highest coupon the tranche can carry and "
                   "still be repaid in the base case and the named stresses")
    add_cluster_arguments(p)
    p.set_defaults(func=cmd_size, verb="size")

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
    """Loaded scenario and compiled deal (input errors raise InputError → exit 2); the output folder is checked now,
    before any work (decision 018: never an input's folder, never a folder ipabs did not write)."""
    from ipabs.report.writer import output_folder

    loaded = api.load_scenario(args.scenario, strict=args.strict or None)
    inputs = [args.scenario, loaded.tape.file, getattr(args, "grid", None), getattr(args, "mapping", None),
              getattr(args, "table", None)]
    args.out_target = output_folder(out_dir(args), command=args.verb,
                                inputs=[p for p in inputs if p is not None and Path(str(p)).exists()])
    return loaded, api.compile_scenario(loaded)


def out_dir(args: argparse.Namespace) -> Path:
    return args.out or Path("out") / f"{args.scenario.stem}-{args.verb}"


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
    from ipabs.api import provenance
    from ipabs.report.export import write_json, write_parquet, write_xlsx

    doc = {"command": args.verb, "deal": deal.scenario.deal.name, "provenance": provenance(deal), **summary}
    with args.out_target.writing() as tmp:
        write_json(tmp / "summary.json", doc)
        for name, df in tables.items():
            write_parquet(tmp / f"{name}.parquet", parquet_safe(df))
        write_xlsx(tmp / f"{args.verb}.xlsx", tables, lang=args.lang)
        if extra is not None:
            extra(tmp)
    return args.out_target.path


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
    summary = {"grid": grid.name, "grid_source": grid.source, "engine": engine, "n_cells": len(res.cells),
               "meta": res.meta, "prospectus": pt.to_dict(orient="records")}
    out = write_outputs(args, deal, summary, tables, extra=lambda tmp: (
        write_prospectus_xlsx(pt, tmp / "prospectus.xlsx", lang=args.lang),
        (tmp / "prospectus.md").write_text(prospectus_markdown(pt, lang=args.lang), encoding="utf-8")))
    print(f"results written to {out}/")
    return 0


def named_stress_assumptions(deal, keys: list[str], grid: Path | None) -> dict[str, Any]:
    """Named stresses (preset keys or [[stress]] keys of a stress file) as deterministic :class:`Assumptions`."""
    from ipabs.errors import InputError, Issue
    from ipabs.structuring.stress import AGENCY_STRESSES, named_cells, named_stresses_from_toml

    known = {s.key: s for s in AGENCY_STRESSES}
    if grid is not None and _has_named_stresses(grid):
        known.update({s.key: s for s in named_stresses_from_toml(grid)})
    issues = [Issue(f"unknown stress {k!r}; known: {', '.join(known)}", field="--stress") for k in keys
              if k not in known]
    chosen = [known[k] for k in keys if k in known]
    issues += [Issue(f"stress {s.key!r} puts the support provider in default: sizing checks stresses with the "
                     "support as the scenario has it (run ipabs largest-obligor / breakeven --no-support for that)",
                     field="--stress") for s in chosen if s.support_default]
    if issues:
        raise InputError(issues)
    cells = named_cells(deal, chosen)
    return {c.label or s.key: c.assumptions for s, c in zip(chosen, cells, strict=True)}


def cmd_size(args: argparse.Namespace) -> int:
    from ipabs.structuring.ratings import load_target_table
    from ipabs.structuring.sizing import max_coupon, size_tranche

    cluster = cluster_kwargs(args)
    loaded, deal = load(args)
    tranche = args.tranche if args.tranche is not None else deal.names.tranches[0]
    if tranche not in deal.names.tranches:
        from ipabs.errors import InputError, Issue

        raise InputError([Issue(f"unknown tranche {tranche!r}; tranches: {', '.join(deal.names.tranches)}",
                                field="--tranche")])
    load_target_table(args.table, args.basis, allow_unconfirmed=args.allow_unconfirmed)
    stresses = named_stress_assumptions(deal, args.stress, args.grid)
    target = (args.target, {"table": args.table, "mapping": args.mapping, "allow_unconfirmed": args.allow_unconfirmed,
                            "interpolation": args.interpolation, "basis": args.basis})
    cb = progress_bar(args, "steps")
    kw = dict(basis=args.basis, min_coverage=args.min_coverage or None, stresses=stresses or None,
              largest_obligors=args.largest_obligors, absorb=args.absorb, n_paths=args.paths, seed=args.seed,
              progress=cb)
    if cluster:
        from ipabs.structuring.distributed import size_tranche_distributed

        res = size_tranche_distributed(deal, tranche, target, **cluster, **kw)
    else:
        res = size_tranche(deal, tranche, target, **kw)
    end_progress(cb)
    trials = res.frame()
    tables = {"trials": trials}
    summary: dict[str, Any] = {
        "tranche": res.tranche, "absorbing": res.absorbing, "target": args.target, "basis": args.basis,
        "min_coverage": args.min_coverage, "stresses": list(stresses), "largest_obligors": args.largest_obligors,
        "balance": res.balance, "subordination": res.subordination, "band": list(res.band), "binding": res.binding,
        "also_failing": list(res.also_failing), "feasible": res.feasible, "metric": res.metric, "se": res.se,
        "threshold": res.threshold, "wal_years": res.wal_years, "min_coverage_at_answer": res.min_coverage,
        "meta": res.meta,
    }
    print(f"{deal.scenario.deal.name}: size {res.tranche} for {args.target} ({args.basis})"
          + (f", coverage ≥ {args.min_coverage}" if args.min_coverage else "")
          + (f", stresses {', '.join(stresses)}" if stresses else "")
          + (f", {args.largest_obligors} largest obligors" if args.largest_obligors else ""))
    if not res.feasible:
        print(f"no balance meets every constraint (binding: {res.binding})")
    print(f"  balance {res.balance:,.2f} yuan (Monte Carlo band {res.band[0]:,.2f} – {res.band[1]:,.2f}); "
          f"subordination {100 * res.subordination:.4f}%; absorbed by {res.absorbing}")
    print(f"  binding constraint: {res.binding}" + (f" (also failing just above: {', '.join(res.also_failing)})"
                                                    if res.also_failing else ""))
    if res.metric is not None:
        print(f"  {args.basis.upper()} {100 * res.metric:.5f}% ± {100 * (res.se or 0):.5f}% against "
              f"{100 * (res.threshold or 0):.5f}% at WAL {res.wal_years:.3f} y; min coverage {res.min_coverage:.4f}")
    print(f"  {len(res.trials)} trials")
    if args.max_coupon:
        cr = max_coupon(res.deal, res.tranche, stresses=stresses or None, largest_obligors=args.largest_obligors)
        summary["max_coupon"] = {"coupon": cr.coupon, "binding": cr.binding, "feasible": cr.feasible,
                                 "trials": [list(t) for t in cr.trials]}
        print(f"  highest coupon repaid in full: {100 * cr.coupon:.4f}% (binding: {cr.binding})")
    out = write_outputs(args, deal, summary, tables)
    print(f"results written to {out}/")
    return 0
