"""The ``ipabs`` command line: a thin layer over :mod:`ipabs.api` (no numerics here).

Exit codes: 0 success; 2 invalid input (the message names file, row and field); 1 failure at run time.
Never a bare traceback (``--debug`` shows one).

Subcommands live in small modules that each expose ``add_parsers(subparsers)``; each parser sets ``func`` to a
callable taking the parsed namespace and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ipabs import __version__
from ipabs.errors import Cancelled, InputError

#: Modules contributing subcommands, in help order.
COMMAND_MODULES = [
    "ipabs.cli_deal",
    "ipabs.eligibility.cli",
    "ipabs.policy.cli",
    "ipabs.structuring.cli",
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ipabs", description="IP ABS/ABN structuring and Monte Carlo simulator")
    p.add_argument("--version", action="version", version=f"ipabs {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
        print("interrupted", file=sys.stderr)
        return 1
    except Exception as e:  # a run-time failure: one clear line unless --debug
        if args.debug:
            raise
        print(f"error: run failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
