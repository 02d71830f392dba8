"""Policy subcommands: ``ipabs subsidy PIPELINE`` (the bureau's budget) and ``ipabs fund PORTFOLIO``.

Thin: parse arguments, call :mod:`ipabs.policy.api`, print a summary table. Invalid input raises
:class:`ipabs.errors.InputError`, which :func:`ipabs.cli.main` turns into exit code 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from ipabs.cli_cluster import add_cluster_arguments, cluster_kwargs
from ipabs.glossary import label
from ipabs.policy import api
from ipabs.policy.budget import DEFAULT_RHO, DEFAULT_SECTOR_RHO


def add_parsers(sub: argparse._SubParsersAction) -> None:
    presets = ", ".join(api.list_presets())
    p = sub.add_parser("subsidy", help="the subsidy budget of a pipeline of deals and pledge loans (Monte Carlo)",
                       description=f"Presets: {presets}. Or give a policy TOML file.")
    p.add_argument("pipeline", type=Path, help="pipeline CSV or XLSX (docs/policy.md §4)")
    p.add_argument("--policy", default="ganzhou-2025", help="preset name or policy TOML file (default ganzhou-2025)")
    _common(p)
    p.add_argument("--lpr", default=None, help="loan prime rate for policies that test rates against it, e.g. 0.030")
    p.add_argument("--skip-invalid-rows", action="store_true",
                   help="leave out rows with problems (listed in the output) instead of failing")
    add_cluster_arguments(p)
    p.set_defaults(func=cmd_subsidy)

    p = sub.add_parser("fund", help="the risk-compensation fund over an IP-pledge loan portfolio (Monte Carlo)",
                       description=f"Presets: {presets}. The policy needs a [risk_compensation] table.")
    p.add_argument("portfolio", type=Path, help="loan portfolio CSV or XLSX (docs/policy.md §6)")
    p.add_argument("--policy", default="zhongshan", help="preset or policy TOML with loss shares (default zhongshan)")
    _common(p)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--fund-size", default=None, help="initial fund, yuan")
    size.add_argument("--leverage", type=float, default=None, help="portfolio principal per yuan of fund")
    p.add_argument("--per-loan-cap", default=None, help="most the fund pays on one loan, yuan")
    p.add_argument("--skip-invalid-rows", action="store_true", help="leave out rows with problems, listed")
    p.set_defaults(func=cmd_fund)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--paths", type=int, default=10_000, help="Monte Carlo paths (default 10000)")
    p.add_argument("--seed", type=int, default=20260101, help="seed (default 20260101)")
    p.add_argument("--out", type=Path, default=None, help="output folder (Parquet + XLSX); default: print only")
    p.add_argument("--sheet", default=None, help="XLSX sheet (default: the first)")
    p.add_argument("--rho", type=float, default=DEFAULT_RHO, help=f"asset correlation (default {DEFAULT_RHO})")
    p.add_argument("--sector-rho", type=float, default=DEFAULT_SECTOR_RHO,
                   help=f"extra correlation within a sector (default {DEFAULT_SECTOR_RHO})")
    p.add_argument("--lang", choices=["en", "zh"], default="en", help="language of the printed labels")


def _yuan(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.0f}"


def _stat(row: pd.Series, key: str) -> str:
    return f"{_yuan(row[key])} ± {_yuan(row[key + '_se'])}"


def _print_assumptions(assumptions, rejected) -> None:
    if assumptions:
        print("assumptions of the policy (not fixed by its source):")
        for a in assumptions:
            print(f"  - {a}")
    if rejected:
        print(f"rows left out ({len(rejected)} problems):")
        for i in rejected[:50]:
            print(f"  rejected: {i}")


def cmd_subsidy(args: argparse.Namespace) -> int:
    result = api.run_subsidy(args.pipeline, args.policy, n_paths=args.paths, seed=args.seed, lpr=args.lpr,
                             rho=args.rho, sector_rho=args.sector_rho, sheet=args.sheet,
                             skip_invalid_rows=args.skip_invalid_rows, out=args.out, **cluster_kwargs(args))
    lang = args.lang
    print(f"{label('subsidy', lang)} {label('budget', lang)}: policy {result.policy}, {result.n_paths:,} paths, "
          f"seed {result.seed} (yuan; ± is the Monte Carlo standard error)")
    df = result.by_year()
    header = f"{'year':>6} {'mean':>22} {'P50':>22} {'P90':>22} {'P95':>22} {'P99':>22}"
    print(header)
    for _, r in df.iterrows():
        print(f"{r['year']:>6} " + " ".join(f"{_stat(r, k):>22}" for k in ("mean", "p50", "p90", "p95", "p99")))
    caps = result.cap_binding()
    if len(caps):
        print(f"caps that bind (share of paths), top {min(10, len(caps))} of {len(caps)}:")
        for _, r in caps.head(10).iterrows():
            print(f"  {r['firm_id']:<10} {label(r['item'], lang):<40} {r['year']}: {r['prob_cap_binds']:.1%}, "
                  f"mean reduction {_yuan(r['mean_cap_reduction'])}")
    if result.planned is not None:
        total = sum(result.planned.total_by_pay_year().values()) / 100.0
        print(f"if everything goes as planned: {_yuan(total)} in total "
              f"({', '.join(f'{y}: {_yuan(v / 100.0)}' for y, v in result.planned.total_by_pay_year().items())})")
    _print_assumptions(result.assumptions, result.rejected)
    if args.out is not None:
        print(f"outputs written to {args.out}")
    sys.stdout.flush()
    return 0


def cmd_fund(args: argparse.Namespace) -> int:
    result = api.run_fund(args.portfolio, args.policy, fund_size=args.fund_size, leverage=args.leverage,
                          per_loan_cap=args.per_loan_cap, n_paths=args.paths, seed=args.seed, rho=args.rho,
                          sector_rho=args.sector_rho, sheet=args.sheet, skip_invalid_rows=args.skip_invalid_rows,
                          out=args.out)
    lang = args.lang
    print(f"{label('risk_compensation_fund', lang)}: policy {result.policy}, fund {_yuan(result.fund_size_fen / 100)}"
          f", portfolio {_yuan(result.principal_fen / 100)}, {result.n_paths:,} paths, seed {result.seed} "
          "(yuan; ± is the Monte Carlo standard error)")
    df = result.by_year()
    print(f"{'year':>6} {'mean draw':>22} {'P95':>22} {'P99':>22} {'P(exhausted by)':>16}")
    for _, r in df.iterrows():
        print(f"{r['year']:>6} " + " ".join(f"{_stat(r, k):>22}" for k in ("draw_mean", "draw_p95", "draw_p99"))
              + f" {r['prob_exhausted_by_year']:>16.2%}")
    lev = result.leverage()
    for _, r in lev.iterrows():
        conf = "" if math.isnan(r["confidence"]) else f" at {r['confidence']:.0%}"
        print(f"  {r['measure']}{conf}: {r['value']:.4g}")
    _print_assumptions(result.assumptions, ())
    if args.out is not None:
        print(f"outputs written to {args.out}")
    return 0
