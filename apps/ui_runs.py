"""Cached calls into the library for the app's pages. The numerics are all in :mod:`ipabs`; this module only calls it.

Deal runs are cached with ``st.cache_data`` keyed on the canonical scenario JSON (which names the tape by a
content-addressed path for uploads), the seed and the number of paths. Arguments starting with ``_`` are not hashed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
import ui_common as ui

from ipabs.api import compile_scenario, load_scenario, run_deterministic, simulate
from ipabs.defaults import BLOCK_SIZE
from ipabs.scenario.io import read_toml

#: Progress updates per Monte Carlo run (the chunk size is chosen for it; results do not depend on it).
PROGRESS_STEPS = 20


def canonical_key(data: dict, base_dir: str | Path) -> str:
    """The cache key of a scenario: canonical JSON of the scenario dict and the folder its tape path is taken from."""
    return json.dumps({"scenario": data, "base_dir": str(base_dir)}, sort_keys=True, ensure_ascii=False,
                      default=str, separators=(",", ":"))


@st.cache_data(show_spinner=False, max_entries=64)
def sample_scenarios(folder: str) -> dict[str, dict]:
    """The deal scenarios shipped in ``folder`` (``*.toml`` files with ``[deal]`` and ``[[tranches]]``)."""
    out = {}
    for p in sorted(Path(folder).glob("*.toml")):
        try:
            data = read_toml(p)
        except Exception:  # noqa: BLE001 - a broken sample is simply not offered
            continue
        if isinstance(data.get("deal"), dict) and isinstance(data.get("tranches"), list):
            out[p.name] = data
    return out


@dataclass(frozen=True)
class TapeCheck:
    """What validation found: rows read and accepted, and one issue per rejected-row problem."""

    n_rows: int
    n_accepted: int
    rejected: tuple
    pool_balance: float


@st.cache_data(show_spinner=False, max_entries=64)
def check_scenario(key: str, _data: dict, _base_dir: str, _name: str) -> TapeCheck:
    """Validate a scenario and its tape (raises :class:`ipabs.errors.InputError` with every problem)."""
    loaded = load_scenario(Path(_base_dir) / _name, data=_data, base_dir=_base_dir)
    deal = compile_scenario(loaded)
    return TapeCheck(loaded.tape.n_rows, loaded.tape.n_accepted, tuple(loaded.tape.rejected), float(deal.pool_balance))


@dataclass(frozen=True)
class DealRun:
    """A deterministic base case and a Monte Carlo of one scenario."""

    det: Any  # ipabs.engine.results.DeterministicResult
    mc: Any  # ipabs.engine.montecarlo.MCResult
    tape: Any  # ipabs.scenario.tape.TapeResult
    seconds: float


@st.cache_data(show_spinner=False, max_entries=12)
def run_deal(key: str, seed: int, n_paths: int, _data: dict, _base_dir: str, _name: str,
             _progress: Any = None, _scheduler: str | None = None) -> DealRun:
    """Load, compile, run the deterministic engine and ``n_paths`` Monte Carlo paths (cached on key, seed, paths).

    With ``_scheduler`` (``tcp://HOST:PORT``, the sidebar's setting) the paths run on that dask cluster; the
    numbers are the same, so the cache does not key on it."""
    t0 = time.perf_counter()
    loaded = load_scenario(Path(_base_dir) / _name, data=_data, base_dir=_base_dir)
    deal = compile_scenario(loaded)
    det = run_deterministic(deal)
    per_step = -(-max(n_paths, 1) // PROGRESS_STEPS)
    chunk = max(BLOCK_SIZE, -(-per_step // BLOCK_SIZE) * BLOCK_SIZE)
    # the pages show WAL, yields and the expected cash flows with bands: always the full statistics, whatever the
    # scenario's simulation.statistics says (losses-only runs are for sizing loops; decision 012)
    if _scheduler:
        mc = simulate(deal, n_paths=n_paths, seed=seed, progress=_progress, statistics="full", scheduler=_scheduler)
    else:
        mc = simulate(deal, n_paths=n_paths, seed=seed, progress=_progress, chunk=chunk, statistics="full")
    return DealRun(det, mc, loaded.tape, time.perf_counter() - t0)


@st.cache_data(show_spinner=False, max_entries=12)
def deal_exports(key: str, seed: int, n_paths: int, lang: str, _run: DealRun) -> dict[str, bytes]:
    """The files of ``ipabs run`` for a run (summary.json, cashflows.xlsx, *.parquet) as bytes, plus a zip of the
    Parquet files. Written by :func:`ipabs.report.writer.write_run` into a temporary folder and read back."""
    from ipabs.report.writer import write_run

    def write(folder: Path) -> Path:
        folder.mkdir()
        write_run(folder, _run.det, _run.mc, _run.tape, lang=lang)
        return folder

    return ui.written_files(write, "parquet.zip", ".parquet")
