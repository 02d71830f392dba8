"""The worked example of docs/surveillance.md §6: every number of its table is recomputed from the sample reports,
so the page cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from surveil_samples import SAMPLE_DATES, servicer_path, trustee_path

from ipabs.surveillance.monitor import surveil

DOC = Path(__file__).resolve().parents[3] / "docs" / "surveillance.md"


def _table() -> dict[str, str]:
    section = DOC.read_text("utf-8").split("## 6. Worked example", 1)[1].split("## 7.", 1)[0]
    rows = re.findall(r"^\| (.+?) \| (.+?) \|$", section, re.M)
    return {k.strip(): v.strip() for k, v in rows if k.strip() not in ("quantity", "---")}


def _num(s: str) -> float:
    s = s.replace(",", "")
    return float(s[:-1]) / 100 if s.endswith("%") else float(s)


def test_the_worked_example_table_matches_a_surveillance_run():
    name = "ganzhou_pledge_2026"
    r = surveil(f"scenarios/{name}.toml", servicer_path(name), trustee_path(name), as_of=SAMPLE_DATES[name],
                n_paths=0, breakeven=False)
    rb = r.rebased
    doc = _table()
    assert _num(doc["periods paid (t0)"]) == rb.t0
    assert _num(doc["remaining periods"]) == rb.deal.n_periods
    assert _num(doc["cumulative defaults D0"]) == pytest.approx(rb.cumulative_defaults, abs=0.005)
    assert _num(doc["cumulative default ratio D0/B0"]) == pytest.approx(rb.cumulative_default_offset)
    assert _num(doc["trigger threshold in the rebased deal (10% − 8.2%)"]) == pytest.approx(
        rb.deal.waterfall.trg_thr[0])
    firms = r.firms.set_index("obligor_id")
    for firm in ("GZ005", "GZ013"):
        cls, pd_ = doc[f"{firm} class / transition PD"].split(" / ")
        assert firms.loc[firm, "loan_class"] == cls
        assert rb.obligor_annual_pd[firm] == pytest.approx(_num(pd_))
    a = rb.assets.set_index("obligor_id")
    assert _num(doc["GZ006 expected recovery (30% × 7,500,000)"]) == pytest.approx(a.loc["GZ006", "expected_recovery"])
    i = list(rb.original.info.asset_ids).index(a.loc["GZ006", "asset_id"])
    paid_in = [rb.t0 + 1 + t for t, x in enumerate(rb.deal.pool.sched_prin[i]) if x > 0]
    assert paid_in == [_num(doc["GZ006 recovery period (default period 1 + lag 4)"])]
    assert firms.loc["GZ011", "collateral_cover"] == pytest.approx(_num(doc["GZ011 collateral cover"]), abs=5e-5)
    p = r.projection
    senior = p[(p["tranche"] == "优先A") & (p["payment_date"].astype(str) == "2027-04-20")]
    assert senior["principal_paid"].iloc[0] == pytest.approx(
        _num(doc["senior 优先A principal paid on 2027-04-20"]), abs=0.005)
    firms_w = r.watch[r.watch["level"] == "firm"]
    assert ", ".join(firms_w["subject"]) == doc["watchlist order (firms)"]
    assert firms_w.set_index("subject").loc["GZ006", "score"] == _num(doc["GZ006 score"])
