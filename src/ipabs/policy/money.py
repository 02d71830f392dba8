"""Money to the fen: amounts are integer fen (分, 1/100 yuan), rates exact fractions.

Every subsidy amount is computed in integers so that it is exact to the fen and identical in the readable
entitlement engine (:mod:`ipabs.policy.entitlements`, Python ``int``) and the vectorised budget
(:mod:`ipabs.policy.budget`, ``numpy.int64``): both call :func:`apply_rate`.

Rounding (docs/decisions/040-policy-rounding.md): a rate is applied to one financing (or one loan, one year of
interest) and rounded to the fen by the policy's rule, *then* amounts are summed per firm and year, *then* caps are
applied. The rule is ``down`` (truncate to the fen: the result never exceeds rate × base, as "不超过" requires) or
``half_up`` (四舍五入 to the fen).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import numpy as np

Rounding = Literal["down", "half_up"]

FEN_PER_YUAN = 100
_CENT = Decimal("0.01")
#: Largest amount we accept anywhere in the policy engine, yuan (10^11 = 1,000亿). Keeps int64 products exact.
MAX_YUAN = Decimal(10) ** 11
_SAFE = 2**62


@dataclass(frozen=True)
class Rate:
    """An exact non-negative rate ``num / den`` (from a decimal such as ``0.035`` = 7/200)."""

    num: int
    den: int

    @classmethod
    def of(cls, value: Decimal | str | int | float) -> Rate:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
        if not d.is_finite() or d < 0:
            raise ValueError(f"a rate must be a finite non-negative number, got {value!r}")
        num, den = d.as_integer_ratio()
        return cls(num, den)

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.num) / Decimal(self.den)

    def percent(self) -> str:
        """``0.035`` → ``'3.5%'`` (for reasons)."""
        p = (self.decimal * 100).normalize()
        return f"{p:f}%"


def to_fen(amount: Decimal | str | int | float) -> int:
    """Yuan → integer fen, exactly; raises ValueError for fractions of a fen, negatives or absurd sizes."""
    d = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    if not d.is_finite():
        raise ValueError(f"not a finite amount: {amount!r}")
    if d < 0:
        raise ValueError(f"amount must not be negative: {amount!r}")
    if d > MAX_YUAN:
        raise ValueError(f"amount {amount!r} exceeds {MAX_YUAN:,} yuan")
    f = d * FEN_PER_YUAN
    if f != f.to_integral_value():
        raise ValueError(f"amount {amount!r} has fractions of a fen")
    return int(f)


def round_to_fen(amount: Decimal | float, rounding: Rounding = "half_up") -> int:
    """Yuan (any precision) → fen, rounded by ``rounding``."""
    d = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    mode = ROUND_HALF_UP if rounding == "half_up" else "ROUND_DOWN"
    return int((d * FEN_PER_YUAN).quantize(Decimal(1), rounding=mode))


def yuan(fen: int) -> Decimal:
    """Integer fen → ``Decimal`` yuan with two places."""
    return (Decimal(int(fen)) / FEN_PER_YUAN).quantize(_CENT)


def fmt_yuan(fen: int) -> str:
    """``123456789`` → ``'1,234,567.89'``."""
    return f"{yuan(fen):,.2f}"


def _div(n, d: int, rounding: Rounding):
    """Integer ``n / d`` rounded by ``rounding`` (n ≥ 0, d > 0); works on ints and int64 arrays."""
    if rounding == "down":
        return n // d
    return (2 * n + d) // (2 * d)


def apply_rate(amount_fen, rate: Rate, rounding: Rounding, extra_den: int = 1):
    """``amount × rate / extra_den``, rounded to the fen by ``rounding``.

    ``amount_fen`` is an ``int`` or an integer numpy array; the arithmetic is exact (Python integers when an
    int64 product could overflow). ``extra_den`` divides further before the single rounding (e.g. 12 for a
    monthly share of an annual rate).
    """
    den = rate.den * extra_den
    if isinstance(amount_fen, np.ndarray):
        a = amount_fen.astype(np.int64, copy=False)
        biggest = int(a.max()) if a.size else 0
        if biggest * rate.num * 2 + den < _SAFE and den < _SAFE:
            return _div(a * rate.num, den, rounding)
        obj = a.astype(object)
        return np.array(_div(obj * rate.num, den, rounding), dtype=np.int64).reshape(a.shape)
    return _div(int(amount_fen) * rate.num, den, rounding)


def scale_fen(amount_fen, factor):
    """``amount × factor`` rounded half up to the fen, in floating point (for random size multipliers).

    Exact when ``factor`` is 1.0; otherwise the result is a sampled amount, and it is what both engines use.
    """
    x = np.asarray(amount_fen, dtype=np.float64) * factor
    return np.floor(x + 0.5).astype(np.int64)


def muldiv(a, num, den, rounding: Rounding):
    """Elementwise ``a × num / den`` rounded to an integer by ``rounding``; exact (int64, or Python integers when
    an int64 product could overflow). Arrays broadcast; ``a, num ≥ 0`` and ``den > 0``."""
    a = np.asarray(a, dtype=np.int64)
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    big = (int(a.max()) if a.size else 0) * (int(num.max()) if num.size else 0) * 2 + (int(den.max()) if den.size
                                                                                        else 0)
    if big < _SAFE:
        return _div(a * num, den, rounding)
    shape = np.broadcast_shapes(a.shape, num.shape, den.shape)
    ao, no, do = (np.broadcast_to(x, shape).astype(object) for x in (a, num, den))
    return np.array(_div(ao * no, do, rounding), dtype=np.int64).reshape(shape)
