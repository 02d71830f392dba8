"""The pledge-loan book and the risk-compensation fund's outlook from the book's servicer report."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from surveil_samples import REPORTS, SCENARIOS

from ipabs.surveillance import ReportError, load_rules
from ipabs.surveillance.book import book_outlook
from ipabs.surveillance.monitor import watchlist_from_reports

BOOK = SCENARIOS / "fund-portfolio-ganzhou.csv"
REPORT = REPORTS / "book-ganzhou-servicer-2026-12-31.csv"
AS_OF = dt.date(2026, 12, 31)


@pytest.mark.slow
def test_known_defaults_come_off_the_fund_and_overdue_firms_take_the_transition_pd():
    b = book_outlook(BOOK, REPORT, as_of=AS_OF, fund_size=60_000_000, n_paths=2000, seed=11)
    # GZ-PL-023 defaulted: 13,020,000 × lgd 0.6, of which the fund bears the Zhongshan preset's 54%
    k = b.known_claims.set_index("loan_id").loc["GZ-PL-023"]
    assert k["loss"] == pytest.approx(7_812_000.00) and k["fund_share"] == pytest.approx(4_218_480.00)
    s = b.summary()
    assert s["fund_after_known_claims"] == pytest.approx(60_000_000 - 4_218_480)
    loans = b.loans.set_index("loan_id")
    t = load_rules().transition
    assert loans.loc["GZ-PL-008", "pd_now"] == t.pd_12m(120) and loans.loc["GZ-PL-036", "pd_now"] == t.pd_12m(35)
    assert loans.loc["GZ-PL-002", "treatment"] == "pipeline" and loans.loc["GZ-PL-023", "treatment"] == "known_claim"
    assert s["expected_draw_coming_year"] > 0 and 0 <= s["prob_exhausted_ever"] <= 1
    assert any("assumption" in n for n in b.notes)


def test_the_books_troubled_firms_are_exactly_the_watchlist():
    watch, _, rejected = watchlist_from_reports([REPORT])
    assert not rejected
    assert set(watch["subject"]) == {"GZ-P06", "GZ-P19", "GZ-P30"}


def test_a_loan_not_in_the_book_is_an_error():
    df = pd.read_csv(REPORT, dtype=str, keep_default_na=False)
    df.loc[0, "asset_id"] = "GZ-PL-999"
    with pytest.raises(ReportError, match="unknown loan 'GZ-PL-999'.*\n.*missing from the report"):
        book_outlook(BOOK, df, as_of=AS_OF, fund_size=1e7, n_paths=10)


PIPELINE = SCENARIOS / "pipeline-ganzhou-2027.csv"
PIPELINE_REPORT = REPORTS / "pipeline-ganzhou-servicer-2027-09-30.csv"


def test_pledge_subsidies_of_a_defaulted_firm_lapse_and_an_overdue_firms_lapse_with_the_transition_pd():
    from ipabs.surveillance.book import subsidy_lapse

    df = subsidy_lapse(PIPELINE, PIPELINE_REPORT, as_of=dt.date(2027, 9, 30))
    f09 = df[df["firm_id"] == "GZ-F09"]  # GZ-L05 defaulted: both pledge subsidies lapse for sure
    assert f09["defaulted"].all() and (f09["expected_lapse"] == f09["payable"]).all()
    # GZ-F05 (GZ-L02 100 days past due): PD 60% a year over the one year to its later loan's 2028 settlement;
    # its patent subsidy is capped at 40,000 a year
    f05 = df[(df["firm_id"] == "GZ-F05") & (df["item"] == "pledge_patent_subsidy")].iloc[0]
    assert f05["payable"] == 40_000 and f05["prob_not_settled"] == pytest.approx(0.60, abs=0.01)
    assert set(df["item"]) <= {"pledge_patent_subsidy", "pledge_other_ip_subsidy"}
    assert (df["expected_lapse"] <= df["payable"] + 1e-9).all()
