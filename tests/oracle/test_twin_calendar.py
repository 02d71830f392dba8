"""Kernel and twin on deal calendars (issue 14): every sample deal with collection periods ending before its payment
dates, each accrual convention (tranche-balance fees on the collection period's opening balances too), floating coupons and floating assets, under base and stressed assumptions — the
kernels (compiled ``pool_yf``, ``note_yf``, ``fee_yf``, ``tr_rate``) and the pure-Python twin agree to the fen."""

from __future__ import annotations

import pytest
from test_twin import assert_agree, kernel_and_twin, restated, sample_deals  # noqa: F401 - the fixture


def variants(deal) -> dict:
    s = deal.scenario
    first = deal.schedule.payment_dates[0]
    curve = {"dates": [s.deal.closing_date, first], "levels": [0.025, 0.031]}
    floating = [{**t.model_dump(), "floating": {"index": "LPR_1Y", "spread": 0.004, "floor": 0.027}}
                if t.seniority == "senior" else t.model_dump() for t in s.tranches]
    calendar = {"collection": {"payment_lag_days": 10}}
    stressed = {"cdr": 0.2, "cpr": 0.1, "recovery_rate": 0.3, "recovery_lag_periods": 1}
    return {
        "collection ends 10 days before payment": restated(deal, deal=calendar),
        "…with CDR/CPR": restated(deal, deal=calendar, assumptions=stressed),
        "quarter-end 计算日, fees over the collection period": restated(
            deal, deal={"collection": {"period_end": "month_end"},
                        "conventions": {"fee_accrual": "collection_period"}}, assumptions=stressed),
        "collection ends before payment, tranche fees on the collection period's opening balances": restated(
            deal, deal={**calendar, "conventions": {"fee_balance": "collection_period_start"}}, assumptions=stressed),
        "note act/360 on unadjusted dates, periodic asset interest": restated(
            deal, deal={**calendar, "conventions": {"note_day_count": "act/360", "note_accrual_dates": "unadjusted",
                                                    "asset_interest": "periodic"}}, assumptions=stressed),
        "floating seniors and assets over LPR": restated(
            deal, indices={"LPR_1Y": curve}, tranches=floating,
            pool={**s.pool.model_dump(), "floating": [{"index": "LPR_1Y", "asset_types": ["pledge_loan",
                                                                                            "finance_lease"]}]},
            assumptions=stressed),
    }


@pytest.mark.slow
def test_kernel_and_twin_agree_to_the_fen_on_deal_calendars_and_conventions(sample_deals):  # noqa: F811
    n = 0
    for stem, deal in sample_deals.items():
        for label, variant in variants(deal).items():
            if "collection" in label or "计算日" in label:
                assert variant.pool.pool_yf.tobytes() != variant.waterfall.yf.tobytes(), (stem, label)
            if label.startswith("floating"):
                assert variant.index_level is not None and (variant.waterfall.tr_rate[:, 0] >= 0.027).all()
            pf, out, res = kernel_and_twin(variant)
            assert_agree(variant, pf, out, res, f"{stem} / {label}")
            n += 1
    assert n >= 4 * 5
