"""The batch deterministic engine's scenario blocks on a local dask cluster equal one call in one process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ipabs.api import compile_scenario, load_scenario
from ipabs.structuring.batch import ScenarioTable, run_batch
from ipabs.structuring.distributed import run_batch_distributed, scenario_blocks

pytest.importorskip("distributed")
ROOT = Path(__file__).resolve().parents[3]
FIELDS = ("interest_paid", "principal_paid", "residual_paid", "loss", "interest_shortfall", "shortfall_any",
          "wal_years", "yield_", "min_coverage", "trigger_period", "pool_defaults", "pool_recoveries",
          "support_draws")


def test_scenario_blocks_cover_the_table_in_order():
    assert scenario_blocks(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert scenario_blocks(2, 8) == [(0, 1), (1, 2)]


@pytest.mark.slow
def test_a_batch_split_over_two_workers_gives_the_single_process_numbers_bit_for_bit():
    from ipabs.engine.cluster import open_client

    deal = compile_scenario(load_scenario(ROOT / "scenarios" / "ganzhou_pledge_2026.toml"))
    table = ScenarioTable.repeat(deal, 203, cdr=np.linspace(0, 0.6, 203), recovery_rate=0.3)
    table = table.with_columns(support_default_period=np.where(np.arange(203) % 2 == 0, deal.n_periods, 0)[:, None])
    single = run_batch(deal, table)
    seen: list[int] = []
    with open_client(workers=2) as client:
        dist = run_batch_distributed(deal, table, client, n_blocks=7, progress=lambda d, n: seen.append(d))
    assert seen[-1] == 203 and len(seen) == 7
    assert dist.table.labels == single.table.labels
    for name in FIELDS:
        a, b = getattr(single, name), getattr(dist, name)
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name


@pytest.mark.slow
def test_sizing_with_paths_simulated_on_two_workers_gives_the_local_answer_and_trials():
    from ipabs.engine.cluster import open_client
    from ipabs.structuring.distributed import build_store_distributed
    from ipabs.structuring.sizing import PathStore, size_tranche

    deal = compile_scenario(load_scenario(ROOT / "scenarios" / "ip_lease_2026.toml"))
    local = PathStore(deal, 30_000, 5)
    with open_client(workers=2) as client:
        dist = build_store_distributed(deal, client, 30_000, 5, n_chunks=5)
    assert dist.n_defaulted == local.n_defaulted
    for a, b in zip(local.stored_rows()[0], dist.stored_rows()[0], strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(local.losses(deal)[0], dist.losses(deal)[0])
    target = lambda wal: 0.02  # noqa: E731 - a PD threshold the senior can meet inside its range
    kw = dict(min_coverage=None, n_paths=30_000, seed=5)
    a = size_tranche(deal, 0, target, store=local, **kw)
    b = size_tranche(deal, 0, target, store=dist, **kw)
    assert a.balance == b.balance and a.binding == b.binding and a.band == b.band
    assert [t.metric for t in a.trials] == [t.metric for t in b.trials]


def test_the_result_holds_exactly_the_arrays_the_kernel_fills():
    import dataclasses

    from ipabs.kernels.batch import BatchOutputs
    from ipabs.structuring.batch import BatchResult

    arrays = [f.name for f in dataclasses.fields(BatchResult)
              if f.name not in ("table", "tranches", "triggers", "supports", "meta")]
    assert tuple(arrays) == BatchOutputs._fields
