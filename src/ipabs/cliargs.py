"""Argument types shared by the CLI's subcommands: integers checked against stated bounds at parse time.

A value out of range is an argparse error (exit code 2, one line naming the option and the limit) before any work
or allocation: ``--paths -5``, ``--paths 1000000000000``, ``--seed -1``, ``--threads 0``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from ipabs.defaults import MAX_PATHS, MAX_POLICY_PATHS, MAX_SAMPLE_PATHS, MAX_SEED, MAX_THREADS


def bounded_int(lo: int, hi: int, what: str) -> Callable[[str], int]:
    """An argparse ``type``: an integer ``lo <= n <= hi``; the error states the limits."""

    def parse(text: str) -> int:
        try:
            n = int(text.replace("_", "").replace(",", ""), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r} ({what})") from None
        if n < lo:
            raise argparse.ArgumentTypeError(f"{n} is below the least allowed {lo:,} ({what})")
        if n > hi:
            raise argparse.ArgumentTypeError(f"{n:,} is above the most allowed {hi:,} ({what})")
        return n

    parse.__name__ = "integer"  # argparse names the type in its message: "invalid integer value"
    return parse


#: ``--paths`` of ``ipabs run`` (0 = deterministic only).
deal_paths = bounded_int(0, MAX_PATHS, f"Monte Carlo paths, 0 to {MAX_PATHS:,}")
#: ``--paths`` of ``ipabs subsidy`` and ``ipabs fund``.
policy_paths = bounded_int(1, MAX_POLICY_PATHS, f"Monte Carlo paths, 1 to {MAX_POLICY_PATHS:,}")
#: ``--seed`` of every Monte Carlo verb.
seed = bounded_int(0, MAX_SEED, "seeds are 0 to 2**63 - 1")
#: ``--sample-paths``.
sample_paths = bounded_int(0, MAX_SAMPLE_PATHS, f"paths written in full, 0 to {MAX_SAMPLE_PATHS:,}")
#: ``--threads``.
threads = bounded_int(1, MAX_THREADS, f"threads, 1 to {MAX_THREADS}")


def _decimal(text: str, what: str) -> Decimal:
    try:
        d = Decimal(text.replace(",", "").replace("_", "").strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} ({what})") from None
    if not d.is_finite():
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r} ({what})")
    return d


def decimal_range(lo: Decimal, hi: Decimal, what: str, *, places: int | None = None) -> Callable[[str], Decimal]:
    """An argparse ``type``: a finite decimal ``lo <= x <= hi`` with at most ``places`` decimals."""

    def parse(text: str) -> Decimal:
        d = _decimal(text, what)
        if not lo <= d <= hi:
            raise argparse.ArgumentTypeError(f"{text} is outside {lo:,} to {hi:,} ({what})")
        if places is not None and d != d.quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN"):
            raise argparse.ArgumentTypeError(f"{text} has more than {places} decimals ({what})")
        return d

    parse.__name__ = "number"
    return parse


def float_range(lo: float, hi: float, what: str, *, lo_open: bool = False, hi_open: bool = False
                ) -> Callable[[str], float]:
    """An argparse ``type``: a finite float in ``[lo, hi]`` (ends open as asked); nan and inf are refused."""

    def parse(text: str) -> float:
        d = _decimal(text, what)
        x = float(d)
        if x < lo or x > hi or (lo_open and x == lo) or (hi_open and x == hi):
            left, right = "(" if lo_open else "[", ")" if hi_open else "]"
            raise argparse.ArgumentTypeError(f"{text} is outside {left}{lo:g}, {hi:g}{right} ({what})")
        return x

    parse.__name__ = "number"
    return parse


#: ``--fund-size`` and ``--per-loan-cap``: yuan, to the fen, at most 10^11 (the policy engine's ceiling).
amount_yuan = decimal_range(Decimal(0), Decimal(10) ** 11, "yuan, 0 to 100,000,000,000, to the fen", places=2)
#: ``--lpr``: a rate, 0 to 1 (0.030 is 3.0%).
lpr = decimal_range(Decimal(0), Decimal(1), "a rate from 0 to 1, e.g. 0.030 for 3.0%", places=6)
#: ``--leverage``: portfolio principal per yuan of fund.
leverage = float_range(0.0, 1e6, "principal per yuan of fund, above 0 and at most 1,000,000", lo_open=True)
#: ``--rho`` and ``--sector-rho`` (their sum is checked below 1 by the engine).
correlation = float_range(0.0, 1.0, "a correlation from 0 to below 1", hi_open=True)
