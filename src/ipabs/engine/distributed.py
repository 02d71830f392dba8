"""The Monte Carlo on a dask.distributed cluster: path ranges as tasks, merged exactly.

Path p's random numbers depend only on (seed, p), per-path results are stored at their path index and the sums
over paths are exact integers (docs/methodology/random-numbers.md), so splitting ``[path0, path0 + n_paths)``
into consecutive ranges, running each with :func:`ipabs.engine.montecarlo.simulate` on any worker and joining
them with :func:`ipabs.engine.montecarlo.merge` gives the single-process result bit for bit, whatever the number
of workers, chunks or threads per worker.

dask is an optional dependency (``pip install 'ipabs[distributed]'``). On one 2-core machine the cluster adds
nothing over numba's own threads (STACK-NOTES.md §4); it is for scale-out across machines.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from typing import Any

from ipabs.compile.lower import CompiledDeal
from ipabs.engine.montecarlo import MCResult, merge, simulate
from ipabs.prepare.montecarlo import PreparedMC, prepare
from ipabs.scenario.schema import Assumptions

__all__ = ["simulate_distributed", "path_ranges"]


def path_ranges(path0: int, n_paths: int, n_chunks: int) -> list[tuple[int, int]]:
    """Split ``[path0, path0 + n_paths)`` into at most ``n_chunks`` consecutive (start, count) ranges of near-equal
    size (the first ``n_paths % n_chunks`` ranges get one path more)."""
    n_chunks = max(1, min(int(n_chunks), max(1, n_paths)))
    q, r = divmod(n_paths, n_chunks)
    out, start = [], path0
    for i in range(n_chunks):
        m = q + (1 if i < r else 0)
        if m:
            out.append((start, m))
        start += m
    return out


def _run_range(payload: tuple[CompiledDeal, PreparedMC], rng: tuple[int, int], seed: int,
               statistics: str | None = None) -> MCResult:
    """Worker task: one path range with numba's threads of the worker, returned without the deal (the client has it)."""
    deal, prep = payload
    path0, n = rng
    res = simulate(deal, n, seed, path0=path0, prepared=prep, statistics=statistics)
    return dataclasses.replace(res, deal=None)


def simulate_distributed(
    deal: CompiledDeal,
    n_paths: int | None = None,
    seed: int | None = None,
    client: Any = None,
    n_chunks: int | None = None,
    *,
    path0: int = 0,
    assumptions: Assumptions | None = None,
    n_workers: int = 2,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    statistics: str | None = None,
) -> MCResult:
    """Simulate paths ``[path0, path0 + n_paths)`` as tasks on a dask cluster and merge them.

    Parameters
    ----------
    deal : CompiledDeal
    n_paths, seed : int, optional
        Default: the scenario's ``simulation`` settings.
    client : distributed.Client, optional
        An existing client. Without one: the cluster at ``scheduler`` (``tcp://HOST:PORT``) if given, else a
        ``LocalCluster`` of ``n_workers`` single-threaded worker processes on 127.0.0.1 (no dashboard), started
        for the call and shut down afterwards (:func:`ipabs.engine.cluster.open_client`).
    n_chunks : int, optional
        Number of tasks (default: 4 per worker). Results do not depend on it.
    progress : callable(done, total), optional
        Called as tasks finish with the number of paths done; raise :class:`ipabs.errors.Cancelled` to stop
        (pending tasks are cancelled).
    statistics : {"full", "losses"}, optional
        As in :func:`ipabs.engine.montecarlo.simulate`.

    The compiled deal and its prepared credit model are scattered once to every worker; each task runs
    :func:`ipabs.engine.montecarlo.simulate` on its range (:func:`ipabs.engine.cluster.map_ranges`). A worker
    lost mid-run has its ranges recomputed elsewhere; the merge keeps exactly one result per range.
    """
    from ipabs.engine.cluster import ClusterSpec, map_ranges, open_client
    from ipabs.engine.cluster import n_workers as count_workers

    sim = deal.scenario.simulation
    n = sim.n_paths if n_paths is None else int(n_paths)
    sd = sim.seed if seed is None else int(seed)
    if n < 0:
        raise ValueError("n_paths must be >= 0")
    prep = prepare(deal, assumptions)
    if n == 0:
        return simulate(deal, 0, sd, path0=path0, prepared=prep, statistics=statistics)
    with contextlib.ExitStack() as stack:
        if client is None:
            spec = ClusterSpec(scheduler=scheduler) if scheduler else ClusterSpec(workers=n_workers)
            client = stack.enter_context(open_client(spec))
        t0 = time.perf_counter()
        workers = count_workers(client, n_workers)
        ranges = path_ranges(path0, n, n_chunks or 4 * workers)
        parts = map_ranges(client, _run_range, (deal, prep), ranges, progress=progress, weight=lambda r: r[1],
                           total=n, extra=(sd, statistics))
    merged = merge([dataclasses.replace(p, deal=deal) for p in parts])
    elapsed = time.perf_counter() - t0
    meta = dict(merged.meta)
    meta.update({"distributed": {"chunks": len(ranges), "workers": workers}, "threads": None,
                 "paths_per_second": n / elapsed if elapsed > 0 else None})
    return dataclasses.replace(merged, elapsed_seconds=elapsed, meta=meta)
