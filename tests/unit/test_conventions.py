"""House conventions, checked (in the spirit of lifelib's test_model_conventions)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
from numba.core.registry import CPUDispatcher

import ipabs.kernels
from ipabs import api

SCENARIOS = sorted((__import__("pathlib").Path(__file__).resolve().parents[2] / "scenarios").glob("*.toml"))
TAKES_NO_DEAL = {"selfcheck-example.toml", "stress_grid_example.toml"}


def test_kernel_modules_export_only_jitted_callables():
    for mod in pkgutil.iter_modules(ipabs.kernels.__path__):
        if mod.name == "_jit":
            continue
        m = importlib.import_module(f"ipabs.kernels.{mod.name}")
        for name, obj in vars(m).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != m.__name__:
                continue
            if inspect.isclass(obj) and issubclass(obj, tuple):
                continue  # NamedTuple argument bundles are fine: numba passes them as tuples of arrays
            if inspect.isfunction(obj) or inspect.isclass(obj):
                pytest.fail(f"ipabs.kernels.{mod.name}.{name} is a plain Python callable; kernels are jitted")
            if isinstance(obj, CPUDispatcher):
                assert obj.__doc__, f"kernel {mod.name}.{name} has no docstring"


def test_api_functions_have_docstrings():
    for name in api.__all__:
        obj = getattr(api, name)
        assert obj.__doc__, f"ipabs.api.{name} has no docstring"


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in SCENARIOS if p.name not in TAKES_NO_DEAL and
                                  "pipeline" not in p.name and "fund" not in p.name], ids=lambda p: p.name)
def test_every_sample_scenario_validates_and_runs_with_100_paths(path):
    loaded = api.load_scenario(path)
    assert loaded.tape.n_accepted == loaded.tape.n_rows, "sample tapes carry no rejected rows"
    deal = api.compile_scenario(loaded)
    det = api.run_deterministic(deal)
    for arr in (*det.out, *det.pool):
        assert np.all(np.isfinite(arr)), "no NaN or inf in deterministic outputs"
    mc = api.simulate(deal, n_paths=100, seed=1)
    assert mc.n_paths == 100
    assert np.all(np.isfinite(mc.loss)) and np.all((mc.loss >= 0) & (mc.loss <= 1 + 1e-12))
