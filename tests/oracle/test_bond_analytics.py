"""The yields, durations and WALs of ``tranche_summary()`` re-derived independently.

Three ways: (1) by hand — a Newton iteration on the compounded price equation
``P = Σ c_i (1 + y/f)^(−f τ_i)`` with the year fractions τ_i counted in plain Python, then the Macaulay and modified
duration formulas and WAL = Σ τ_i p_i / Σ p_i; (2) QuantLib's generic ``ql.Bond`` with ``ql.BondFunctions`` (a
different code path from the ``ql.CashFlows`` functions :mod:`ipabs.analytics.bond` calls; STACK-NOTES §1);
(3) closed-form cases: a par bullet yields its coupon.
"""

from __future__ import annotations

import datetime as dt

import pytest
import QuantLib as ql

from dealgen import tape_frame
from ipabs.api import compile_scenario, load_scenario, run_deterministic
from ipabs.compile.lower import compile_deal
from ipabs.scenario.io import parse_scenario

PER_YEAR = {"monthly": 12, "quarterly": 4, "semiannual": 2, "annual": 1}


def year_fraction(day_count: str, start: dt.date, end: dt.date) -> float:
    """The day counts of the sample deals, by hand."""
    if day_count == "act/365f":
        return (end - start).days / 365.0
    if day_count == "act/360":
        return (end - start).days / 360.0
    if day_count == "30/360":  # bond basis
        d1, d2 = min(start.day, 30), end.day
        if d2 == 31 and d1 == 30:
            d2 = 30
        return (360 * (end.year - start.year) + 30 * (end.month - start.month) + d2 - d1) / 360.0
    raise NotImplementedError(day_count)


def price_of(y: float, flows: list[tuple[float, float]], f: int) -> float:
    return sum(c * (1.0 + y / f) ** (-f * tau) for tau, c in flows)


def newton_yield(price: float, flows: list[tuple[float, float]], f: int) -> float:
    """Solve P(y) = price with Newton's method from 5%: P'(y) = Σ −τ c (1 + y/f)^(−f τ − 1)."""
    y = 0.05
    for _ in range(100):
        g = price_of(y, flows, f) - price
        dg = sum(-tau * c * (1.0 + y / f) ** (-f * tau - 1.0) for tau, c in flows)
        step = g / dg
        y -= step
        if abs(step) < 1e-14:
            return y
    raise AssertionError("Newton did not converge")


def by_hand(settle, dates, interest, principal, residual, face, price, day_count, frequency):
    f = PER_YEAR[frequency]
    scale = 100.0 / face
    flows = [(year_fraction(day_count, settle, d), (i + p + r) * scale)
             for d, i, p, r in zip(dates, interest, principal, residual, strict=True) if i + p + r > 0]
    y = newton_yield(price, flows, f)
    pv = [(tau, c * (1.0 + y / f) ** (-f * tau)) for tau, c in flows]
    macaulay = sum(tau * v for tau, v in pv) / sum(v for _, v in pv)
    paid = [(d, p) for d, p in zip(dates, principal, strict=True) if p > 0]
    wal = sum((d - settle).days / 365.0 * p for d, p in paid) / sum(p for _, p in paid)
    return {"yield": y, "macaulay_duration": macaulay, "modified_duration": macaulay / (1.0 + y / f),
            "wal_years": wal, "yield_at_par": newton_yield(100.0, flows, f)}


def ql_date(d: dt.date) -> ql.Date:
    return ql.Date(d.day, d.month, d.year)


def by_quantlib_bond(settle, dates, interest, principal, residual, face, price, day_count, frequency):
    """``ql.Bond`` of SimpleCashFlow coupons + Redemption principal, ``BondFunctions.bondYield`` / ``duration``."""
    dc = {"act/365f": ql.Actual365Fixed(), "act/360": ql.Actual360(),
          "30/360": ql.Thirty360(ql.Thirty360.BondBasis)}[day_count]
    freq = {"monthly": ql.Monthly, "quarterly": ql.Quarterly, "semiannual": ql.Semiannual,
            "annual": ql.Annual}[frequency]
    scale = 100.0 / face
    leg = []
    for d, i, p, r in zip(dates, interest, principal, residual, strict=True):
        if i + r > 0:
            leg.append(ql.SimpleCashFlow((i + r) * scale, ql_date(d)))
        if p > 0:
            leg.append(ql.Redemption(p * scale, ql_date(d)))
    settings = ql.Settings.instance()
    old = settings.evaluationDate
    settings.evaluationDate = ql_date(settle)
    try:
        bond = ql.Bond(0, ql.NullCalendar(), 100.0, ql_date(max(dates)), ql_date(settle), leg)
        y = ql.BondFunctions.bondYield(bond, ql.BondPrice(price, ql.BondPrice.Dirty), dc, ql.Compounded, freq,
                                       ql.Date(), 1e-12, 1000, 0.05)
        rate = ql.InterestRate(y, dc, ql.Compounded, freq)
        mod = ql.BondFunctions.duration(bond, rate, ql.Duration.Modified)
        mac = ql.BondFunctions.duration(bond, rate, ql.Duration.Macaulay)
    finally:
        settings.evaluationDate = old
    return {"yield": y, "modified_duration": mod, "macaulay_duration": mac}


def tranche_inputs(res, k: int):
    s = res.deal.scenario
    tr = s.tranches[k]
    fr = res.tranche_frame(k)
    return (s.deal.closing_date, list(fr["payment_date"]), list(fr["interest_paid"]), list(fr["principal_paid"]),
            list(fr["residual_paid"]), tr.balance, tr.price, s.deal.day_count, s.deal.payment_frequency)


@pytest.fixture(scope="module")
def sample_results(scenarios_dir):
    import tomllib

    out = {}
    for p in sorted(scenarios_dir.glob("*.toml")):
        if "deal" in tomllib.loads(p.read_text("utf-8")):
            deal = compile_scenario(load_scenario(p))
            out[p.stem] = run_deterministic(deal)
            # the same deal with every tranche priced off par
            d = deal.scenario.model_dump()
            d["tranches"] = [{**t, "price": 98.75} for t in d["tranches"]]
            out[f"{p.stem} at 98.75"] = run_deterministic(compile_deal(parse_scenario(d), deal.info.frame))
    return out


def test_yields_durations_and_wal_of_every_sample_tranche_match_a_hand_written_newton_and_formulas(sample_results):
    n = 0
    for label, res in sample_results.items():
        for k, row in enumerate(res.tranche_summary()):
            ref = by_hand(*tranche_inputs(res, k))
            where = f"{label} / {row['name']}"
            assert row["yield"] == pytest.approx(ref["yield"], abs=1e-9), where
            assert row["yield_at_par"] == pytest.approx(ref["yield_at_par"], abs=1e-9), where
            assert row["macaulay_duration"] == pytest.approx(ref["macaulay_duration"], abs=1e-8), where
            assert row["modified_duration"] == pytest.approx(ref["modified_duration"], abs=1e-8), where
            assert row["wal_years"] == pytest.approx(ref["wal_years"], abs=1e-12), where
            n += 1
    assert n >= 2 * 9


def test_yields_and_durations_match_quantlib_bond_functions_on_a_generic_bond(sample_results):
    for label, res in sample_results.items():
        for k, row in enumerate(res.tranche_summary()):
            ref = by_quantlib_bond(*tranche_inputs(res, k))
            where = f"{label} / {row['name']}"
            assert row["yield"] == pytest.approx(ref["yield"], abs=1e-9), where
            assert row["modified_duration"] == pytest.approx(ref["modified_duration"], abs=1e-8), where
            assert row["macaulay_duration"] == pytest.approx(ref["macaulay_duration"], abs=1e-8), where


def par_bullet_deal(day_count: str, convention: str, coupon: float, frequency: str = "quarterly"):
    """One 100,000,000 interest-only loan at 6% carrying one bullet senior (90,000,000) and a subordinate."""
    months = {"quarterly": 3, "semiannual": 6}[frequency]
    scenario = {
        "deal": {"name": "par bullet", "cutoff_date": dt.date(2026, 1, 15), "closing_date": dt.date(2026, 1, 15),
                 "first_payment_date": dt.date(2026, 1 + months, 15), "payment_frequency": frequency,
                 "business_day_convention": convention, "day_count": day_count,
                 "legal_maturity": dt.date(2028, 1, 15)},
        "pool": {"tape": "in-memory"},
        "tranches": [
            {"name": "A", "seniority": "senior", "balance": 90_000_000.0, "coupon": coupon, "amortization": "bullet"},
            {"name": "S", "seniority": "subordinate", "balance": 10_000_000.0, "amortization": "bullet"},
        ],
        "waterfall": {"normal": [
            {"action": "pay_interest", "tranches": ["A"]},
            {"action": "pay_principal", "tranches": ["A"]},
            {"action": "pay_principal", "tranches": ["S"], "require_repaid": ["A"]},
            {"action": "pay_residual", "tranche": "S", "require_repaid": ["A", "S"]},
        ]},
    }
    tape = tape_frame([{"asset_id": "L1", "obligor_id": "O1", "principal": 100_000_000.0, "rate": 0.06,
                        "start_date": dt.date(2026, 1, 10), "maturity_date": dt.date(2028, 1, 10),
                        "payment_frequency": "monthly", "amortization": "interest_only"}])
    return run_deterministic(compile_deal(parse_scenario(scenario), tape))


@pytest.mark.parametrize("coupon", [0.0225, 0.035])
@pytest.mark.parametrize("frequency", ["quarterly", "semiannual"])
def test_a_par_bullet_paid_in_full_yields_exactly_its_coupon_on_a_30_360_unadjusted_grid(coupon, frequency):
    res = par_bullet_deal("30/360", "unadjusted", coupon, frequency)
    row = res.tranche_summary()[0]
    assert row["loss"] == 0.0 and row["interest_shortfall"] == pytest.approx(0.0, abs=1e-6)
    assert row["yield"] == pytest.approx(coupon, abs=1e-10)
    assert row["yield_at_par"] == pytest.approx(coupon, abs=1e-10)
    assert row["wal_years"] == pytest.approx(730 / 365, abs=1e-12)
    f = PER_YEAR[frequency]
    # Macaulay duration of a par bond in closed form: (1 + y/f)/y · (1 − (1 + y/f)^(−n)) in years, n = 2f periods
    y, n = coupon, 2 * f
    closed_form = (1 + y / f) / y * (1 - (1 + y / f) ** (-n))
    assert row["macaulay_duration"] == pytest.approx(closed_form, abs=1e-9)
    assert row["modified_duration"] == pytest.approx(closed_form / (1 + y / f), abs=1e-9)


def test_a_par_bullet_on_business_day_adjusted_actual_365_dates_yields_its_coupon_within_two_basis_points():
    res = par_bullet_deal("act/365f", "following", 0.03)
    row = res.tranche_summary()[0]
    assert row["loss"] == 0.0
    assert row["yield_at_par"] == pytest.approx(0.03, abs=2e-4)
