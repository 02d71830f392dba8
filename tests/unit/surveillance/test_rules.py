"""Warning rules as data, the five-category classification and the watchlist."""

from __future__ import annotations

import pytest
from surveil_samples import SAMPLE_DATES, servicer_path

from ipabs.surveillance import RulesError, load_rules, loan_class, read_servicer_report
from ipabs.surveillance.monitor import watchlist_from_reports
from ipabs.surveillance.rules import evaluate_firms, firm_signals

#: the troubled firms of scenarios/make_reports.py and the rules each must raise
EXPECTED = {
    "ganzhou_pledge_2026": {
        "GZ006": {"defaulted", "disposal_not_started", "dpd_substandard"},
        "GZ003": {"defaulted", "dpd_substandard"},
        "GZ005": {"dpd_substandard", "firm_enforcement"},
        "GZ013": {"dpd_special_mention", "ip_annual_fee_unpaid"},
        "GZ011": {"firm_litigation", "collateral_cover_low"},
    },
    "interbank_abn_2026": {"GN004": {"dpd_special_mention"}, "GN002": {"ip_invalidation_request"}},
    "ip_lease_2026": {"GF006": {"dpd_special_mention", "firm_tax_arrears"},
                      "GF010": {"defaulted", "disposal_not_started", "dpd_special_mention"}},
    "licence_relicence_2026": {"GL005": {"ip_licence_terminated", "dpd_special_mention"},
                               "GL009": {"firm_rating_downgrade", "firm_guarantor_change"}},
}


def test_every_rule_of_the_ganzhou_default_set_cites_its_source_and_status():
    rf = load_rules()
    assert rf.name == "ganzhou-default" and len(rf.rules) >= 15
    for r in rf.rules:
        assert r.source and r.status in ("C", "U", "P", "assumption")
        assert r.reason_zh and r.reason_en and r.intervention_zh and r.intervention_en
    assert {r.source_kind for r in rf.rules} >= {"policy", "five_category", "market_practice"}
    assert rf.transition is not None and rf.transition.status == "assumption"


@pytest.mark.parametrize(("dpd", "status", "cls"), [
    (0, "performing", "normal"), (1, "overdue", "special_mention"), (90, "overdue", "special_mention"),
    (91, "overdue", "substandard"), (270, "overdue", "substandard"), (271, "overdue", "doubtful"),
    (361, "overdue", "loss"), (10, "defaulted", "substandard"), (0, "written_off", "loss"),
])
def test_five_category_classification_by_days_past_due(dpd, status, cls):
    assert loan_class(dpd, status) == cls


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_sample_reports_troubled_firms_are_exactly_the_ones_the_watchlist_raises(name):
    alerts = evaluate_firms(load_rules(), firm_signals(read_servicer_report(servicer_path(name)).rows))
    got: dict[str, set[str]] = {}
    for a in alerts:
        got.setdefault(a.subject, set()).add(a.rule_id)
    assert got == EXPECTED[name]
    for a in alerts:  # each with its reasons, observed value, threshold and intervention
        assert a.reason_zh and a.reason_en and a.intervention_zh and a.threshold


def test_the_watchlist_is_sorted_by_severity_with_reasons_in_both_languages():
    reports = [servicer_path(n) for n in SAMPLE_DATES]
    watch, alerts, rejected = watchlist_from_reports(reports)
    assert not rejected
    assert set(watch["subject"]) == {f for e in EXPECTED.values() for f in e}
    sev = watch["max_severity"].tolist()
    assert sev == sorted(sev, reverse=True) and sev[0] == 4
    top = watch.iloc[0]
    assert "违约" in top["reasons_zh"] and "default" in top["reasons_en"]
    assert (alerts["severity"].diff().dropna() <= 0).all()


def test_a_bad_rules_file_lists_every_problem(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text('name = "x"\nversion = "1"\n[[rules]]\nid = "a"\nlevel = "firm"\nsignal = "shoe_size"\n'
                 'op = ">="\nthreshold = 1\nseverity = 9\nreason_zh = "z"\nreason_en = "e"\n'
                 'intervention_zh = "z"\nintervention_en = "e"\nsource = "s"\nsource_kind = "policy"\n'
                 'status = "P"\n', encoding="utf-8")
    with pytest.raises(RulesError) as e:
        load_rules(p)
    assert "severity" in str(e.value)
    with pytest.raises(RulesError, match="no bundled rule set"):
        load_rules("atlantis")
