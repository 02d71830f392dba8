"""Implied ratings (ipabs.structuring.ratings): thresholds against the tables and closed forms, notches, margins and
their 2-SE flip flag, the unconfirmed-table flag, horizon interpolation only on request, and the mapping file."""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from ipabs.errors import ScenarioError
from ipabs.structuring.ratings import (
    HORIZON_TOL,
    dump_mapping,
    implied_rating,
    load_mapping,
    load_target_table,
    parse_mapping,
    rating_threshold,
    ratings_frame,
    tranche_ratings,
)

#: DOMAIN.md §10, confirmed: Moody's idealised 10-year cumulative PDs (WARF rating factor / 10,000).
WARF = {"Aaa": 1, "Aa1": 10, "Aa2": 20, "Aa3": 40, "A1": 70, "A2": 120, "A3": 180, "Baa1": 260, "Baa2": 360,
        "Baa3": 610, "Ba1": 940, "Ba2": 1350, "Ba3": 1766, "B1": 2220, "B2": 2720, "B3": 3490, "Caa1": 4770,
        "Caa2": 6500, "Caa3": 8070, "Ca": 10000, "C": 10000}
#: DOMAIN.md §6 [U]: the recalled one-year idealised PDs (%), shipped only behind the flag.
PD1 = {"Aaa": 0.0001, "Aa1": 0.0006, "Aa2": 0.0014, "Aa3": 0.0030, "A1": 0.0058, "A2": 0.0109, "A3": 0.0389,
       "Baa1": 0.09, "Baa2": 0.17, "Baa3": 0.42, "Ba1": 0.87, "Ba2": 1.56, "Ba3": 2.81, "B1": 4.68, "B2": 7.16,
       "B3": 11.62, "Caa1": 17.38, "Caa2": 26.0, "Caa3": 50.99}
CN = ["AAAsf", "AA+sf", "AAsf", "AA-sf", "A+sf", "Asf", "A-sf", "BBB+sf", "BBBsf", "BBB-sf", "BB+sf", "BBsf", "BB-sf",
      "B+sf", "Bsf", "B-sf", "CCCsf", "CCCsf", "CCCsf", "CCsf", "Csf"]


# ---- thresholds ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rating", list(WARF))
def test_thresholds_equal_the_confirmed_table_at_ten_years(rating):
    assert rating_threshold(rating, 10.0) == WARF[rating] / 10_000
    # a WAL within the tolerance of 10 years uses the tabulated value, not an interpolated one
    assert rating_threshold(rating, 10.0 + HORIZON_TOL / 2) == WARF[rating] / 10_000


def test_the_shipped_pd_table_is_confirmed_and_needs_no_flag():
    t = load_target_table("moodys_idealized", "pd")
    assert t.status == "confirmed" and t.ratings == tuple(WARF) and t.horizons_years == (10.0,)
    r = implied_rating(0.005, 0.0001, 10.0)
    assert r.table_status == "confirmed" and r.horizon_rule == "tabulated 10y"
    assert not any("UNCONFIRMED" in lb or "interpolated" in lb for lb in r.labels)


@pytest.mark.parametrize("wal", [0.25, 1.0, 2.7, 5.0, 9.9, 12.0])
def test_a_horizon_off_the_table_is_refused_without_interpolation(wal):
    with pytest.raises(ScenarioError, match="interpolation='log_linear'"):
        rating_threshold("A2", wal)
    with pytest.raises(ScenarioError, match="interpolat"):
        implied_rating(0.001, 0.0001, wal)


@pytest.mark.parametrize("wal", [0.25, 1.0, 2.7, 5.0, 9.9, 12.0, 20.0])
@pytest.mark.parametrize("rating", ["Aaa", "Aa2", "A2", "Baa3", "Ba2", "B3", "Caa3"])
def test_interpolated_thresholds_equal_the_constant_hazard_closed_form(rating, wal):
    c10 = WARF[rating] / 10_000
    got = rating_threshold(rating, wal, interpolation="log_linear")
    assert got == pytest.approx(1.0 - (1.0 - c10) ** (wal / 10.0), rel=1e-12, abs=1e-16)
    r = implied_rating(got / 2, 0.0, wal, interpolation="log_linear")
    assert r.interpolation == "log_linear" and r.horizon_rule.startswith("log_linear: constant hazard from the 10y")
    assert any(lb.startswith("interpolated horizon: log_linear") for lb in r.labels)


def test_unconfirmed_pd_grid_refuses_without_the_flag_and_labels_with_it():
    with pytest.raises(ScenarioError, match="allow_unconfirmed"):
        rating_threshold("Baa2", 1.0, table="moodys_idealized_1y10y")
    with pytest.raises(ScenarioError, match="allow_unconfirmed"):
        implied_rating(0.001, 0.0, 1.0, table="moodys_idealized_1y10y")
    kw = {"table": "moodys_idealized_1y10y", "allow_unconfirmed": True}
    for r, p in PD1.items():
        assert rating_threshold(r, 1.0, **kw) == pytest.approx(p / 100, rel=1e-12)
        assert rating_threshold(r, 10.0, **kw) == pytest.approx(WARF[r] / 10_000, rel=1e-12)
    # between 1 and 10 years only with the interpolation flag: S(t) = S(1)·(S(10)/S(1))^((t − 1)/9)
    with pytest.raises(ScenarioError, match="interpolat"):
        rating_threshold("Baa2", 4.0, **kw)
    s1, s10 = 1 - 0.0017, 1 - 0.036
    assert rating_threshold("Baa2", 4.0, interpolation="log_linear", **kw) == pytest.approx(
        1 - s1 * (s10 / s1) ** (3 / 9), rel=1e-12)
    out = implied_rating(0.0016, 0.0, 1.0, **kw)
    assert out.rating == "Baa2" and out.table_status == "unconfirmed"
    assert any(lb.startswith("UNCONFIRMED pd table 'moodys_idealized_1y10y'") for lb in out.labels)
    assert "UNCONFIRMED" in out.frame().loc[0, "labels"]


def test_unconfirmed_el_table_refuses_without_the_flag_and_labels_with_it():
    with pytest.raises(ScenarioError, match="allow_unconfirmed"):
        rating_threshold("Aaa", 10.0, basis="el")
    for r in PD1:  # the recalled EL column is the 10-year PD × 55 % (DOMAIN.md §6)
        assert rating_threshold(r, 10.0, basis="el", allow_unconfirmed=True) == pytest.approx(
            WARF[r] / 10_000 * 0.55, rel=1e-12)
    out = implied_rating(0.005, 0.0001, 10.0, basis="el", allow_unconfirmed=True)
    assert out.rating == "A2" and out.metric == "expected loss / tranche face"  # A1 0.385 % < 0.5 % ≤ A2 0.66 %
    assert out.labels[0].startswith("UNCONFIRMED el table")
    # beyond the worst rating of the EL table: below the scale
    below = implied_rating(0.6, 0.001, 10.0, basis="el", allow_unconfirmed=True)
    assert below.rating is None and below.rating_up == "Caa3" and below.margin_up == pytest.approx(0.6 - 0.44385)


def test_a_user_table_file_needs_the_flag_unless_confirmed(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text('name = "mine"\nversion = 3\nstatus = "assumption"\nsource = "our static pool"\n'
                 'horizons_years = [2]\n[cumulative_pd]\n"Aaa" = [0.001]\n"Aa1" = [0.01]\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="allow_unconfirmed"):
        rating_threshold("Aaa", 2.0, table=p)
    assert rating_threshold("Aa1", 2.0, table=p, allow_unconfirmed=True) == 0.01
    r = implied_rating(0.005, 0.0, 2.0, table=p, allow_unconfirmed=True)
    assert r.rating == "Aa1" and r.rating_cn == "AA+sf" and "ASSUMPTION pd table 'mine' v3" in r.labels[0]
    p.write_text('status = "confirmed"\nhorizons_years = [2]\n[cumulative_pd]\n"Aaa" = [0.01]\n"Aa1" = [0.001]\n',
                 encoding="utf-8")
    with pytest.raises(ScenarioError, match="must not decrease down the rating order"):
        rating_threshold("Aaa", 2.0, table=p)


# ---- notches, margins, flips --------------------------------------------------------------------------------------
def test_notch_margins_and_their_two_se_band():
    v, se = 0.0100, 0.0004  # A2 (0.70 % < 1.00 % ≤ 1.20 %) at 10 years
    r = implied_rating(v, se, 10.0)
    assert (r.rating, r.rating_up, r.rating_down) == ("A2", "A1", "A3")
    assert (r.threshold, r.threshold_up, r.threshold_down) == (0.012, 0.007, 0.018)
    assert r.margin_down == pytest.approx(0.002) and r.margin_up == pytest.approx(0.003)
    assert r.margin_down_band == pytest.approx((0.002 - 0.0008, 0.002 + 0.0008))
    assert r.margin_up_band == pytest.approx((0.003 - 0.0008, 0.003 + 0.0008))
    assert not r.flips_within_2se
    assert r.rating_cn == "Asf" and (r.rating_cn_up, r.rating_cn_down) == ("A+sf", "A-sf")
    assert r.margin_cn_down == pytest.approx(0.002) and not r.flips_within_2se_cn
    f = r.frame()
    assert len(f) == 1 and f.loc[0, "margin_down_lo"] == pytest.approx(0.0012)


def test_the_boundary_belongs_to_the_better_notch():
    assert implied_rating(0.012, 0.0, 10.0).rating == "A2"
    assert implied_rating(0.012 + 1e-12, 0.0, 10.0).rating == "A3"
    assert implied_rating(0.0, 0.0, 10.0).rating == "Aaa"
    assert implied_rating(1.0, 0.0, 10.0).rating == "Ca"


@pytest.mark.parametrize(("se", "flips"), [(0.00024, False), (0.00026, True)])
def test_a_pd_just_inside_a_notch_flags_a_flip_within_two_se(se, flips):
    r = implied_rating(0.0115, se, 10.0)  # 0.05 % inside A2's 1.20 %: flips when 2·SE > 0.05 %
    assert r.rating == "A2" and r.flips_within_2se is flips and r.flips_within_2se_cn is flips
    r = implied_rating(0.0075, se, 10.0)  # 0.05 % above A1's 0.70 %: could move up a notch
    assert r.rating == "A2" and r.margin_up == pytest.approx(0.0005) and r.flips_within_2se is flips


def _fake_mc(events: dict[str, tuple[int, int]], n: int, wal: float = 10.0, statistics: str = "full"):
    """An MCResult stand-in: per tranche (paths with a principal loss, further paths with only a shortfall)."""
    names = tuple(events)
    loss = np.zeros((n, len(names)))
    short = np.zeros((n, len(names)), dtype=np.int8)
    for k, (n_loss, n_short) in enumerate(events.values()):
        loss[:n_loss, k] = 0.25
        short[n_loss:n_loss + n_short, k] = 1
    w = np.full((n, len(names)), wal if statistics == "full" else math.nan)
    return SimpleNamespace(n_paths=n, loss=loss, short=short, wal=w, statistics=statistics,
                           deal=SimpleNamespace(names=SimpleNamespace(tranches=names)))


def test_an_mc_result_just_inside_a_notch_gives_that_notch_and_flags_the_flip():
    n = 10_000
    # A: PD 1.15 % (A2, 0.05 % inside; SE 0.107 %: flips); B: PD 0.95 % (A2 mid-notch; 2 SE 0.195 % < 0.25 %)
    mc = _fake_mc({"A": (100, 15), "B": (95, 0)}, n)
    a, b = tranche_ratings(mc)
    assert a.tranche == "A" and a.value == 0.0115 and a.n_events == 115 and a.rating == "A2"
    assert a.se == pytest.approx(math.sqrt(0.0115 * 0.9885 / n)) and a.flips_within_2se
    assert a.wal_years == 10.0 and a.wal_source == "mc_expected_wal"
    assert b.rating == "A2" and not b.flips_within_2se
    # counting principal losses only (MCResult.tranche_stats' default_probability): A is 1.00 %
    a_loss = tranche_ratings(mc, default_event="loss")[0]
    assert a_loss.value == 0.01 and a_loss.rating == "A2"
    # the EL basis: 100 paths lose 25 % → EL 0.25 %, with the sample SE of the losses
    el = tranche_ratings(mc, basis="el", allow_unconfirmed=True)[0]
    assert el.value == pytest.approx(0.0025) and el.rating == "A1"  # Aa3 0.22 % < 0.25 % ≤ A1 0.385 %
    assert el.se == pytest.approx(float(mc.loss[:, 0].std(ddof=1)) / math.sqrt(n))


def test_zero_events_floor_the_se_so_too_few_paths_are_flagged():
    mc = _fake_mc({"senior": (0, 0)}, 1_000)
    (r,) = tranche_ratings(mc)
    floor = math.sqrt(1e-3 * (1 - 1e-3) / 1_000)
    assert r.value == 0.0 and r.rating == "Aaa" and r.se == pytest.approx(floor) and r.n_events == 0
    assert r.flips_within_2se and "floored" in r.se_note  # Aaa allows 0.01 %; one path in 1,000 is 0.1 %
    (r,) = tranche_ratings(_fake_mc({"senior": (0, 0)}, 1_000_000))
    assert r.rating == "Aaa" and not r.flips_within_2se  # 2·SE ≈ 0.0002 % < 0.01 %


def test_the_expected_wal_leaves_out_paths_that_repay_no_principal():
    mc = _fake_mc({"A": (10, 0)}, 1_000)
    mc.wal[:500, 0] = 0.0  # the kernel's WAL on a path that repays none of the tranche's principal
    mc.wal[500:, 0] = 10.0
    assert tranche_ratings(mc)[0].wal_years == 10.0


def test_losses_only_runs_need_a_wal_and_say_where_it_came_from():
    mc = _fake_mc({"A": (10, 0)}, 1_000, statistics="losses")
    (r,) = tranche_ratings(mc, wal={"A": 10.0})
    assert r.wal_years == 10.0 and r.wal_source == "given"


# ---- the mapping --------------------------------------------------------------------------------------------------
def test_the_shipped_mapping_is_an_assumption_and_says_so_everywhere():
    m = load_mapping()
    assert m.status == "assumption" and "assumption" in m.source and m.from_scale == "moodys"
    assert [m.map[r] for r in WARF] == CN
    r = implied_rating(0.0001, 0.0, 10.0)
    assert r.rating == "Aaa" and r.rating_cn == "AAAsf" and r.mapping_status == "assumption"
    assert any(lb.startswith("ASSUMPTION mapping 'cn_sf'") for lb in r.labels)
    assert "ASSUMPTION mapping" in ratings_frame([r]).loc[0, "labels"]


@pytest.mark.parametrize("rating", list(WARF))
def test_chinese_labels_have_the_thresholds_of_their_mapped_notch(rating):
    cn = load_mapping().map[rating]
    # Caa1–Caa3 all map to CCCsf: its threshold is the weakest of them (Caa3)
    expect = max(WARF[r] for r in WARF if load_mapping().map[r] == cn) / 10_000
    assert rating_threshold(cn, 10.0) == expect
    assert rating_threshold(cn, 3.0, interpolation="log_linear") == pytest.approx(1 - (1 - expect) ** 0.3, rel=1e-12)


def test_the_mapping_file_round_trips():
    m = load_mapping()
    again = parse_mapping(dump_mapping(m), m.file)
    assert again == m
    assert parse_mapping(dump_mapping(replace(m, name='a "quoted" name'))).name == 'a "quoted" name'


def test_a_user_mapping_file_replaces_the_shipped_one(tmp_path):
    m = load_mapping()
    looser = dict(m.map)
    looser.update({"Aa1": "AAAsf", "Aa2": "AAAsf", "Aa3": "AA+sf", "A1": "AA+sf"})
    mine = replace(m, name="agency_x", version="2", status="user file", source="our credit committee, 2026-11",
                   map=looser)
    p = tmp_path / "map.toml"
    p.write_text(dump_mapping(mine), encoding="utf-8")
    assert rating_threshold("AAAsf", 10.0, mapping=p) == 0.002  # the weakest of Aaa, Aa1, Aa2
    assert rating_threshold("AAAsf", 10.0) == 0.0001
    r = implied_rating(0.0015, 0.0, 10.0, mapping=str(p))
    assert r.rating == "Aa2" and r.rating_cn == "AAAsf" and r.mapping == "agency_x" and r.mapping_version == "2"
    assert r.threshold_cn == 0.002 and r.rating_cn_down == "AA+sf" and r.threshold_cn_up is None
    assert any(lb.startswith("USER FILE mapping 'agency_x'") for lb in r.labels)
    assert implied_rating(0.0015, 0.0, 10.0).rating_cn == "AAsf"


def test_bad_mappings_are_refused(tmp_path):
    m = load_mapping()
    with pytest.raises(ScenarioError, match="keep the order"):
        parse_mapping(dump_mapping(replace(m, map={**m.map, "Aa1": "AAsf", "Aa2": "AA+sf"})))
    with pytest.raises(ScenarioError, match="not on the scale"):
        parse_mapping(dump_mapping(replace(m, map={**m.map, "Aaa": "AAA"})))
    partial = replace(m, map={k: v for k, v in m.map.items() if k != "Baa2"})
    with pytest.raises(ScenarioError, match="does not map"):
        implied_rating(0.01, 0.0, 10.0, mapping=partial)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_mapping(tmp_path / "missing.toml")


def test_bad_inputs_are_refused():
    with pytest.raises(ScenarioError, match="interpolation must be"):
        rating_threshold("Aaa", 5.0, interpolation="cubic")
    with pytest.raises(ScenarioError, match="basis must be"):
        rating_threshold("Aaa", 10.0, basis="lgd")
    with pytest.raises(ScenarioError, match="neither in table"):
        rating_threshold("AAA", 10.0)
    with pytest.raises(ScenarioError, match="positive"):
        rating_threshold("Aaa", 0.0)
    with pytest.raises(ScenarioError, match="finite"):
        implied_rating(math.nan, 0.0, 10.0)
    with pytest.raises(ScenarioError, match="no shipped"):
        rating_threshold("Aaa", 10.0, table="sp_cdo")
