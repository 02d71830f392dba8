"""Asset-level criteria: a pass case and a fail case at each boundary, with the reasons in both languages."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ipabs.eligibility.evaluate import add_months, evaluate_pool, months_between

D = dt.date


def test_the_reference_row_passes_every_criterion(make_row, ganzhou):
    rep = evaluate_pool(pd.DataFrame([make_row()]), ganzhou, as_of=D(2026, 4, 15), legal_maturity=D(2028, 4, 20))
    assert rep.assets[0].eligible, rep.assets[0].reasons()


def test_asset_type_outside_the_allowed_list_fails_and_an_allowed_one_passes(make_row, failures_of, with_params):
    c = with_params((("asset", "asset_type"), {"allowed": ["pledge_loan"]}))
    assert failures_of(make_row(asset_type="pledge_loan"), "asset_type", c) == []
    [f] = failures_of(make_row(asset_type="finance_lease"), "asset_type", c)
    assert f.message("zh") == "资产类型“知识产权融资租赁”不在允许范围内（允许：知识产权质押贷款）"
    assert f.message("en") == "asset type IP finance lease is not allowed (allowed: IP-pledge loan)"


def test_an_asset_without_ip_fails_and_one_right_is_enough(make_row, failures_of):
    assert failures_of(make_row(), "ip_present") == []
    bare = make_row(ip_type=[], ip_registration_no=[], ip_expiry_date=[], ip_appraised_value=[], ip_valuation=[],
                    ip_owner_id=[], ip_prior_pledge=[])
    [f] = failures_of(bare, "ip_present")
    assert f.message("zh") == "资产列明的知识产权为 0 项，少于要求的 1 项"
    assert f.message("en") == "the asset lists 0 IP rights, fewer than the required 1"


def test_a_trade_secret_is_not_an_allowed_ip_type_by_default(make_row, failures_of):
    assert failures_of(make_row(ip_type=["utility_model_patent"]), "ip_type") == []
    [f] = failures_of(make_row(ip_type=["trade_secret"], ip_registration_no=[None]), "ip_type")
    assert f.message("zh").startswith("第1项知识产权（商业秘密）的类型“商业秘密”不在允许范围内（允许：发明专利、")
    assert f.message("en").startswith("IP right #1 (trade secret) is of type trade secret, which is not allowed "
                                      "(allowed: invention patent, ")


def test_a_right_expiring_on_the_evaluation_date_is_expired_and_one_day_later_is_in_force(make_row, failures_of):
    as_of = D(2026, 4, 15)
    no_life = {"legal": None}
    r_next = make_row(ip_expiry_date=[as_of + dt.timedelta(days=1)], maturity_date=D(2026, 4, 10))
    assert failures_of(r_next, "ip_not_expired", as_of=as_of, **no_life) == []
    [f] = failures_of(make_row(ip_expiry_date=[as_of]), "ip_not_expired", as_of=as_of, **no_life)
    assert f.message("zh") == "发明专利 ZL202000000001.1已于 2026-04-15 到期（评估日 2026-04-15）"
    assert f.message("en") == "invention patent ZL202000000001.1 expired on 2026-04-15 (evaluation date 2026-04-15)"


def test_a_right_without_expiry_date_fails_the_in_force_check(make_row, failures_of):
    [f] = failures_of(make_row(ip_expiry_date=[None]), "ip_not_expired")
    assert f.message("zh") == "发明专利 ZL202000000001.1未提供权利到期日"
    assert f.message("en") == "invention patent ZL202000000001.1 has no expiry date"


def test_remaining_life_must_reach_the_legal_maturity_plus_the_buffer(make_row, failures_of):
    legal = D(2028, 4, 20)  # + 12 months = 2029-04-20
    assert failures_of(make_row(ip_expiry_date=[D(2029, 4, 20)]), "ip_remaining_life", legal=legal) == []
    [f] = failures_of(make_row(ip_expiry_date=[D(2029, 4, 19)]), "ip_remaining_life", legal=legal)
    assert f.message("zh") == ("发明专利 ZL202000000001.1的权利到期日 2029-04-19 早于要求的 2029-04-20"
                               "（法定到期日后 12 个月）")
    assert f.message("en") == ("invention patent ZL202000000001.1 expires on 2029-04-19, before the required "
                               "2029-04-20 (12 months after the legal maturity)")


def test_without_a_legal_maturity_the_assets_maturity_anchors_the_remaining_life(make_row, failures_of):
    r = make_row(maturity_date=D(2027, 4, 1))
    assert failures_of({**r, "ip_expiry_date": [D(2028, 4, 1)]}, "ip_remaining_life", legal=None) == []
    [f] = failures_of({**r, "ip_expiry_date": [D(2028, 3, 31)]}, "ip_remaining_life", legal=None)
    assert f.message("en").endswith("before the required 2028-04-01 (12 months after the asset's maturity)")
    assert f.message("zh").endswith("早于要求的 2028-04-01（资产到期日后 12 个月）")


def test_a_right_owned_by_someone_else_fails(make_row, failures_of):
    assert failures_of(make_row(ip_owner_id=["F1"]), "ip_owned_by_obligor") == []
    [f] = failures_of(make_row(ip_owner_id=["F9"]), "ip_owned_by_obligor")
    assert f.message("zh") == "发明专利 ZL202000000001.1的权利人为 F9，不是债务人 F1"
    assert f.message("en") == "invention patent ZL202000000001.1 is owned by F9, not by the obligor F1"


def test_a_missing_owner_defaults_to_the_obligor(make_row, failures_of):
    assert failures_of(make_row(ip_owner_id=[None]), "ip_owned_by_obligor") == []


def test_a_right_pledged_elsewhere_fails(make_row, failures_of):
    assert failures_of(make_row(ip_prior_pledge=[False]), "no_prior_pledge") == []
    [f] = failures_of(make_row(ip_prior_pledge=[True]), "no_prior_pledge")
    assert f.message("zh") == "发明专利 ZL202000000001.1已在其他融资中质押"
    assert f.message("en") == "invention patent ZL202000000001.1 is already pledged elsewhere"


def test_a_pledge_loan_on_a_patent_needs_cnipa_registration(make_row, failures_of):
    assert failures_of(make_row(cnipa_pledge_registered=True), "cnipa_pledge_registration") == []
    [f] = failures_of(make_row(cnipa_pledge_registered=False), "cnipa_pledge_registration")
    assert f.message("zh") == "知识产权质押尚未在国家知识产权局办理登记（资产类型：知识产权质押贷款）"
    assert f.message("en") == "the IP pledge is not registered with CNIPA (asset type: IP-pledge loan)"


def test_cnipa_registration_is_not_required_for_copyright_or_for_a_licence(make_row, failures_of):
    copyright_only = make_row(cnipa_pledge_registered=False, ip_type=["copyright"])
    assert failures_of(copyright_only, "cnipa_pledge_registration") == []
    licence = make_row(cnipa_pledge_registered=False, asset_type="royalty_licence")
    assert failures_of(licence, "cnipa_pledge_registration") == []


def test_a_right_without_appraisal_fails_and_one_fen_is_present(make_row, failures_of):
    assert failures_of(make_row(ip_appraised_value=[0.01]), "appraisal_present") == []
    for missing in (0.0, None):
        [f] = failures_of(make_row(ip_appraised_value=[missing]), "appraisal_present")
        assert f.message("zh") == "发明专利 ZL202000000001.1缺少评估价值"
        assert f.message("en") == "invention patent ZL202000000001.1 has no appraised value"


def test_internal_valuation_is_allowed_below_ten_million_and_not_at_ten_million(make_row, failures_of):
    below = make_row(principal=9_999_999.99, ip_valuation=["internal"], ip_appraised_value=[40_000_000.0])
    assert failures_of(below, "external_appraisal") == []
    at = make_row(principal=10_000_000.0, ip_valuation=["internal"], ip_appraised_value=[40_000_000.0])
    [f] = failures_of(at, "external_appraisal")
    assert f.message("zh") == "单笔金额 1,000万元 不低于 1,000万元，须由外部评估机构评估，但发明专利 ZL202000000001.1仅有内部评估"
    assert f.message("en") == ("a loan of CNY 10,000,000 is at or above CNY 10,000,000 and needs an external "
                               "appraisal, but invention patent ZL202000000001.1 has only an internal valuation")
    external = {**at, "ip_valuation": ["external"]}
    assert failures_of(external, "external_appraisal") == []


def test_loan_to_value_of_exactly_thirty_percent_passes(make_row, failures_of):
    assert failures_of(make_row(principal=3_000_000.0, ip_appraised_value=[10_000_000.0]), "loan_to_value") == []


def test_loan_to_value_above_the_limit_reads_naturally_in_both_languages(make_row, failures_of):
    [f] = failures_of(make_row(principal=4_200_000.0, ip_appraised_value=[10_000_000.0]), "loan_to_value")
    assert f.message("zh") == "贷款金额与评估价值之比为 42.0%，超过上限 30.0%"
    assert f.message("en") == "loan-to-value 42.0% exceeds the limit of 30.0%"
    assert f.observed == 0.42 and f.limit == 0.30


def test_loan_to_value_just_above_the_limit_shows_enough_decimals(make_row, failures_of):
    [f] = failures_of(make_row(principal=3_001_000.0, ip_appraised_value=[10_000_000.0]), "loan_to_value")
    assert f.message("en") == "loan-to-value 30.01% exceeds the limit of 30.0%"


def test_loan_to_value_sums_the_appraisals_of_all_rights(make_row, failures_of):
    two = make_row(principal=3_000_000.0, ip_type=["invention_patent", "trademark"],
                   ip_registration_no=["ZL1", "TM2"], ip_expiry_date=[D(2040, 1, 1)] * 2,
                   ip_appraised_value=[6_000_000.0, 4_000_000.0], ip_valuation=["external"] * 2,
                   ip_owner_id=["F1"] * 2, ip_prior_pledge=[False] * 2)
    assert failures_of(two, "loan_to_value") == []


def test_loan_size_limits_are_inclusive(make_row, failures_of):
    assert failures_of(make_row(principal=1_000_000.0), "loan_size") == []
    assert failures_of(make_row(principal=30_000_000.0), "loan_size") == []
    [low] = failures_of(make_row(principal=999_999.99), "loan_size")
    assert low.message("zh") == "单笔金额 99.999999万元 低于下限 100万元"
    assert low.message("en") == "the amount of CNY 999,999.99 is below the minimum of CNY 1,000,000"
    [high] = failures_of(make_row(principal=30_000_000.01), "loan_size")
    assert high.message("zh") == "单笔金额 3,000.000001万元 超过上限 3,000万元"
    assert high.message("en") == "the amount of CNY 30,000,000.01 exceeds the maximum of CNY 30,000,000"


def test_a_term_of_exactly_thirty_six_months_passes_and_one_day_more_fails(make_row, failures_of):
    start = D(2026, 1, 15)
    ok = make_row(start_date=start, maturity_date=D(2029, 1, 15))
    assert failures_of(ok, "loan_term", legal=None) == []
    [f] = failures_of({**ok, "maturity_date": D(2029, 1, 16)}, "loan_term", legal=None)
    assert f.message("zh") == "期限 36.03 个月，超过上限 36 个月"
    assert f.message("en") == "the term of 36.03 months exceeds the maximum of 36 months"


def test_a_term_of_exactly_six_months_passes_and_one_day_less_fails(make_row, failures_of):
    start = D(2026, 1, 15)
    assert failures_of(make_row(start_date=start, maturity_date=D(2026, 7, 15)), "loan_term") == []
    [f] = failures_of(make_row(start_date=start, maturity_date=D(2026, 7, 14)), "loan_term")
    assert f.message("zh") == "期限 5.97 个月，短于下限 6 个月"
    assert f.message("en") == "the term of 5.97 months is shorter than the minimum of 6 months"


def test_an_asset_maturing_after_the_legal_maturity_fails_and_on_it_passes(make_row, failures_of):
    legal = D(2027, 4, 1)
    assert failures_of(make_row(maturity_date=legal), "matures_before_legal_maturity", legal=legal) == []
    [f] = failures_of(make_row(maturity_date=D(2027, 4, 2)), "matures_before_legal_maturity", legal=legal)
    assert f.message("zh") == "资产到期日 2027-04-02 晚于 2027-04-01（法定到期日前 0 个月）"
    assert f.message("en") == "the asset matures on 2027-04-02, after 2027-04-01 (0 months before the legal maturity)"
    assert failures_of(make_row(maturity_date=D(2030, 1, 1)), "matures_before_legal_maturity", legal=None) == []


def test_a_disabled_criterion_is_not_applied(make_row, failures_of, with_params):
    c = with_params((("asset", "loan_to_value"), {"enabled": False}))
    assert failures_of(make_row(principal=9_000_000.0, ip_appraised_value=[10_000_000.0]), "loan_to_value", c) == []


def test_every_failed_right_is_reported_with_its_position(make_row, ganzhou):
    r = make_row(ip_type=["invention_patent", "trademark"], ip_registration_no=[None, None],
                 ip_expiry_date=[D(2040, 1, 1), D(2020, 1, 1)], ip_appraised_value=[20e6, 4e6],
                 ip_valuation=["external"] * 2, ip_owner_id=["F1", "F2"], ip_prior_pledge=[False, True])
    rep = evaluate_pool(pd.DataFrame([r]), ganzhou, as_of=D(2026, 4, 15), legal_maturity=D(2028, 4, 20),
                        select_best=False)
    got = [(f.criterion, f.ip_index) for f in rep.assets[0].failures]
    assert got == [("ip_not_expired", 1), ("ip_remaining_life", 1), ("ip_owned_by_obligor", 1),
                   ("no_prior_pledge", 1)]
    assert rep.assets[0].failures[0].message("zh").startswith("第2项知识产权（商标）已于 2020-01-01 到期")


def test_month_arithmetic_clamps_to_the_end_of_the_month():
    assert add_months(D(2026, 1, 31), 1) == D(2026, 2, 28)
    assert add_months(D(2024, 2, 29), 12) == D(2025, 2, 28)
    assert add_months(D(2026, 3, 15), -3) == D(2025, 12, 15)
    assert months_between(D(2026, 1, 15), D(2029, 1, 15)) == 36
    assert 36 < months_between(D(2026, 1, 15), D(2029, 1, 16)) < 36.1
