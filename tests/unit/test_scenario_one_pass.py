"""Field errors and cross-reference errors come out of one validation pass (ipabs.scenario.io.parse_scenario)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from ipabs.errors import ScenarioError
from ipabs.scenario.io import parse_scenario

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted(p for p in (ROOT / "scenarios").glob("*.toml") if "[deal]" in p.read_text("utf-8"))
BASE = tomllib.loads((ROOT / "scenarios" / "ganzhou_pledge_2026.toml").read_text("utf-8"))


def problems(data: dict) -> list[tuple[str | None, str | None, str]]:
    with pytest.raises(ScenarioError) as e:
        parse_scenario(data, "s.toml")
    return [(i.table, i.field, i.message) for i in e.value.issues]


def test_a_field_error_and_an_unrelated_unknown_name_are_reported_together():
    d = copy.deepcopy(BASE)
    d["tranches"][0]["coupon"] = -0.5
    d["waterfall"]["normal"].append({"action": "pay_interest", "tranches": ["nope"]})
    got = problems(d)
    assert ("tranches[0]", "coupon") in [(t, f) for t, f, _ in got]
    assert any(t.startswith("waterfall.normal[") and "unknown tranche 'nope'" in m for t, _, m in got)


def test_a_broken_item_that_others_name_causes_no_false_unknown_name():
    d = copy.deepcopy(BASE)
    d["tranches"][1]["balance"] = "ten million"  # still named, and named by the waterfall
    got = problems(d)
    assert [(t, f) for t, f, _ in got] == [("tranches[1]", "balance")]


def test_a_broken_step_is_reported_once_and_other_references_are_still_checked():
    d = copy.deepcopy(BASE)
    d["waterfall"]["normal"][0] = {"action": "pay_everyone"}
    d["triggers"] = [*d.get("triggers", []), {"name": "t", "condition": "support_default", "support": "ghost",
                                               "effect": "accelerated"}]
    got = problems(d)
    assert [t for t, _, _ in got if t and t.startswith("waterfall")] == ["waterfall.normal[0]"]
    assert any("unknown support provider 'ghost'" in m for _, _, m in got)


def test_a_broken_deal_table_gives_its_field_errors_only():
    d = copy.deepcopy(BASE)
    d["deal"]["closing_date"] = "soon"
    d["waterfall"]["normal"].append({"action": "pay_interest", "tranches": ["nope"]})
    got = problems(d)
    assert all(t == "deal" for t, _, _ in got)


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_any_single_wrong_value_gives_a_scenario_error_never_a_crash(sample):
    data = tomllib.loads(sample.read_text("utf-8"))

    def leaves(x, path=()):
        if isinstance(x, dict):
            for k, v in x.items():
                yield from leaves(v, (*path, k))
        elif isinstance(x, list) and x:
            for i, v in enumerate(x):
                yield from leaves(v, (*path, i))
        else:
            yield path

    n = 0
    for path in leaves(data):
        for wrong in ("x", -1, [1], {"a": 1}):
            d = copy.deepcopy(data)
            node = d
            for k in path[:-1]:
                node = node[k]
            if node[path[-1]] == wrong:
                continue
            node[path[-1]] = wrong
            try:
                parse_scenario(d, "s.toml")
            except ScenarioError as e:
                assert e.issues and all(i.message for i in e.issues)
            n += 1
    assert n > 100
