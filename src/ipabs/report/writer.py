"""The output folder of ``ipabs run``: summary.json, cashflows.parquet/.xlsx (:mod:`ipabs.report.workbook`), the Monte
Carlo tables and, on request, the printable report.html (:mod:`ipabs.report.html`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ipabs.report.export import write_json, write_parquet
from ipabs.report.workbook import write_workbook


def run_summary(det, mc=None, tape=None) -> dict[str, Any]:
    """The summary.json document: deal, provenance, pool and a ``tranches`` list."""
    s = det.deal.scenario
    tranches = det.tranche_summary()
    prov = dict(det.meta)
    if mc is not None:
        for row, st in zip(tranches, mc.tranche_stats(), strict=True):
            row.update({k: v for k, v in st.items() if k != "name"})
        prov.update({"n_paths": mc.n_paths, "seed": mc.seed, "statistics": mc.statistics, "mc_engine": mc.meta})
    doc: dict[str, Any] = {
        "deal": {
            "name": s.deal.name,
            "market": s.deal.market,
            "cutoff_date": s.deal.cutoff_date,
            "closing_date": s.deal.closing_date,
            "legal_maturity": s.deal.legal_maturity,
            "calendar": s.deal.calendar_name,
            "day_count": s.deal.day_count,
            "payment_frequency": s.deal.payment_frequency,
            "n_periods": det.deal.n_periods,
        },
        "provenance": prov,
        "warnings": list(det.deal.warnings),
        "pool": det.pool_summary(),
        "tranches": tranches,
    }
    if tape is not None:
        doc["tape"] = {"file": tape.file, "rows": tape.n_rows, "accepted": tape.n_accepted,
                       "rejected_rows": tape.n_rows - tape.n_accepted,
                       "problems": [i.to_dict() for i in tape.rejected]}
    if mc is not None:
        doc["monte_carlo"] = {"pool": mc.pool_stats()}
    return doc


def write_run(folder: Path, det, mc=None, tape=None, lang: str = "en", path_sample: pd.DataFrame | None = None,
              report: bool = False) -> None:
    """Write every output of a run into ``folder`` (the caller makes it atomic); ``path_sample`` (full cash flows
    of some Monte Carlo paths, :func:`ipabs.engine.montecarlo.path_sample`) goes to path_sample.parquet, and with
    ``report`` the printable report (:func:`ipabs.report.html.render_report`) to report.html."""
    write_json(folder / "summary.json", run_summary(det, mc, tape))
    write_parquet(folder / "cashflows.parquet", det.cashflows())
    full = mc is not None and mc.has_cashflow_statistics
    write_workbook(folder / "cashflows.xlsx", det, mc, tape, lang=lang)
    if mc is not None:
        write_parquet(folder / "loss_distribution.parquet", mc.loss_distribution())
        if full:  # losses-only statistics (decision 012) have no expected cash flows by period
            write_parquet(folder / "expected_cashflows.parquet", mc.expected_cashflows())
    if path_sample is not None:
        write_parquet(folder / "path_sample.parquet", path_sample)
    if report:
        from ipabs.report.html import render_report

        (folder / "report.html").write_text(render_report(det, mc, lang, tape=tape), encoding="utf-8")
