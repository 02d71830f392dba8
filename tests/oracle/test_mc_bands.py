"""Per-period percentile bands of a Monte Carlo run against the exact quantiles of its paths (decision 019), on the
bullet sample deal (scenarios/ganzhou_pledge_2026.toml) and a 60-period amortising synthetic deal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ipabs.api import compile_scenario, load_scenario
from ipabs.credit.synthetic import synthetic_deal
from ipabs.engine.bands import BAND_QUANTILES
from ipabs.engine.montecarlo import prepare, simulate, trace_path

ROOT = Path(__file__).resolve().parents[2]
N = 1500
SEED = 20260415


@pytest.fixture(scope="module")
def bullet():
    deal = compile_scenario(load_scenario(ROOT / "scenarios" / "ganzhou_pledge_2026.toml"))
    return deal, simulate(deal, N, SEED, statistics="full")


def _exact(deal, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every path's balances and payments [n, T, K] from trace_path (the same numbers simulate computes)."""
    prep = prepare(deal)
    bal = np.empty((n, deal.n_periods, len(deal.names.tranches)))
    pay = np.empty_like(bal)
    for p in range(n):
        w = trace_path(deal, seed, p, prepared=prep).waterfall
        bal[p] = w.tr_bal_end
        pay[p] = w.tr_int_paid + w.tr_prin_paid + w.tr_resid
    return bal, pay


@pytest.mark.slow
def test_the_unamortised_bullet_senior_has_its_face_as_every_band_to_the_fen(bullet):
    deal, res = bullet
    ec = res.expected_cashflows()
    senior = ec[ec["tranche"] == "优先A"]
    maturity = deal.scenario.tranches[0].expected_maturity or deal.scenario.deal.legal_maturity
    before = senior[senior["payment_date"] < maturity]
    assert len(before) >= 3
    assert (before["balance_p50"] == 190_000_000.0).all(), before
    assert (before["balance_p5"] == 190_000_000.0).all() and (before["balance_p95"] == 190_000_000.0).all()
    assert (before["balance_resolution"] == 0.0).all()


@pytest.mark.slow
@pytest.mark.parametrize("which", ["bullet", "synthetic"])
def test_bands_are_ordered_and_within_their_resolution_of_the_exact_path_quantiles(which, bullet):
    if which == "bullet":
        deal, res = bullet
    else:
        deal = synthetic_deal(n_obligors=50, fees=True, cleanup=0.1)
        res = simulate(deal, N, SEED, statistics="full")
    ec = res.expected_cashflows()
    bal, pay = _exact(deal, SEED, N)
    for k, name in enumerate(deal.names.tranches):
        rows = ec[ec["tranche"] == name].reset_index(drop=True)
        for t in range(deal.n_periods):
            r = rows.iloc[t]
            for what, x in (("balance", bal[:, t, k]), ("payment", pay[:, t, k])):
                got = [r[f"{what}_p5"], r[f"{what}_p50"], r[f"{what}_p95"]]
                assert got[0] <= got[1] <= got[2], (name, t, what, got)
                exact = np.quantile(x, BAND_QUANTILES, method="inverted_cdf")
                tol = r[f"{what}_resolution"] + 0.01
                assert np.all(np.abs(np.array(got) - exact) <= tol), (name, t, what, got, exact, tol)
                if np.all(x == x[0]):  # a point mass: the bands are its value, as is the mean, to the fen
                    mean = r["balance_mean"] if what == "balance" else r["interest_mean"] + r["principal_mean"]
                    assert got == [round(float(x[0]), 2)] * 3, (name, t, what, got)
                    if what == "balance" or name != deal.names.tranches[-1]:  # residual payments have no mean column
                        assert abs(mean - got[1]) <= 0.02, (name, t, what, mean, got)
