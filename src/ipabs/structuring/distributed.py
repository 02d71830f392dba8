"""Structuring work fanned out over a dask cluster (:mod:`ipabs.engine.cluster`).

The batch deterministic engine's scenario blocks run as cluster tasks: the compiled deal is scattered once, each
task runs :func:`ipabs.structuring.batch.run_batch` on one block of the scenario table and the blocks are joined
in order with :meth:`BatchResult.concat` — the same numbers as one call in one process, because every scenario's
result depends only on the deal and its own row. Stress-grid cells go the same way (one task per range of cells,
joined with :meth:`StressResult.concat`): a Monte Carlo cell depends only on the deal, the cell and the seed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ipabs.compile.lower import CompiledDeal
from ipabs.structuring.batch import BatchResult, ScenarioTable, run_batch

__all__ = ["run_batch_distributed", "scenario_blocks", "run_stress", "run_cells_distributed", "build_store_distributed",
           "size_tranche_distributed"]


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


def _cells_block(payload: tuple, block: tuple[int, int], kw: dict):
    from ipabs.structuring.stress import run_cells

    deal, cells = payload
    return run_cells(deal, cells[block[0]:block[1]], **kw)


def run_cells_distributed(deal: CompiledDeal, cells, client: Any, *, n_blocks: int | None = None,
                          progress: Callable[[int, int], None] | None = None, **kw: Any):
    """:func:`ipabs.structuring.stress.run_cells` with ranges of cells as tasks on ``client``'s cluster (default:
    one cell per task up to 4 tasks per worker); ``progress(done, total)`` counts cells. Same table as one call."""
    from ipabs.engine.cluster import map_ranges, n_workers
    from ipabs.structuring.stress import StressResult

    cells = list(cells)
    blocks = scenario_blocks(len(cells), n_blocks or max(4 * n_workers(client), len(cells)))
    parts = map_ranges(client, _cells_block, (deal, cells), blocks, progress=progress,
                       weight=lambda b: b[1] - b[0], total=len(cells), extra=(kw,))
    res = StressResult.concat(parts)
    res.meta.update(n_cells=len(cells), distributed={"blocks": len(blocks), "workers": n_workers(client)})
    return res


def run_stress(deal: CompiledDeal, grid, *, engine: str = "mc", tornado: bool = False, base=None,
               client: Any = None, workers: int | None = None, scheduler: str | None = None,
               progress: Callable[[int, int], None] | None = None, **kw: Any):
    """A stress grid (or its tornado cells) here or, with ``client``, ``workers`` or ``scheduler``, on a dask
    cluster; the table is the same either way."""
    from ipabs.structuring.stress import grid_cells, run_stress_grid, tornado_cells

    if client is None and not workers and not scheduler:
        return run_stress_grid(deal, grid, engine=engine, tornado=tornado, base=base, progress=progress, **kw)
    from ipabs.engine.cluster import ClusterSpec, open_client

    cells = tornado_cells(deal, grid, base=base) if tornado else grid_cells(deal, grid, base=base)
    if client is not None:
        res = run_cells_distributed(deal, cells, client, progress=progress, engine=engine, **kw)
    else:
        with open_client(ClusterSpec(workers=workers, scheduler=scheduler)) as c:
            res = run_cells_distributed(deal, cells, c, progress=progress, engine=engine, **kw)
    res.meta.update(grid=grid.name, source=grid.source)
    return res


def _store_range(payload: tuple, rng: tuple[int, int], seed: int, waterfall_kernel: str):
    from ipabs.structuring.sizing import PathStore

    deal, prep = payload
    p0, m = rng
    st = PathStore(deal, m, seed, path0=p0, prepared=prep, threads=1, memory_budget=2**62,
                   waterfall_kernel=waterfall_kernel)
    return st.stored_rows()


def build_store_distributed(deal: CompiledDeal, client: Any, n_paths: int | None = None, seed: int | None = None, *,
                            assumptions=None, n_chunks: int | None = None, waterfall_kernel: str = "specialised",
                            progress: Callable[[int, int], None] | None = None):
    """The sizing solver's :class:`~ipabs.structuring.sizing.PathStore` with its Monte Carlo paths simulated as
    path ranges on ``client``'s cluster and joined in path order: the same store, and so the same sizing trials,
    bit for bit, as one built in this process. (The trials themselves re-run only the waterfall over the stored
    paths, a few milliseconds each, here.)"""
    import time

    from ipabs.engine.cluster import map_ranges, n_workers
    from ipabs.engine.distributed import path_ranges
    from ipabs.prepare.montecarlo import prepare
    from ipabs.structuring.sizing import PathStore

    sim = deal.scenario.simulation
    n = sim.n_paths if n_paths is None else int(n_paths)
    sd = sim.seed if seed is None else int(seed)
    prep = prepare(deal, assumptions)
    t0 = time.perf_counter()
    ranges = path_ranges(0, n, n_chunks or 4 * n_workers(client))
    parts = map_ranges(client, _store_range, (deal, prep), ranges, progress=progress, weight=lambda r: r[1], total=n,
                       extra=(sd, waterfall_kernel))
    return PathStore.from_parts(deal, parts, n, sd, prepared=prep, waterfall_kernel=waterfall_kernel,
                                seconds=time.perf_counter() - t0)


def size_tranche_distributed(deal: CompiledDeal, *args: Any, client: Any = None, workers: int | None = None,
                             scheduler: str | None = None, n_paths: int | None = None, seed: int | None = None,
                             assumptions=None, **kw: Any):
    """:func:`ipabs.structuring.sizing.size_tranche` with its paths simulated on a dask cluster (``client``, or a
    cluster opened from ``workers`` / ``scheduler``): the same answer and trials as in one process."""
    from ipabs.engine.cluster import ClusterSpec, open_client
    from ipabs.structuring.sizing import size_tranche

    if client is None:
        with open_client(ClusterSpec(workers=workers, scheduler=scheduler)) as c:
            store = build_store_distributed(deal, c, n_paths, seed, assumptions=assumptions)
    else:
        store = build_store_distributed(deal, client, n_paths, seed, assumptions=assumptions)
    res = size_tranche(deal, *args, n_paths=n_paths, seed=seed, assumptions=assumptions, store=store, **kw)
    res.meta.update(distributed=True)
    return res
