"""One surveillance run end to end: distance to triggers with Monte Carlo breach probabilities, EL/PD change."""

from __future__ import annotations

import math

import pytest
from surveil_samples import SAMPLE_DATES, servicer_path, trustee_path

from ipabs import api


@pytest.mark.slow
def test_a_trigger_one_period_from_breach_is_flagged_with_its_probability():
    name = "ganzhou_pledge_2026"
    r = api.surveillance.surveil(api.load_scenario(f"scenarios/{name}.toml"), servicer_path(name),
                                 trustee_path(name), as_of=SAMPLE_DATES[name], n_paths=2000, breakeven=False)
    assert r.reconciliation is not None and r.reconciliation.ok
    cdr = r.triggers.set_index("trigger").loc["累计违约率超过10%"]
    assert cdr["value_now"] == pytest.approx(0.082) and cdr["headroom"] == pytest.approx(0.018)
    # the next payment date is three months away: nothing can breach within a month, a breach within 3 months is
    # a real possibility (two overdue firms of 14.1M and 9.8M each take it over 10%)
    assert cdr["p_breach_1m"] == 0.0
    p3 = cdr["p_breach_3m"]
    assert 0.10 < p3 < 0.60
    assert cdr["p_breach_3m"] <= cdr["p_breach_6m"] <= cdr["p_breach_12m"]
    deal_alerts = r.alerts[r.alerts["level"] == "deal"].set_index("rule_id")
    assert deal_alerts.loc["trigger_breach_likely", "probability_3m"] == pytest.approx(p3)
    assert deal_alerts.loc["trigger_headroom_low", "observed"] == pytest.approx(0.018)
    # 8.2% defaulted against about 1% in the base case (2% CDR, two quarters)
    assert 0.06 < deal_alerts.loc["defaults_ahead_of_base_case", "observed"] < 0.075
    # tranche EL / PD since issuance: the subordinate tranche's got much worse; the guaranteed senior is unharmed
    t = r.tranches.set_index("tranche")
    assert t.loc["次级", "el_now"] > t.loc["次级", "el_issuance"] + 0.05
    assert t.loc["优先A", "el_now"] == 0.0
    assert math.isnan(t.loc["优先A", "breakeven_cdr_now"])  # not computed (breakeven=False)
    assert set(r.watch.loc[r.watch["level"] == "firm", "subject"]) == {"GZ006", "GZ003", "GZ005", "GZ013", "GZ011"}


@pytest.mark.slow
def test_breakeven_cdr_remaining_is_reported_with_and_without_support():
    name = "interbank_abn_2026"
    r = api.surveillance.surveil(f"scenarios/{name}.toml", servicer_path(name), trustee_path(name),
                                 as_of=SAMPLE_DATES[name], n_paths=200)
    t = r.tranches.set_index("tranche")
    senior = t.index[0]
    assert 0 < t.loc[senior, "breakeven_cdr_standalone_now"] <= 1
    assert not math.isnan(t.loc[senior, "breakeven_cdr_standalone_issuance"])


def test_the_pd_implied_rating_follows_the_idealised_table():
    from ipabs.surveillance.monitor import implied_rating

    assert implied_rating(0.0, 1.0) == "Aaa"
    # one year at Baa2's constant hazard: 1 − (1 − 0.036)^(1/10) ≈ 0.366%
    assert implied_rating(0.0037, 1.0) == "Baa3" and implied_rating(0.0036, 1.0) == "Baa2"
    assert implied_rating(0.999, 1.0) == "C" and implied_rating(float("nan"), 1.0) is None
