"""Deal subcommands: ``ipabs validate | run | schema``."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import pandas as pd

from ipabs import api, cliargs
from ipabs.cli_cluster import add_cluster_arguments, cluster_kwargs
from ipabs.defaults import MAX_PATHS, MAX_SAMPLE_PATHS


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="validate a scenario and its pool tape without running it")
    p.add_argument("scenario", type=Path)
    p.add_argument("--strict", action="store_true", help="fail on any rejected tape row")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="run a scenario: deterministic base case and Monte Carlo; write results")
    p.add_argument("scenario", type=Path)
    p.add_argument("--out", type=Path, default=None, help="output folder (default out/<scenario name>)")
    p.add_argument("--paths", type=cliargs.deal_paths, default=None,
                   help=f"Monte Carlo paths, 0 to {MAX_PATHS:,} (default: the scenario's; 0 = none)")
    p.add_argument("--seed", type=cliargs.seed, default=None,
                   help="Monte Carlo seed, 0 to 2**63 - 1 (default: the scenario's)")
    p.add_argument("--threads", type=cliargs.threads, default=None,
                   help="numba threads, at least 1 (results do not depend on it)")
    p.add_argument("--lang", choices=["en", "zh"], default="en",
                   help="language of the XLSX workbook and of the report (Parquet files stay English, in yuan)")
    p.add_argument("--report", action="store_true",
                   help="also write report.html: a self-contained printable report (print to PDF from a browser)")
    p.add_argument("--strict", action="store_true", help="fail on any rejected tape row")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--sample-paths", type=cliargs.sample_paths, default=0, metavar="N",
                   help="also write the full cash flows of the first N Monte Carlo paths to path_sample.parquet "
                        f"(0 to {MAX_SAMPLE_PATHS:,})")
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
    report = api.validate(args.scenario, strict=args.strict or None)
    s = report.loaded.scenario
    # obligor_defaults name tape obligors and periods of the compiled grid: check them now, not only at run time
    api.check_obligor_defaults(report.deal, s.assumptions)
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


#: Footnote of the printed tranche table (the subordinate tranche's yield is not a coupon yield).
RESIDUAL_NOTE = ("residual: the subordinate tranche's yield is its residual yield in the base case - the yield at "
                 "its price of all it receives (principal, interest and the excess spread) - not a coupon yield")


def tranche_table(rows: list[dict], mc: list[dict] | None = None) -> pd.DataFrame:
    """The printed summary table (one row per tranche): every amount column with its unit (yuan), and the
    subordinate tranche's yield marked as its residual yield (see :data:`RESIDUAL_NOTE`)."""
    out = []
    for i, r in enumerate(rows):
        yld = _fmt(r["yield"], pct=True)
        if r.get("seniority") == "subordinate" and r["yield"] is not None:
            yld = f"{yld} residual"
        row = {
            "tranche": r["name"],
            "balance (yuan)": f"{r['original_balance']:,.0f}",
            "coupon": _fmt(r["coupon"], pct=True),
            "WAL (y)": _fmt(r["wal_years"], nd=3),
            "yield": yld,
            "mod.dur (y)": _fmt(r["modified_duration"], nd=3),
            "base loss (yuan)": f"{r['loss']:,.0f}",
        }
        if mc is not None:
            m = mc[i]
            row["EL"] = f"{100 * m['expected_loss']:.4f}% ±{100 * m['expected_loss_se']:.4f}"
            row["PD"] = f"{100 * m['default_probability']:.3f}% ±{100 * m['default_probability_se']:.3f}"
        out.append(row)
    return pd.DataFrame(out)


def cmd_run(args: argparse.Namespace) -> int:
    from ipabs.report.writer import output_folder, write_run

    cluster = cluster_kwargs(args)
    out_dir = args.out or Path("out") / args.scenario.stem
    loaded = api.load_scenario(args.scenario, strict=args.strict or None)
    # refused now (exit 2), before the run: an output folder that would replace an input or a folder not ipabs's
    target = output_folder(out_dir, command="run", inputs=[args.scenario, loaded.tape.file])
    deal = api.compile_scenario(loaded)
    det = api.run_deterministic(deal)
    det.meta["tape_rows"] = loaded.tape.n_rows
    det.meta["tape_rejected_rows"] = loaded.tape.n_rows - loaded.tape.n_accepted
    n_paths = loaded.scenario.simulation.n_paths if args.paths is None else args.paths
    seed = loaded.scenario.simulation.seed if args.seed is None else args.seed
    mc = None
    if n_paths > 0:
        progress = None if args.quiet or not sys.stderr.isatty() else _progress_bar()
        ticker = _CompileNotice(quiet=args.quiet) if api.kernels_cold() else None
        try:
            mc = api.simulate(deal, n_paths=n_paths, seed=seed, threads=args.threads,
                              progress=_first_then(ticker, progress), statistics=args.statistics,
                              waterfall_kernel=args.waterfall_kernel, **cluster)
        finally:
            if ticker is not None:
                ticker.stop()
        if progress is not None:
            print(file=sys.stderr)
    sample = None
    if mc is not None and args.sample_paths > 0:
        sample = api.path_sample(deal, mc.seed, range(mc.path0, mc.path0 + min(args.sample_paths, mc.n_paths)))
    with target.writing() as tmp:
        write_run(tmp, det, mc, loaded.tape, lang=args.lang, path_sample=sample, report=args.report)
    s = loaded.scenario
    print(f"{s.deal.name}")
    print(f"pool: {deal.pool_balance:,.2f} yuan, {len(deal.info.asset_ids)} assets, "
          f"{len(deal.info.obligor_ids)} obligors; {deal.n_periods} periods to {s.deal.legal_maturity}")
    n_rej = loaded.tape.n_rows - loaded.tape.n_accepted
    print(f"tape: {loaded.tape.n_rows} rows, {loaded.tape.n_accepted} accepted, {n_rej} rejected")
    for w in deal.warnings:
        print(f"warning: {w}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        table = tranche_table(det.tranche_summary(), mc.tranche_stats() if mc is not None else None)
        print(table.to_string(index=False))
    if table["yield"].str.endswith("residual").any():
        print(RESIDUAL_NOTE)
    if mc is not None:
        compiled = mc.meta.get("compile_seconds") if mc.meta.get("kernels_cold") else None
        print(f"Monte Carlo: {mc.n_paths:,} paths, seed {mc.seed}, {mc.elapsed_seconds:.2f} s"
              + (f" (plus {compiled:.1f} s compiling the kernels, once after installation)" if compiled else "")
              + ("" if mc.has_cashflow_statistics else " (losses only: no WAL, yield or cash-flow bands)") + "; "
              f"pool default rate mean {100 * mc.pool_stats()['default_rate_mean']:.2f}%"
              + (f", royalty shortfall mean {100 * rs:.2f}% of the pool"
                 if (rs := mc.pool_stats().get("revenue_shortfall_mean")) is not None else ""))
        if mc.index_levels is not None:
            rm = mc.meta["rate_model"]
            ix = mc.index_summary()
            last = ix.groupby("index").tail(1)
            print(f"index paths: Hull–White, a = {rm['mean_reversion']:g}, σ = {rm['volatility']:g}; last fixing "
                  + ", ".join(f"{r.index} forward {100 * r.forward:.2f}%, P5–P95 {100 * r.p5:.2f}–{100 * r.p95:.2f}%"
                              for r in last.itertuples())
                  + " (index_paths.parquet)")
    print(f"results written to {out_dir}/")
    return 0


class _CompileNotice:
    """``compiling the Monte Carlo kernels …`` on stderr while a first run after installation compiles them: one
    line, its elapsed seconds updated every second on a terminal; stopped by the run's first progress report."""

    TEXT = "compiling the Monte Carlo kernels (once after installation; later runs load them in about a second)"

    def __init__(self, quiet: bool = False) -> None:
        self.t0 = time.perf_counter()
        self.done = threading.Event()
        self.tty = sys.stderr.isatty() and not quiet
        self.thread = None
        if quiet:
            return
        print(f"{self.TEXT}…", end="" if self.tty else "\n", file=sys.stderr, flush=True)
        if self.tty:
            self.thread = threading.Thread(target=self._tick, daemon=True)
            self.thread.start()

    def _tick(self) -> None:
        while not self.done.wait(1.0):
            print(f"\r{self.TEXT}… {time.perf_counter() - self.t0:.0f} s", end="", file=sys.stderr, flush=True)

    def stop(self) -> None:
        if self.done.is_set():
            return
        self.done.set()
        if self.thread is not None:
            self.thread.join()
            print(f"\r{self.TEXT}: done in {time.perf_counter() - self.t0:.0f} s", file=sys.stderr, flush=True)


def _first_then(notice: _CompileNotice | None, progress):
    """The run's progress callback, stopping the compile notice at the first report."""
    if notice is None:
        return progress

    def cb(done: int, total: int) -> None:
        notice.stop()
        if progress is not None:
            progress(done, total)

    return cb


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
