"""Shared helpers of the surveillance tests: the sample deals and their sample reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ipabs import api

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = ROOT / "scenarios"
REPORTS = SCENARIOS / "reports"

#: sample deal → report date of its sample reports (scenarios/make_reports.py)
SAMPLE_DATES = {
    "ganzhou_pledge_2026": dt.date(2026, 10, 20),
    "interbank_abn_2026": dt.date(2026, 12, 25),
    "ip_lease_2026": dt.date(2027, 3, 26),
    "licence_relicence_2026": dt.date(2027, 1, 26),
}


def servicer_path(name: str) -> Path:
    return REPORTS / f"{name}-servicer-{SAMPLE_DATES[name].isoformat()}.csv"


def trustee_path(name: str) -> Path:
    return REPORTS / f"{name}-trustee-{SAMPLE_DATES[name].isoformat()}.csv"


_DEALS: dict = {}


def compiled(name: str):
    if name not in _DEALS:
        _DEALS[name] = api.compile_scenario(api.load_scenario(SCENARIOS / f"{name}.toml"))
    return _DEALS[name]
