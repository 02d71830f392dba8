"""The policy engine's library interface, used by the CLI (:mod:`ipabs.policy.cli`) and the UI.

Nothing here prints. Long runs accept ``progress(done, total)``, which may raise :class:`ipabs.errors.Cancelled`.

>>> from ipabs.policy import api
>>> result = api.run_subsidy("scenarios/pipeline-ganzhou-2027.csv", "ganzhou-2025", n_paths=1000, seed=1)
>>> table = result.by_year()          # mean, P50…P99 with standard errors, per year paid
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipabs.policy.budget import (
    DEFAULT_RHO,
    DEFAULT_SECTOR_RHO,
    BudgetResult,
    Progress,
    planned_entitlements,
    simulate_budget,
)
from ipabs.policy.entitlements import (
    EntitlementReport,
    PledgeLoan,
    Securitization,
    compute_entitlements,
)
from ipabs.policy.fund import FundResult, Portfolio, read_portfolio, simulate_fund
from ipabs.policy.io import list_presets, load_policy, parse_policy, write_atomic, write_frames
from ipabs.policy.pipeline import Pipeline, pipeline_from_frame, read_pipeline
from ipabs.policy.schema import Policy

__all__ = [
    "Policy", "load_policy", "parse_policy", "list_presets", "policies_table",
    "Pipeline", "read_pipeline", "pipeline_from_frame",
    "Securitization", "PledgeLoan", "compute_entitlements", "EntitlementReport", "planned_entitlements",
    "BudgetResult", "simulate_budget", "run_subsidy", "write_budget",
    "Portfolio", "read_portfolio", "FundResult", "simulate_fund", "run_fund", "write_fund",
]


def _policy(policy: str | os.PathLike | Policy) -> Policy:
    return policy if isinstance(policy, Policy) else load_policy(policy)


def policies_table() -> pd.DataFrame:
    """The shipped presets: name, title, jurisdiction, status and which items each has."""
    rows = []
    for name in list_presets():
        p = load_policy(name)
        items = [k for k in ("securitization", "pledge_patent", "pledge_other_ip", "interest_subsidy",
                             "risk_compensation") if getattr(p, k) is not None]
        rows.append({"name": p.name, "title": p.title, "jurisdiction": p.jurisdiction, "status": p.status,
                     "items": ", ".join(items), "assumptions": len(p.assumptions)})
    return pd.DataFrame(rows)


def run_subsidy(
    pipeline: str | os.PathLike | Pipeline,
    policy: str | os.PathLike | Policy = "ganzhou-2025",
    *,
    n_paths: int = 10_000,
    seed: int = 20260101,
    lpr: Decimal | str | float | None = None,
    rho: float = DEFAULT_RHO,
    sector_rho: float = DEFAULT_SECTOR_RHO,
    sheet: str | None = None,
    skip_invalid_rows: bool = False,
    progress: Progress | None = None,
    out: str | os.PathLike | None = None,
    client: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> BudgetResult:
    """Read a pipeline (path or :class:`Pipeline`), load a policy (preset name, path or :class:`Policy`), run the
    budget Monte Carlo and, with ``out``, write the outputs there (see :func:`write_budget`).

    With ``client``, ``workers`` or ``scheduler`` the path ranges run on a dask cluster
    (:mod:`ipabs.engine.cluster`); the result is identical to the single-process run."""
    pl = pipeline if isinstance(pipeline, Pipeline) else read_pipeline(pipeline, sheet=sheet,
                                                                       skip_invalid_rows=skip_invalid_rows)
    kw = {"lpr": lpr, "rho": rho, "sector_rho": sector_rho}
    if client is not None or workers or scheduler:
        from ipabs.engine.cluster import ClusterSpec, open_client
        from ipabs.policy.budget import simulate_budget_distributed

        if client is not None:
            result = simulate_budget_distributed(pl, _policy(policy), client=client, n_paths=n_paths, seed=seed,
                                                 progress=progress, **kw)
        else:
            with open_client(ClusterSpec(workers=workers, scheduler=scheduler)) as c:
                result = simulate_budget_distributed(pl, _policy(policy), client=c, n_paths=n_paths, seed=seed,
                                                     progress=progress, **kw)
    else:
        result = simulate_budget(pl, _policy(policy), n_paths=n_paths, seed=seed, progress=progress, **kw)
    if out is not None:
        write_budget(result, out)
    return result


def budget_frames(result: BudgetResult) -> dict[str, pd.DataFrame]:
    """The tables written by :func:`write_budget` (without the per-path table)."""
    frames = {
        "budget_by_year": result.by_year(),
        "firms": result.firms(),
        "firm_totals": result.firm_totals_frame(),
        "cap_binding": result.cap_binding(),
    }
    if result.planned is not None:
        frames["entitlements_planned"] = result.planned.to_frame("en")
        frames["reasons_planned"] = result.planned.reasons_frame()
    if result.rejected:
        frames["rejected_rows"] = pd.DataFrame([i.to_dict() for i in result.rejected])
    return frames


def write_budget(result: BudgetResult, out_dir: str | os.PathLike) -> Path:
    """Write ``<table>.parquet`` for each table, ``budget.xlsx`` (one sheet each), ``paths.parquet`` (each path's
    total per year paid, yuan) and ``provenance.json``; atomically (temporary folder, then rename)."""
    frames = budget_frames(result)
    paths = pd.DataFrame(result.totals / 100.0, columns=[str(y) for y in result.pay_years])
    paths.insert(0, "path", np.arange(result.path0, result.path0 + result.n_paths, dtype=np.int64))

    def writer(folder: Path) -> None:
        write_frames(folder, frames, xlsx_name="budget.xlsx")
        paths.to_parquet(folder / "paths.parquet", index=False)
        (folder / "provenance.json").write_text(json.dumps(result.provenance(), indent=2, ensure_ascii=False),
                                                encoding="utf-8")

    return write_atomic(out_dir, writer)


def run_fund(
    portfolio: str | os.PathLike | Portfolio,
    policy: str | os.PathLike | Policy = "zhongshan",
    *,
    fund_size: Decimal | str | float | None = None,
    leverage: float | None = None,
    per_loan_cap: Decimal | str | float | None = None,
    n_paths: int = 10_000,
    seed: int = 20260101,
    rho: float = DEFAULT_RHO,
    sector_rho: float = DEFAULT_SECTOR_RHO,
    sheet: str | None = None,
    skip_invalid_rows: bool = False,
    progress: Progress | None = None,
    out: str | os.PathLike | None = None,
) -> FundResult:
    """Read a loan portfolio, run the risk-compensation fund Monte Carlo and optionally write the outputs."""
    pf = portfolio if isinstance(portfolio, Portfolio) else read_portfolio(portfolio, sheet=sheet,
                                                                           skip_invalid_rows=skip_invalid_rows)
    result = simulate_fund(pf, _policy(policy), fund_size=fund_size, leverage=leverage, per_loan_cap=per_loan_cap,
                           n_paths=n_paths, seed=seed, rho=rho, sector_rho=sector_rho, progress=progress)
    if out is not None:
        write_fund(result, out)
    return result


def fund_frames(result: FundResult) -> dict[str, pd.DataFrame]:
    return {"fund_by_year": result.by_year(), "leverage": result.leverage(), "loans": result.loans()}


def write_fund(result: FundResult, out_dir: str | os.PathLike) -> Path:
    """Write the fund tables (Parquet + ``fund.xlsx``), per-path draws and ``provenance.json`` atomically."""
    frames = fund_frames(result)
    paths = pd.DataFrame(result.draws / 100.0, columns=[str(y) for y in result.years])
    paths.insert(0, "path", np.arange(result.path0, result.path0 + result.n_paths, dtype=np.int64))
    paths["exhausted_year"] = np.where(result.exhausted_year >= 0, result.exhausted_year + result.y0, -1)

    def writer(folder: Path) -> None:
        write_frames(folder, frames, xlsx_name="fund.xlsx")
        paths.to_parquet(folder / "paths.parquet", index=False)
        (folder / "provenance.json").write_text(json.dumps(result.provenance(), indent=2, ensure_ascii=False),
                                                encoding="utf-8")

    return write_atomic(out_dir, writer)
