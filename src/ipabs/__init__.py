"""ipabs: structuring and Monte Carlo cash-flow simulation for IP-backed securitizations (IP ABS / ABN).

The pipeline: scenario file → validated :class:`~ipabs.scenario.schema.Scenario` + pool →
:class:`~ipabs.compile.arrays.CompiledDeal` (flat arrays) → numba kernels → results → analytics / report / UI.
:mod:`ipabs.api` is the one entry point the CLI and the Streamlit app use.
"""

__version__ = "0.1.0"

from ipabs.api import load_scenario, run_deterministic, simulate, validate  # noqa: E402

__all__ = ["__version__", "load_scenario", "validate", "run_deterministic", "simulate"]
