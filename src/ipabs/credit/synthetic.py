"""Synthetic deals for validation tests and benchmarks: homogeneous or sector-split pools, built in memory.

:func:`synthetic_deal` returns a :class:`~ipabs.compile.lower.CompiledDeal` without a tape file: the asset rows go
straight to :func:`ipabs.compile.lower.compile_deal`. Every asset is its own obligor; assets are equal, pay
monthly or quarterly on the deal's payment dates, and are either bullet (one cash flow at the deal's legal
maturity, so a default loses the whole principal) or amortising (level payment, 等额本息). The liabilities are a
sequential senior/subordinate pair (pass-through, principal of either tranche paid from everything available).

Nothing here is market data: these deals exist to test the engine against closed forms and to time it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ipabs.compile.lower import CompiledDeal, compile_deal
from ipabs.scenario.io import parse_scenario

#: Annual PD giving a 16% five-year cumulative default rate: 1 − (1 − p)^5 = 0.16.
PD_16PCT_5Y = 1.0 - 0.84 ** 0.2


def _add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    return dt.date(d.year + y, m + 1, min(d.day, 28))


@dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of a synthetic deal (see :func:`synthetic_deal`)."""

    n_obligors: int = 50
    n_periods: int = 60
    frequency: str = "monthly"  # deal and asset payment frequency
    amortization: str = "level_payment"  # asset amortization: level_payment | bullet
    asset_principal: float = 1_000_000.0
    asset_rate: float = 0.06
    annual_pd: float = PD_16PCT_5Y
    n_sectors: int = 5
    correlation: float = 0.15  # rho: global factor
    sector_correlation: float = 0.10  # extra within-sector correlation
    copula: str = "gaussian"
    degrees_of_freedom: float | None = None
    senior_fraction: float = 0.8
    senior_coupon: float = 0.03
    recovery_rate: float = 0.3
    recovery_lag_periods: int = 6
    recovery_model: str = "fixed_rate"
    fees: bool = False  # one pool-balance fee (servicing 0.5% p.a.) when true
    cleanup: float = 0.0
    rating: str | None = None  # every obligor's rating (its PD then comes from rating_table, not annual_pd)
    rating_table: str | None = None
    pd_interpolation: str = "none"


def synthetic_scenario_data(spec: SyntheticSpec) -> dict:
    """The scenario mapping of a synthetic deal (pool tape replaced by in-memory rows)."""
    months = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}[spec.frequency]
    cutoff = dt.date(2026, 1, 1)
    first = _add_months(cutoff, months)
    legal = _add_months(cutoff, months * spec.n_periods)
    total = spec.n_obligors * spec.asset_principal
    senior = round(total * spec.senior_fraction, 2)
    sim: dict = {
        "n_paths": 10_000, "seed": 1, "correlation": spec.correlation,
        "sector_correlation": spec.sector_correlation, "default_pd": spec.annual_pd,
        "recovery_model": spec.recovery_model, "copula": spec.copula,
    }
    if spec.degrees_of_freedom is not None:
        sim["degrees_of_freedom"] = spec.degrees_of_freedom
    data = {
        "schema_version": 1,
        "deal": {"name": f"synthetic {spec.n_obligors}x{spec.n_periods}", "cutoff_date": cutoff,
                 "closing_date": cutoff, "first_payment_date": first, "payment_frequency": spec.frequency,
                 "legal_maturity": legal,
                 "clean_up_call": spec.cleanup},
        "pool": {"tape": "<in memory>"},
        "assumptions": {"recovery_rate": spec.recovery_rate, "recovery_lag_periods": spec.recovery_lag_periods},
        "tranches": [
            {"name": "senior", "seniority": "senior", "balance": senior, "coupon": spec.senior_coupon,
             "amortization": "pass_through"},
            {"name": "subordinate", "seniority": "subordinate", "balance": round(total - senior, 2), "coupon": 0.0,
             "amortization": "pass_through"},
        ],
        "fees": [{"name": "servicing", "basis": "pool_balance", "rate": 0.005}] if spec.fees else [],
        "waterfall": {"normal": [
            *([{"action": "pay_fees"}] if spec.fees else []),
            {"action": "pay_interest", "tranches": ["senior"]},
            {"action": "pay_principal", "tranches": ["senior"], "amount": "all"},
            {"action": "pay_principal", "tranches": ["subordinate"], "amount": "all", "require_repaid": ["senior"]},
            {"action": "pay_residual", "tranche": "subordinate", "require_repaid": ["senior", "subordinate"]},
        ]},
        "simulation": sim,
    }
    if spec.rating_table is not None:
        sim["rating_table"] = spec.rating_table
        sim["pd_interpolation"] = spec.pd_interpolation
    return data


def synthetic_assets(spec: SyntheticSpec) -> pd.DataFrame:
    """Asset rows (the columns :func:`ipabs.compile.lower.compile_pool` reads), one obligor per asset."""
    months = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}[spec.frequency]
    cutoff = dt.date(2026, 1, 1)
    legal = _add_months(cutoff, months * spec.n_periods)
    n = spec.n_obligors
    width = len(str(n))
    return pd.DataFrame({
        "asset_id": [f"A{i:0{width}d}" for i in range(n)],
        "obligor_id": [f"O{i:0{width}d}" for i in range(n)],
        "obligor_name": [f"obligor {i}" for i in range(n)],
        "industry": [f"sector{i % spec.n_sectors}" for i in range(n)],
        "asset_type": ["pledge_loan"] * n,
        "principal": [spec.asset_principal] * n,
        "rate": [spec.asset_rate] * n,
        "start_date": [cutoff] * n,
        "maturity_date": [legal] * n,
        "payment_frequency": [spec.frequency] * n,
        "amortization": [spec.amortization] * n,
        "custom_schedule": [None] * n,
        "rating": [spec.rating] * n,
        "pd": [np.nan] * n,
        "ip_type": [["invention_patent"]] * n,
        "ip_appraised_value": [[spec.asset_principal]] * n,
    })


def synthetic_deal(spec: SyntheticSpec | None = None, **kwargs) -> CompiledDeal:
    """Compile a synthetic deal; keyword arguments override fields of :class:`SyntheticSpec`."""
    spec = spec or SyntheticSpec()
    if kwargs:
        spec = SyntheticSpec(**{**spec.__dict__, **kwargs})
    scenario = parse_scenario(synthetic_scenario_data(spec), "<synthetic>")
    return compile_deal(scenario, synthetic_assets(spec), scenario_hash="synthetic", source="<synthetic>")
