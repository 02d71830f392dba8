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


def write_outputs(args: argparse.Namespace, deal, summary: dict[str, Any], tables: dict[str, pd.DataFrame]) -> Path:
    """summary.json, one Parquet per table and tables.xlsx, atomically into the output folder."""
    from ipabs.engine.results import provenance
    from ipabs.report.export import atomic_dir, write_json, write_parquet, write_xlsx

    out_dir = args.out or Path("out") / f"{args.scenario.stem}-{args.verb}"
    doc = {"command": args.verb, "deal": deal.scenario.deal.name, "provenance": provenance(deal), **summary}
    with atomic_dir(out_dir) as tmp:
        write_json(tmp / "summary.json", doc)
        for name, df in tables.items():
            write_parquet(tmp / f"{name}.parquet", df)
        write_xlsx(tmp / f"{args.verb}.xlsx", tables, lang=args.lang)
    return out_dir


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
