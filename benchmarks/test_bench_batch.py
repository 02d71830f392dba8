"""The batch deterministic engine (``make bench``; issue 13 item 1), side by side in one run.

(i) 1,000 CDR scenarios (CDR 0–50%) of a 5-asset quarterly deal with three tranches (benchmarks/data/batch5.toml),
on 1 and 2 threads — target < 25 ms warm on 2 threads; (ii) 10,000 CDR scenarios of scenario (a)
(scenarios/ganzhou_pledge_2026.toml) — target < 0.5 s; (iii) per scenario, the kernel against a Python loop over the
reference engine (``run_batch(engine="reference")``: ``run_path`` + QuantLib yields per scenario, what
``run_deterministic`` + ``tranche_summary`` do) and against the strongest fair plain-Python baseline: a loop over
``ipabs.engine.deterministic.run_path`` (the same numba kernels, called once per scenario) with numpy reductions and
WAL but no yields. The summary table is printed by benchmarks/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import record
from ipabs.api import compile_scenario, load_scenario
from ipabs.engine.deterministic import run_path
from ipabs.structuring.batch import ScenarioTable, run_batch

HERE = Path(__file__).resolve().parent
DEAL5 = HERE / "data" / "batch5.toml"
SCENARIO_A = HERE.parent / "scenarios" / "ganzhou_pledge_2026.toml"
ROUNDS = 20


def cdr_table(deal, n: int) -> ScenarioTable:
    return ScenarioTable.repeat(deal, n, cdr=np.linspace(0.0, 0.5, n))


@pytest.fixture(scope="module")
def deal5():
    return compile_scenario(load_scenario(DEAL5))


@pytest.fixture(scope="module")
def deal_a():
    return compile_scenario(load_scenario(SCENARIO_A))


@pytest.mark.parametrize("threads", [1, 2])
def test_batch_1000_cdr_scenarios_of_the_5_asset_deal(benchmark, deal5, threads):
    table = cdr_table(deal5, 1000)
    run_batch(deal5, table, threads=threads)  # compiled and warm
    res = benchmark.pedantic(run_batch, args=(deal5, table), kwargs={"threads": threads}, rounds=ROUNDS,
                             iterations=1, warmup_rounds=1)
    best, median = benchmark.stats.stats.min, benchmark.stats.stats.median
    benchmark.extra_info.update({"scenarios": 1000, "best_ms": best * 1e3, "median_ms": median * 1e3})
    record(("batch", "deal5"), **{f"{threads}T": best, f"{threads}T_median": median})
    assert res.loss[-1, 2] > res.loss[0, 2]  # the CDR grid reaches the subordinate


@pytest.mark.parametrize("threads", [1, 2])
def test_batch_10000_cdr_scenarios_of_scenario_a(benchmark, deal_a, threads):
    table = cdr_table(deal_a, 10_000)
    run_batch(deal_a, table, threads=threads)
    benchmark.pedantic(run_batch, args=(deal_a, table), kwargs={"threads": threads}, rounds=5, iterations=1,
                       warmup_rounds=0)
    best, median = benchmark.stats.stats.min, benchmark.stats.stats.median
    benchmark.extra_info.update({"scenarios": 10_000, "best_s": best, "median_s": median})
    record(("batch", "scenario_a"), **{f"{threads}T": best, f"{threads}T_median": median})


def python_loop(deal, table: ScenarioTable, n: int) -> np.ndarray:
    """The plain-Python baseline: run_path per scenario (numba kernels), numpy sums, WAL; no yields."""
    dates_tau = np.array([(d - deal.scenario.deal.closing_date).days / 365.0 for d in deal.schedule.payment_dates])
    out_rows = np.empty((n, 4, len(deal.names.tranches)))
    ao = deal.info.asset_obligor
    for i in range(n):
        a = table.assumptions(i)
        pf, out = run_path(deal, a, table.obligor_default_period[i][ao], table.support_default_period[i])
        prin = out.tr_prin_paid.sum(axis=0)
        out_rows[i, 0] = out.tr_int_paid.sum(axis=0)
        out_rows[i, 1] = prin
        out_rows[i, 2] = out.tr_bal_end[-1]
        out_rows[i, 3] = np.divide(dates_tau @ out.tr_prin_paid, prin, out=np.full_like(prin, np.nan),
                                   where=prin > 0)
    return out_rows


@pytest.mark.parametrize("impl", ["kernel", "reference", "python_loop"])
def test_batch_per_scenario_side_by_side(benchmark, deal5, impl):
    table = cdr_table(deal5, 1000)
    if impl == "kernel":
        n = 1000
        run_batch(deal5, table, threads=2)

        def run():
            return run_batch(deal5, table, threads=2)
        rounds = ROUNDS
    elif impl == "reference":
        n = 50
        sub = table.take(slice(0, 1000, 20))
        run_batch(deal5, sub.take(slice(0, 2)), engine="reference")

        def run():
            return run_batch(deal5, sub, engine="reference")
        rounds = 3
    else:
        n = 200
        sub = table.take(slice(0, 1000, 5))
        python_loop(deal5, sub, 2)

        def run():
            return python_loop(deal5, sub, n)
        rounds = 3
    benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=0)
    per = benchmark.stats.stats.min / n
    benchmark.extra_info.update({"scenarios": n, "us_per_scenario": per * 1e6})
    record(("batch", "per_scenario"), **{impl: per})
