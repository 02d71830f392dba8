"""The worked sizing example of docs/methodology/structuring.md §7, computed by hand there and asserted here.

Four zero-coupon bullet loans of 4, 3, 2 and 1 million (pool 10,000,000) maturing at the legal maturity; a
zero-coupon pass-through senior and a subordinate that together issue 10,000,000; no fees, no support, no base
defaults. The senior's principal is due at the legal maturity, when the pool pays (1 − defaulted share) × 10m:

* coverage ≥ 1.2 in the base case: 10,000,000 / S ≥ 1.2 ⇔ S ≤ 8,333,333.33;
* the largest obligor (4m) defaults in the first period at zero recovery: 6,000,000 ≥ S ⇔ S ≤ 6,000,000;
* the two largest (7m): S ≤ 3,000,000.

The solver bisects the balance to 10,000 yuan: its answer is the largest trial that passes, within 10,000 below the
hand-computed bound, and the binding constraint names the test that fails just above it.
"""

from __future__ import annotations

import pytest
from handdeal import hand_deal

from ipabs.structuring.sizing import size_tranche

SIZES = {"F1": 4_000_000.0, "F2": 3_000_000.0, "F3": 2_000_000.0, "F4": 1_000_000.0}


@pytest.fixture(scope="module")
def deal():
    return hand_deal(sizes=SIZES, senior=5_000_000.0)


@pytest.mark.parametrize("kw, bound, binding", [
    ({"min_coverage": 1.2}, 10_000_000 / 1.2, "coverage"),
    ({"min_coverage": 1.2, "largest_obligors": 1}, 6_000_000.0, "largest_obligor"),
    ({"min_coverage": None, "largest_obligors": 2}, 3_000_000.0, "largest_obligor"),
])
def test_the_worked_sizing_example(deal, kw, bound, binding):
    res = size_tranche(deal, "senior", None, tol=10_000.0, **kw)
    assert res.binding == binding
    assert bound - 10_000.0 <= res.balance <= bound
    assert res.subordination == pytest.approx(1 - res.balance / 10_000_000.0)
    assert res.absorbing == "sub"
