"""The app's cluster setting: off by default; a scheduler address in the sidebar runs the Monte Carlo on that dask
cluster with the same numbers; an unreachable one is reported on the page, not as an exception. (Runs are cached on
the scenario, seed and path count, not on where they ran: the numbers are the same.)"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
pytest.importorskip("distributed")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[2] / "apps" / "streamlit_app.py"


def run_with(scheduler: str | None, paths: int = 3000) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.session_state["lang"] = "en"
    at.run()
    assert at.text_input(key="scheduler").value == ""  # off by default
    if scheduler:
        at.text_input(key="scheduler").set_value(scheduler)
    at.number_input(key="f_n_paths").set_value(paths)
    at.button(key="run_deal").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.slow
def test_a_run_on_the_scheduler_named_in_the_sidebar_shows_the_same_numbers_as_a_local_run(monkeypatch):
    from distributed import LocalCluster

    import ipabs.engine.cluster as cluster

    local = run_with(None)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as lc:
        remote = run_with(lc.scheduler_address)
    assert not remote.error
    values = lambda at: [(m.label, m.value) for m in at.metric]  # noqa: E731
    assert values(local) == values(remote) and values(local)
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2)
    bad = run_with("tcp://127.0.0.1:9", paths=3001)  # another path count: not a cached run
    assert bad.error and "cannot reach the dask scheduler" in bad.error[0].value
