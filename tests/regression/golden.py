"""Golden summaries of the sample scenarios: what tests/regression/test_golden.py compares against.

For each deal scenario in scenarios/ a JSON file in tests/regression/golden/ holds, per case (the base assumptions
and one stress), the deterministic tranche summary and pool summary: amounts rounded to the fen, ratios and years to
ten decimals. Regenerate after an intended change of results, and review the diff like code:

    .venv/bin/python tests/regression/update_golden.py            # rewrite every golden file
    IPABS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/regression   # the same from pytest (tests then skip)
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
GOLDEN = Path(__file__).resolve().parent / "golden"

AMOUNTS = ("original_balance", "interest_paid", "principal_paid", "residual_paid", "loss", "interest_shortfall",
           "cutoff_balance", "interest_collected", "principal_collected", "defaults", "recoveries", "support_draws")
RATIOS = ("coupon", "price", "wal_years", "yield", "yield_at_par", "macaulay_duration", "modified_duration",
          "min_coverage_ratio")
#: Tolerances of the comparison: a fen for amounts, 1e-8 for ratios and years.
AMOUNT_TOL = 0.01
RATIO_TOL = 1e-8


def deal_scenarios() -> list[Path]:
    return sorted(p for p in SCENARIOS.glob("*.toml") if "deal" in tomllib.loads(p.read_text("utf-8")))


def _round(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, float) and k in AMOUNTS:
            out[k] = round(v, 2)
        elif isinstance(v, float):
            out[k] = round(v, 10)
        else:
            out[k] = v
    return out


def stressed_assumptions(deal):
    """The stress case: CDR × 3 on the base CDR (at least 5%) and the largest obligor defaulting in period 2."""
    a = deal.scenario.assumptions
    exposure: dict[str, float] = {}
    for i, b in enumerate(deal.pool.sched_bal_start[:, 0]):
        o = deal.info.obligor_ids[int(deal.info.asset_obligor[i])]
        exposure[o] = exposure.get(o, 0.0) + float(b)
    largest = max(exposure, key=lambda o: exposure[o])
    from ipabs.scenario.schema import Assumptions

    return Assumptions.model_validate({
        **a.model_dump(),
        "cdr": max(0.05, a.cdr) if a.cumulative_default_rate is None else 0.0,
        "default_multiplier": 3.0,
        "obligor_defaults": [{"obligor_id": largest, "period": min(2, deal.n_periods)}],
    })


def summary(path: Path) -> dict[str, Any]:
    """The golden document of one scenario file."""
    from ipabs.api import compile_scenario, load_scenario, run_deterministic

    deal = compile_scenario(load_scenario(path))
    cases = {}
    for label, a in (("base", None), ("stress", stressed_assumptions(deal))):
        res = run_deterministic(deal, a)
        cases[label] = {
            "tranches": [_round(r) for r in res.tranche_summary()],
            "pool": _round(res.pool_summary()),
            "final_state": ("normal", "accelerated", "post_default")[int(res.out.state[-1])],
        }
    return {"scenario": path.name, "deal": deal.scenario.deal.name, "n_periods": deal.n_periods, "cases": cases}


def golden_path(path: Path) -> Path:
    return GOLDEN / f"{path.stem}.json"


def write(path: Path) -> Path:
    out = golden_path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary(path), ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def compare(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Every difference between two golden documents (amounts within a fen, ratios within 1e-8)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        problems = [f"{where}.{k}: missing" for k in expected if k not in actual]
        problems += [f"{where}.{k}: not in the golden file" for k in actual if k not in expected]
        for k in expected:
            if k in actual:
                tol = AMOUNT_TOL if k in AMOUNTS else RATIO_TOL
                e, a = expected[k], actual[k]
                if isinstance(e, float | int) and isinstance(a, float | int) and not isinstance(e, bool):
                    if abs(e - a) > tol:
                        problems.append(f"{where}.{k}: golden {e!r}, now {a!r}")
                else:
                    problems += compare(e, a, f"{where}.{k}")
        return problems
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(expected)} entries in the golden file, {len(actual)} now"]
        return [p for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for p in compare(e, a, f"{where}[{i}]")]
    return [] if expected == actual else [f"{where}: golden {expected!r}, now {actual!r}"]
