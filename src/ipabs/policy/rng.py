"""Random numbers of the policy engine, and the one call into the credit engine's default model.

Contract (docs/policy.md §5): path *p* of a run with seed *s* uses

* ``numpy.random.Generator(numpy.random.Philox(key=[k(s), p]))`` with ``k(s)`` the first 64-bit word of
  ``numpy.random.SeedSequence([s, 0x504F4C49])`` — one independent Philox stream per path; from it, in this order,
  ``u = g.random(2 * n_units)`` (completion and slip uniforms, interleaved per unit) then
  ``z = g.standard_normal(n_units)`` (size shocks);
* the credit engine's correlated defaults ``sample_default_years(..., seed=s, path0=p)``, which depend only on
  (s, p) too.

So path *p*'s numbers depend only on (s, p): any split of the paths into chunks gives the same result.
"""

from __future__ import annotations

import numpy as np

#: Tag mixed into the seed so the policy engine's streams differ from any other user of the same seed.
POLICY_STREAM_TAG = 0x504F4C49  # "POLI"


def path_key(seed: int) -> np.uint64:
    """The first Philox key word for ``seed``."""
    return np.random.SeedSequence([int(seed), POLICY_STREAM_TAG]).generate_state(1, np.uint64)[0]


def unit_draws(seed: int, path0: int, n_paths: int, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniforms ``u[n_paths, 2*n_units]`` and normals ``z[n_paths, n_units]`` of paths ``path0 …``."""
    k = path_key(seed)
    u = np.empty((n_paths, 2 * n_units))
    z = np.empty((n_paths, n_units))
    if n_units == 0:
        return u, z
    for i in range(n_paths):
        g = np.random.Generator(np.random.Philox(key=np.array([k, path0 + i], dtype=np.uint64)))
        u[i] = g.random(2 * n_units)
        z[i] = g.standard_normal(n_units)
    return u, z


def draw_default_years(pd_annual: np.ndarray, sector: np.ndarray, rho: float, sector_rho: float, n_years: int,
                       n_paths: int, seed: int, path0: int) -> np.ndarray:
    """0-based default year per path and obligor (``n_years`` = survives), int16[n_paths, n_obligors].

    The credit engine's one-global-plus-sector-factor Gaussian copula (``ipabs.credit.defaults``), so pledge-loan
    defaults in the budget are correlated exactly as in the deal simulation.
    """
    from ipabs.credit.defaults import sample_default_years

    return sample_default_years(np.asarray(pd_annual, dtype=np.float64), np.asarray(sector, dtype=np.int64),
                                float(rho), float(sector_rho), int(n_years), int(n_paths), int(seed), int(path0))
