"""Floating-rate notes (``tranches[].floating`` over a forward path in ``[indices]``) against QuantLib's own
``FloatingRateBond`` cash flows on a flat and on a sloped curve: the same dates, the same fixings (QuantLib's
forecast of each coupon's index fixing becomes the scenario's forward path), the same spread, floor and cap, the
same day count — the engine's interest on the tranche equals QuantLib's coupon amounts to the fen."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import QuantLib as ql

from ipabs.api import run_deterministic

CLOSING = dt.date(2026, 1, 15)
FACE = 100_000_000.0


def ql_date(d: dt.date) -> ql.Date:
    return ql.Date(d.day, d.month, d.year)


def py_date(d: ql.Date) -> dt.date:
    return dt.date(d.year(), d.month(), d.dayOfMonth())


def quantlib_coupons(curve: str, spread: float, floor: float | None, cap: float | None, dc=None):
    """(accrual start, fixing, rate, amount per FACE) of each coupon of a quarterly 1-year Shibor 3M FRN."""
    today = ql_date(CLOSING)
    saved = ql.Settings.instance().evaluationDate
    ql.Settings.instance().evaluationDate = today
    try:
        if curve == "flat":
            ts = ql.FlatForward(today, 0.02, ql.Actual365Fixed())
        else:
            dates = [today + ql.Period(m, ql.Months) for m in (0, 3, 6, 9, 12, 24)]
            ts = ql.ZeroCurve(dates, [0.015, 0.016, 0.019, 0.023, 0.028, 0.035], ql.Actual365Fixed())
        handle = ql.YieldTermStructureHandle(ts)
        index = ql.Shibor(ql.Period(3, ql.Months), handle)
        cal = ql.China(ql.China.IB)
        sched = ql.Schedule(today, today + ql.Period(12, ql.Months), ql.Period(3, ql.Months), cal, ql.Following,
                            ql.Following, ql.DateGeneration.Forward, False)
        bond = ql.FloatingRateBond(0, FACE, sched, index, dc or ql.Actual360(), ql.Following, 0, [1.0], [spread],
                                   [cap] if cap is not None else [], [floor] if floor is not None else [])
        pricer = ql.BlackIborCouponPricer(ql.OptionletVolatilityStructureHandle(
            ql.ConstantOptionletVolatility(0, cal, ql.Following, 0.0, ql.Actual365Fixed())))
        ql.setCouponPricer(bond.cashflows(), pricer)
        out = []
        for cf in bond.cashflows():
            c = ql.as_floating_rate_coupon(cf)
            if c is None:
                continue
            out.append((py_date(c.accrualStartDate()), py_date(c.date()), c.indexFixing(), c.rate(), c.amount()))
        return out
    finally:
        ql.Settings.instance().evaluationDate = saved


def scenario(folder, coupons, spread, floor, cap) -> str:
    starts = ", ".join(str(c[0]) for c in coupons)
    levels = ", ".join(repr(c[2]) for c in coupons)
    opt = "".join(f", {k} = {v!r}" for k, v in (("floor", floor), ("cap", cap)) if v is not None)
    (folder / "pool.csv").write_text(
        "asset_id,obligor_id,industry,asset_type,principal,rate,start_date,maturity_date,payment_frequency,"
        "amortization\nL1,F1,nev,pledge_loan,200000000,0.10,2026-01-15,2027-01-15,quarterly,interest_only\n",
        encoding="utf-8")
    text = f"""schema_version = 1
[deal]
name = "frn"
market = "interbank"
cutoff_date = 2026-01-15
closing_date = 2026-01-15
first_payment_date = 2026-04-15
legal_maturity = 2027-01-15
holidays = [2027-01-01]
[deal.conventions]
note_day_count = "act/360"
[pool]
tape = "pool.csv"
[indices.SHIBOR_3M]
dates = [{starts}]
levels = [{levels}]
[[tranches]]
name = "A"
seniority = "senior"
balance = {FACE}
amortization = "bullet"
floating = {{ index = "SHIBOR_3M", spread = {spread!r}{opt} }}
[[tranches]]
name = "B"
seniority = "subordinate"
balance = 100_000_000
[waterfall]
normal = [
  {{ action = "pay_interest", tranches = ["A"] }},
  {{ action = "pay_principal", tranches = ["A"] }},
  {{ action = "pay_principal", tranches = ["B"] }},
]
"""
    (folder / "frn.toml").write_text(text, encoding="utf-8")
    return str(folder / "frn.toml")


@pytest.mark.parametrize("curve, spread, floor, cap", [
    ("flat", 0.006, None, None),
    ("sloped", 0.006, None, None),
    ("flat", -0.005, 0.018, None),  # the floor binds: 2.0% − 0.5% < 1.8%
    ("sloped", 0.006, None, 0.03),  # the cap binds on the later coupons
])
def test_floating_coupons_equal_quantlib_floating_rate_bond_cash_flows(tmp_path, curve, spread, floor, cap):
    coupons = quantlib_coupons(curve, spread, floor, cap)
    assert len(coupons) == 4
    res = run_deterministic(scenario(tmp_path, coupons, spread, floor, cap))
    deal = res.deal
    assert [c[1] for c in coupons] == list(deal.schedule.payment_dates)
    frame = res.tranche_frame("A")
    for t, (_start, _pay, fixing, rate, amount) in enumerate(coupons):
        assert frame["index_level"][t] == fixing
        assert frame["coupon_rate"][t] == pytest.approx(rate, abs=1e-15)
        assert frame["interest_paid"][t] == pytest.approx(amount, abs=0.005)
    rates = [c[3] for c in coupons]
    if floor is not None:
        assert min(rates) == pytest.approx(floor, abs=1e-15)
    if cap is not None:
        assert max(rates) == pytest.approx(cap, abs=1e-15)
    if curve == "sloped":
        assert len(set(np.round(rates, 12))) > 1  # the index path moves


def test_a_floating_tranche_needs_a_known_index(tmp_path):
    from ipabs.api import load_scenario
    from ipabs.errors import ScenarioError

    coupons = quantlib_coupons("flat", 0.0, None, None)
    path = scenario(tmp_path, coupons, 0.0, None, None)
    text = (tmp_path / "frn.toml").read_text("utf-8").replace('index = "SHIBOR_3M"', 'index = "LPR_1Y"')
    (tmp_path / "frn.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match="LPR_1Y"):
        load_scenario(path)


def asset_scenario(folder, coupons, spread) -> str:
    starts = ", ".join(str(c[0]) for c in coupons)
    levels = ", ".join(repr(c[2]) for c in coupons)
    (folder / "pool.csv").write_text(
        "asset_id,obligor_id,industry,asset_type,principal,rate,start_date,maturity_date,payment_frequency,"
        "amortization\nL1,F1,nev,pledge_loan,100000000,0.05,2026-01-15,2027-01-15,quarterly,interest_only\n"
        "L2,F2,nev,pledge_loan,50000000,0.05,2026-01-15,2027-01-15,quarterly,interest_only\n",
        encoding="utf-8")
    sp = "" if spread is None else f"spread = {spread!r}\n"
    (folder / "assets.toml").write_text(f"""schema_version = 1
[deal]
name = "floating assets"
market = "interbank"
cutoff_date = 2026-01-15
closing_date = 2026-01-15
first_payment_date = 2026-04-15
legal_maturity = 2027-01-15
holidays = [2027-01-01]
[pool]
tape = "pool.csv"
[[pool.floating]]
index = "SHIBOR_3M"
asset_ids = ["L1"]
{sp}[indices.SHIBOR_3M]
dates = [{starts}]
levels = [{levels}]
[[tranches]]
name = "A"
seniority = "senior"
balance = 150_000_000
[waterfall]
normal = [{{ action = "pay_principal", tranches = ["A"] }}]
""", encoding="utf-8")
    return str(folder / "assets.toml")


@pytest.mark.parametrize("curve", ["flat", "sloped"])
def test_floating_asset_interest_equals_quantlib_floating_rate_bond_cash_flows(tmp_path, curve):
    coupons = quantlib_coupons(curve, 0.01, None, None, ql.Actual365Fixed())
    res = run_deterministic(asset_scenario(tmp_path, coupons, 0.01))
    fixed = [50_000_000 * 0.05 * (c[1] - c[0]).days / 365 for c in coupons]  # L2 keeps its tape rate
    for t, (_start, _pay, _fixing, _rate, amount) in enumerate(coupons):
        assert res.pool.interest[t] == pytest.approx(amount + fixed[t], abs=0.005)


def test_without_a_spread_a_floating_asset_keeps_its_contract_margin_over_the_index(tmp_path):
    coupons = quantlib_coupons("sloped", 0.0, None, None, ql.Actual365Fixed())
    res = run_deterministic(asset_scenario(tmp_path, coupons, None))
    margin = 0.05 - coupons[0][2]  # tape rate minus the index at the contract start
    for t, (start, pay, fixing, _rate, _amount) in enumerate(coupons):
        want = 100_000_000 * (fixing + margin) * (pay - start).days / 365 + 50_000_000 * 0.05 * (pay - start).days / 365
        assert res.pool.interest[t] == pytest.approx(want, abs=0.005)
    assert res.pool.interest[0] == pytest.approx(150_000_000 * 0.05 * (coupons[0][1] - coupons[0][0]).days / 365,
                                                 abs=0.005)


def test_a_floating_level_payment_loan_recomputes_its_instalment_at_each_reset():
    from ipabs.compile.schedule import contract_flows, day_counter

    cal = ql.NullCalendar()
    switch = dt.date(2026, 4, 5)
    flows = contract_flows(600_000.0, 0.12, dt.date(2026, 1, 5), dt.date(2026, 7, 5), "monthly", "level_payment",
                           None, cal, day_counter("act/365f"), "contract",
                           lambda reset: 0.12 if reset < switch else 0.24)
    pmt1 = 600_000 * 0.01 / (1 - 1.01 ** -6)
    for f in flows[:3]:
        assert f.interest + f.principal == pytest.approx(pmt1, abs=1e-9)
    bal3 = 600_000 - sum(f.principal for f in flows[:3])
    pmt2 = bal3 * 0.02 / (1 - 1.02 ** -3)
    assert flows[3].interest == pytest.approx(bal3 * 0.02, abs=1e-9)
    for f in flows[3:]:
        assert f.interest + f.principal == pytest.approx(pmt2, abs=1e-6)
    assert sum(f.principal for f in flows) == pytest.approx(600_000, abs=1e-6)
