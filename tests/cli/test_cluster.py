"""Runs on a dask cluster from the command line and the library: ``--workers N`` / ``--scheduler ADDR``.

The cluster's result equals the single process's bit for bit (the path ranges are pure functions of (deal, seed,
range)); a worker killed mid-run has its ranges recomputed; an unreachable scheduler is a clear run-time error
(exit 1) that leaves no output; without dask installed, asking for a cluster is an input error (exit 2).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from ipabs.api import compile_scenario, load_scenario
from ipabs.cli import main

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_A = ROOT / "scenarios" / "ganzhou_pledge_2026.toml"
MC_ARRAYS = ("loss", "short", "wal", "yld", "pool_default_rate", "pool_loss_rate", "support_draw", "support_default",
             "first_default", "h_bal", "h_cash")


def _without_provenance(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "provenance"}


@pytest.mark.slow
def test_run_with_two_local_workers_writes_the_same_summary_as_the_single_process(tmp_path, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["run", str(SCENARIO_A), "--paths", "200000", "--out", str(one), "--quiet"]) == 0
    assert main(["run", str(SCENARIO_A), "--paths", "200000", "--workers", "2", "--out", str(two), "--quiet"]) == 0
    a = json.loads((one / "summary.json").read_text("utf-8"))
    b = json.loads((two / "summary.json").read_text("utf-8"))
    assert _without_provenance(a) == _without_provenance(b)
    assert b["provenance"]["mc_engine"]["distributed"]["workers"] == 2
    assert (one / "loss_distribution.parquet").read_bytes() == (two / "loss_distribution.parquet").read_bytes()


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_no_path_and_changes_no_bit():
    from ipabs.engine.cluster import open_client
    from ipabs.engine.distributed import simulate_distributed
    from ipabs.engine.montecarlo import simulate

    deal = compile_scenario(load_scenario(SCENARIO_A))
    n = 300_000
    single = simulate(deal, n, 11)
    with open_client(workers=2) as client:
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        killed: list[int] = []

        def progress(done: int, total: int) -> None:
            if not killed and done < total:
                os.kill(victim, signal.SIGKILL)
                killed.append(done)

        dist = simulate_distributed(deal, n, 11, client=client, n_chunks=12, progress=progress)
        assert killed and killed[0] < n  # the kill happened with ranges still to run
        assert victim not in client.run(os.getpid).values()  # the nanny started a new worker process
    assert dist.n_paths == n
    for name in MC_ARRAYS:
        assert np.array_equal(getattr(single, name).view(np.uint8), getattr(dist, name).view(np.uint8)), name
    for name in ("s_int", "s_prin", "s_bal", "s_pool"):
        assert getattr(single, name) == getattr(dist, name), name


@pytest.mark.slow
def test_an_unreachable_scheduler_fails_with_exit_1_and_leaves_no_output(tmp_path, capsys, monkeypatch):
    import ipabs.engine.cluster as cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2)
    out = tmp_path / "never"
    code = main(["run", str(SCENARIO_A), "--paths", "1000", "--scheduler", "tcp://127.0.0.1:9", "--out", str(out),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "cannot reach the dask scheduler at tcp://127.0.0.1:9" in err and "Traceback" not in err
    assert not out.exists() and not any(tmp_path.iterdir())


def test_asking_for_a_cluster_without_dask_is_an_input_error_with_the_install_command(tmp_path, capsys,
                                                                                     monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed → ImportError
    code = main(["run", str(SCENARIO_A), "--paths", "100", "--workers", "2", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2
    assert "pip install 'ipabs[distributed]'" in err
    assert not (tmp_path / "x").exists()


def test_workers_and_scheduler_together_or_a_bad_worker_count_are_refused(tmp_path, capsys):
    assert main(["run", str(SCENARIO_A), "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(["run", str(SCENARIO_A), "--paths", "100", "--workers", "0", "--out", str(tmp_path / "x")]) == 2
    assert "workers must be between 1 and 256" in capsys.readouterr().err


@pytest.mark.slow
def test_the_subsidy_budget_on_two_local_workers_equals_the_single_process_budget(tmp_path, capsys):
    from ipabs.api import policy

    pipeline = ROOT / "scenarios" / "pipeline-ganzhou-2027.csv"
    single = policy.run_subsidy(pipeline, n_paths=4_000, seed=5)
    seen: list[int] = []
    dist = policy.run_subsidy(pipeline, n_paths=4_000, seed=5, workers=2, progress=lambda d, n: seen.append(d))
    assert seen[-1] == 4_000
    for name in ("totals", "item_totals", "firm_totals", "acc_payable", "acc_paid", "acc_binds", "acc_reduction"):
        assert np.array_equal(getattr(single, name), getattr(dist, name)), name
    assert single.by_year().equals(dist.by_year())
    assert single.planned.to_frame("en").equals(dist.planned.to_frame("en"))
    code = main(["subsidy", str(pipeline), "--paths", "2000", "--workers", "2"])
    assert code == 0 and "subsidy" in capsys.readouterr().out.lower()


@pytest.mark.slow
def test_cancelling_from_the_progress_callback_stops_the_clusters_tasks():
    """80 tasks of 100,000 paths (several seconds of work on two workers): a Cancelled raised at the first progress
    report ends the call at once and leaves no task running on the workers within a second or two — far less than
    the rest of the run would take (the paths of one task are timed first)."""
    import time

    from ipabs.engine.cluster import open_client
    from ipabs.engine.distributed import simulate_distributed
    from ipabs.errors import Cancelled

    deal = compile_scenario(load_scenario(SCENARIO_A))
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        raise Cancelled("stop")

    with open_client(workers=2) as client:
        simulate_distributed(deal, 200_000, 3, client=client, n_chunks=2)  # warm both workers
        t0 = time.perf_counter()
        simulate_distributed(deal, 100_000, 3, client=client, n_chunks=1)  # one task's time, warm
        one_task = time.perf_counter() - t0
        with pytest.raises(Cancelled):
            simulate_distributed(deal, 8_000_000, 3, client=client, n_chunks=80, progress=progress)
        cancelled_at = time.perf_counter()
        assert len(seen) == 1  # stopped at the first report
        while any(client.processing().values()) and time.perf_counter() - cancelled_at < 30:
            time.sleep(0.05)
        drained = time.perf_counter() - cancelled_at
    assert drained < max(2.0, 5 * one_task) < 79 * one_task / 2  # the rest of the run would take far longer


def _payload_sum(payload, r):
    return int(payload.sum()) + r


def test_the_same_payload_mapped_again_and_again_never_meets_its_released_key():
    """map_ranges scatters its payload under a fresh key each call: with dask's content-hashed key, a call repeating
    the previous call's payload scatters to the key the scheduler is still releasing, and the call can hang or fail
    with "Could not find data" (dask/distributed#8576). In-process workers make the race quick to hit."""
    from distributed import Client, LocalCluster

    from ipabs.engine.cluster import map_ranges

    payload = np.arange(1000, dtype=np.int64)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        for _ in range(150):
            assert map_ranges(client, _payload_sum, payload, [0, 1]) == [499500, 499501]
