"""Rating tables and PD term structures (ipabs.credit.pd_curves): interpolation, stresses, the shipped tables."""

from __future__ import annotations

import numpy as np
import pytest

from ipabs.credit.pd_curves import (
    cumulative_from_horizons,
    load_rating_table,
    parse_rating_table,
    stressed_cumulative,
)
from ipabs.credit.synthetic import synthetic_deal
from ipabs.engine.montecarlo import prepare, simulate, trace_path
from ipabs.errors import ScenarioError

#: DOMAIN.md §10, confirmed: Moody's idealised 10-year cumulative default probabilities (WARF / 10,000).
WARF = {"Aaa": 1, "Aa1": 10, "Aa2": 20, "Aa3": 40, "A1": 70, "A2": 120, "A3": 180, "Baa1": 260, "Baa2": 360,
        "Baa3": 610, "Ba1": 940, "Ba2": 1350, "Ba3": 1766, "B1": 2220, "B2": 2720, "B3": 3490, "Caa1": 4770,
        "Caa2": 6500, "Caa3": 8070, "Ca": 10000, "C": 10000}


def test_the_moodys_table_is_the_confirmed_ten_year_column_and_says_so():
    t = load_rating_table("moodys_idealized")
    assert t.status == "confirmed" and "10-year" in t.source and t.horizons_years == (10.0,)
    assert {r: round(c[0] * 10_000, 6) for r, c in t.cumulative_pd.items()} == WARF


def test_the_illustrative_table_is_flagged_as_an_assumption():
    t = load_rating_table("cn_illustrative")
    assert t.status == "assumption" and t.annual_pd["AA"] == 0.002 and not t.cumulative_pd


def test_one_horizon_is_the_flat_hazard_that_matches_it():
    years = np.array([0.5, 1.0, 3.0, 10.0, 12.0])
    c = cumulative_from_horizons((10.0,), (0.272,), years)
    assert np.allclose(c, 1 - (1 - 0.272) ** (years / 10), rtol=1e-13)


def test_several_horizons_are_met_exactly_with_log_linear_survival_in_between():
    h, cum = (1.0, 3.0, 5.0), (0.02, 0.08, 0.15)
    c = cumulative_from_horizons(h, cum, np.array([1.0, 2.0, 3.0, 5.0, 7.0]))
    assert np.allclose(c[[0, 2, 3]], cum, rtol=1e-14)
    assert np.isclose(np.log1p(-c[1]), 0.5 * (np.log1p(-0.02) + np.log1p(-0.08)))  # midpoint in log-survival
    slope = (np.log1p(-0.15) - np.log1p(-0.08)) / 2.0  # the last hazard continues
    assert np.isclose(np.log1p(-c[4]), np.log1p(-0.15) + 2.0 * slope)
    assert np.all(np.diff(c) > 0)


def test_the_stress_multiplies_each_periods_annualised_conditional_pd():
    yf = np.full(20, 0.25)
    years = np.cumsum(yf)
    flat = 1 - (1 - 0.03) ** years
    assert np.array_equal(stressed_cumulative(flat, yf, 1.0), flat)
    assert np.allclose(stressed_cumulative(flat, yf, 1.5), 1 - (1 - 0.045) ** years, rtol=1e-12)
    assert np.allclose(stressed_cumulative(flat, yf, 100.0), 1.0)  # capped at a certain default


@pytest.mark.parametrize("text, expect", [
    ("name = 'x'", "neither"),
    ("[annual_pd]\nA = 1.5", "'A'"),
    ("horizons_years = [5, 3]\n[cumulative_pd]\nA = [0.1, 0.2]", "increasing"),
    ("horizons_years = [1, 3]\n[cumulative_pd]\nA = [0.1]", "1 cumulative PDs for 2 horizons"),
    ("horizons_years = [1, 3]\n[cumulative_pd]\nA = [0.2, 0.1]", "not decrease"),
    ("horizons_years = [1", "not valid TOML"),
])
def test_a_bad_table_is_refused_naming_the_file_and_rating(text, expect):
    with pytest.raises(ScenarioError) as e:
        parse_rating_table(text, "rating_pd_bad.toml", "bad")
    assert expect in str(e.value) and "rating_pd_bad.toml" in str(e.value)


def test_an_unknown_table_lists_the_shipped_ones():
    with pytest.raises(ScenarioError, match="moodys_idealized"):
        load_rating_table("nope")


@pytest.mark.slow
def test_simulated_default_times_follow_the_rating_tables_pd_term_structure():
    deal = synthetic_deal(n_obligors=200, n_periods=20, frequency="quarterly", rating="B2",
                          rating_table="moodys_idealized", correlation=0.05, sector_correlation=0.0,
                          pd_interpolation="log_linear")
    prep = prepare(deal)
    assert prep.rating_table["name"] == "moodys_idealized" and prep.rating_table["status"] == "confirmed"
    from statistics import NormalDist

    years = np.cumsum(deal.waterfall.yf)
    curve = 1 - (1 - 0.272) ** (years / 10)
    th = prep.credit.thresholds[prep.credit.th_row[0]]
    assert np.allclose([NormalDist().cdf(x) for x in th], curve, rtol=1e-9)  # thresholds are Φ⁻¹ of the curve
    # simulated default times: the share of obligors defaulted by the end of each year follows the curve (the
    # error of a mean over paths, with the obligors of a path correlated)
    n_paths, n_ob = 1_500, 200
    ends = [3, 11, 19]  # periods ending years 1, 3 and 5
    by = np.empty((n_paths, len(ends)))
    for p in range(n_paths):
        tau = trace_path(deal, 12, p, prepared=prep).obligor_default_period[:n_ob]
        by[p] = [(tau <= e).mean() for e in ends]
    se = by.std(axis=0, ddof=1) / np.sqrt(n_paths)
    assert np.all(np.abs(by.mean(axis=0) - curve[ends]) < 5 * se + 1e-4), (by.mean(axis=0), curve[ends])
    res = simulate(deal, 2_000, 12, prepared=prep)
    assert res.meta["rating_table"] == prep.rating_table
    stressed = prepare(deal, deal.scenario.assumptions.model_copy(update={"default_multiplier": 2.0}))
    th2 = stressed.credit.thresholds[stressed.credit.th_row[0]]
    assert np.all(th2 > th)


def test_a_table_without_the_deals_yearly_horizons_is_refused_unless_interpolation_is_asked_for():
    deal = synthetic_deal(n_obligors=5, n_periods=8, frequency="quarterly", rating="Baa2",
                          rating_table="moodys_idealized")
    with pytest.raises(ScenarioError) as e:
        prepare(deal)
    assert "pd_interpolation" in str(e.value) and "[1, 2]" in str(e.value)
    flat = synthetic_deal(n_obligors=5, n_periods=8, frequency="quarterly", rating="AA",
                          rating_table="cn_illustrative")
    prepare(flat)  # a flat annual PD is a constant hazard by definition: nothing to interpolate
