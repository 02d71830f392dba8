"""ipabs: structuring and Monte Carlo cash-flow simulation for IP-backed securitizations (IP ABS / ABN).

The pipeline: scenario file → validated :class:`~ipabs.scenario.schema.Scenario` + pool →
:class:`~ipabs.compile.arrays.CompiledDeal` (flat arrays) → numba kernels → results → analytics / report / UI.
:mod:`ipabs.api` is the one entry point the CLI and the Streamlit app use; its main functions are re-exported
here lazily (importing ``ipabs`` does not load numba or QuantLib).
"""

from __future__ import annotations

__version__ = "0.1.0"

_API = ("load_scenario", "validate", "run_deterministic", "simulate")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from ipabs import api

        return getattr(api, name)
    raise AttributeError(f"module 'ipabs' has no attribute {name!r}")
