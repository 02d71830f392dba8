"""Runs beyond one process: open a dask.distributed cluster (an existing one, or a local one ipabs starts and stops)
and fan independent tasks out over it.

Every capability that splits into ranges (Monte Carlo paths, stress-grid cells, sizing trials, batch scenario
blocks, the subsidy budget's paths) runs its ranges through :func:`map_ranges`: the payload (the compiled deal and
whatever else every task needs) is scattered to the workers once, each task gets one range, results come back in
the order of the ranges whatever order they finish in, and the caller merges them exactly. A worker that dies
mid-run has its tasks recomputed elsewhere by the scheduler (each task is a pure function of its payload and
range, so a recomputed task returns the same bits); no range is lost or counted twice because the caller keeps one
result per range.

dask is an optional dependency (``pip install 'ipabs[distributed]'``); asking for a cluster without it raises
:class:`ipabs.errors.InputError` (the CLI's exit 2) with the command to install it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ipabs.errors import Cancelled, EngineError, InputError

__all__ = ["ClusterSpec", "open_client", "map_ranges", "require_distributed"]

INSTALL_HINT = "pip install 'ipabs[distributed]' (dask and distributed)"

#: Seconds to wait for an existing scheduler before giving up.
CONNECT_TIMEOUT_S = 10


def require_distributed() -> None:
    """Raise :class:`InputError` naming the install command when dask.distributed is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError as e:
        raise InputError(f"a cluster run needs dask.distributed, which is not installed: {INSTALL_HINT}") from e


class ClusterSpec:
    """Where to run: ``scheduler`` (``tcp://HOST:PORT`` of an existing cluster) or ``workers`` (a local cluster of
    that many single-threaded worker processes on 127.0.0.1), or neither (this process)."""

    def __init__(self, *, scheduler: str | None = None, workers: int | None = None):
        if scheduler and workers:
            raise InputError("give either a scheduler address or a number of local workers, not both")
        if workers is not None and not 1 <= int(workers) <= 256:
            raise InputError(f"workers must be between 1 and 256, not {workers}")
        if scheduler is not None and not str(scheduler).strip():
            raise InputError("the scheduler address is empty (expected tcp://HOST:PORT)")
        self.scheduler = scheduler
        self.workers = None if workers is None else int(workers)

    @property
    def enabled(self) -> bool:
        return bool(self.scheduler or self.workers)

    def describe(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler, "local_workers": self.workers}


@contextlib.contextmanager
def open_client(spec: ClusterSpec | None = None, *, scheduler: str | None = None, workers: int | None = None,
                ) -> Iterator[Any]:
    """A ``distributed.Client`` for the spec; a local cluster started here is stopped on exit (also on Ctrl-C).

    An unreachable scheduler raises :class:`ipabs.errors.EngineError` (the CLI's exit 1) naming the address.
    """
    spec = spec or ClusterSpec(scheduler=scheduler, workers=workers)
    if not spec.enabled:
        raise ValueError("open_client needs a scheduler address or a number of workers")
    require_distributed()
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    cluster = None
    try:
        if spec.scheduler:
            try:
                client = Client(spec.scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
            except (OSError, TimeoutError, ValueError) as e:
                raise EngineError(f"cannot reach the dask scheduler at {spec.scheduler}: {e}") from e
        else:
            env = {"NUMBA_NUM_THREADS": "1"}
            if os.environ.get("NUMBA_CACHE_DIR"):
                env["NUMBA_CACHE_DIR"] = os.environ["NUMBA_CACHE_DIR"]
            cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, env=env, silence_logs=logging.ERROR)
            client = Client(cluster)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


def n_workers(client: Any, default: int = 1) -> int:
    """Workers the scheduler knows now (at least 1)."""
    try:
        return max(1, len(client.scheduler_info().get("workers", {})) or default)
    except Exception:  # noqa: BLE001 - a count for chunking only
        return default


def map_ranges(client: Any, fn: Callable[..., Any], payload: Any, ranges: Sequence[Any], *,
               progress: Callable[[int, int], None] | None = None, weight: Callable[[Any], int] | None = None,
               total: int | None = None, extra: Sequence[Any] = ()) -> list[Any]:
    """Run ``fn(payload, range, *extra)`` for every range on the cluster; results in the order of ``ranges``.

    ``payload`` is scattered to every worker once. ``progress(done, total)`` is called as tasks finish, with
    ``done`` the summed ``weight(range)`` of the finished ones (1 per range by default); raising
    :class:`ipabs.errors.Cancelled` in it (or Ctrl-C) cancels every pending task. A task that fails raises
    :class:`ipabs.errors.EngineError` naming the range; the scheduler retries tasks of workers that died before
    it gives up.
    """
    from distributed import as_completed

    ranges = list(ranges)
    w = weight or (lambda r: 1)
    tot = total if total is not None else sum(w(r) for r in ranges)
    if not ranges:
        return []
    futures = []
    try:
        # a fresh key per call (hash=False): with the default content-hashed key, a call repeating the previous
        # call's payload scatters to the key the scheduler is still releasing, and the scatter can hang or its
        # tasks fail with "Could not find data" (dask/distributed#8576, #4907; seen here once in four cold runs of
        # tests/cli/test_cluster.py with tests/oracle/test_mc_distributed.py)
        remote = client.scatter(payload, broadcast=True, hash=False)
        futures = [client.submit(fn, remote, r, *extra, pure=False) for r in ranges]
        index = {f.key: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(ranges)
        done = 0
        for fut in as_completed(futures):
            i = index[fut.key]
            try:
                out[i] = fut.result()
            except (Cancelled, KeyboardInterrupt):
                raise
            except Exception as e:  # noqa: BLE001 - a task's failure, reported with its range
                raise EngineError(f"cluster task for range {ranges[i]!r} failed: {type(e).__name__}: {e}") from e
            done += w(ranges[i])
            if progress is not None:
                progress(done, tot)
        return out
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel(futures)
        raise
