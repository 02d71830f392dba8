"""Sales shocks inside the copula (``simulation.revenue_risk.factor_loading``, issue 14 item 4).

A loading of 0 reproduces the independent shocks bit for bit; a positive loading makes the pool default rate and the
royalty shortfall move together, and in a one-factor, one-period special case their correlation matches the closed
form of docs/methodology/copula.md §5 within Monte Carlo error.
"""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from ipabs import api
from ipabs.engine.montecarlo import simulate

N_LOANS, PD, RHO, SIGMA = 40, 0.10, 0.30, 0.5
PHI = NormalDist()


def write_deal(folder: Path, loading: float | None) -> Path:
    rows = ["asset_id,obligor_id,industry,asset_type,principal,rate,start_date,maturity_date,payment_frequency,"
            "amortization,pd"]
    rows += [f"L{i},F{i},nev,pledge_loan,1000000,0.05,2026-01-15,2027-01-15,annual,bullet,{PD}"
             for i in range(N_LOANS)]
    rows.append("R1,R,nev,royalty_licence,1000000,0.0,2026-01-15,2027-01-15,annual,bullet,0")
    (folder / "pool.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    load = "" if loading is None else f"factor_loading = {loading!r}\n"
    (folder / "deal.toml").write_text(f"""schema_version = 1
[deal]
name = "one factor"
cutoff_date = 2026-01-15
closing_date = 2026-01-15
first_payment_date = 2027-01-15
payment_frequency = "annual"
business_day_convention = "unadjusted"
day_count = "30/360"
legal_maturity = 2027-01-15
holidays = [2027-01-01]
[pool]
tape = "pool.csv"
[[tranches]]
name = "A"
seniority = "senior"
balance = 30_000_000
[[tranches]]
name = "B"
seniority = "subordinate"
balance = 11_000_000
[waterfall]
normal = [{{ action = "pay_principal", tranches = ["A", "B"] }}]
[simulation]
copula = "gaussian"
correlation = {RHO}
sector_correlation = 0.0
recovery_model = "fixed_rate"
[simulation.revenue_risk]
volatility = {SIGMA}
drift = 0.0
{load}""", encoding="utf-8")
    return folder / "deal.toml"


def deal(tmp_path_factory, loading):
    folder = tmp_path_factory.mktemp("rev")
    return api.compile_scenario(api.load_scenario(write_deal(folder, loading)))


def closed_form_correlation(w: float) -> float:
    """corr(pool default rate, royalty shortfall) for N equal loans of PD p, correlation ρ (one factor M), and one
    royalty S = exp(−σ²/2 + σZ), Z = wM + √(1 − w²)ε, paid at the end of the single year (copula.md §5)."""
    c = PHI.inv_cdf(PD)
    r = math.sqrt(RHO) * w
    x, wt = np.polynomial.hermite_e.hermegauss(120)
    cond = np.array([PHI.cdf((c - math.sqrt(RHO) * m) / math.sqrt(1 - RHO)) for m in x])
    p2 = float(np.sum(wt * cond**2) / math.sqrt(2 * math.pi))  # Φ₂(c, c; ρ)
    var_d = PD * (1 - PD) / N_LOANS + (1 - 1 / N_LOANS) * (p2 - PD**2)
    return (PD - PHI.cdf(c - SIGMA * r)) / math.sqrt(var_d * (math.exp(SIGMA**2) - 1.0))


def test_a_zero_loading_changes_no_bit(tmp_path_factory):
    a = simulate(deal(tmp_path_factory, None), 2000, 3)
    b = simulate(deal(tmp_path_factory, 0.0), 2000, 3)
    for name in ("loss", "pool_default_rate", "revenue_shortfall_rate", "wal", "yld"):
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        assert np.array_equal(x.view(np.uint8), y.view(np.uint8)), name


@pytest.mark.parametrize("w", [0.0, 0.8])
def test_default_rate_and_royalty_shortfall_correlate_as_the_closed_form(tmp_path_factory, w):
    d = deal(tmp_path_factory, w)
    assert list(d.pool.pool_yf) == [1.0]
    n = 40_000
    res = simulate(d, n, 20260101)
    corr = float(np.corrcoef(res.pool_default_rate, res.revenue_shortfall_rate)[0, 1])
    want = closed_form_correlation(w)
    se = (1 - want**2) / math.sqrt(n)  # standard error of a sample correlation (normal approximation)
    assert abs(corr - want) < 5 * se + 0.01, (corr, want)
    if w > 0:
        assert want > 0.2 and corr > 0.2  # a downturn lowers royalties and raises defaults together
    else:
        assert want == pytest.approx(0.0, abs=1e-12)
