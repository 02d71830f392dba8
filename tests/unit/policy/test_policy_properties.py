"""Property tests of the entitlement rules (hypothesis): caps are never exceeded, entitlements never fall when
financing rises, and the result does not depend on the order of the inputs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipabs.policy.entitlements import PledgeLoan, Securitization, compute_entitlements
from ipabs.policy.io import load_policy
from ipabs.policy.money import to_fen

POLICIES = {name: load_policy(name) for name in ("ganzhou-2025", "xian", "guangzhou-2023", "beijing-zgc")}
FIRMS = ["A", "B", "C"]
YEARS = [2027, 2028, 2029]
OTHER = ["trademark", "copyright", "geographic_indication", "data_ip", "trade_secret"]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

fen_amounts = st.integers(min_value=0, max_value=10_000_000_000)  # up to 100,000,000.00 yuan


@st.composite
def securitizations(draw):
    n = draw(st.integers(0, 6))
    out = []
    for _ in range(n):
        deal = f"D{draw(st.integers(0, 3))}"
        out.append(Securitization(
            firm_id=draw(st.sampled_from(FIRMS)), deal_id=deal, year=2027 + int(deal[1:]) % 3,
            amount=Decimal(draw(fen_amounts)) / 100, issuer_id="ISS", in_pool=draw(st.integers(0, 4)) > 0,
            already_funded=draw(st.booleans()) and draw(st.booleans()),
        ))
    # one allocation per firm and deal, as the pipeline validator enforces
    seen, uniq = set(), []
    for s in out:
        if (s.firm_id, s.deal_id) not in seen:
            seen.add((s.firm_id, s.deal_id))
            uniq.append(s)
    return uniq


@st.composite
def loans(draw):
    n = draw(st.integers(0, 5))
    return [PledgeLoan(
        loan_id=f"L{i}", firm_id=draw(st.sampled_from(FIRMS)),
        amount=Decimal(draw(st.integers(100, 3_000_000_000))) / 100,
        start_date=dt.date(draw(st.sampled_from(YEARS)), draw(st.integers(1, 12)), 1),
        term_months=draw(st.integers(1, 36)), cnipa_registered=draw(st.booleans()),
        invention_patents=draw(st.integers(0, 8)),
        other_ip_types=tuple(draw(st.lists(st.sampled_from(OTHER), max_size=2, unique=True))),
        status=draw(st.sampled_from(["settled", "settled", "outstanding", "defaulted"])),
        default_year=2028, rate=Decimal(draw(st.integers(100, 800))) / 10_000,
    ) for i in range(n)]


def _cap(policy, item):
    rule = {"securitization_subsidy": policy.securitization, "pledge_patent_subsidy": policy.pledge_patent,
            "pledge_other_ip_subsidy": policy.pledge_other_ip, "interest_subsidy": policy.interest_subsidy}[item]
    return None if rule is None or rule.cap_per_firm_year is None else to_fen(rule.cap_per_firm_year)


@pytest.mark.slow
@SETTINGS
@given(name=st.sampled_from(sorted(POLICIES)), secs=securitizations(), lns=loans())
def test_no_entitlement_ever_exceeds_a_cap(name, secs, lns):
    policy = POLICIES[name]
    rep = compute_entitlements(policy, secs, lns, lpr="0.03")
    lifetime: dict[tuple[str, str], int] = {}
    for e in rep.entitlements:
        assert 0 <= e.payable_fen <= e.gross_fen + sum(-r.amount_fen for r in e.caps if r.code ==
                                                       "reason_cap_per_product")
        cap = _cap(policy, e.item)
        if cap is not None:
            assert e.payable_fen <= cap
        lifetime[(e.item, e.firm_id)] = lifetime.get((e.item, e.firm_id), 0) + e.payable_fen
        for r in e.reasons:  # every formed amount is at most rate x base (不超过) and each product within its cap
            if r.code == "reason_rate_applied" and e.rate is not None:
                base = Decimal(r.detail.split(" x ")[0].replace(",", ""))
                assert Decimal(r.amount_fen) / 100 <= base * e.rate.decimal
    sec = policy.securitization
    if sec is not None and sec.cap_per_firm is not None:
        assert all(v <= to_fen(sec.cap_per_firm) for (item, _), v in lifetime.items()
                   if item == "securitization_subsidy")
    if sec is not None and sec.cap_per_product is not None:
        per_deal = {}
        for s in secs:
            per_deal.setdefault(s.deal_id, s)
        assert rep.payable_fen(item="securitization_subsidy") <= len(per_deal) * to_fen(sec.cap_per_product)


def _cumulative_payables(rep):
    """Payable per firm, item and year, cumulated over the years up to that year (a cap over all years may move
    an amount to an earlier year, so the monotone quantity is what a firm has received by each year)."""
    out = {}
    for e in rep.entitlements:
        for y in YEARS + [max(YEARS) + k for k in range(1, 5)]:
            if e.year <= y:
                out[(e.firm_id, e.item, y)] = out.get((e.firm_id, e.item, y), 0) + e.payable_fen
    return out


@pytest.mark.slow
@SETTINGS
@given(name=st.sampled_from(sorted(POLICIES)), secs=securitizations(), lns=loans(), data=st.data())
def test_entitlements_never_fall_when_financing_rises(name, secs, lns, data):
    policy = POLICIES[name]
    before = _cumulative_payables(compute_entitlements(policy, secs, lns, lpr="0.03"))
    # raise one financing (or loan amount, or patent count) by a random non-negative step
    secs2, lns2 = list(secs), list(lns)
    if secs2 and (not lns2 or data.draw(st.booleans())):
        i = data.draw(st.integers(0, len(secs2) - 1))
        s = secs2[i]
        secs2[i] = Securitization(s.firm_id, s.deal_id, s.year, s.amount + Decimal(data.draw(fen_amounts)) / 100,
                                  s.issuer_id, s.issuance, s.in_pool, s.already_funded)
    elif lns2:
        i = data.draw(st.integers(0, len(lns2) - 1))
        x = lns2[i]
        lns2[i] = PledgeLoan(x.loan_id, x.firm_id, x.amount + Decimal(data.draw(fen_amounts)) / 100, x.start_date,
                             x.term_months, x.cnipa_registered, x.invention_patents + data.draw(st.integers(0, 3)),
                             x.other_ip_types, x.status, x.settled_year, x.default_year, x.rate)
    after = _cumulative_payables(compute_entitlements(policy, secs2, lns2, lpr="0.03"))
    for key, v in before.items():
        assert after.get(key, 0) >= v, key
    assert sum(after.values()) >= sum(before.values())


@pytest.mark.slow
@SETTINGS
@given(name=st.sampled_from(sorted(POLICIES)), secs=securitizations(), lns=loans(), seed=st.randoms())
def test_entitlements_do_not_depend_on_the_order_of_the_inputs(name, secs, lns, seed):
    policy = POLICIES[name]
    a = compute_entitlements(policy, secs, lns, lpr="0.03").to_frame()
    s2, l2 = list(secs), list(lns)
    seed.shuffle(s2)
    seed.shuffle(l2)
    b = compute_entitlements(policy, s2, l2, lpr="0.03").to_frame()
    assert a.equals(b)
