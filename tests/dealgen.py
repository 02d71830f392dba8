"""Hypothesis strategies for small random deals: a scenario dict plus an in-memory pool tape (pandas frame).

Used by tests/property and tests/oracle. :func:`deals` draws a deal with any mix of the waterfall vocabulary (fees of
every basis, split collection accounts, a reserve account, support with caps and defaults, triggers, clean-up call,
pro-rata and sequential steps); :func:`sequential_deals` keeps to a single collection account and a strictly
sequential priority of payments, where seniority properties must hold.

Everything generated is valid: ``compile_deal(parse_scenario(d), frame)`` succeeds.

``IPABS_HYPOTHESIS_SCALE`` (environment, default 1) multiplies every test's ``max_examples`` through
:func:`examples`, e.g. ``IPABS_HYPOTHESIS_SCALE=10`` for a long soak run.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import pandas as pd
from hypothesis import strategies as st

from ipabs.compile.lower import CompiledDeal, compile_deal
from ipabs.scenario.io import parse_scenario

MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6}


def examples(n: int) -> int:
    """``n`` hypothesis examples, scaled by the environment variable ``IPABS_HYPOTHESIS_SCALE``."""
    return max(1, round(n * float(os.environ.get("IPABS_HYPOTHESIS_SCALE", "1"))))


def add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 28):
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


@dataclass
class RandomDeal:
    scenario: dict
    tape: pd.DataFrame

    def compile(self, **changes) -> CompiledDeal:
        """Compile, optionally with top-level tables replaced (``assumptions=...``, ``deal=...``)."""
        d = {**self.scenario, **changes}
        return compile_deal(parse_scenario(d), self.tape)

    def compile_mc(self, default_pd: float) -> CompiledDeal:
        """Compile for a Monte Carlo run: every obligor with annual PD ``default_pd``, fixed-rate recoveries."""
        return self.compile(simulation={**self.scenario.get("simulation", {}), "default_pd": default_pd,
                                        "recovery_model": "fixed_rate"})


def tape_frame(rows: list[dict]) -> pd.DataFrame:
    """A tape frame with the columns the compiler reads (see docs/tape-format.md)."""
    base = {"obligor_name": None, "industry": "other", "county": "赣州经开区", "asset_type": "pledge_loan",
            "custom_schedule": None, "rating": None, "pd": float("nan"), "ip_type": ["invention_patent"],
            "ip_appraised_value": [1.0e8]}
    return pd.DataFrame([{**base, **r} for r in rows])


@st.composite
def assets(draw, cutoff: dt.date, legal: dt.date, n_max: int = 5, carry: bool = False):
    """1..n_max assets of 1..4 obligors, started before the cut-off. ``carry``: every asset matures before legal
    maturity, pays interest at least quarterly and earns at least 6% (so a no-default pool carries the notes)."""
    n = draw(st.integers(1, n_max))
    n_obligors = draw(st.integers(1, min(4, n)))
    rows = []
    for i in range(n):
        amort = draw(st.sampled_from(["interest_only", "equal_principal", "level_payment"] if carry else
                                     ["bullet", "interest_only", "equal_principal", "level_payment"]))
        freq = draw(st.sampled_from(["monthly", "quarterly"] if carry else ["monthly", "quarterly", "semiannual"]))
        # carry: started at most 20 days before the cut-off, so nothing was repaid before it (pool = principal)
        start = cutoff - dt.timedelta(days=draw(st.integers(0, 20 if carry else 60)))
        months = MONTHS[freq] * draw(st.integers(1, 12))
        maturity = add_months(start, months)
        if carry:
            while maturity > legal - dt.timedelta(days=15):  # business-day adjustment must not pass legal
                months -= MONTHS[freq]
                maturity = add_months(start, months)
            if months <= 0:
                maturity = add_months(start, MONTHS[freq])
        if maturity <= cutoff:
            maturity = cutoff + dt.timedelta(days=30)
        rows.append({
            "asset_id": f"A{i + 1:02d}",
            "obligor_id": f"O{i % n_obligors + 1}",
            "obligor_name": f"firm {i % n_obligors + 1}",
            "principal": float(draw(st.integers(10, 500)) * 100_000),
            "rate": draw(st.integers(60 if carry else 0, 90)) / 1000.0,
            "start_date": start,
            "maturity_date": maturity,
            "payment_frequency": freq,
            "amortization": amort,
        })
    return tape_frame(rows)


def pool_balance(tape: pd.DataFrame, cutoff: dt.date) -> float:
    return float(tape["principal"].sum())


@st.composite
def deal_dates(draw, carry: bool = False):
    freq = draw(st.sampled_from(["monthly", "quarterly", "semiannual"]))
    cutoff = dt.date(2026, 1, 1) + dt.timedelta(days=draw(st.integers(0, 200)))
    closing = cutoff + dt.timedelta(days=draw(st.integers(0, 10)))
    first = add_months(closing, MONTHS[freq])
    n_periods = draw(st.integers(2, 8))
    legal = add_months(first, MONTHS[freq] * (n_periods - 1))
    if carry:  # long enough for any asset to mature inside the deal
        legal = max(legal, add_months(cutoff, 40))
    deal = {
        "name": "random deal",
        "market": draw(st.sampled_from(["exchange", "interbank"])),
        "cutoff_date": cutoff,
        "closing_date": closing,
        "first_payment_date": first,
        "payment_frequency": freq,
        "business_day_convention": draw(st.sampled_from(["following", "modified_following", "unadjusted"])),
        "day_count": draw(st.sampled_from(["act/365f", "act/360", "30/360"])),
        "legal_maturity": legal,
    }
    return deal


def _tranches(draw, pool: float, legal: dt.date, closing: dt.date, first: dt.date, freq: str, *, carry: bool,
              sequential: bool):
    kinds = ["senior"] * draw(st.integers(1, 2)) + ["mezzanine"] * draw(st.integers(0, 1)) + ["subordinate"]
    size = draw(st.integers(50, 95 if carry else 120)) / 100.0 * pool
    weights = [draw(st.integers(1, 10)) for _ in kinds]
    out = []
    for j, kind in enumerate(kinds):
        bal = round(size * weights[j] / sum(weights), 2)
        if not carry and not sequential and draw(st.integers(0, 9)) == 0:
            bal = 0.0  # an edge case: a class with nothing outstanding (no division by zero anywhere)
        amort = "pass_through" if carry and kind != "subordinate" else draw(
            st.sampled_from(["bullet", "pass_through", "scheduled"]))
        tr = {"name": f"{kind[:3]}{j}", "seniority": kind, "balance": bal,
              "coupon": 0.0 if kind == "subordinate" else draw(st.integers(0, 50)) / 1000.0,
              "amortization": amort,
              "interest_on_shortfall": False if carry else draw(st.booleans())}
        if amort == "bullet" and draw(st.booleans()):
            tr["expected_maturity"] = add_months(first, MONTHS[freq] * draw(st.integers(0, 3)))
            if tr["expected_maturity"] > legal:
                tr["expected_maturity"] = legal
        if amort == "scheduled":
            n = draw(st.integers(1, 3))
            dates = sorted({add_months(first, MONTHS[freq] * draw(st.integers(0, 6))) for _ in range(n)})
            dates = [d for d in dates if closing < d <= legal] or [legal]
            fr = sorted((draw(st.integers(0, 100)) / 100.0 for _ in dates), reverse=True)
            tr["schedule"] = [{"date": d, "balance": round(bal * f, 2)} for d, f in zip(dates, fr, strict=True)]
        if not sequential:
            tr["price"] = draw(st.sampled_from([98.0, 100.0, 101.5]))
        out.append(tr)
    return out


def _assumptions(draw, obligors: list[str], n_periods: int, *, defaults: bool):
    if not defaults:
        return {"cpr": draw(st.sampled_from([0.0, 0.0, 0.1]))}
    a: dict = {"recovery_rate": draw(st.sampled_from([0.0, 0.3, 0.6])),
               "recovery_lag_periods": draw(st.integers(0, 3)),
               "cpr": draw(st.sampled_from([0.0, 0.05, 0.2]))}
    if draw(st.booleans()):
        a["cdr"] = draw(st.sampled_from([0.0, 0.02, 0.1, 0.3]))
    else:
        a["cumulative_default_rate"] = draw(st.sampled_from([0.05, 0.2, 0.5]))
        if draw(st.booleans()):
            a["default_timing"] = [float(draw(st.integers(0, 3))) for _ in range(n_periods)]
            if sum(a["default_timing"]) == 0:
                a["default_timing"][0] = 1.0
    if draw(st.booleans()):
        picked = draw(st.lists(st.sampled_from(obligors), min_size=1, max_size=2, unique=True))
        a["obligor_defaults"] = [{"obligor_id": o, "period": draw(st.integers(1, n_periods))} for o in picked]
    return a


@st.composite
def deals(draw, *, defaults: bool = True) -> RandomDeal:
    """Any valid small deal (see module docstring)."""
    deal = draw(deal_dates())
    tape = draw(assets(deal["cutoff_date"], deal["legal_maturity"]))
    pool = pool_balance(tape, deal["cutoff_date"])
    from ipabs.compile.schedule import build_deal_schedule
    from ipabs.scenario.schema import DealTerms

    n_periods = build_deal_schedule(DealTerms(**deal)).n_periods
    tranches = _tranches(draw, pool, deal["legal_maturity"], deal["closing_date"], deal["first_payment_date"],
                         deal["payment_frequency"], carry=False, sequential=False)
    names = [t["name"] for t in tranches]
    seniors = [t["name"] for t in tranches if t["seniority"] == "senior"]
    rated = [t["name"] for t in tranches if t["seniority"] != "subordinate"]
    sub = tranches[-1]["name"]
    if draw(st.booleans()):
        deal["clean_up_call"] = draw(st.sampled_from([0.1, 0.3]))

    fees = []
    for i, basis in enumerate(draw(st.lists(st.sampled_from(
            ["fixed", "pool_balance", "tranche_balance", "interest_collections"]), max_size=3))):
        f = {"name": f"fee{i}", "basis": basis}
        if basis == "fixed":
            f["annual_amount"] = float(draw(st.integers(0, 200)) * 1000)
        else:
            f["rate"] = draw(st.integers(0, 40)) / 10000.0
        if basis == "tranche_balance":
            f["tranches"] = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
        fees.append(f)

    split = draw(st.booleans())
    if split:
        accounts = [{"name": "interest_acct", "receives": ["interest"]},
                    {"name": "principal_acct", "receives": ["principal", "recoveries"],
                     "initial_balance": float(draw(st.integers(0, 3)) * 100_000)}]
    else:
        accounts = [{"name": "collection", "receives": ["interest", "principal", "recoveries"]}]
    main = accounts[0]["name"]
    has_reserve = draw(st.booleans())
    if has_reserve:
        accounts.append({"name": "reserve", "kind": "reserve",
                         "initial_balance": float(draw(st.integers(0, 20)) * 100_000),
                         "target_amount": float(draw(st.integers(0, 20)) * 100_000),
                         "target_rate": draw(st.sampled_from([0.0, 0.01, 0.03])),
                         "target_tranches": seniors})

    support = []
    if draw(st.booleans()):
        support.append({"name": "guarantor", "kind": draw(st.sampled_from(["shortfall_commitment", "guarantee"])),
                        "default_period": draw(st.integers(0, n_periods))})
        if draw(st.booleans()):
            support[0]["cap"] = float(draw(st.integers(0, 50)) * 100_000)

    triggers = []
    for i in range(draw(st.integers(0, 2))):
        cond = draw(st.sampled_from(["cumulative_default_ratio", "coverage_ratio", "on_date"]
                                    + (["support_default"] if support else [])))
        trig = {"name": f"trigger{i}", "condition": cond,
                "effect": draw(st.sampled_from(["accelerated", "post_default"])), "curable": draw(st.booleans())}
        if cond == "cumulative_default_ratio":
            trig["threshold"] = draw(st.sampled_from([0.0137, 0.0519, 0.1523]))
        elif cond == "coverage_ratio":
            trig["threshold"] = draw(st.sampled_from([0.9013, 1.0517, 1.2031]))
        elif cond == "support_default":
            trig["support"] = "guarantor"
        else:
            trig["date"] = add_months(deal["first_payment_date"],
                                      MONTHS[deal["payment_frequency"]] * draw(st.integers(0, n_periods - 1)))
        triggers.append(trig)

    def waterfall(accelerated: bool) -> list[dict]:
        steps: list[dict] = []
        if split and draw(st.booleans()):
            steps.append({"action": "transfer", "account": "principal_acct", "to": main,
                          "amount": draw(st.sampled_from(["all", "shortfall"])),
                          "covers": ["fees", f"interest:{seniors[0]}"]})
        if has_reserve and draw(st.booleans()):
            steps.append({"action": "transfer", "account": "reserve", "to": main, "amount": "shortfall",
                          "covers": ["fees"] + [f"interest:{n}" for n in seniors]})
        if support:
            covers = draw(st.lists(st.sampled_from(["fees"] + [f"interest:{n}" for n in rated]
                                                   + [f"principal:{n}" for n in seniors]),
                                   min_size=1, max_size=3, unique=True))
            steps.append({"action": "draw_support", "support": "guarantor", "covers": covers})
        if fees:
            steps.append({"action": "pay_fees", "allocation": draw(st.sampled_from(["sequential", "pro_rata"]))})
        alloc = draw(st.sampled_from(["sequential", "pro_rata"]))
        steps.append({"action": "pay_interest", "tranches": rated, "allocation": alloc})
        if has_reserve:
            steps.append({"action": "transfer", "account": main, "to": "reserve", "amount": "to_target"})
        if split:
            steps.append({"action": "pay_principal", "account": "principal_acct", "tranches": rated,
                          "amount": "all" if accelerated else draw(st.sampled_from(["due", "all", "collected"])),
                          "allocation": draw(st.sampled_from(["sequential", "pro_rata"]))})
        mode = "all" if accelerated else draw(st.sampled_from(["due", "all", "collected"]))
        steps.append({"action": "pay_principal", "tranches": rated, "amount": mode,
                      "allocation": draw(st.sampled_from(["sequential", "pro_rata"]))})
        if has_reserve and draw(st.booleans()):
            steps.append({"action": "transfer", "account": "reserve", "to": main, "amount": "all",
                          "require_repaid": rated})
        steps.append({"action": "pay_principal", "tranches": [sub], "amount": draw(st.sampled_from(["due", "all"])),
                      "require_repaid": rated})
        if split:
            steps.append({"action": "transfer", "account": "principal_acct", "to": main, "amount": "all",
                          "require_repaid": rated})
        if draw(st.booleans()):
            steps.append({"action": "pay_residual", "tranche": sub,
                          "require_repaid": draw(st.sampled_from([[], rated, names]))})
        return steps

    waterfalls = {"normal": waterfall(False)}
    if draw(st.booleans()):
        waterfalls["accelerated"] = waterfall(True)
    if draw(st.booleans()):
        waterfalls["post_default"] = waterfall(True)
    obligors = sorted(set(tape["obligor_id"]))
    scenario = {
        "deal": deal,
        "pool": {"tape": "in-memory"},
        "assumptions": _assumptions(draw, obligors, n_periods, defaults=defaults),
        "tranches": tranches,
        "fees": fees,
        "accounts": accounts,
        "support": support,
        "triggers": triggers,
        "waterfall": waterfalls,
    }
    return RandomDeal(scenario, tape)


@st.composite
def sequential_deals(draw, *, carry: bool = False, defaults: bool = True, fees: bool = True,
                     principal: str | None = None) -> RandomDeal:
    """One collection account, no support, no triggers, a strictly sequential priority of payments.

    ``carry=True``: the pool can carry the notes — assets earn ≥ 6% and pay interest at least quarterly, mature
    inside the deal, the notes total ≤ 95% of the pool, every rated note is pass-through and the fees are small.
    ``principal``: the amount mode of the rated notes' principal step ('due' or 'all'; default drawn, 'all' when
    ``carry``).
    """
    deal = draw(deal_dates(carry=carry))
    tape = draw(assets(deal["cutoff_date"], deal["legal_maturity"], carry=carry))
    pool = pool_balance(tape, deal["cutoff_date"])
    from ipabs.compile.schedule import build_deal_schedule
    from ipabs.scenario.schema import DealTerms

    n_periods = build_deal_schedule(DealTerms(**deal)).n_periods
    tranches = _tranches(draw, pool, deal["legal_maturity"], deal["closing_date"], deal["first_payment_date"],
                         deal["payment_frequency"], carry=carry, sequential=True)
    rated = [t["name"] for t in tranches if t["seniority"] != "subordinate"]
    sub = tranches[-1]["name"]
    fee_list = []
    if fees:
        fixed = pool * draw(st.integers(0, 10)) / 10000.0 if carry else float(draw(st.integers(0, 50)) * 1000)
        fee_list = [{"name": "trustee", "basis": "pool_balance", "rate": draw(st.integers(0, 20)) / 10000.0},
                    {"name": "rating", "basis": "fixed", "annual_amount": round(fixed, 2)}]
    steps: list[dict] = []
    if fee_list:
        steps.append({"action": "pay_fees"})
    for n in rated:
        steps.append({"action": "pay_interest", "tranches": [n]})
    mode = principal or ("all" if carry else draw(st.sampled_from(["due", "all"])))
    steps.append({"action": "pay_principal", "tranches": rated, "amount": mode})
    steps.append({"action": "pay_principal", "tranches": [sub], "amount": "all", "require_repaid": rated})
    steps.append({"action": "pay_residual", "tranche": sub, "require_repaid": rated + [sub]})
    obligors = sorted(set(tape["obligor_id"]))
    scenario = {
        "deal": deal,
        "pool": {"tape": "in-memory"},
        "assumptions": _assumptions(draw, obligors, n_periods, defaults=defaults),
        "tranches": tranches,
        "fees": fee_list,
        "waterfall": {"normal": steps},
    }
    return RandomDeal(scenario, tape)


#: synthetic_deal keywords of the Monte Carlo variants several oracle tests run (ids: fees+cleanup, bullet,
#: student_t+ip).
SYNTHETIC_MC_VARIANTS = {"fees+cleanup": {"fees": True, "cleanup": 0.1}, "bullet": {"amortization": "bullet"},
                         "student_t+ip": {"copula": "student_t", "degrees_of_freedom": 4.0,
                                          "recovery_model": "ip_disposal"}}


def with_and_without_restart(deal: CompiledDeal) -> list:
    """The deal's prepared Monte Carlo inputs as they are, and with the restart shortcut switched off."""
    import dataclasses

    from ipabs.engine.montecarlo import prepare

    prep = prepare(deal)
    return [prep, dataclasses.replace(prep, base=prep.base._replace(restart_ok=0, wound_up=deal.n_periods))]
