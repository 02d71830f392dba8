"""Tranche bond analytics with QuantLib: yield, Macaulay and modified duration; WAL and principal window.

For a tranche with cash flows c_i (interest + principal + residual) on dates d_i, settled at the closing date s:

* **yield** y solves  P = Σ c_i (1 + y/f)^(−f·τ_i),  τ_i = yearFraction(s, d_i) in the deal's day count,
  f the deal's payment frequency (``ql.CashFlows.yieldRate``, compounding ``ql.Compounded``), P the dirty price
  (per 100 face). At par (P = 100) a tranche paid in full and on time yields its coupon (up to day-count effects).
* **Macaulay duration** D = Σ τ_i c_i v_i / Σ c_i v_i, v_i = (1 + y/f)^(−f·τ_i); **modified** D / (1 + y/f).
* **WAL** = Σ τ_i p_i / Σ p_i over principal payments p_i (Actual/365 Fixed from the closing date). QuantLib has
  no WAL function.

QuantLib's evaluation date is global state: :func:`evaluation_date` sets it and restores the previous one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import QuantLib as ql

from ipabs.compile.schedule import day_counter, to_ql

_FREQ = {"monthly": ql.Monthly, "quarterly": ql.Quarterly, "semiannual": ql.Semiannual, "annual": ql.Annual}
_PER_YEAR = {"monthly": 12, "quarterly": 4, "semiannual": 2, "annual": 1}


@contextlib.contextmanager
def evaluation_date(d: dt.date) -> Iterator[None]:
    """Set QuantLib's global evaluation date for the block, then restore it."""
    settings = ql.Settings.instance()
    old = settings.evaluationDate
    settings.evaluationDate = to_ql(d)
    try:
        yield
    finally:
        settings.evaluationDate = old


@dataclass(frozen=True)
class BondMetrics:
    yield_at_price: float | None
    yield_at_par: float | None
    macaulay_duration: float | None
    modified_duration: float | None
    wal_years: float | None
    first_principal_date: dt.date | None
    last_principal_date: dt.date | None


def wal_years(settle: dt.date, dates: Sequence[dt.date], principal: Sequence[float]) -> float | None:
    """Weighted-average life in years (Actual/365 Fixed from ``settle``); None without principal."""
    tot = float(sum(principal))
    if tot <= 0.0:
        return None
    dc = ql.Actual365Fixed()
    return sum(dc.yearFraction(to_ql(settle), to_ql(d)) * p for d, p in zip(dates, principal, strict=True)) / tot


def _leg(dates: Sequence[dt.date], flows: Sequence[float], scale: float) -> list:
    return [ql.SimpleCashFlow(c * scale, to_ql(d)) for d, c in zip(dates, flows, strict=True) if c > 0.0]


def bond_metrics(
    settle: dt.date,
    dates: Sequence[dt.date],
    interest: Sequence[float],
    principal: Sequence[float],
    residual: Sequence[float],
    face: float,
    price: float,
    day_count: str,
    frequency: str,
) -> BondMetrics:
    """QuantLib yield and durations of one tranche's cash flows (see module docstring); None where undefined."""
    flows = [i + p + r for i, p, r in zip(interest, principal, residual, strict=True)]
    paid_principal = [(d, p) for d, p in zip(dates, principal, strict=True) if p > 0.005]
    first = paid_principal[0][0] if paid_principal else None
    last = paid_principal[-1][0] if paid_principal else None
    wal = wal_years(settle, dates, principal)
    if face <= 0 or sum(flows) <= 0:
        return BondMetrics(None, None, None, None, wal, first, last)
    scale = 100.0 / face
    dc = day_counter(day_count)
    comp, freq = ql.Compounded, _FREQ[frequency]
    s = to_ql(settle)
    with evaluation_date(settle):
        leg = _leg(dates, flows, scale)

        def solve(p: float) -> float | None:
            try:
                y = ql.CashFlows.yieldRate(leg, p, dc, comp, freq, False, s, s, 1.0e-12, 1000, 0.05)
            except RuntimeError:
                return None
            return y if math.isfinite(y) else None

        y_px, y_par = solve(price), solve(100.0)
        mac = mod = None
        if y_px is not None:
            try:
                mac = ql.CashFlows.duration(leg, y_px, dc, comp, freq, ql.Duration.Macaulay, False, s, s)
                mod = ql.CashFlows.duration(leg, y_px, dc, comp, freq, ql.Duration.Modified, False, s, s)
            except RuntimeError:
                mac = mod = None
    return BondMetrics(y_px, y_par, mac, mod, wal, first, last)
