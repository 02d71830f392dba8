"""CLI subcommands ``ipabs eligibility`` and ``ipabs selfcheck`` (thin: read, call the library, print, write).

Exit codes: 0 the check ran (whatever it found); 2 invalid input (criteria file, tape, self-check file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from ipabs.eligibility.criteria import DEFAULT_CRITERIA, load_criteria
from ipabs.eligibility.evaluate import evaluate_pool
from ipabs.eligibility.report import write_report
from ipabs.eligibility.selfcheck import load_selfcheck, self_check
from ipabs.errors import TapeError
from ipabs.report.writer import output_folder


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eligibility", help="check a pool tape against eligibility criteria; XLSX report",
                       description="Check every asset and firm of a pool tape against a criteria set, the pool's "
                                   "concentration limits, and choose the best eligible pool.")
    p.add_argument("tape", help="pool tape (.csv, .xlsx or .parquet; docs/tape-format.md)")
    p.add_argument("--criteria", default=DEFAULT_CRITERIA,
                   help=f"criteria file or bundled set name (default: {DEFAULT_CRITERIA})")
    p.add_argument("--legal-maturity", type=_date, default=None, help="the deal's legal maturity, YYYY-MM-DD")
    p.add_argument("--as-of", type=_date, default=None, help="evaluation date, YYYY-MM-DD (default: today)")
    p.add_argument("--sheet", default=None, help="XLSX sheet of the tape")
    p.add_argument("--out", type=Path, default=None, help="folder for eligibility.xlsx and eligibility.json")
    p.add_argument("--lang", choices=("zh", "en"), default="en", help="language of reasons and headers")
    p.add_argument("--no-best", action="store_true", help="skip the best-pool selection")
    p.set_defaults(func=cmd_eligibility)

    s = sub.add_parser("selfcheck", help="enterprise self-check: eligible?, financing range, subsidy, cost",
                       description="Enterprise self-check (企业自检) from a small TOML file "
                                   "(scenarios/selfcheck-example.toml).")
    s.add_argument("file", help="self-check TOML file")
    s.add_argument("--criteria", default=None, help="criteria file or bundled set (default: the file's, else "
                                                    f"{DEFAULT_CRITERIA})")
    s.add_argument("--as-of", type=_date, default=None, help="evaluation date, YYYY-MM-DD")
    s.add_argument("--lang", choices=("zh", "en"), default="en")
    s.add_argument("--out", type=Path, default=None, help="folder for selfcheck.json (the result in both languages)")
    s.set_defaults(func=cmd_selfcheck)


def _files(*names: str | None) -> list[Path]:
    """The arguments that name existing files (a criteria argument may instead name a bundled set)."""
    return [Path(n) for n in names if n and Path(n).exists()]


def cmd_eligibility(args: argparse.Namespace) -> int:
    from ipabs.scenario.tape import read_tape

    criteria = load_criteria(args.criteria)  # a bad criteria file fails before the tape is read
    target = None if args.out is None else output_folder(
        args.out, command="eligibility", inputs=[args.tape, *_files(args.criteria)])
    tape = read_tape(args.tape, sheet=args.sheet)
    if tape.rejected:
        print(f"warning: {tape.n_rejected_rows} tape row(s) rejected and left out of the check:", file=sys.stderr)
        for issue in tape.rejected:
            print(f"  - {issue}", file=sys.stderr)
    if tape.n_accepted == 0:
        raise TapeError(tape.rejected or "no rows to check")
    report = evaluate_pool(tape.assets, criteria, as_of=args.as_of, legal_maturity=args.legal_maturity,
                           select_best=not args.no_best)
    print("\n".join(report.summary_lines(args.lang)))
    if args.out is not None:
        paths = write_report(report, target, args.lang, provenance={
            "tape": str(args.tape), "criteria": str(args.criteria), "rejected_rows": tape.n_rejected_rows,
        })
        print(f"wrote {paths['xlsx']}")
    return 0


def cmd_selfcheck(args: argparse.Namespace) -> int:
    data, path = load_selfcheck(args.file)
    criteria = load_criteria(args.criteria) if args.criteria else None
    target = None if args.out is None else output_folder(
        args.out, command="selfcheck", inputs=[path, *_files(args.criteria)])
    result = self_check(data, criteria, as_of=args.as_of, base_dir=path.parent)
    print("\n".join(result.lines(args.lang)))
    if target is not None:
        from ipabs.report.export import write_json

        with target.writing() as tmp:
            write_json(tmp / "selfcheck.json", result.to_dict() | {"provenance": {
                "file": str(path), "criteria": args.criteria, "as_of": args.as_of}})
        print(f"wrote {target.path / 'selfcheck.json'}")
    return 0
