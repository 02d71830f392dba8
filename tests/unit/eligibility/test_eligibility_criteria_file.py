"""Criteria as data: the bundled Ganzhou set, user files extending it, and invalid files reported by file and key."""

from __future__ import annotations

import re

import pytest

from ipabs.eligibility.criteria import bundled_criteria_names, load_criteria
from ipabs.errors import InputError

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_the_ganzhou_default_set_is_bundled_and_loads(ganzhou):
    assert "ganzhou-default" in bundled_criteria_names()
    assert ganzhou.name == "ganzhou-default"
    assert len(ganzhou.all_criteria()) == 23


def test_every_criterion_names_its_source_and_has_reasons_in_both_languages(ganzhou):
    for level, cid, crit in ganzhou.all_criteria():
        assert crit.source.strip(), f"{level}.{cid} has no source"
        for name, value in crit:
            if name.startswith("reason_") and value is not None:
                if name.endswith("_zh"):
                    assert HAN.search(value), f"{level}.{cid}.{name} is not Chinese"
                else:
                    assert not HAN.search(value.replace("{", "").replace("}", "")), f"{level}.{cid}.{name}"


def test_the_default_thresholds_and_their_sources(ganzhou):
    a, f, p = ganzhou.asset, ganzhou.firm, ganzhou.pool
    assert a.loan_to_value.max_ltv == 0.30
    assert "market practice, DOMAIN.md §4 [C yinuoip]" in a.loan_to_value.source
    assert a.external_appraisal.threshold == 10_000_000 and "policy item 4" in a.external_appraisal.source
    assert "policy item 5" in f.whitelist_or_rating.source
    assert len(f.region.counties) == 21
    assert (p.single_obligor.max_share, p.top_obligors.max_share, p.top_obligors.count,
            p.single_industry.max_share, p.single_county.max_share) == (0.15, 0.60, 5, 0.50, 0.60)


def write(tmp_path, text, name="deal.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_user_file_extends_the_default_and_changes_only_what_it_states(tmp_path):
    path = write(tmp_path, '''
extends = "ganzhou-default"
[asset.loan_to_value]
max_ltv = 0.25
[pool.single_industry]
max_share = 1.0
source = "sector-themed deal: 稀土钨产业链 (DOMAIN.md §3)"
[firm.industry]
enabled = false
''')
    c = load_criteria(path)
    assert c.name == "deal"
    assert c.asset.loan_to_value.max_ltv == 0.25
    assert c.asset.loan_to_value.reason_en == "loan-to-value {observed} exceeds the limit of {limit}"
    assert c.pool.single_industry.max_share == 1.0
    assert "firm" not in {lvl for lvl, cid, _ in c.all_criteria() if cid == "industry"}


def test_a_file_can_extend_another_file(tmp_path):
    write(tmp_path, 'extends = "ganzhou-default"\nname = "programme"\n[asset.loan_size]\nmax_principal = 5e6\n',
          "programme.toml")
    c = load_criteria(write(tmp_path, 'extends = "programme.toml"\n[asset.loan_to_value]\nmax_ltv = 0.2\n'))
    assert (c.asset.loan_size.max_principal, c.asset.loan_to_value.max_ltv) == (5e6, 0.2)


def test_a_complete_file_without_extends_applies_only_its_criteria(tmp_path):
    c = load_criteria(write(tmp_path, '''
name = "ltv-only"
[asset.loan_to_value]
label_zh = "质押率"
label_en = "loan-to-value"
max_ltv = 0.5
source = "programme rule"
reason_zh = "质押率 {observed} 超过 {limit}"
reason_en = "LTV {observed} above {limit}"
'''))
    assert [cid for _, cid, _ in c.all_criteria()] == ["loan_to_value"]


def problems(path):
    with pytest.raises(InputError) as e:
        load_criteria(path)
    return e.value.issues


def test_an_unknown_key_is_reported_with_file_table_and_key(tmp_path):
    path = write(tmp_path, 'extends = "ganzhou-default"\n[asset.loan_to_value]\nmax_lvt = 0.25\n')
    [i] = problems(path)
    assert (i.file, i.table, i.field) == (str(path), "asset.loan_to_value", "max_lvt")
    assert "unknown key" in i.message


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    path = write(tmp_path, '''
extends = "ganzhou-default"
[asset.loan_to_value]
max_ltv = -1
[pool.single_obligor]
max_share = 1.5
[asset.ip_type]
allowed = ["patent"]
''')
    got = {(i.table, i.field) for i in problems(path)}
    assert {("asset.loan_to_value", "max_ltv"), ("pool.single_obligor", "max_share")} <= got
    assert any(t == "asset.ip_type.allowed" or f == "allowed" or (t or "").startswith("asset.ip_type") for t, f in got)


def test_a_reason_with_an_unknown_placeholder_names_the_template_key(tmp_path):
    path = write(tmp_path, 'extends = "ganzhou-default"\n[asset.loan_to_value]\nreason_en = "LTV {ltv} too high"\n')
    [i] = problems(path)
    assert i.table == "asset.loan_to_value" and i.field == "reason_en"
    assert "{ltv}" not in i.message and "ltv" in i.message


def test_a_criterion_without_source_or_reasons_is_reported_when_nothing_is_extended(tmp_path):
    path = write(tmp_path, 'name = "x"\n[asset.loan_to_value]\nlabel_zh = "质押率"\nlabel_en = "LTV"\nmax_ltv = 0.3\n')
    fields = {i.field for i in problems(path)}
    assert {"source", "reason_zh", "reason_en"} <= fields


def test_inconsistent_ranges_are_rejected(tmp_path):
    path = write(tmp_path, 'extends = "ganzhou-default"\n[asset.loan_size]\nmin_principal = 5e6\nmax_principal = 1e6\n')
    [i] = problems(path)
    assert i.table == "asset.loan_size" and "below min_principal" in i.message


def test_a_rating_threshold_off_the_scale_is_rejected(tmp_path):
    path = write(tmp_path, 'extends = "ganzhou-default"\n[firm.whitelist_or_rating]\nmin_rating = "Baa2"\n')
    [i] = problems(path)
    assert i.table == "firm.whitelist_or_rating" and "not on rating_scale" in i.message


def test_bad_toml_a_missing_file_and_an_unknown_base_are_input_errors(tmp_path):
    [i] = problems(write(tmp_path, "[asset.loan_to_value\nmax_ltv = 0.3\n"))
    assert "not valid TOML" in i.message
    [i] = problems(tmp_path / "missing.toml")
    assert i.message == "file not found"
    [i] = problems(write(tmp_path, 'extends = "shenzhen-default"\n'))
    assert i.field == "extends" and "ganzhou-default" in i.message


def test_an_extends_cycle_is_reported(tmp_path):
    write(tmp_path, 'extends = "b.toml"\n', "a.toml")
    write(tmp_path, 'extends = "a.toml"\n', "b.toml")
    [i] = problems(tmp_path / "a.toml")
    assert "cycle" in i.message


def test_the_docs_describe_every_bundled_criterion(root, ganzhou):
    text = (root / "docs" / "eligibility.md").read_text(encoding="utf-8")
    for _, cid, _crit in ganzhou.all_criteria():
        assert f"`{cid}`" in text, f"docs/eligibility.md does not describe {cid}"
    for county in ganzhou.firm.region.counties:
        assert county in text
