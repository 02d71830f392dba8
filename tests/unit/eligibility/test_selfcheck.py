"""Enterprise self-check: eligibility with reasons, financing range, expected subsidy, all-in cost."""

from __future__ import annotations

import datetime as dt

import pytest

import ipabs.eligibility.selfcheck as sc
from ipabs.eligibility.selfcheck import expected_subsidy, load_selfcheck, self_check
from ipabs.errors import InputError

D = dt.date


def base(**over):
    data = {
        "as_of": D(2026, 5, 1),
        "firm": {"name": "示例公司", "obligor_id": "X1", "county": "章贡区", "industry": "nev", "rating": "A",
                 "whitelisted": True},
        "request": {"amount": 6_000_000, "term_months": 12, "start_date": D(2026, 6, 1)},
        "ip": [{"type": "invention_patent", "registration_no": "ZL1", "expiry_date": D(2040, 1, 1),
                "appraised_value": 30_000_000, "valuation": "external"}],
    }
    for k, v in over.items():
        data[k] = {**data[k], **v} if isinstance(v, dict) and k in data else v
    return data


def test_the_example_file_is_eligible_with_its_range_subsidy_and_cost(scenarios_dir):
    data, path = load_selfcheck(scenarios_dir / "selfcheck-example.toml")
    r = self_check(data, base_dir=path.parent)
    assert r.eligible and r.reasons() == []
    assert r.conditions == (("在国家知识产权局办理知识产权质押登记", "register the IP pledge with CNIPA"),)
    assert (r.financing.minimum, r.financing.maximum, r.financing.binding) == (1_000_000, 8_700_000, "ltv")
    assert r.subsidy.amount == 280_000  # 3.5% x 8,000,000
    c = r.cost
    assert c.before_subsidy == pytest.approx(0.028 + 0.005 + 0.010 + 50_000 / 8_000_000)
    assert c.after_subsidy == pytest.approx(c.before_subsidy - 0.035)
    en, zh = "\n".join(r.lines("en")), "\n".join(r.lines("zh"))
    assert "Result: eligible for the pool" in en and "Expected securitization subsidy: CNY 280,000" in en
    assert "结论：可以入池" in zh and "预计证券化补贴：28万元" in zh


def test_an_ineligible_firm_gets_its_reasons_and_no_subsidy():
    r = self_check(base(firm={"whitelisted": False, "rating": "BB"}))
    assert not r.eligible
    assert r.reasons("en") == ["the firm is not on the whitelist and its rating BB is below the threshold of BBB"]
    assert r.reasons("zh") == ["企业不在白名单内，且信用评级 BB 低于门槛 BBB"]
    assert r.subsidy.amount == 0
    assert "Expected securitization subsidy: none" in "\n".join(r.lines("en"))


def test_the_financing_range_is_the_ltv_limit_times_the_eligible_appraisal():
    r = self_check(base(ip=[
        {"type": "invention_patent", "expiry_date": D(2040, 1, 1), "appraised_value": 20_000_000},
        {"type": "trademark", "expiry_date": D(2026, 12, 31), "appraised_value": 50_000_000}]))  # expired by then
    assert r.financing.maximum == pytest.approx(6_000_000) and r.financing.binding == "ltv"
    assert not r.eligible  # the short-lived trademark fails the asset


def test_internal_valuation_caps_the_range_below_ten_million():
    r = self_check(base(ip=[{"type": "invention_patent", "expiry_date": D(2040, 1, 1),
                             "appraised_value": 50_000_000, "valuation": "internal"}]))
    assert r.financing.maximum == pytest.approx(9_999_999.99) and r.financing.binding == "internal"
    with_external = self_check(base(ip=[
        {"type": "invention_patent", "expiry_date": D(2040, 1, 1), "appraised_value": 50_000_000,
         "valuation": "internal"},
        {"type": "invention_patent", "expiry_date": D(2040, 1, 1), "appraised_value": 40_000_000}]))
    assert with_external.financing.maximum == pytest.approx(12_000_000)  # 30% x 40M external beats the ceiling


def test_the_maximum_loan_size_caps_the_range():
    r = self_check(base(ip=[{"type": "invention_patent", "expiry_date": D(2040, 1, 1),
                             "appraised_value": 500_000_000}]))
    assert (r.financing.maximum, r.financing.binding) == (30_000_000, "size")


def test_a_request_above_the_range_fails_and_says_so():
    r = self_check(base(request={"amount": 12_000_000}))
    assert [f.criterion for f in r.failures] == ["loan_to_value"]
    assert any("above the maximum of CNY 9,000,000" in line for line in r.lines("en"))


def test_the_subsidy_is_three_and_a_half_percent_capped_at_one_million_per_firm_and_year():
    assert expected_subsidy("F", 10_000_000, 2026).amount == 350_000
    assert expected_subsidy("F", 40_000_000, 2026).amount == 1_000_000
    assert expected_subsidy("F", 10_000_000, 2026, earlier_this_year=20_000_000).amount == 300_000
    assert expected_subsidy("F", 10_000_000, 2026, earlier_this_year=40_000_000).amount == 0


def test_the_subsidy_fallback_applies_the_same_rule_without_the_policy_engine(monkeypatch):
    def no_engine(name):
        raise ImportError("ipabs.policy not available")

    monkeypatch.setattr(sc, "_policy", no_engine)
    s = expected_subsidy("F", 10_000_000, 2026, earlier_this_year=20_000_000)
    assert (s.amount, s.engine) == (300_000, "fallback")
    assert expected_subsidy("F", 12_345_678.91, 2026).amount == 432_098.76  # rounded down to the fen


def test_an_explicitly_unregistered_pledge_fails_instead_of_becoming_a_to_do():
    r = self_check(base(request={"cnipa_pledge_registered": False}))
    assert [f.criterion for f in r.failures] == ["cnipa_pledge_registration"] and r.conditions == ()


def test_cost_assumptions_can_be_overridden():
    r = self_check(base(cost={"coupon": 0.03, "guarantee_fee": 0.0, "programme_fees": 0.0, "upfront_costs": 0}))
    assert r.cost.before_subsidy == pytest.approx(0.03)
    assert r.cost.after_subsidy == pytest.approx(0.03 - 210_000 / 6_000_000)


def test_an_invalid_self_check_file_names_the_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[firm]\nname = "x"\ncolour = "red"\n[request]\namount = -5\nterm_months = 12\n', encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_selfcheck(path)
    got = {(i.table, i.field) for i in e.value.issues}
    assert ("firm", "colour") in got and ("request", "amount") in got
