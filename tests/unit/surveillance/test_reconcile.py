"""Reconciliation: servicer collections vs tranche payments vs account movements, to the fen."""

from __future__ import annotations

import pandas as pd
from surveil_samples import SAMPLE_DATES, servicer_path, trustee_path

from ipabs.surveillance import read_servicer_report, read_trustee_report, reconcile


def _pair(name: str):
    s = pd.read_csv(servicer_path(name), dtype=str, keep_default_na=False)
    t = pd.read_csv(trustee_path(name), dtype=str, keep_default_na=False)
    return s, t


def test_every_sample_pair_of_reports_reconciles_to_the_fen():
    for name in SAMPLE_DATES:
        s, t = _pair(name)
        r = reconcile(read_servicer_report(s), read_trustee_report(t))
        assert r.ok, (name, r.frame())
        assert {"collections_interest", "account_movements", "pool_balance"} <= set(r.checks)


def test_a_one_fen_difference_in_collections_is_a_break_on_both_identities():
    s, t = _pair("ganzhou_pledge_2026")
    i = t.index[t["item"] == "collections_interest"][0]
    t.loc[i, "value"] = f"{float(t.loc[i, 'value']) + 0.01:.2f}"
    r = reconcile(read_servicer_report(s), read_trustee_report(t))
    got = {b.check: b.difference for b in r.breaks}
    assert got == {"collections_interest": 0.01, "account_movements": -0.01}


def test_a_tranche_balance_that_does_not_roll_forward_is_a_break():
    s, t = _pair("interbank_abn_2026")
    i = t.index[(t["item"] == "tranche_balance_end")][0]
    name = t.loc[i, "name"]
    t.loc[i, "value"] = f"{float(t.loc[i, 'value']) + 100:.2f}"
    r = reconcile(read_servicer_report(s), read_trustee_report(t))
    assert [b.check for b in r.breaks] == [f"tranche_rollforward[{name}]"]
    assert r.breaks[0].difference == 100.0
