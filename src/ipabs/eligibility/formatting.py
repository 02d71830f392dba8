"""Display formatting of observed values and limits in reasons, per language ('zh' or 'en').

Amounts: 万元 in Chinese (``1,200万元``), yuan in English (``CNY 12,000,000``); shares with one decimal
(``42.0%``); dates ISO; lists joined with the language's separator, IP types by their glossary label.
All Chinese text comes from :mod:`ipabs.glossary`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from ipabs.glossary import TERMS, label


def amount(value: float | None, lang: str) -> str:
    """An amount in yuan for display: ``1,234.5万元`` (zh) or ``CNY 12,345,000`` (en); exact to the fen."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return label("unknown", lang)
    if lang == "zh":
        wan = round(value, 2) / 10_000
        text = f"{wan:,.6f}".rstrip("0").rstrip(".")
        return f"{text}{label('unit_wan_yuan', 'zh')}"
    if float(value).is_integer():
        return f"CNY {value:,.0f}"
    return f"CNY {value:,.2f}"


def share(value: float | None, lang: str = "en", *, decimals: int = 1) -> str:
    """A decimal share as a percent with one decimal: 0.42 → ``42.0%``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return label("unknown", lang)
    return f"{100 * value:.{decimals}f}%"


def share_apart(value: float | None, limit: float, lang: str = "en") -> str:
    """``value`` as a percent with one decimal, or more (up to four) when one decimal would show it equal to
    ``limit`` (so "30.01% exceeds 30.0%" never reads "30.0% exceeds 30.0%")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return label("unknown", lang)
    for d in range(1, 5):
        if f"{100 * value:.{d}f}" != f"{100 * limit:.{d}f}":
            return share(value, lang, decimals=d)
    return share(value, lang, decimals=4)


def months(value: float, lang: str, *, apart_from: float | None = None) -> str:
    """A number of months: ``36 个月`` / ``36 months``; one decimal when fractional, more (up to three) when one
    decimal would show it equal to ``apart_from``."""
    if float(value).is_integer():
        n = f"{value:.0f}"
    else:
        n = f"{value:.1f}"
        for d in (1, 2, 3):
            n = f"{value:.{d}f}"
            if apart_from is None or float(n) != float(apart_from):
                break
    return label("months_value", lang).format(n=n)


def date(value: dt.date | None, lang: str) -> str:
    return value.isoformat() if value is not None else label("unknown", lang)


def term(value: str, lang: str) -> str:
    """A canonical term (e.g. an IP type) by its glossary label; unknown terms as they are."""
    return label(value, lang) if value in TERMS else str(value)


def listing(values: Iterable[Any], lang: str, *, terms: bool = True) -> str:
    sep = label("list_separator", lang)
    return sep.join(term(str(v), lang) if terms else str(v) for v in values)


def ip_right(ip_type: str | None, registration_no: str | None, index: int, lang: str) -> str:
    """How a reason names one IP right: ``发明专利 ZL2021…`` / ``invention patent ZL2021…``, or its position."""
    kind = term(ip_type, lang) if ip_type else ""
    if registration_no:
        return f"{kind} {registration_no}".strip()
    if not kind:
        return label("ip_item", lang).format(n=index + 1)
    return label("ip_item_typed", lang).format(n=index + 1, kind=kind)


class _Blank(dict):
    def __missing__(self, key: str) -> str:  # a template placeholder with no value renders empty
        return ""


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill a reason template (placeholders were checked when the criteria file was loaded)."""
    return string.Formatter().vformat(template, (), _Blank(values))


# --- citations shown to users -------------------------------------------------------------------------------------

_DOMAIN_REF = re.compile(r"(?:,\s*)?(?:\bvia\s+)?(?:and\s+)?DOMAIN\.md(?:\s*§\s*[\d.]*\d(?:\s*(?:,|and)\s*§?\s*[\d.]*\d)*)?")
_SECTION_REF = re.compile(r"(?<![\w.])(?:,\s*)?§\s*[\d.]*\d(?:\s*(?:,|and)\s*§?\s*[\d.]*\d)*")
_MARK_C = re.compile(r"\[C(?:\s+([^\]]+))?\]")
_MARK_U = re.compile(r"\[U\]")
_MARK_P = re.compile(r"\[P\]")


def citation(source: str | None, lang: str = "en") -> str:
    """A source note as shown to users: the developers' references to the project's research notes (``DOMAIN.md
    §3``, ``§9.7``) and status markers removed — ``[C site]`` becomes a plain "source: site", ``[U]`` "assumption"
    in the user's language — and nothing else changed. The full note stays in the data files for provenance."""
    if not source:
        return ""
    text = _DOMAIN_REF.sub("", str(source))
    text = _SECTION_REF.sub("", text)
    src = label("source_clause", lang)
    text = _MARK_C.sub(lambda m: f"({src}: {m.group(1).strip()})" if m.group(1) else "", text)
    text = _MARK_U.sub(f"({label('assumption', lang)})", text)
    text = _MARK_P.sub("", text)
    # tidy what the removals leave: empty brackets, separators before a closing bracket or at the ends
    for _ in range(3):
        text = re.sub(r"\(\s*[,;]?\s*\)", "", text)
        text = re.sub(r"\(\s*[,;]?\s*", "(", text)
        text = re.sub(r"\s*[,;]\s*\)", ")", text)
        text = re.sub(r"\s+([,;:)])", r"\1", text)
        text = re.sub(r"([,;])\s*(?=[,;])", "", text)
        text = re.sub(r"\s{2,}", " ", text)
    return text.strip(" ,;:")
