"""Rebasing at the report date: an on-schedule report re-projects to the original projection, to the fen."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from surveil_samples import SAMPLE_DATES, compiled, servicer_path, trustee_path

from ipabs.engine.deterministic import run_deterministic_arrays
from ipabs.scenario.schema import Assumptions
from ipabs.surveillance import ReportError, load_rules, read_servicer_report, read_trustee_report, rebase
from ipabs.surveillance.synthetic import make_reports

PERIOD = {"ganzhou_pledge_2026": 2, "interbank_abn_2026": 3, "ip_lease_2026": 3, "licence_relicence_2026": 2}


def _compare(deal, rb, t0, assumptions, tol):
    pf0, o0 = run_deterministic_arrays(deal, assumptions)
    pf1, o1 = run_deterministic_arrays(rb.deal, assumptions)
    for f in o0._fields:
        a, b = getattr(o0, f)[t0:], getattr(o1, f)
        if f == "cum_def_ratio":
            b = b + rb.cumulative_default_offset
        np.testing.assert_allclose(b, a, rtol=0, atol=tol if a.dtype.kind == "f" else 0, err_msg=f)
    for f in pf0._fields:
        np.testing.assert_allclose(getattr(pf1, f), getattr(pf0, f)[t0:], rtol=0, atol=tol, err_msg=f)


@pytest.mark.parametrize("name", list(PERIOD))
def test_a_report_with_every_asset_on_schedule_reprojects_to_the_original_projection_to_the_fen(name):
    deal = compiled(name)
    t0 = PERIOD[name]
    rep = make_reports(deal, t0, exact=True)
    rb = rebase(deal, read_servicer_report(rep.servicer), read_trustee_report(rep.trustee), as_of=rep.as_of)
    assert rb.t0 == t0 and rb.deal.n_periods == deal.n_periods - t0
    assert (rb.assets["scale_factor"] == 1.0).all()
    _compare(deal, rb, t0, Assumptions(), 0.005)


def test_an_on_schedule_report_rounded_to_the_fen_reprojects_within_a_few_fen():
    deal = compiled("ganzhou_pledge_2026")
    rep = make_reports(deal, 2)
    rb = rebase(deal, read_servicer_report(rep.servicer), read_trustee_report(rep.trustee), as_of=rep.as_of)
    _compare(deal, rb, 2, Assumptions(), 0.05)


def test_without_a_trustee_report_the_deal_state_is_the_issuance_projection_and_says_so():
    deal = compiled("licence_relicence_2026")
    rep = make_reports(deal, 2, exact=True)
    rb = rebase(deal, read_servicer_report(rep.servicer), None, as_of=rep.as_of)
    assert any("no trustee report" in n for n in rb.notes)
    _compare(deal, rb, 2, Assumptions(), 0.005)


def test_defaulted_obligors_stay_defaulted_and_overdue_ones_take_the_transition_pd(ganzhou):
    name = "ganzhou_pledge_2026"
    rules = load_rules()
    rb = rebase(ganzhou, read_servicer_report(servicer_path(name)), read_trustee_report(trustee_path(name)),
                as_of=SAMPLE_DATES[name], transition=rules.transition)
    pds = rb.obligor_annual_pd
    assert pds["GZ006"] == 0.0 and pds["GZ003"] == 0.0
    assert pds["GZ005"] == rules.transition.pd_12m(95) == 0.60
    assert pds["GZ013"] == rules.transition.pd_12m(40)
    assert rb.transition_used and any("assumption" in n for n in rb.notes)
    # defaulted assets hold only their expected recovery: 30% of the balance at default, paid 4 quarters later
    a = rb.assets.set_index("asset_id")
    gz006 = a[a["obligor_id"] == "GZ006"].iloc[0]
    assert gz006["expected_recovery"] == pytest.approx(0.30 * 7_500_000)
    i = list(ganzhou.info.asset_ids).index(gz006.name)
    row = rb.deal.pool.sched_prin[i]
    assert row.sum() == pytest.approx(0.30 * 7_500_000) and np.flatnonzero(row).tolist() == [0 + 4 - 2]  # period 0 + lag 4 − t0
    # the cumulative default trigger sees the defaults so far
    assert rb.cumulative_defaults == pytest.approx(16_400_000)
    assert rb.deal.waterfall.trg_thr[0] == pytest.approx(0.10 - 0.082)


def test_a_reported_accelerated_state_from_a_non_curable_trigger_stays_latched(ganzhou):
    rep = make_reports(ganzhou, 2, exact=True)
    t = rep.trustee.copy()
    t.loc[t["item"] == "deal_state", "value"] = "accelerated"
    rb = rebase(ganzhou, read_servicer_report(rep.servicer), read_trustee_report(t), as_of=rep.as_of)
    _, out = run_deterministic_arrays(rb.deal, Assumptions())
    assert (out.state == 1).all() and rb.deal.names.triggers[-1] == "reported_state:accelerated"


def test_bad_inputs_to_the_rebase_are_listed_together(ganzhou):
    rep = make_reports(ganzhou, 2, exact=True)
    s = rep.servicer.copy()
    s.loc[0, "asset_id"] = "NOPE"
    t = rep.trustee.copy()
    t.loc[t.index[t["item"] == "tranche_balance_end"][0], "name"] = "优先Z"
    with pytest.raises(ReportError) as e:  # 2027-02-01 follows period 3: the period-2 reports are stale
        rebase(ganzhou, read_servicer_report(s), read_trustee_report(t), as_of=dt.date(2027, 2, 1))
    text = str(e.value)
    assert "unknown asset 'NOPE'" in text and "unknown tranche '优先Z'" in text
    assert "'tranche_balance_end' is not reported for 优先A" in text
    assert "trustee report is for period 2 but 2027-02-01 follows payment period 3" in text
    assert "the report of 2026-10-20 is stale" in text
    with pytest.raises(ReportError, match="before the last"):
        rebase(ganzhou, read_servicer_report(rep.servicer), None, as_of=dt.date(2030, 1, 1))


def test_rebasing_does_not_touch_the_original_deal(ganzhou):
    before = dataclasses.replace(ganzhou)
    rep = make_reports(ganzhou, 2, exact=True)
    rebase(ganzhou, read_servicer_report(rep.servicer), read_trustee_report(rep.trustee), as_of=rep.as_of)
    assert before.pool.sched_int is ganzhou.pool.sched_int and ganzhou.waterfall.trg_thr[0] == 0.10


@pytest.mark.slow
def test_in_the_monte_carlo_defaulted_obligors_never_default_again_and_overdue_ones_default_more(ganzhou):
    from ipabs.engine.montecarlo import prepare, trace_path

    name = "ganzhou_pledge_2026"
    rb = rebase(ganzhou, read_servicer_report(servicer_path(name)), read_trustee_report(trustee_path(name)),
                as_of=SAMPLE_DATES[name], transition=load_rules().transition)
    prep = prepare(rb.deal)
    obligors = list(ganzhou.info.obligor_ids)
    n_t = rb.deal.n_periods
    hits = dict.fromkeys(("GZ006", "GZ003", "GZ005", "GZ001"), 0)
    n = 400
    for p in range(n):
        ob = trace_path(rb.deal, 5, p, prepared=prep).obligor_default_period
        for k in hits:
            hits[k] += int(ob[obligors.index(k)] < n_t)
    assert hits["GZ006"] == 0 and hits["GZ003"] == 0
    # GZ005 carries a 60% annual PD over the 1.5 years to its loan's maturity, GZ001 its rating's small PD
    assert hits["GZ005"] / n > 0.5 > hits["GZ001"] / n
