"""Distributed Monte Carlo (dask.distributed, two local worker processes) equals the single-process run bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ipabs.api import compile_scenario, load_scenario
from ipabs.engine.distributed import path_ranges, simulate_distributed
from ipabs.engine.montecarlo import simulate

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("distributed")


def test_path_ranges_cover_the_range_consecutively():
    assert path_ranges(10, 10, 3) == [(10, 4), (14, 3), (17, 3)]
    assert path_ranges(0, 2, 5) == [(0, 1), (1, 1)]
    assert sum(m for _, m in path_ranges(7, 100_001, 16)) == 100_001


@pytest.mark.slow
def test_distributed_results_are_bit_identical_to_the_single_process_run():
    deal = compile_scenario(load_scenario(ROOT / "scenarios" / "ganzhou_pledge_2026.toml"))
    single = simulate(deal, 40_000, 2026, path0=5)
    seen = []
    dist = simulate_distributed(deal, 40_000, 2026, n_chunks=7, path0=5, progress=lambda d, n: seen.append(d))
    assert seen[-1] == 40_000 and len(seen) == 7
    assert dist.meta["distributed"]["chunks"] == 7
    for name in ("loss", "short", "wal", "yld", "pool_default_rate", "pool_loss_rate", "support_draw",
                 "support_default", "first_default", "h_bal", "h_cash"):
        a, b = getattr(single, name), getattr(dist, name)
        assert np.array_equal(a.view(np.uint8), b.view(np.uint8)), name
    for name in ("s_int", "s_prin", "s_bal", "s_pool"):
        assert getattr(single, name) == getattr(dist, name), name
    assert dist.deal is deal and dist.n_paths == 40_000 and dist.path0 == 5


@pytest.mark.slow
def test_distributed_losses_only_statistics_equal_the_single_process_run():
    deal = compile_scenario(load_scenario(ROOT / "scenarios" / "ganzhou_pledge_2026.toml"))
    single = simulate(deal, 20_000, 7, statistics="losses")
    dist = simulate_distributed(deal, 20_000, 7, n_chunks=3, statistics="losses")
    assert dist.statistics == "losses"
    for name in ("loss", "short", "pool_default_rate", "pool_loss_rate", "support_draw", "support_default",
                 "first_default"):
        assert np.array_equal(getattr(single, name).view(np.uint8), getattr(dist, name).view(np.uint8)), name
