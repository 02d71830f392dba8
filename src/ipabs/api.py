"""The library façade: load → validate → compile → run → analyse. The CLI and the Streamlit app call only this.

Every function is pure over its inputs (no printing, no global state except QuantLib's evaluation date, which
:mod:`ipabs.analytics.bond` restores).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipabs.compile.lower import CompiledDeal, compile_deal
from ipabs.engine.deterministic import run_deterministic_arrays
from ipabs.engine.results import DeterministicResult, provenance
from ipabs.scenario.io import LoadedScenario
from ipabs.scenario.io import load_scenario as _load
from ipabs.scenario.schema import Assumptions

__all__ = ["load_scenario", "validate", "compile_scenario", "run_deterministic", "simulate", "kernels_cold", "path_sample",
           "check_obligor_defaults", "cluster_arguments", "provenance",
           "ValidationReport"]
# ``api.eligibility``, ``api.policy`` and ``api.surveillance`` are namespaces resolved lazily by ``__getattr__`` below.


def load_scenario(path: str | Path, *, data: dict | None = None, strict: bool | None = None,
                  base_dir: str | Path | None = None) -> LoadedScenario:
    """Read and validate a scenario and its pool tape (raises :class:`ipabs.errors.ScenarioError` / TapeError)."""
    return _load(path, data=data, tape_strict=strict, base_dir=base_dir)


@dataclass(frozen=True)
class ValidationReport:
    loaded: LoadedScenario
    deal: CompiledDeal

    @property
    def n_rows(self) -> int:
        return self.loaded.tape.n_rows

    @property
    def n_accepted(self) -> int:
        return self.loaded.tape.n_accepted

    @property
    def rejected(self) -> list:
        return list(self.loaded.tape.rejected)

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.deal.warnings


def compile_scenario(loaded: LoadedScenario) -> CompiledDeal:
    """Compile a loaded scenario (schedules, pool arrays, waterfall arrays)."""
    return compile_deal(loaded.scenario, loaded.tape.assets, scenario_hash=loaded.scenario_hash,
                        source=loaded.source)


def validate(path: str | Path, *, strict: bool | None = None) -> ValidationReport:
    """Validate a scenario end to end (schema, references, tape rows, schedules) without running it."""
    loaded = load_scenario(path, strict=strict)
    return ValidationReport(loaded, compile_scenario(loaded))


def _deal(x: str | Path | LoadedScenario | CompiledDeal) -> tuple[CompiledDeal, LoadedScenario | None]:
    if isinstance(x, CompiledDeal):
        return x, None
    loaded = x if isinstance(x, LoadedScenario) else load_scenario(x)
    return compile_scenario(loaded), loaded


def run_deterministic(scenario: str | Path | LoadedScenario | CompiledDeal,
                      assumptions: Assumptions | None = None) -> DeterministicResult:
    """Run the deterministic engine on a scenario file, a loaded scenario or a compiled deal."""
    deal, loaded = _deal(scenario)
    pf, out = run_deterministic_arrays(deal, assumptions)
    meta: dict[str, Any] = provenance(deal, engine="deterministic")
    if loaded is not None:
        meta["tape_rows"] = loaded.tape.n_rows
        meta["tape_rejected_rows"] = loaded.tape.n_rows - loaded.tape.n_accepted
    return DeterministicResult(deal, pf, out, meta)


def simulate(scenario: str | Path | LoadedScenario | CompiledDeal, *, client: Any = None, workers: int | None = None,
             scheduler: str | None = None, **kwargs: Any):
    """Monte Carlo simulation; see :func:`ipabs.engine.montecarlo.simulate`.

    With ``client`` (a ``distributed.Client``), ``scheduler`` (``tcp://HOST:PORT`` of an existing dask cluster) or
    ``workers`` (a local cluster of that many worker processes, started and stopped for the call) the path ranges
    run as cluster tasks (:func:`ipabs.engine.distributed.simulate_distributed`); the result is bit-identical to
    the single-process run. ``threads``, ``chunk`` and ``waterfall_kernel`` apply only to the single process.
    """
    deal, _ = _deal(scenario)
    if client is not None or workers or scheduler:
        from ipabs.engine.cluster import ClusterSpec
        from ipabs.engine.distributed import simulate_distributed

        spec = ClusterSpec(scheduler=scheduler, workers=workers)  # validates the pair
        for k in ("threads", "chunk", "waterfall_kernel"):
            kwargs.pop(k, None)
        return simulate_distributed(deal, client=client, scheduler=spec.scheduler, n_workers=spec.workers or 2,
                                    **kwargs)
    from ipabs.engine.montecarlo import simulate as _simulate

    return _simulate(deal, **kwargs)


def kernels_cold() -> bool:
    """Whether the next :func:`simulate` compiles the Monte Carlo kernels (a first run after installation: 30-60 s,
    reported apart from the simulation in ``meta["compile_seconds"]``); see
    :func:`ipabs.engine.montecarlo.kernels_cold`."""
    from ipabs.engine.montecarlo import kernels_cold as _cold

    return _cold()


def path_sample(deal: CompiledDeal, seed: int, paths: range | list[int], **kwargs: Any):
    """Full cash flows of the given Monte Carlo paths (``ipabs run --sample-paths``), exactly as :func:`simulate`
    draws them; see :func:`ipabs.engine.montecarlo.path_sample`."""
    from ipabs.engine.montecarlo import path_sample as _path_sample

    return _path_sample(deal, seed, paths, **kwargs)


def check_obligor_defaults(deal: CompiledDeal, assumptions: Assumptions | None = None) -> None:
    """Raise :class:`ipabs.errors.ScenarioError` when ``assumptions.obligor_defaults`` name an obligor not on the tape
    or a period outside the compiled grid (checked at validation, not only at run time); see
    :func:`ipabs.engine.deterministic.asset_default_periods`."""
    from ipabs.engine.deterministic import asset_default_periods

    asset_default_periods(deal, assumptions if assumptions is not None else deal.scenario.assumptions)


def cluster_arguments(scheduler: str | None, workers: int | None) -> dict[str, Any]:
    """The cluster keywords of :func:`simulate` for ``--scheduler``/``--workers`` (checked: a sensible pair, and
    dask installed when a cluster is asked for); empty when neither is given. See :mod:`ipabs.engine.cluster`."""
    from ipabs.engine.cluster import ClusterSpec, require_distributed

    spec = ClusterSpec(scheduler=scheduler, workers=workers)
    if spec.enabled:
        require_distributed()
    return {"workers": spec.workers, "scheduler": spec.scheduler} if spec.enabled else {}


def __getattr__(name: str):
    """The eligibility, policy and surveillance APIs as namespaces of this façade: ``api.eligibility.evaluate_pool(...)``,
    ``api.policy.run_subsidy(...)``, ``api.surveillance.surveil(...)`` (imported lazily; see :mod:`ipabs.eligibility`,
    :mod:`ipabs.policy.api` and :mod:`ipabs.surveillance`)."""
    if name == "eligibility":
        import ipabs.eligibility as m

        return m
    if name == "policy":
        import ipabs.policy.api as m

        return m
    if name == "surveillance":
        import ipabs.surveillance as m

        return m
    raise AttributeError(f"module 'ipabs.api' has no attribute {name!r}")
