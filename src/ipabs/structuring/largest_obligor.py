"""The largest-obligor test (中债资信 大额借款人违约压力测试) and "which obligors break the senior".

Obligors are ranked by **exposure**: the cut-off performing balance summed over each obligor's assets
(``deal.pool.sched_bal_start[:, 0]`` by ``deal.info.asset_obligor``), largest first, ties broken by obligor id.

:func:`largest_obligor_test`: for each count ``n`` in ``counts`` (default 1, 3, 5), the top ``n`` obligors default
outright in ``period`` (0-based; default 0, the first period: their whole cut-off balance is a default and they pay
nothing), at each recovery rate of ``recoveries`` (default zero and the scenario's), with and without the support
provider(s); per case and tranche: repaid in full or not, the loss and the minimum cash-flow coverage ratio. By
default the named defaults come **on top of** the base assumptions' CDR / cumulative default rate (and their named
obligor defaults); ``base_cdr=False`` defaults only the selected obligors. The recovery rate of a case applies to
every default of that case (the named obligors' and the base rate's). One :func:`run_batch` call for every case.

:func:`obligors_breaking`: the smallest ``k`` such that the top ``k`` obligors' default leaves the tranche (the most
senior by default) not repaid in full, scanning ``k = 0 … O`` in one batch; ``None`` when even all of them do not.

Pure functions over a :class:`ipabs.compile.lower.CompiledDeal`; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ipabs.compile.lower import CompiledDeal
from ipabs.scenario.schema import Assumptions
from ipabs.structuring.batch import BatchResult, ScenarioTable, run_batch

DEFAULT_COUNTS = (1, 3, 5)


def _exposures(deal: CompiledDeal) -> np.ndarray:
    n_o = len(deal.info.obligor_ids)
    return np.bincount(deal.info.asset_obligor, weights=deal.pool.sched_bal_start[:, 0], minlength=n_o)


def obligor_ranking(deal: CompiledDeal) -> np.ndarray:
    """Obligor indices (into ``deal.info.obligor_ids``) by exposure, largest first, ties by obligor id."""
    exp = _exposures(deal)
    ids = deal.info.obligor_ids
    return np.array(sorted(range(len(ids)), key=lambda o: (-exp[o], ids[o])), dtype=np.int64)


def obligor_exposures(deal: CompiledDeal) -> pd.DataFrame:
    """The ranking as a table: rank (1 = largest), obligor_id, obligor_name, exposure (yuan, cut-off performing
    balance), exposure_share (of the pool), cumulative_exposure, cumulative_share."""
    exp = _exposures(deal)
    order = obligor_ranking(deal)
    pool = float(exp.sum())
    e = exp[order]
    share = e / pool if pool > 0 else np.full(len(e), np.nan)
    return pd.DataFrame({
        "rank": np.arange(1, len(order) + 1),
        "obligor_id": [deal.info.obligor_ids[o] for o in order],
        "obligor_name": [deal.info.obligor_names[o] for o in order],
        "exposure": e,
        "exposure_share": share,
        "cumulative_exposure": np.cumsum(e),
        "cumulative_share": np.cumsum(share),
    })


# ---- scenario rows ---------------------------------------------------------------------------------------------
def _rows(deal: CompiledDeal, base: Assumptions, cases: Sequence[tuple[int, float | None, bool]], *,
          base_cdr: bool, period: int) -> tuple[ScenarioTable, list[float]]:
    """One scenario per (top count, recovery or None = the base's, support on)."""
    n_t = deal.n_periods
    if not 0 <= period < n_t:
        raise ValueError(f"period must be a 0-based period in 0..{n_t - 1}, not {period!r}")
    order = obligor_ranking(deal)
    template = ScenarioTable.from_assumptions(deal, [base])
    n = len(cases)
    t = template.take(np.zeros(n, dtype=np.int64))
    obl = t.obligor_default_period.copy()
    sup = t.support_default_period.copy()
    rec = t.recovery_rate.copy()
    rec_mult = t.recovery_multiplier.copy()
    base_rate = min(1.0, base.recovery_rate * base.recovery_multiplier)
    eff = []
    for i, (k, r, support) in enumerate(cases):
        if not base_cdr:
            obl[i] = n_t
        top = order[:k]
        obl[i, top] = np.minimum(obl[i, top], period)
        if not support:
            sup[i] = 0
        if r is not None:
            rec[i], rec_mult[i] = r, 1.0
        eff.append(base_rate if r is None else float(r))
    cols: dict = {"obligor_default_period": obl, "support_default_period": sup, "recovery_rate": rec,
                  "recovery_multiplier": rec_mult}
    if not base_cdr:
        cols.update(cdr=0.0, cumulative_default_rate=np.nan)
    return t.with_columns(**cols), eff


def _recovery_label(r: float | None, eff: float) -> str:
    return f"scenario recovery {eff:.0%}" if r is None else ("zero recovery" if r == 0 else f"recovery {r:.0%}")


# ---- the test ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LargestObligorCase:
    """One scenario of the test: the top ``n_obligors`` default in ``period`` at ``recovery_rate`` (effective)."""

    label: str
    n_obligors: int
    obligor_ids: tuple[str, ...]
    exposure: float
    exposure_share: float
    recovery_rate: float
    scenario_recovery: bool
    support: bool


@dataclass(frozen=True)
class LargestObligorResult:
    """Per case (rows) and tranche (columns). ``batch`` is the underlying :class:`BatchResult`."""

    cases: tuple[LargestObligorCase, ...]
    tranches: tuple[str, ...]
    repaid_in_full: np.ndarray  # bool[n, K]
    loss: np.ndarray  # f8[n, K]
    interest_shortfall: np.ndarray  # f8[n, K]
    min_coverage: np.ndarray  # f8[n]
    tranche_balance: np.ndarray  # f8[K]
    base_cdr: bool
    period: int
    batch: BatchResult

    def passes(self, tranche: str | int, *, support: bool | None = None) -> bool:
        """True when the tranche is repaid in full in every case (of the given support setting)."""
        k = self.tranches.index(tranche) if isinstance(tranche, str) else int(tranche)
        sel = [i for i, c in enumerate(self.cases) if support is None or c.support == support]
        return bool(self.repaid_in_full[sel, k].all())

    def frame(self) -> pd.DataFrame:
        """Long table, one row per (case, tranche): case, obligors, obligor_ids, defaulted_exposure,
        exposure_share, recovery_rate, support, base_cdr, tranche, repaid_in_full, loss, loss_share (of the
        tranche's face), interest_shortfall, min_coverage_ratio."""
        rows = []
        for i, c in enumerate(self.cases):
            for k, name in enumerate(self.tranches):
                bal = self.tranche_balance[k]
                rows.append({
                    "case": c.label, "obligors": c.n_obligors, "obligor_ids": ", ".join(c.obligor_ids),
                    "defaulted_exposure": c.exposure, "exposure_share": c.exposure_share,
                    "recovery_rate": c.recovery_rate, "support": c.support, "base_cdr": self.base_cdr,
                    "tranche": name, "repaid_in_full": bool(self.repaid_in_full[i, k]),
                    "loss": float(self.loss[i, k]),
                    "loss_share": float(self.loss[i, k] / bal) if bal > 0 else np.nan,
                    "interest_shortfall": float(self.interest_shortfall[i, k]),
                    "min_coverage_ratio": float(self.min_coverage[i]),
                })
        return pd.DataFrame(rows)


def largest_obligor_test(deal: CompiledDeal, counts: Sequence[int] = DEFAULT_COUNTS, *,
                         recoveries: Sequence[float | None] = (0.0, None), supports: Sequence[bool] = (True, False),
                         base: Assumptions | None = None, base_cdr: bool = True, period: int = 0,
                         engine: str = "kernel", progress: Callable[[int, int], None] | None = None,
                         ) -> LargestObligorResult:
    """The largest-obligor stress test (module docstring), every case in one batch.

    Parameters
    ----------
    counts : the numbers of largest obligors that default (clipped to the number of obligors, duplicates dropped;
        0 = the base case alone).
    recoveries : recovery rates of the cases; ``None`` = the base's ``recovery_rate × recovery_multiplier``.
    supports : True = the support providers as in the scenario, False = off from the first period. A deal
        without support providers gets only the support-off cases.
    base : the assumptions the defaults come on top of (default: the scenario's).
    base_cdr : False: only the selected obligors default (the base's CDR and named defaults are dropped).
    period : the 0-based period in which the obligors default.
    """
    base = base or deal.scenario.assumptions
    n_o = len(deal.info.obligor_ids)
    ks: list[int] = []
    for c in counts:
        if int(c) < 0:
            raise ValueError(f"counts must be >= 0, not {c!r}")
        k = min(int(c), n_o)
        if k not in ks:
            ks.append(k)
    sup_variants = [bool(s) for s in supports] if deal.names.supports else [False]
    sup_variants = list(dict.fromkeys(sup_variants))
    specs = [(k, r, s) for s in sup_variants for r in recoveries for k in ks]
    table, eff = _rows(deal, base, specs, base_cdr=base_cdr, period=period)
    exp = _exposures(deal)
    order = obligor_ranking(deal)
    pool = float(exp.sum())
    cases = []
    labels = []
    for (k, r, s), e in zip(specs, eff, strict=True):
        top = order[:k]
        label = f"top {k}, {_recovery_label(r, e)}, support {'on' if s else 'off'}"
        labels.append(label)
        cases.append(LargestObligorCase(
            label=label, n_obligors=k, obligor_ids=tuple(deal.info.obligor_ids[o] for o in top),
            exposure=float(exp[top].sum()), exposure_share=float(exp[top].sum() / pool) if pool > 0 else np.nan,
            recovery_rate=e, scenario_recovery=r is None, support=s))
    res = run_batch(deal, table.with_columns(labels=labels), engine=engine, progress=progress)
    return LargestObligorResult(
        cases=tuple(cases), tranches=res.tranches, repaid_in_full=res.repaid_in_full(), loss=res.loss,
        interest_shortfall=res.interest_shortfall, min_coverage=res.min_coverage,
        tranche_balance=np.array([t.balance for t in deal.scenario.tranches], dtype=float),
        base_cdr=base_cdr, period=period, batch=res)


# ---- which obligors break a tranche ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObligorsBreaking:
    """The smallest set of largest obligors whose default leaves ``tranche`` not repaid in full.

    ``k`` obligors (``k = 0``: the tranche is not repaid even without them); ``loss`` is the tranche's loss then;
    ``losses`` the tranche's loss for every ``k = 0 … O`` scanned; ``monotone`` is False when some larger set
    leaves it repaid again (the smallest breaking set is still the one reported)."""

    tranche: str
    k: int
    obligor_ids: tuple[str, ...]
    obligor_names: tuple[str, ...]
    exposures: tuple[float, ...]
    exposure: float
    exposure_share: float
    loss: float
    support: bool
    recovery_rate: float
    base_cdr: bool
    period: int
    monotone: bool
    losses: tuple[float, ...]

    def frame(self) -> pd.DataFrame:
        """One row per obligor of the set: rank, obligor_id, obligor_name, exposure, cumulative_exposure."""
        e = np.array(self.exposures, dtype=float)
        return pd.DataFrame({"rank": np.arange(1, self.k + 1), "obligor_id": list(self.obligor_ids),
                             "obligor_name": list(self.obligor_names), "exposure": e,
                             "cumulative_exposure": np.cumsum(e)})


def senior_tranche(deal: CompiledDeal) -> str:
    """The most senior tranche (the first listed with seniority ``senior``)."""
    return next(t.name for t in deal.scenario.tranches if t.seniority == "senior")


def obligors_breaking(deal: CompiledDeal, tranche: str | int | None = None, *, support: bool = True,
                      recovery: float | None = 0.0, base: Assumptions | None = None, base_cdr: bool = True,
                      period: int = 0, engine: str = "kernel",
                      progress: Callable[[int, int], None] | None = None) -> ObligorsBreaking | None:
    """The smallest ``k`` such that the default of the ``k`` largest obligors in ``period`` leaves ``tranche``
    (default: the most senior) not repaid in full; ``None`` if even all of them do not. ``k = 0 … O`` are scanned
    in one batch. ``recovery``: rate of every default (``None`` = the base's); ``support``, ``base``, ``base_cdr``
    as :func:`largest_obligor_test`."""
    base = base or deal.scenario.assumptions
    names = deal.names.tranches
    if tranche is None:
        tranche = senior_tranche(deal)
    if isinstance(tranche, str):
        if tranche not in names:
            raise ValueError(f"unknown tranche {tranche!r}; tranches are {', '.join(names)}")
        k_tr = names.index(tranche)
    else:
        k_tr = int(tranche)
        if not 0 <= k_tr < len(names):
            raise ValueError(f"tranche index {k_tr} out of range 0..{len(names) - 1}")
    n_o = len(deal.info.obligor_ids)
    specs = [(k, recovery, support) for k in range(n_o + 1)]
    table, eff = _rows(deal, base, specs, base_cdr=base_cdr, period=period)
    res = run_batch(deal, table.with_columns(labels=[f"top {k}" for k in range(n_o + 1)]), engine=engine,
                    progress=progress)
    ok = res.repaid_in_full(k_tr)
    bad = np.flatnonzero(~ok)
    if bad.size == 0:
        return None
    k = int(bad[0])
    exp = _exposures(deal)
    top = obligor_ranking(deal)[:k]
    pool = float(exp.sum())
    return ObligorsBreaking(
        tranche=names[k_tr], k=k, obligor_ids=tuple(deal.info.obligor_ids[o] for o in top),
        obligor_names=tuple(deal.info.obligor_names[o] for o in top),
        exposures=tuple(float(exp[o]) for o in top), exposure=float(exp[top].sum()),
        exposure_share=float(exp[top].sum() / pool) if pool > 0 else np.nan, loss=float(res.loss[k, k_tr]),
        support=support, recovery_rate=eff[0], base_cdr=base_cdr, period=period,
        monotone=not bool(ok[k + 1:].any()), losses=tuple(float(x) for x in res.loss[:, k_tr]))
