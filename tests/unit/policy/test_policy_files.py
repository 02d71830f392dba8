"""Policies are data: presets load and cite their clause; a user file validates; a bad file names its problems."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from policy_helpers import sec

from ipabs.errors import InputError
from ipabs.policy.entitlements import compute_entitlements
from ipabs.policy.io import PRESET_DIR, list_presets, load_policy

PRESETS = ["beijing-zgc", "ganzhou-2025", "guangzhou-2023", "shenzhen", "xian", "zhongshan", "zhuhai"]


def test_the_presets_are_the_confirmed_or_policy_stated_ones():
    assert list_presets() == PRESETS
    for name in PRESETS:
        p = load_policy(name)
        assert p.name == name
        assert p.status in ("C", "P"), "only [C] or [P] terms ship as presets (DOMAIN.md §7)"
        for rule in (p.securitization, p.pledge_patent, p.pledge_other_ip, p.interest_subsidy, p.risk_compensation):
            if rule is not None:
                assert rule.clause, f"{name}: every rule cites its clause"


def test_the_ganzhou_preset_holds_the_numbers_of_items_8_and_11():
    p = load_policy("ganzhou-2025")
    assert p.securitization.rate == Decimal("0.035")
    assert p.securitization.cap_per_firm_year == Decimal("1000000")
    assert p.pledge_patent.loan_amount_above == Decimal("5000000")
    assert p.pledge_patent.amount_per_patent == Decimal("10000")
    assert p.pledge_patent.cap_per_firm_year == Decimal("40000")
    assert p.pledge_other_ip.cap_per_firm_year == Decimal("10000")
    assert p.exclusions.already_funded
    assert "三(二)11" in p.securitization.clause and "四(二)" in p.exclusions.clause
    assert p.risk_compensation is None  # item 13 states no splits or size
    assert any("upper bound" in a for a in p.assumptions), "interpretations are labelled, not silent"


def test_no_preset_hard_codes_an_lpr_or_a_fund_size():
    assert load_policy("beijing-zgc").interest_subsidy.lpr is None
    for name in ("zhongshan", "zhuhai", "shenzhen"):
        assert load_policy(name).risk_compensation.fund_size is None


def test_the_loss_shares_of_the_fund_presets():
    shares = {n: {k: float(v) for k, v in load_policy(n).risk_compensation.shares.items()}
              for n in ("zhongshan", "zhuhai", "shenzhen")}
    assert shares["zhongshan"] == {"fund": 0.54, "bank": 0.26, "insurer": 0.16, "appraiser": 0.04}
    assert shares["zhuhai"] == {"fund": 0.40, "bank": 0.60}
    assert shares["shenzhen"] == {"fund": 0.5, "bank": 0.5}


def test_a_user_can_write_a_new_policy(tmp_path: Path):
    f = tmp_path / "my-city.toml"
    f.write_text('''
name = "my-city"
title = "example"
jurisdiction = "somewhere"
source = "a test"
status = "U"
rounding = "half_up"
assumptions = ["made up for a test"]
[securitization]
clause = "art. 1"
rate = 0.02
cap_per_firm_year = 300000
''', encoding="utf-8")
    p = load_policy(f)
    rep = compute_entitlements(p, [sec("A", "D1", 2027, "10000000"), sec("A", "D2", 2027, "10000000")])
    assert rep.payable("A") == Decimal("300000.00")


def test_a_bad_policy_file_lists_every_problem_with_file_table_and_field(tmp_path: Path):
    f = tmp_path / "bad.toml"
    f.write_text('''
name = "bad"
title = "t"
jurisdiction = "j"
source = "s"
status = "C"
rounding = "sideways"
[securitization]
clause = "x"
rate = 1.5
cap_per_firm_year = 1000000.001
colour = "blue"
[risk_compensation]
clause = "y"
shares = { fund = 0.5, bank = 0.4 }
''', encoding="utf-8")
    with pytest.raises(InputError) as ei:
        load_policy(f)
    got = {(i.table, i.field) for i in ei.value.issues}
    assert {(None, "rounding"), ("securitization", "rate"), ("securitization", "cap_per_firm_year"),
            ("securitization", "colour")} <= got
    assert any(i.table == "risk_compensation" and "sum to exactly 1" in i.message for i in ei.value.issues)
    assert all(i.file == str(f) for i in ei.value.issues)


def test_a_file_that_is_not_toml_or_an_unknown_name_is_an_input_error(tmp_path: Path):
    f = tmp_path / "x.toml"
    f.write_text("name = [", encoding="utf-8")
    with pytest.raises(InputError, match="not valid TOML"):
        load_policy(f)
    with pytest.raises(InputError, match="ganzhou-2025"):
        load_policy("atlantis-2030")


def test_the_preset_files_are_plain_toml_citing_their_source():
    for f in PRESET_DIR.glob("*.toml"):
        text = f.read_text(encoding="utf-8")
        data = tomllib.loads(text)
        assert data["source"] and text.startswith("#"), f"{f.name} starts with a comment citing its source"
