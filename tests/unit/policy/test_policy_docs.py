"""The worked example of docs/policy.md §3 is computed here from the tables in the document itself."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from policy_helpers import ROOT

from ipabs.policy.entitlements import PledgeLoan, Securitization, compute_entitlements

DOC = ROOT / "docs" / "policy.md"


def _table(name: str) -> list[dict[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    m = re.search(rf"<!-- worked-example:{name} -->\n(.*?)<!-- end -->", text, re.S)
    assert m, f"table {name} not found in {DOC}"
    lines = [ln.strip() for ln in m.group(1).strip().splitlines()]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, [c.strip() for c in ln.strip("|").split("|")], strict=True)) for ln in lines[2:]]


def _yuan(s: str) -> Decimal:
    return Decimal(s.replace(",", ""))


def test_the_worked_example_of_the_docs_is_what_the_engine_computes(ganzhou):
    secs = [Securitization(r["firm"], r["deal"], int(r["year"]), _yuan(r["financing"]),
                           already_funded=r["already funded"] == "yes") for r in _table("securitizations")]
    loans = [PledgeLoan(r["loan"], r["firm"], _yuan(r["amount"]), dt.date.fromisoformat(r["start"]),
                        int(r["months"]), r["registered"] == "yes", int(r["invention patents"]),
                        tuple(x for x in r["other IP"].split(";") if x)) for r in _table("loans")]
    rep = compute_entitlements(ganzhou, secs, loans)
    expected = _table("entitlements")
    got = {(e.firm_id, e.item, e.year): e for e in rep.entitlements}
    assert set(got) == {(r["firm"], r["item"], int(r["year"])) for r in expected}
    for r in expected:
        e = got[(r["firm"], r["item"], int(r["year"]))]
        assert e.gross == _yuan(r["gross"]), r
        assert e.payable == _yuan(r["payable"]), r
    assert {str(y): v for y, v in rep.total_by_pay_year().items()} == {
        r["year"]: int(_yuan(r["paid"]) * 100) for r in _table("totals")}
