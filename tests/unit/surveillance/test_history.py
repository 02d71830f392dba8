"""Actual against expected: reported periods against the issuance base case and its Monte Carlo bands."""

from __future__ import annotations

import pandas as pd
import pytest
from surveil_samples import REPORTS

from ipabs.surveillance import ReportError
from ipabs.surveillance.history import actual_vs_expected

P1 = REPORTS / "ganzhou_pledge_2026-servicer-2026-07-20.csv"
P2 = REPORTS / "ganzhou_pledge_2026-servicer-2026-10-20.csv"


@pytest.mark.slow
def test_actual_against_expected_reads_every_period_and_measure(ganzhou):
    df = actual_vs_expected(ganzhou, [P1, P2], n_paths=300, seed=7)
    assert list(df["period"].unique()) == [1, 2]
    cdr = df[df["measure"] == "cumulative_default_ratio"].set_index("period")
    assert cdr.loc[1, "actual"] == pytest.approx(7_500_000 / 200_000_000)
    assert cdr.loc[2, "actual"] == pytest.approx(16_400_000 / 200_000_000)
    band = df.dropna(subset=["mc_p5"])
    assert (band["mc_p5"] <= band["mc_p50"] + 1e-9).all() and (band["mc_p50"] <= band["mc_p95"] + 1e-9).all()
    # the actual defaults are far outside the issuance expectation: above the 95% band by period 2
    assert cdr.loc[2, "actual"] > cdr.loc[2, "mc_p95"]
    assert pd.isna(df[df["measure"] == "delinquency_ratio"]["base_case"]).all()


def test_reports_out_of_order_are_an_error(ganzhou):
    with pytest.raises(ReportError, match="out of order"):
        actual_vs_expected(ganzhou, [P2, P1], n_paths=0)
