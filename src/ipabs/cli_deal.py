"""Deal subcommands: ``ipabs validate | run | schema``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from ipabs import api
from ipabs.cli_cluster import add_cluster_arguments, cluster_kwargs


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="validate a scenario and its pool tape without running it")
    p.add_argument("scenario", type=Path)
    p.add_argument("--strict", action="store_true", help="fail on any rejected tape row")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="run a scenario: deterministic base case and Monte Carlo; write results")
    p.add_argument("scenario", type=Path)
    p.add_argument("--out", type=Path, default=None, help="output folder (default out/<scenario name>)")
    p.add_argument("--paths", type=int, default=None, help="Monte Carlo paths (default: the scenario's; 0 = none)")
    p.add_argument("--seed", type=int, default=None, help="Monte Carlo seed (default: the scenario's)")
    p.add_argument("--threads", type=int, default=None, help="numba threads (results do not depend on it)")
    p.add_argument("--lang", choices=["en", "zh"], default="en", help="column labels of the XLSX workbook")
    p.add_argument("--strict", action="store_true", help="fail on any rejected tape row")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--sample-paths", type=int, default=0, metavar="N",
                   help="also write the full cash flows of the first N Monte Carlo paths to path_sample.parquet")
    p.add_argument("--statistics", choices=["full", "losses"], default=None,
                   help="full: losses, WAL, yield and expected cash flows with bands; losses: tranche losses, "
                        "shortfalls and pool rates only, faster (default: the scenario's simulation.statistics)")
    p.add_argument("--waterfall-kernel", choices=["specialised", "general"], default="specialised",
                   help="Monte Carlo waterfall: code generated for this deal (default) or the general reference "
                        "kernel (the same numbers, slower; decision 013)")
    add_cluster_arguments(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    p.set_defaults(func=cmd_schema)


def _print_rejections(report) -> None:
    n_rej = report.n_rows - report.n_accepted
    print(f"pool tape: {report.n_rows} rows read, {report.n_accepted} accepted, {n_rej} rejected")
    for issue in report.rejected[:50]:
        print(f"  rejected: {issue}")
    if len(report.rejected) > 50:
        print(f"  ... and {len(report.rejected) - 50} more problems (see rejected_rows in the outputs)")


def cmd_validate(args: argparse.Namespace) -> int:
    from ipabs.engine.deterministic import asset_default_periods

    report = api.validate(args.scenario, strict=args.strict or None)
    s = report.loaded.scenario
    # obligor_defaults name tape obligors and periods of the compiled grid: check them now, not only at run time
    asset_default_periods(report.deal, s.assumptions)
    print(f"scenario OK: {s.deal.name}")
    print(f"  {report.deal.n_periods} payment periods, {report.deal.schedule.payment_dates[0]} .. "
          f"{report.deal.schedule.payment_dates[-1]}; pool balance {report.deal.pool_balance:,.2f} yuan")
    if s.deal.collection is not None:
        ends = report.deal.schedule.collection_ends
        print(f"  collection periods (回收款归集期间) from the cut-off {s.deal.cutoff_date}, ending (计算日) {ends[0]} .. "
              f"{ends[-1]}")
    _print_rejections(report)
    for w in report.warnings:
        print(f"  warning: {w}")
    return 0


def _fmt(x, pct: bool = False, nd: int = 4) -> str:
    if x is None:
        return "-"
    if pct:
        return f"{100 * x:.{2 if nd >= 4 else nd}f}%"
    return f"{x:,.{nd}f}" if isinstance(x, float) else str(x)


def tranche_table(rows: list[dict], mc: list[dict] | None = None) -> pd.DataFrame:
    """The printed summary table (one row per tranche)."""
    out = []
    for i, r in enumerate(rows):
        row = {
            "tranche": r["name"],
            "balance": f"{r['original_balance']:,.0f}",
            "coupon": _fmt(r["coupon"], pct=True),
            "WAL(y)": _fmt(r["wal_years"], nd=3),
            "yield": _fmt(r["yield"], pct=True),
            "mod.dur": _fmt(r["modified_duration"], nd=3),
            "loss(base)": f"{r['loss']:,.0f}",
        }
        if mc is not None:
            m = mc[i]
            row["EL"] = f"{100 * m['expected_loss']:.4f}% ±{100 * m['expected_loss_se']:.4f}"
            row["PD"] = f"{100 * m['default_probability']:.3f}% ±{100 * m['default_probability_se']:.3f}"
        out.append(row)
    return pd.DataFrame(out)


def cmd_run(args: argparse.Namespace) -> int:
    from ipabs.report.export import atomic_dir
    from ipabs.report.writer import write_run

    cluster = cluster_kwargs(args)
    loaded = api.load_scenario(args.scenario, strict=args.strict or None)
    deal = api.compile_scenario(loaded)
    det = api.run_deterministic(deal)
    det.meta["tape_rows"] = loaded.tape.n_rows
    det.meta["tape_rejected_rows"] = loaded.tape.n_rows - loaded.tape.n_accepted
    n_paths = loaded.scenario.simulation.n_paths if args.paths is None else args.paths
    seed = loaded.scenario.simulation.seed if args.seed is None else args.seed
    mc = None
    if n_paths > 0:
        progress = None if args.quiet or not sys.stderr.isatty() else _progress_bar()
        mc = api.simulate(deal, n_paths=n_paths, seed=seed, threads=args.threads, progress=progress,
                          statistics=args.statistics, waterfall_kernel=args.waterfall_kernel, **cluster)
        if progress is not None:
            print(file=sys.stderr)
    sample = None
    if mc is not None and args.sample_paths > 0:
        from ipabs.engine.montecarlo import path_sample

        sample = path_sample(deal, mc.seed, range(mc.path0, mc.path0 + min(args.sample_paths, mc.n_paths)))
    out_dir = args.out or Path("out") / args.scenario.stem
    with atomic_dir(out_dir) as tmp:
        write_run(tmp, det, mc, loaded.tape, lang=args.lang, path_sample=sample)
    s = loaded.scenario
    print(f"{s.deal.name}")
    print(f"pool: {deal.pool_balance:,.2f} yuan, {len(deal.info.asset_ids)} assets, "
          f"{len(deal.info.obligor_ids)} obligors; {deal.n_periods} periods to {s.deal.legal_maturity}")
    n_rej = loaded.tape.n_rows - loaded.tape.n_accepted
    print(f"tape: {loaded.tape.n_rows} rows, {loaded.tape.n_accepted} accepted, {n_rej} rejected")
    for w in deal.warnings:
        print(f"warning: {w}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(tranche_table(det.tranche_summary(), mc.tranche_stats() if mc is not None else None)
              .to_string(index=False))
    if mc is not None:
        print(f"Monte Carlo: {mc.n_paths:,} paths, seed {mc.seed}, {mc.elapsed_seconds:.2f} s"
              + ("" if mc.has_cashflow_statistics else " (losses only: no WAL, yield or cash-flow bands)") + "; "
              f"pool default rate mean {100 * mc.pool_stats()['default_rate_mean']:.2f}%"
              + (f", royalty shortfall mean {100 * rs:.2f}% of the pool"
                 if (rs := mc.pool_stats().get("revenue_shortfall_mean")) is not None else ""))
    print(f"results written to {out_dir}/")
    return 0


def _progress_bar():
    def cb(done: int, total: int) -> None:
        width = 40
        filled = int(width * done / total) if total else width
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} paths", end="", file=sys.stderr,
              flush=True)

    return cb


def cmd_schema(args: argparse.Namespace) -> int:
    from ipabs.scenario.schema import Scenario

    print(json.dumps(Scenario.model_json_schema(), ensure_ascii=False, indent=2))
    return 0
