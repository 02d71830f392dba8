"""Structuring work fanned out over a dask cluster (:mod:`ipabs.engine.cluster`).

The batch deterministic engine's scenario blocks run as cluster tasks: the compiled deal is scattered once, each
task runs :func:`ipabs.structuring.batch.run_batch` on one block of the scenario table and the blocks are joined
in order with :meth:`BatchResult.concat` — the same numbers as one call in one process, because every scenario's
result depends only on the deal and its own row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ipabs.compile.lower import CompiledDeal
from ipabs.structuring.batch import BatchResult, ScenarioTable, run_batch

__all__ = ["run_batch_distributed", "scenario_blocks"]


def scenario_blocks(n: int, n_blocks: int) -> list[tuple[int, int]]:
    """``[0, n)`` as at most ``n_blocks`` consecutive (start, stop) blocks of near-equal size."""
    from ipabs.engine.distributed import path_ranges

    return [(s, s + m) for s, m in path_ranges(0, n, n_blocks)]


def _batch_block(payload: tuple[CompiledDeal, ScenarioTable], block: tuple[int, int], engine: str) -> BatchResult:
    deal, table = payload
    return run_batch(deal, table.take(slice(*block)), engine=engine, threads=1)


def run_batch_distributed(deal: CompiledDeal, table: ScenarioTable, client: Any, *, n_blocks: int | None = None,
                          engine: str = "kernel", progress: Callable[[int, int], None] | None = None) -> BatchResult:
    """:func:`run_batch` with the table's scenario blocks as tasks on ``client``'s cluster (default: 4 blocks per
    worker); ``progress(done, total)`` counts scenarios."""
    from ipabs.engine.cluster import map_ranges, n_workers

    n = len(table)
    if n == 0:
        return run_batch(deal, table, engine=engine)
    table.validate(deal)
    blocks = scenario_blocks(n, n_blocks or 4 * n_workers(client))
    parts = map_ranges(client, _batch_block, (deal, table), blocks, progress=progress,
                       weight=lambda b: b[1] - b[0], total=n, extra=(engine,))
    res = BatchResult.concat(parts)
    res.meta.update(engine=engine, n_scenarios=n, distributed={"blocks": len(blocks), "workers": n_workers(client)})
    return res
