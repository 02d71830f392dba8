"""Fixtures of the eligibility tests: tape rows built in code (canonical columns, dates as datetime.date)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from ipabs.eligibility.criteria import Criteria, criteria_from_dict, default_criteria

AS_OF = dt.date(2026, 4, 15)
LEGAL = dt.date(2028, 4, 20)


def row(asset_id: str = "A1", obligor_id: str = "F1", principal: float = 6_000_000.0, **kw: Any) -> dict[str, Any]:
    """One eligible pledge-loan row under the Ganzhou defaults (LTV 25%, IP valid to 2040); ``kw`` overrides."""
    r: dict[str, Any] = dict(
        asset_id=asset_id, obligor_id=obligor_id, obligor_name=f"firm {obligor_id}", industry="rare_earth_tungsten",
        county="章贡区", asset_type="pledge_loan", principal=principal, rate=0.045,
        start_date=dt.date(2026, 4, 1), maturity_date=dt.date(2027, 4, 1), rating="A", whitelisted=True,
        overdue_history=False, blacklisted=False, cnipa_pledge_registered=True,
        ip_type=["invention_patent"], ip_registration_no=["ZL202000000001.1"], ip_expiry_date=[dt.date(2040, 1, 1)],
        ip_appraised_value=[principal / 0.25], ip_valuation=["external"], ip_owner_id=[obligor_id],
        ip_prior_pledge=[False],
    )
    r.update(kw)
    return r


@pytest.fixture
def make_row() -> Callable[..., dict[str, Any]]:
    return row


@pytest.fixture(scope="session")
def ganzhou() -> Criteria:
    return default_criteria()


@pytest.fixture
def with_params(ganzhou) -> Callable[..., Criteria]:
    """The Ganzhou criteria with some parameters changed: ``with_params(("asset", "loan_size"), max_principal=5)``."""

    def make(*changes: tuple[tuple[str, str], dict[str, Any]]) -> Criteria:
        data = ganzhou.model_dump()
        for (level, cid), params in changes:
            data[level][cid].update(params)
        return criteria_from_dict(data)

    return make


@pytest.fixture
def frame() -> Callable[..., pd.DataFrame]:
    def make(*rows: dict[str, Any]) -> pd.DataFrame:
        return pd.DataFrame(list(rows))

    return make


@pytest.fixture
def failures_of(ganzhou) -> Callable[..., list]:
    """Failures of one criterion for one tape row: ``failures_of(row, "loan_to_value")``."""
    from ipabs.eligibility.evaluate import evaluate_pool

    def run(r: dict[str, Any], cid: str, criteria: Criteria | None = None, *, legal: dt.date | None = LEGAL,
            as_of: dt.date = AS_OF) -> list:
        rep = evaluate_pool(pd.DataFrame([r]), criteria or ganzhou, as_of=as_of, legal_maturity=legal,
                            select_best=False)
        a = rep.assets[0]
        return [f for f in (*a.failures, *a.firm_failures) if f.criterion == cid]

    return run
