"""Pool-level concentration limits: which are breached and by how much, at the boundary."""

from __future__ import annotations

import pandas as pd
import pytest

from ipabs.eligibility.evaluate import check_pool_limits, records_from_frame


def pool(make_row, spec):
    """Rows from (obligor, industry, county, principal) tuples."""
    return records_from_frame(pd.DataFrame([
        make_row(f"A{i}", o, p, industry=ind, county=cty) for i, (o, ind, cty, p) in enumerate(spec)]))


def breaches(records, criteria, cid):
    return [c for c in check_pool_limits(records, criteria, "eligible") if c.criterion == cid and c.breached]


def only(criteria_fixture, with_params, keep):
    """The Ganzhou criteria with every pool limit but ``keep`` switched off."""
    return with_params(*[(("pool", k), {"enabled": False}) for k in
                         ("single_obligor", "top_obligors", "single_industry", "single_county") if k != keep])


def test_a_single_obligor_at_exactly_fifteen_percent_passes(make_row, with_params, ganzhou):
    c = only(ganzhou, with_params, "single_obligor")
    recs = pool(make_row, [("F0", "nev", "章贡区", 15.0)] + [(f"F{i}", "nev", "章贡区", 8.5) for i in range(1, 11)])
    assert breaches(recs, c, "single_obligor") == []
    [row] = check_pool_limits(recs, c, "eligible")
    assert row.share == pytest.approx(0.15) and not row.breached


def test_a_single_obligor_above_the_limit_is_reported_with_the_excess(make_row, with_params, ganzhou):
    c = only(ganzhou, with_params, "single_obligor")
    recs = pool(make_row, [("F0", "nev", "章贡区", 20_000_000.0)] +
                [(f"F{i}", "nev", "章贡区", 10_000_000.0) for i in range(1, 9)])  # 20 / 100 = 20%
    [b] = breaches(recs, c, "single_obligor")
    assert b.group == "firm F0 (F0)" and b.share == pytest.approx(0.20)
    assert b.excess_amount == pytest.approx(5_000_000.0)  # 20M - 15% x 100M
    assert b.reduction_needed == pytest.approx(5_000_000.0 / 0.85)  # then (20M-R)/(100M-R) = 15%
    assert b.message("zh") == ("单一债务人 firm F0 (F0) 占资产池余额的 20.0%，超过上限 15.0%"
                               "（超出 5.0 个百分点，即 500万元）")
    assert b.message("en") == ("obligor firm F0 (F0) is 20.0% of the pool balance, above the limit of 15.0% "
                               "(by 5.0 percentage points, CNY 5,000,000)")


def test_reducing_a_breaching_group_by_the_reduction_needed_meets_the_limit(make_row, with_params, ganzhou):
    c = only(ganzhou, with_params, "single_obligor")
    spec = [("F0", "nev", "章贡区", 20_000_000.0)] + [(f"F{i}", "nev", "章贡区", 10_000_000.0) for i in range(1, 9)]
    [b] = breaches(pool(make_row, spec), c, "single_obligor")
    spec[0] = ("F0", "nev", "章贡区", 20_000_000.0 - b.reduction_needed)
    assert breaches(pool(make_row, spec), c, "single_obligor") == []


def test_top_five_at_the_limit_passes_and_above_it_fails(make_row, with_params, ganzhou):
    c = only(ganzhou, with_params, "top_obligors")
    at = [(f"F{i}", "nev", "章贡区", 12.0) for i in range(5)] + [(f"G{i}", "nev", "章贡区", 8.0) for i in range(5)]
    assert breaches(pool(make_row, at), c, "top_obligors") == []  # 60 / 100
    above = [(f"F{i}", "nev", "章贡区", 13.0) for i in range(5)] + [(f"G{i}", "nev", "章贡区", 7.0) for i in range(5)]
    [b] = breaches(pool(make_row, above), c, "top_obligors")
    assert b.share == pytest.approx(0.65)
    assert b.message("en").startswith("the top 5 obligors (firm F0 (F0), firm F1 (F1), ")
    assert b.message("en").endswith("are 65.0% of the pool balance, above the limit of 60.0% "
                                    "(by 5.0 percentage points, CNY 5)")
    assert b.message("zh").startswith("前 5 大债务人（firm F0 (F0)、firm F1 (F1)、")


def test_one_industry_at_fifty_percent_passes_and_above_fails(make_row, with_params, ganzhou):
    c = only(ganzhou, with_params, "single_industry")
    assert breaches(pool(make_row, [("F1", "nev", "章贡区", 50.0), ("F2", "furniture", "章贡区", 50.0)]), c,
                    "single_industry") == []
    [b] = breaches(pool(make_row, [("F1", "nev", "章贡区", 51.0), ("F2", "furniture", "章贡区", 49.0)]), c,
                   "single_industry")
    assert b.group == "nev"
    assert b.message("zh") == "行业 nev 占资产池余额的 51.0%，超过上限 50.0%（超出 1.0 个百分点，即 0.0001万元）"


def test_one_county_at_sixty_percent_passes_and_above_fails(make_row, with_params, ganzhou):
    c = only(ganzhou, with_params, "single_county")
    assert breaches(pool(make_row, [("F1", "nev", "章贡区", 60.0), ("F2", "nev", "南康区", 40.0)]), c,
                    "single_county") == []
    [b] = breaches(pool(make_row, [("F1", "nev", "章贡区", 60.5), ("F2", "nev", "南康区", 39.5)]), c,
                   "single_county")
    assert b.message("en") == ("county 章贡区 is 60.5% of the pool balance, above the limit of 60.0% "
                               "(by 0.5 percentage points, CNY 0.50)")


def test_every_breaching_group_is_listed_and_a_passing_limit_shows_its_largest_group(make_row, with_params, ganzhou):
    c = only(ganzhou, with_params, "single_obligor")
    recs = pool(make_row, [("F0", "nev", "章贡区", 30.0), ("F1", "nev", "章贡区", 20.0)] +
                [(f"G{i}", "nev", "章贡区", 5.0) for i in range(10)])
    rows = check_pool_limits(recs, c, "tape")
    assert [(r.group, r.breached) for r in rows] == [("firm F0 (F0)", True), ("firm F1 (F1)", True)]
    ok = pool(make_row, [(f"G{i}", "nev", "章贡区", 5.0) for i in range(10)])
    assert [(r.group, r.breached) for r in check_pool_limits(ok, c, "tape")] == [("firm G0 (G0)", False)]
