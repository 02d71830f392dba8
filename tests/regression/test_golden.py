"""Deterministic tranche and pool summaries of every sample scenario against their golden files (golden.py).

Regenerate with ``.venv/bin/python tests/regression/update_golden.py`` or ``IPABS_UPDATE_GOLDEN=1`` after an intended
change, and review the JSON diff.
"""

from __future__ import annotations

import json
import os

import golden
import pytest

SCENARIOS = golden.deal_scenarios()


def test_every_sample_scenario_has_a_golden_file():
    missing = [p.name for p in SCENARIOS if not golden.golden_path(p).exists()]
    assert not missing, f"no golden summary for {missing}: run tests/regression/update_golden.py"
    stale = {p.stem for p in golden.GOLDEN.glob("*.json")} - {p.stem for p in SCENARIOS}
    assert not stale, f"golden files without a scenario: {sorted(stale)}"


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_deterministic_summary_matches_its_golden_file_to_the_fen(path):
    if os.environ.get("IPABS_UPDATE_GOLDEN"):
        golden.write(path)
        pytest.skip("golden file rewritten (IPABS_UPDATE_GOLDEN is set)")
    expected = json.loads(golden.golden_path(path).read_text("utf-8"))
    problems = golden.compare(expected, json.loads(json.dumps(golden.summary(path))), path.stem)
    assert not problems, "results changed:\n" + "\n".join(problems[:40])


def test_the_golden_comparison_reports_a_change_of_more_than_a_fen():
    doc = {"cases": {"base": {"tranches": [{"name": "A", "loss": 0.0, "yield": 0.025}]}}}
    changed = json.loads(json.dumps(doc))
    changed["cases"]["base"]["tranches"][0]["loss"] = 0.02
    changed["cases"]["base"]["tranches"][0]["yield"] = 0.0250001
    assert golden.compare(doc, doc) == []
    problems = golden.compare(doc, changed)
    assert len(problems) == 2 and "loss" in problems[0] and "yield" in problems[1]
