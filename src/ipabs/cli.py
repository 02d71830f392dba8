"""The ``ipabs`` command line: a thin layer over :mod:`ipabs.api` (no numerics here).

Exit codes: 0 success; 2 invalid input (the message names file, row and field), including an argument out of its
stated bounds and an output folder that may not be written (:func:`ipabs.report.writer.output_folder`); 1 failure at
run time; 130 interrupted (Ctrl-C), also while the libraries are still being imported. Never a bare traceback
(``--debug`` shows one).

Subcommands live in small modules that each expose ``add_parsers(subparsers)``; each parser sets ``func`` to a
callable taking the parsed namespace and returning an exit code. A subcommand that writes a folder checks it with
:func:`ipabs.report.writer.output_folder` before its work and writes it through that function.

This module imports nothing heavy at its top (the console script imports it before :func:`main` can catch a
Ctrl-C): numpy, pandas and numba are imported inside :func:`main`.
"""

from __future__ import annotations

import sys

#: Modules contributing subcommands, in help order.
COMMAND_MODULES = [
    "ipabs.cli_deal",
    "ipabs.eligibility.cli",
    "ipabs.policy.cli",
    "ipabs.structuring.cli",
    "ipabs.surveillance.cli",
]

#: Exit code of an interrupted command (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


def build_parser():
    import argparse
    import importlib

    from ipabs import __version__

    p = argparse.ArgumentParser(prog="ipabs", description="IP ABS/ABN structuring and Monte Carlo simulator")
    p.add_argument("--version", action="version", version=f"ipabs {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one ``ipabs`` command; returns the exit code (the console script passes it to ``sys.exit``)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C anywhere: while importing, parsing, running or writing
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    import logging

    from ipabs.errors import Cancelled, InputError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help / --version (0) or a bad argument (2, its message already printed)
        return e.code if isinstance(e.code, int) else 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        raise
    except Exception as e:  # a run-time failure: one clear line unless --debug
        if args.debug:
            raise
        print(f"error: run failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
