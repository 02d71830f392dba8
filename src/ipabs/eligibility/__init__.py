"""Pool eligibility: criteria as data, a reason for every failure (中文 and English), concentration limits, the best
eligible pool, and the enterprise self-check. See docs/eligibility.md.

Library entry points (no printing): :func:`load_criteria`, :func:`evaluate_pool`, :func:`best_pool`,
:func:`self_check`; the CLI is :mod:`ipabs.eligibility.cli`.
"""

from ipabs.eligibility.criteria import Criteria, bundled_criteria_names, default_criteria, load_criteria
from ipabs.eligibility.evaluate import (
    AssetResult,
    BestPool,
    EligibilityReport,
    Failure,
    FirmResult,
    LimitCheck,
    best_pool,
    evaluate_pool,
    records_from_frame,
)
from ipabs.eligibility.selfcheck import (
    SelfCheckInput,
    SelfCheckResult,
    expected_subsidy,
    load_selfcheck,
    self_check,
)

__all__ = [
    "Criteria",
    "load_criteria",
    "default_criteria",
    "bundled_criteria_names",
    "evaluate_pool",
    "best_pool",
    "records_from_frame",
    "EligibilityReport",
    "AssetResult",
    "FirmResult",
    "Failure",
    "LimitCheck",
    "BestPool",
    "self_check",
    "load_selfcheck",
    "expected_subsidy",
    "SelfCheckInput",
    "SelfCheckResult",
]
