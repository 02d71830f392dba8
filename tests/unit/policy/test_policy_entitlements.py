"""Hand-computed entitlements, exact to the fen (policy text: items 8, 11 and 四(二) of the Ganzhou draft plan)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from policy_helpers import loan, sec

from ipabs.errors import InputError
from ipabs.policy import reasons as R
from ipabs.policy.entitlements import compute_entitlements, interest_by_year, months_by_year
from ipabs.policy.io import load_policy
from ipabs.policy.money import Rate

SEC = "securitization_subsidy"
PAT = "pledge_patent_subsidy"
OIP = "pledge_other_ip_subsidy"
INT = "interest_subsidy"


def codes(e):
    return [r.code for r in e.reasons]


# --- securitization (item 11) ------------------------------------------------------------------------------------


def test_cap_boundary_financing_28571428_57_gives_999999_99_under_round_down(ganzhou):
    # 28,571,428.57 x 3.5% = 999,999.99995 exactly; truncated to the fen (the preset's rule) it is 999,999.99,
    # below the 1,000,000 cap, so the cap does not bind.
    rep = compute_entitlements(ganzhou, [sec("A", "D1", 2027, "28571428.57")])
    e = rep.get("A", SEC, 2027)
    assert e.payable == Decimal("999999.99")
    assert e.gross_fen == 99_999_999
    assert not e.cap_binds and e.caps == []
    assert "28,571,428.57 x 3.5% = 999,999.99995 -> 999,999.99" in e.reasons[0].en


def test_cap_boundary_under_round_half_up_gives_1000000_00_and_the_cap_is_reached_not_cut(ganzhou):
    half_up = ganzhou.model_copy(update={"rounding": "half_up"})
    e = compute_entitlements(half_up, [sec("A", "D1", 2027, "28571428.57")]).get("A", SEC, 2027)
    assert e.payable == Decimal("1000000.00")
    assert not e.cap_binds  # exactly at the cap: nothing is cut


@pytest.mark.parametrize(("financing", "payable", "binds"), [
    ("28571428.58", "1000000.00", False),  # 1,000,000.0003 -> 1,000,000.00 = cap
    ("28571428.85", "1000000.00", False),  # 1,000,000.00975 -> 1,000,000.00: reached, not cut
    ("28571428.86", "1000000.00", True),  # 1,000,000.0101 -> 1,000,000.01 -> cut by 0.01
    ("28571429.00", "1000000.00", True),  # 1,000,000.015 -> 1,000,000.01 -> cut by 0.01
    ("28571428.56", "999999.99", False),  # 999,999.9996 -> 999,999.99
    ("1.00", "0.03", False),  # 0.035 -> 0.03 (truncated)
    ("0.28", "0.00", False),  # 0.0098 -> 0.00
])
def test_amounts_around_the_cap_and_the_fen(ganzhou, financing, payable, binds):
    e = compute_entitlements(ganzhou, [sec("A", "D1", 2027, financing)]).get("A", SEC, 2027)
    assert e.payable == Decimal(payable)
    assert e.cap_binds is binds


def test_several_deals_of_one_firm_in_one_year_share_the_cap(ganzhou):
    rep = compute_entitlements(ganzhou, [sec("A", "D1", 2027, "20000000"), sec("A", "D2", 2027, "10000000"),
                                         sec("A", "D3", 2028, "5000000")])
    e27 = rep.get("A", SEC, 2027)
    assert e27.gross == Decimal("1050000.00")  # 700,000 + 350,000
    assert e27.payable == Decimal("1000000.00")
    assert e27.cap_reduction_fen == 5_000_000  # 50,000.00
    assert codes(e27) == [R.RATE_APPLIED, R.RATE_APPLIED, R.CAP_PER_FIRM_YEAR]
    assert rep.payable("A", 2028, SEC) == Decimal("175000.00")
    assert rep.get("A", SEC, 2028).pay_year == 2028


def test_deals_across_a_year_boundary_each_get_their_own_years_cap(ganzhou):
    same_year = compute_entitlements(ganzhou, [sec("A", "D1", 2027, "25000000"), sec("A", "D2", 2027, "25000000")])
    across = compute_entitlements(ganzhou, [sec("A", "D1", 2027, "25000000"), sec("A", "D2", 2028, "25000000")])
    assert same_year.payable("A") == Decimal("1000000.00")
    assert across.payable("A") == Decimal("1750000.00")  # 875,000 in 2027 and 875,000 in 2028
    assert across.total_by_pay_year() == {2027: 87_500_000, 2028: 87_500_000}


def test_rounding_is_per_financing_then_summed_then_capped(ganzhou):
    # two financings of 1.00: 0.035 -> 0.03 each, 0.06 in all (not 0.07 from rounding the sum)
    rep = compute_entitlements(ganzhou, [sec("A", "D1", 2027, "1.00"), sec("A", "D2", 2027, "1.00")])
    assert rep.payable("A") == Decimal("0.06")


def test_an_already_funded_project_gets_nothing_and_says_why(ganzhou):
    rep = compute_entitlements(ganzhou, [sec("A", "D1", 2027, "10000000", already_funded=True),
                                         sec("A", "D2", 2027, "10000000")])
    e = rep.get("A", SEC, 2027)
    assert e.payable == Decimal("350000.00")
    ex = e.exclusions
    assert [r.code for r in ex] == [R.ALREADY_FUNDED] and ex[0].source_id == "D1"
    assert "municipal IP special fund" in ex[0].en
    assert "不重复资助" in ex[0].zh


def test_a_firm_not_in_the_pool_or_without_financing_gets_nothing(ganzhou):
    rep = compute_entitlements(ganzhou, [sec("A", "D1", 2027, "10000000", in_pool=False),
                                         sec("B", "D1", 2027, "0")])
    assert rep.payable() == 0
    assert [r.code for r in rep.get("A", SEC, 2027).exclusions] == [R.NOT_IN_POOL]
    assert [r.code for r in rep.get("B", SEC, 2027).exclusions] == [R.NO_FINANCING]


def test_the_result_does_not_depend_on_the_order_of_the_financings(ganzhou):
    items = [sec("A", "D1", 2027, "20000000"), sec("B", "D1", 2027, "7000000"), sec("A", "D2", 2027, "9000000"),
             sec("A", "D3", 2028, "1000000")]
    a = compute_entitlements(ganzhou, items).to_frame()
    b = compute_entitlements(ganzhou, list(reversed(items))).to_frame()
    assert a.equals(b)


def test_xian_caps_a_firm_at_1000000_over_all_years():
    xian = load_policy("xian")
    rep = compute_entitlements(xian, [sec("A", "D1", 2027, "20000000"), sec("A", "D2", 2028, "20000000"),
                                      sec("A", "D3", 2029, "5000000")])
    assert rep.payable("A", 2027) == Decimal("600000.00")
    e28 = rep.get("A", SEC, 2028)
    assert e28.payable == Decimal("400000.00") and codes(e28)[-1] == R.CAP_PER_FIRM
    assert rep.payable("A", 2029) == 0
    assert rep.payable("A") == Decimal("1000000.00")


def test_a_larger_earlier_financing_moves_the_xian_cap_forward_but_never_lowers_what_a_firm_has_received():
    xian = load_policy("xian")
    a = compute_entitlements(xian, [sec("A", "D1", 2027, "20000000"), sec("A", "D2", 2028, "20000000")])
    b = compute_entitlements(xian, [sec("A", "D1", 2027, "30000000"), sec("A", "D2", 2028, "20000000")])
    assert (a.payable("A", 2027), a.payable("A", 2028)) == (Decimal("600000.00"), Decimal("400000.00"))
    assert (b.payable("A", 2027), b.payable("A", 2028)) == (Decimal("900000.00"), Decimal("100000.00"))
    assert b.payable("A") == a.payable("A") == Decimal("1000000.00")


def test_guangzhou_pays_1_percent_of_issuance_to_the_issuer_capped_per_product():
    gz = load_policy("guangzhou-2023")
    rep = compute_entitlements(gz, [
        sec("F1", "BIG", 2027, "300000000", issuer_id="ISS", issuance=Decimal("500000000")),
        sec("F2", "BIG", 2027, "200000000", issuer_id="ISS", issuance=Decimal("500000000")),
        sec("F3", "SMALL", 2027, "100000000", issuer_id="ISS"),
    ])
    e = rep.get("ISS", SEC, 2027)
    assert e.payable == Decimal("5000000.00")  # min(5,000,000, 4,000,000) + 1,000,000
    assert [r.code for r in e.caps] == [R.CAP_PER_PRODUCT]
    assert rep.payable("F1") == 0  # the pooled firms get nothing under this policy


# --- pledge loans (item 8) ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "payable", "code"), [
    ("4999999.99", "0.00", R.LOAN_NOT_ABOVE_THRESHOLD),
    ("5000000.00", "0.00", R.LOAN_NOT_ABOVE_THRESHOLD),  # 超过500万: strictly above
    ("5000000.01", "20000.00", R.PER_PATENT),
])
def test_pledge_loans_just_below_at_and_above_5000000(ganzhou, amount, payable, code):
    rep = compute_entitlements(ganzhou, loans=[loan("L1", "A", amount, patents=2)])
    e = rep.get("A", PAT, 2028)  # 2027-03-15 + 12 months: settled in 2028
    assert e.payable == Decimal(payable)
    assert codes(e) == [code]


def test_a_firm_with_5_pledged_invention_patents_is_capped_at_40000(ganzhou):
    e = compute_entitlements(ganzhou, loans=[loan("L1", "A", "8000000", patents=5)]).get("A", PAT, 2028)
    assert e.gross == Decimal("50000.00")
    assert e.payable == Decimal("40000.00")
    assert codes(e) == [R.PER_PATENT, R.CAP_PER_FIRM_YEAR]
    assert e.reasons[0].en.endswith("5 x 10,000.00 = 50,000.00")


def test_patents_of_two_loans_settled_in_one_year_share_the_firm_cap(ganzhou):
    rep = compute_entitlements(ganzhou, loans=[loan("L1", "A", "6000000", patents=3),
                                               loan("L2", "A", "7000000", patents=2, start=dt.date(2027, 6, 1)),
                                               loan("L3", "A", "7000000", patents=2, start=dt.date(2028, 6, 1))])
    assert rep.payable("A", 2028, PAT) == Decimal("40000.00")  # 50,000 capped
    assert rep.payable("A", 2029, PAT) == Decimal("20000.00")


def test_the_pledge_subsidy_is_paid_in_the_year_the_loan_is_settled(ganzhou):
    rep = compute_entitlements(ganzhou, loans=[loan("L1", "A", "6000000", start=dt.date(2027, 1, 10), term=11),
                                               loan("L2", "B", "6000000", start=dt.date(2027, 1, 10), term=12)])
    assert rep.get("A", PAT, 2027).pay_year == 2027  # settled December 2027
    assert rep.get("B", PAT, 2028).pay_year == 2028  # settled January 2028


def test_no_pledge_subsidy_before_repayment_after_default_or_without_registration(ganzhou):
    rep = compute_entitlements(ganzhou, loans=[
        loan("L1", "A", "6000000", status="outstanding"),
        loan("L2", "B", "6000000", status="defaulted", default_year=2027),
        loan("L3", "C", "6000000", registered=False),
        loan("L4", "D", "6000000", patents=0),
        loan("L5", "E", "6000000", already_funded=True),
    ])
    assert rep.payable() == 0
    assert codes(rep.get("A", PAT, 2028)) == [R.LOAN_NOT_SETTLED]
    assert codes(rep.get("B", PAT, 2028)) == [R.LOAN_DEFAULTED]
    assert codes(rep.get("C", PAT, 2028)) == [R.PLEDGE_NOT_REGISTERED]
    assert codes(rep.get("D", PAT, 2028)) == [R.NO_INVENTION_PATENT]
    assert codes(rep.get("E", PAT, 2028)) == [R.ALREADY_FUNDED]


def test_every_exclusion_that_applies_is_listed(ganzhou):
    e = compute_entitlements(ganzhou, loans=[loan("L1", "A", "5000000", registered=False, status="outstanding")]
                             ).get("A", PAT, 2028)
    assert set(codes(e)) == {R.PLEDGE_NOT_REGISTERED, R.LOAN_NOT_ABOVE_THRESHOLD, R.LOAN_NOT_SETTLED}


def test_other_ip_added_to_an_invention_patent_pledge_pays_10000_per_firm_per_year(ganzhou):
    rep = compute_entitlements(ganzhou, loans=[
        loan("L1", "A", "6000000", other_ip_types=("trademark",)),
        loan("L2", "A", "6000000", other_ip_types=("copyright", "data_ip"), start=dt.date(2027, 5, 1)),
        loan("L3", "B", "6000000", patents=0, other_ip_types=("geographic_indication",)),
    ])
    e = rep.get("A", OIP, 2028)
    assert e.gross == Decimal("20000.00") and e.payable == Decimal("10000.00")
    assert codes(rep.get("B", OIP, 2028)) == [R.NO_INVENTION_PATENT]
    assert rep.payable("A", 2028) == Decimal("30000.00")  # 2 x 10,000 patents + 10,000 other IP


def test_reasons_come_in_both_languages(ganzhou):
    e = compute_entitlements(ganzhou, loans=[loan("L1", "A", "8000000", patents=5)]).get("A", PAT, 2028)
    cap = e.caps[0]
    assert cap.en == "cap per firm per year: 50,000.00 > 40,000.00"
    assert cap.zh == "单个企业年度补贴上限: 50,000.00 > 40,000.00"


# --- interest subsidy (Beijing Zhongguancun) ---------------------------------------------------------------------


def test_beijing_pays_40_percent_of_interest_paid_each_year():
    bj = load_policy("beijing-zgc")
    rep = compute_entitlements(bj, loans=[loan("L1", "A", "10000000", start=dt.date(2027, 4, 1), rate=Decimal(
        "0.036"))], lpr="0.030")
    # 10,000,000 x 3.6% x 9/12 = 270,000 in 2027 (April-December); x 3/12 = 90,000 in 2028
    assert rep.get("A", INT, 2027).base == Decimal("270000.00")
    assert rep.payable("A", 2027) == Decimal("108000.00")
    assert rep.payable("A", 2028) == Decimal("36000.00")


def test_beijing_rate_test_is_exact_at_lpr_times_1_4():
    bj = load_policy("beijing-zgc")
    at = compute_entitlements(bj, loans=[loan("L1", "A", "1000000", rate=Decimal("0.042"))], lpr="0.03")
    above = compute_entitlements(bj, loans=[loan("L1", "A", "1000000", rate=Decimal("0.042001"))], lpr="0.03")
    assert at.payable() > 0  # 0.042 <= 0.03 x 1.4 exactly (in floats 0.03 * 1.4 = 0.041999...)
    assert above.payable() == 0
    assert R.RATE_ABOVE_LPR_LIMIT in codes(above.entitlements[0])


def test_beijing_caps_at_500000_per_firm_per_year_and_needs_an_lpr():
    bj = load_policy("beijing-zgc")
    rep = compute_entitlements(bj, loans=[loan("L1", "A", "200000000", start=dt.date(2027, 1, 1), rate=Decimal(
        "0.036"))], lpr="0.03")
    assert rep.payable("A", 2027) == Decimal("500000.00")  # 40% of 7,200,000 = 2,880,000 capped
    with pytest.raises(InputError, match="LPR"):
        compute_entitlements(bj, loans=[loan("L1", "A", "1000000", rate=Decimal("0.036"))])


def test_no_interest_subsidy_from_the_default_year_on():
    bj = load_policy("beijing-zgc")
    rep = compute_entitlements(bj, loans=[loan("L1", "A", "10000000", start=dt.date(2027, 4, 1), rate=Decimal(
        "0.036"), status="defaulted", default_year=2028)], lpr="0.03")
    assert rep.payable("A", 2027) == Decimal("108000.00")
    assert rep.payable("A", 2028) == 0
    assert codes(rep.get("A", INT, 2028)) == [R.LOAN_DEFAULTED]


def test_interest_accrues_by_calendar_month():
    assert months_by_year(dt.date(2027, 11, 30), 14) == {2027: 2, 2028: 12}
    assert interest_by_year(100, Rate.of("0.05"), dt.date(2027, 12, 1), 1) == {2027: 0}  # 0.4166 fen -> 0
    assert interest_by_year(1_000_000, Rate.of("0.05"), dt.date(2027, 12, 1), 2) == {2027: 4167, 2028: 4167}
