"""The sample tape of deal (a) carries exactly three ineligible loans (scenarios/tapes/README.md); the report finds
exactly those, from every file format, with the documented reasons."""

from __future__ import annotations

import datetime as dt

import pytest

from ipabs.eligibility.evaluate import evaluate_pool
from ipabs.scenario.tape import read_tape

INELIGIBLE = ["GZP-2026-005", "GZP-2026-009", "GZP-2026-013"]
CUTOFF = dt.date(2026, 4, 15)  # the cut-off scenario (a) uses
LEGAL = dt.date(2028, 4, 20)  # legal maturity of scenarios/ganzhou_pledge_2026.toml


@pytest.mark.parametrize("name", ["ganzhou_pledge_pool.csv", "ganzhou_pledge_pool_gbk.csv",
                                  "ganzhou_pledge_pool.xlsx", "ganzhou_pledge_pool.parquet"])
@pytest.mark.parametrize("legal", [None, LEGAL], ids=["asset-maturity", "deal-legal-maturity"])
def test_the_report_finds_exactly_the_documented_ineligible_assets(scenarios_dir, ganzhou, name, legal):
    tape = read_tape(scenarios_dir / "tapes" / name)
    rep = evaluate_pool(tape.assets, ganzhou, as_of=CUTOFF, legal_maturity=legal, select_best=False)
    assert rep.ineligible_ids == INELIGIBLE


def test_each_ineligible_asset_fails_for_the_documented_reason(scenarios_dir, ganzhou):
    tape = read_tape(scenarios_dir / "tapes" / "ganzhou_pledge_pool.csv")
    rep = evaluate_pool(tape.assets, ganzhou, as_of=CUTOFF)
    by_id = {a.asset_id: a for a in rep.assets}
    assert [f.criterion for f in by_id["GZP-2026-005"].firm_failures] == ["no_overdue_history"]
    [f] = by_id["GZP-2026-009"].failures
    assert f.criterion == "ip_remaining_life" and f.observed == dt.date(2027, 11, 23)
    assert sorted(f.criterion for f in by_id["GZP-2026-013"].failures) == ["cnipa_pledge_registration",
                                                                          "loan_to_value"]
    assert "45.5%" in by_id["GZP-2026-013"].reasons("zh")[1] and "45.5%" in by_id["GZP-2026-013"].reasons("en")[1]


def test_the_eligible_sample_pool_meets_the_default_limits_and_is_its_own_best_pool(scenarios_dir, ganzhou):
    tape = read_tape(scenarios_dir / "tapes" / "ganzhou_pledge_pool.csv")
    rep = evaluate_pool(tape.assets, ganzhou, as_of=CUTOFF, legal_maturity=LEGAL)
    assert rep.breaches("eligible") == []
    assert rep.best.status == "optimal"
    assert sorted(rep.best.asset_ids) == sorted(rep.eligible_ids)
    assert rep.best.balance == rep.eligible_balance == 161_200_000.0
