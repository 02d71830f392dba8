"""CLI subcommands ``ipabs surveil`` and ``ipabs watchlist`` (thin: read, call the library, print, write).

Exit codes: 0 the run finished (whatever it found: breaks and alerts are results); 2 invalid input (scenario,
report, rules file, dates); 1 a failure at run time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from ipabs.surveillance.rules import DEFAULT_RULES


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _paths(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= n <= 1_000_000:
        raise argparse.ArgumentTypeError("--paths must be between 0 and 1,000,000")
    return n


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("surveil", help="re-project a live deal from its period reports; triggers, alerts",
                       description="Read the servicer (and trustee) report of one period, reconcile them, rebase the "
                                   "deal at the report date, re-project it deterministically and by Monte Carlo, "
                                   "measure the distance to every trigger and raise early-warning alerts "
                                   "(docs/surveillance.md).")
    p.add_argument("scenario", help="the deal's scenario file (TOML)")
    p.add_argument("--report", required=True, help="servicer report (.csv UTF-8/GBK, .xlsx or .parquet)")
    p.add_argument("--trustee", default=None, help="trustee report of the same date (long format)")
    p.add_argument("--as-of", type=_date, required=True, help="report date, YYYY-MM-DD")
    p.add_argument("--paths", type=_paths, default=2000, help="Monte Carlo paths (default 2000; 0 = none)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the scenario's)")
    p.add_argument("--rules", default=DEFAULT_RULES, help=f"warning rules file or bundled set (default {DEFAULT_RULES})")
    p.add_argument("--no-breakeven", action="store_true", help="skip the breakeven CDR searches")
    p.add_argument("--history", nargs="+", default=None, metavar="REPORT",
                   help="earlier servicer reports of the deal, oldest first: actual against expected")
    p.add_argument("--out", type=Path, default=None, help="folder for surveillance.xlsx / .json / projection.parquet")
    p.add_argument("--lang", choices=("zh", "en"), default="en", help="language of reasons and headers")
    p.set_defaults(func=cmd_surveil)

    b = sub.add_parser("book-outlook", help="risk-compensation fund outlook of a pledge-loan book from its report",
                       description="Update the bureau's book of IP-pledge loans from a servicer report of the book "
                                   "(known defaults, current delinquencies) and run the risk-compensation fund "
                                   "Monte Carlo from the report date (docs/surveillance.md §7).")
    b.add_argument("portfolio", help="the book: a fund loan portfolio (.csv or .xlsx; docs/policy.md §6)")
    b.add_argument("--report", required=True, help="servicer report of the book (asset_id = loan_id)")
    b.add_argument("--as-of", type=_date, required=True, help="report date, YYYY-MM-DD")
    b.add_argument("--policy", default="zhongshan", help="policy preset or file with [risk_compensation]")
    g = b.add_mutually_exclusive_group()
    g.add_argument("--fund-size", type=float, default=None, help="the fund before known claims, yuan")
    g.add_argument("--leverage", type=float, default=None, help="book principal per yuan of fund")
    b.add_argument("--paths", type=_paths, default=10_000, help="Monte Carlo paths (default 10000)")
    b.add_argument("--seed", type=int, default=20260101)
    b.add_argument("--rules", default=DEFAULT_RULES, help="rules file whose [transition] table is used")
    b.add_argument("--out", type=Path, default=None, help="folder for book-outlook.xlsx and book-outlook.json")
    b.set_defaults(func=cmd_book_outlook)

    s = sub.add_parser("subsidy-lapse", help="pledge-loan subsidies expected to lapse on loans that will not settle",
                       description="Pledge subsidies are paid after repayment: from a servicer report of the planned "
                                   "pledge loans, the subsidies expected to lapse because loans default first.")
    s.add_argument("pipeline", help="financing pipeline (docs/policy.md), its pledge_loan rows")
    s.add_argument("--report", required=True, help="servicer report of the pledge loans (asset_id = loan_id)")
    s.add_argument("--as-of", type=_date, required=True, help="report date, YYYY-MM-DD")
    s.add_argument("--policy", default="ganzhou-2025", help="policy preset or file (default ganzhou-2025)")
    s.add_argument("--rules", default=DEFAULT_RULES, help="rules file whose [transition] table is used")
    s.add_argument("--out", type=Path, default=None, help="folder for subsidy-lapse.xlsx and subsidy-lapse.json")
    s.set_defaults(func=cmd_subsidy_lapse)

    m = sub.add_parser("monitor", help="the bureau's monitoring report over every deal, the book, fund and subsidies",
                       description="Run every part listed in a monitoring manifest (TOML; "
                                   "scenarios/reports/monitoring-ganzhou.toml) and write the bureau's monitoring "
                                   "report (知识产权融资监测报告) as HTML and XLSX.")
    m.add_argument("manifest", help="monitoring manifest (TOML)")
    m.add_argument("--paths", type=_paths, default=2000, help="Monte Carlo paths per part (default 2000)")
    m.add_argument("--seed", type=int, default=None)
    m.add_argument("--out", type=Path, default=None, help="folder for monitoring-report.html / .xlsx / .json")
    m.add_argument("--lang", choices=("zh", "en"), default="zh")
    m.set_defaults(func=cmd_monitor)

    w = sub.add_parser("watchlist", help="early-warning watchlist of firms from servicer reports",
                       description="Score every firm of one or more servicer reports against the warning rules; "
                                   "a watchlist sorted by severity with reasons and recommended early intervention.")
    w.add_argument("reports", nargs="+", help="servicer reports, oldest first")
    w.add_argument("--rules", default=DEFAULT_RULES, help=f"warning rules file or bundled set (default {DEFAULT_RULES})")
    w.add_argument("--out", type=Path, default=None, help="folder for watchlist.xlsx and watchlist.json")
    w.add_argument("--lang", choices=("zh", "en"), default="en")
    w.set_defaults(func=cmd_watchlist)


#: Arguments that name input files or folders (an output folder may not be, or contain, their folders).
_INPUT_ARGS = ("scenario", "report", "trustee", "history", "reports", "rules", "portfolio", "pipeline", "manifest",
               "policy")


def _check_out(args: argparse.Namespace, command: str) -> None:
    """Refuse a bad ``--out`` before any work (decision 018): not an input's folder, not a foreign folder."""
    if getattr(args, "out", None) is None:
        return
    from ipabs.report.writer import output_folder

    inputs: list[Path] = []
    for name in _INPUT_ARGS:
        v = getattr(args, name, None)
        for x in v if isinstance(v, list | tuple) else [v]:
            if x is not None and Path(str(x)).exists():
                inputs.append(Path(str(x)))
    output_folder(args.out, command=command, inputs=inputs)


def _write(out: Path, sheets: dict, meta: dict, lang: str, parquet: dict | None = None) -> Path:
    from ipabs.report.export import atomic_dir, write_json, write_parquet, write_xlsx

    with atomic_dir(out) as tmp:
        write_xlsx(tmp / f"{meta['kind']}.xlsx", sheets, lang)
        for name, df in (parquet or {}).items():
            write_parquet(tmp / f"{name}.parquet", df)
        write_json(tmp / f"{meta['kind']}.json", meta)
    return out


def cmd_surveil(args: argparse.Namespace) -> int:
    _check_out(args, "surveil")
    from ipabs.surveillance.monitor import surveil

    r = surveil(args.scenario, args.report, args.trustee, as_of=args.as_of, rules=args.rules, n_paths=args.paths,
                seed=args.seed, breakeven=not args.no_breakeven, history=args.history)
    lines = r.summary_lines()
    if args.lang == "zh":
        lines = [ln for ln in lines if not ln.startswith("  [")]
        lines += [f"  [{w['severity_label']}] {w['subject']} {w['name']}: {w['reasons_zh']}"
                  for w in r.watch.to_dict("records")]
    print("\n".join(lines))
    if args.out is not None:
        from ipabs.surveillance.report import write_monitoring_report

        write_monitoring_report(r, args.out, lang=args.lang, provenance={
            "scenario": str(args.scenario), "report": str(args.report), "trustee": args.trustee,
            "history": args.history, "rules": str(args.rules)})
        print(f"wrote {args.out}")
    return 0


def cmd_watchlist(args: argparse.Namespace) -> int:
    _check_out(args, "watchlist")
    from ipabs.surveillance.monitor import watchlist_from_reports

    watch, alerts, rejected = watchlist_from_reports(args.reports, rules=args.rules)
    if rejected:
        print(f"warning: {len({(i.file, i.row) for i in rejected})} report row(s) rejected and not scored:",
              file=sys.stderr)
        for issue in rejected:
            print(f"  - {issue}", file=sys.stderr)
    col = "reasons_zh" if args.lang == "zh" else "reasons_en"
    print(f"watchlist: {len(watch)} firm(s), {len(alerts)} alert(s)")
    for w in watch.to_dict("records"):
        print(f"  [{w['severity_label']}] {w['deal']} {w['subject']}: {w[col]}")
    from ipabs.surveillance.rules import unconfirmed_note

    note = unconfirmed_note(alerts)
    if note:
        print(f"note: {note}")
    if args.out is not None:
        meta = {"kind": "watchlist", "reports": [str(x) for x in args.reports], "rules": str(args.rules),
                "rejected": [i.to_dict() for i in rejected], "watchlist": watch.to_dict("records")}
        _write(args.out, {"watchlist": watch, "alerts": alerts}, meta, args.lang)
        print(f"wrote {args.out}")
    return 0


def cmd_book_outlook(args: argparse.Namespace) -> int:
    _check_out(args, "book-outlook")
    import pandas as pd

    from ipabs.surveillance.book import book_outlook

    if args.paths < 1:
        from ipabs.errors import InputError

        raise InputError("--paths must be at least 1 for the fund Monte Carlo")
    r = book_outlook(args.portfolio, args.report, as_of=args.as_of, policy=args.policy, fund_size=args.fund_size,
                     leverage=args.leverage, rules=args.rules, n_paths=args.paths, seed=args.seed)
    s = r.summary()
    print(f"book as of {s['as_of']}: {s['live_loans']} live loan(s) simulated, {s['defaulted_loans']} defaulted")
    print(f"fund {s['fund_size']:,.2f}; known claims {s['known_fund_claims']:,.2f}; "
          f"left {s['fund_after_known_claims']:,.2f}")
    print(f"coming year ({s['coming_year']}): expected draw {s['expected_draw_coming_year']:,.2f}, "
          f"P(exhausted) {s['prob_exhausted_coming_year']:.2%}; P(exhausted ever) {s['prob_exhausted_ever']:.2%}")
    for n in r.notes:
        print(f"note: {n}")
    if args.out is not None:
        meta = {"kind": "book-outlook", "portfolio": str(args.portfolio), "report": str(args.report),
                "policy": str(args.policy), "n_paths": args.paths, "seed": args.seed, "summary": s,
                "notes": list(r.notes)}
        _write(args.out, {"summary": pd.DataFrame([s]), "fund_by_year": r.fund.by_year(),
                          "loans": r.loans, "known_claims": r.known_claims}, meta, "en")
        print(f"wrote {args.out}")
    return 0


def cmd_subsidy_lapse(args: argparse.Namespace) -> int:
    _check_out(args, "subsidy-lapse")
    from ipabs.surveillance.book import subsidy_lapse

    df = subsidy_lapse(args.pipeline, args.report, as_of=args.as_of, policy=args.policy, rules=args.rules)
    print(f"pledge subsidies payable after settlement: {df['payable'].sum():,.2f}; expected to lapse "
          f"{df['expected_lapse'].sum():,.2f} ({int(df['defaulted'].sum())} item(s) of defaulted firms lapse for sure)")
    for r in df.sort_values("expected_lapse", ascending=False).head(10).to_dict("records"):
        print(f"  {r['firm_id']} {r['item']} {r['pay_year']}: {r['payable']:,.2f} × {r['prob_not_settled']:.1%} = "
              f"{r['expected_lapse']:,.2f}")
    if args.out is not None:
        meta = {"kind": "subsidy-lapse", "pipeline": str(args.pipeline), "report": str(args.report),
                "policy": str(args.policy), "as_of": args.as_of, "total_expected_lapse": float(df["expected_lapse"].sum())}
        _write(args.out, {"subsidy_lapse": df}, meta, "en")
        print(f"wrote {args.out}")
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    _check_out(args, "monitor")
    from ipabs.surveillance.bureau import bureau_report, write_bureau_report

    br = bureau_report(args.manifest, n_paths=args.paths, seed=args.seed)
    print(f"{br.name}: {len(br.deals)} deal(s), {len(br.watch)} subject(s) on the watchlist")
    for o in br.overview.to_dict("records"):
        print(f"  {o['deal']} ({o['report_date']}): cumulative defaults {o['cumulative_default_ratio']:.2%}, "
              f"{o['alert']} alert(s)")
    if br.book is not None:
        s = br.book.summary()
        print(f"  fund: expected draw {s['expected_draw_coming_year']:,.2f} in the coming year, P(exhausted ever) "
              f"{s['prob_exhausted_ever']:.2%}")
    if br.subsidies is not None:
        print(f"  subsidies expected to lapse: {br.subsidies['expected_lapse'].sum():,.2f}")
    if args.out is not None:
        write_bureau_report(br, args.out, lang=args.lang, provenance={"manifest": str(args.manifest),
                                                                      "n_paths": args.paths, "seed": args.seed})
        print(f"wrote {args.out}")
    return 0
