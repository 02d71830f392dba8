"""Firm-level criteria: pass and fail at each boundary, reasons in both languages."""

from __future__ import annotations

import pandas as pd
import pytest

from ipabs.eligibility.evaluate import evaluate_pool

GANZHOU_21 = ["章贡区", "南康区", "赣县区", "信丰县", "大余县", "上犹县", "崇义县", "安远县", "定南县", "全南县",
              "宁都县", "于都县", "兴国县", "会昌县", "寻乌县", "石城县", "瑞金市", "龙南市",
              "赣州经开区", "赣州高新区", "蓉江新区"]


@pytest.mark.parametrize("county", GANZHOU_21)
def test_every_ganzhou_county_district_city_and_zone_is_in_the_region(make_row, failures_of, county):
    assert failures_of(make_row(county=county), "region") == []


def test_a_firm_outside_ganzhou_fails_the_region_criterion(make_row, failures_of):
    [f] = failures_of(make_row(county="南昌市"), "region")
    assert f.message("zh") == "企业所在地“南昌市”不在赣州试验区范围内"
    assert f.message("en") == "the firm is registered in 南昌市, outside the Ganzhou pilot zone"


def test_a_firm_without_county_fails_the_region_criterion(make_row, failures_of):
    [f] = failures_of(make_row(county=None), "region")
    assert f.message("zh") == "未提供企业所在区县"
    assert f.message("en") == "the firm's county is not given"


def test_a_rating_at_the_threshold_passes_and_one_notch_below_fails(make_row, failures_of):
    assert failures_of(make_row(whitelisted=False, rating="BBB"), "whitelist_or_rating") == []
    [f] = failures_of(make_row(whitelisted=False, rating="BBB-"), "whitelist_or_rating")
    assert f.message("zh") == "企业不在白名单内，且信用评级 BBB- 低于门槛 BBB"
    assert f.message("en") == "the firm is not on the whitelist and its rating BBB- is below the threshold of BBB"


def test_a_whitelisted_firm_passes_whatever_its_rating(make_row, failures_of, with_params):
    assert failures_of(make_row(whitelisted=True, rating="CCC"), "whitelist_or_rating") == []
    assert failures_of(make_row(whitelisted=True, rating=None), "whitelist_or_rating") == []
    strict = with_params((("firm", "whitelist_or_rating"), {"accept_whitelist": False}))
    assert len(failures_of(make_row(whitelisted=True, rating="CCC"), "whitelist_or_rating", strict)) == 1


def test_an_unrated_firm_off_the_whitelist_fails(make_row, failures_of):
    [f] = failures_of(make_row(whitelisted=False, rating=None), "whitelist_or_rating")
    assert f.message("zh") == "企业不在白名单内，且没有信用评级（门槛 BBB）"
    assert f.message("en") == "the firm is not on the whitelist and has no rating (threshold BBB)"


def test_a_rating_off_the_scale_fails_and_names_the_rating(make_row, failures_of):
    [f] = failures_of(make_row(whitelisted=False, rating="Baa2"), "whitelist_or_rating")
    assert f.message("en") == ("the firm is not on the whitelist and its rating Baa2 is not on the rating scale "
                               "(threshold BBB)")
    assert "Baa2" in f.message("zh")


def test_ratings_are_compared_without_case_or_an_sf_suffix(make_row, failures_of):
    assert failures_of(make_row(whitelisted=False, rating="aa+sf"), "whitelist_or_rating") == []


def test_an_industry_outside_the_list_fails(make_row, failures_of):
    assert failures_of(make_row(industry="furniture"), "industry") == []
    [f] = failures_of(make_row(industry="real_estate"), "industry")
    assert f.message("zh").startswith("企业所属行业“real_estate”不在允许范围内（允许：rare_earth_tungsten、nev、")
    assert f.message("en").startswith("the firm's industry real_estate is not allowed (allowed: rare_earth_tungsten, nev,")


def test_overdue_history_fails_the_firm(make_row, failures_of):
    assert failures_of(make_row(overdue_history=False), "no_overdue_history") == []
    [f] = failures_of(make_row(overdue_history=True), "no_overdue_history")
    assert (f.message("zh"), f.message("en")) == ("企业有逾期或违约记录", "the firm has an overdue or default history")


def test_a_blacklisted_firm_fails(make_row, failures_of):
    assert failures_of(make_row(blacklisted=False), "not_blacklisted") == []
    [f] = failures_of(make_row(blacklisted=True), "not_blacklisted")
    assert (f.message("zh"), f.message("en")) == ("企业在黑名单内", "the firm is on a blacklist")


def test_a_firm_failure_makes_every_asset_of_the_firm_ineligible_and_is_reported_once(make_row, ganzhou):
    rows = [make_row("A1", "F1", blacklisted=True), make_row("A2", "F1"), make_row("A3", "F2")]
    rep = evaluate_pool(pd.DataFrame(rows), ganzhou, select_best=False)
    assert rep.ineligible_ids == ["A1", "A2"]
    assert [a.asset_eligible for a in rep.assets] == [True, True, True]
    assert [f.criterion for f in rep.failures()] == ["not_blacklisted"]


def test_rows_of_one_firm_that_disagree_are_judged_on_the_worst_and_noted(make_row, ganzhou):
    rows = [make_row("A1", "F1", whitelisted=False, rating="A"), make_row("A2", "F1", whitelisted=False, rating="BB")]
    rep = evaluate_pool(pd.DataFrame(rows), ganzhou, select_best=False)
    [f] = rep.firms[0].failures
    assert f.observed == "BB"
    assert rep.notes == (("F1：多行数据不一致（rating），按最不利的一行判断", "F1: rows disagree on rating; the worst row is used"),)
