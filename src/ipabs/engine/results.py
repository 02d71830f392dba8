"""Results of the deterministic engine: arrays plus provenance, with DataFrame views for display and export."""

from __future__ import annotations

import datetime as dt
import platform
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ipabs import __version__
from ipabs.analytics.bond import bond_metrics
from ipabs.compile.lower import CompiledDeal
from ipabs.kernels.containers import PoolFlows, WaterfallOut


def provenance(deal: CompiledDeal, **extra: Any) -> dict[str, Any]:
    """Where a result came from: package and library versions, scenario hash, time."""
    import numba
    import QuantLib as ql

    return {
        "ipabs_version": __version__,
        "numba_version": numba.__version__,
        "numpy_version": np.__version__,
        "quantlib_version": ql.__version__,
        "python_version": platform.python_version(),
        "scenario_hash": deal.scenario_hash,
        "scenario_file": deal.source,
        "created_utc": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        **extra,
    }


@dataclass(frozen=True)
class DeterministicResult:
    """One deterministic run: pool flows and waterfall detail by period."""

    deal: CompiledDeal
    pool: PoolFlows
    out: WaterfallOut
    meta: dict[str, Any] = field(default_factory=dict)

    # ---- frames ------------------------------------------------------------------------------------------------
    def _dates(self) -> list[dt.date]:
        return list(self.deal.schedule.payment_dates)

    def tranche_frame(self, k: int | str) -> pd.DataFrame:
        """Cash-flow schedule of one tranche (index or name)."""
        if isinstance(k, str):
            k = self.deal.names.tranches.index(k)
        o = self.out
        df = pd.DataFrame({
            "period": np.arange(1, self.deal.n_periods + 1),
            "payment_date": self._dates(),
            "interest_due": o.tr_int_due[:, k],
            "interest_paid": o.tr_int_paid[:, k],
            "interest_shortfall": o.tr_int_short[:, k],
            "principal_paid": o.tr_prin_paid[:, k],
            "balance_end": o.tr_bal_end[:, k],
            "residual_paid": o.tr_resid[:, k],
        })
        if self.deal.index_level is not None:  # a deal with floating coupons: the period's coupon and index level
            df["coupon_rate"] = self.deal.waterfall.tr_rate[:, k]
            df["index_level"] = self.deal.index_level[:, k]
        return df

    def pool_frame(self) -> pd.DataFrame:
        p, o = self.pool, self.out
        cov = np.where(o.coverage >= 0.0, o.coverage, np.nan)
        return pd.DataFrame({
            "period": np.arange(1, self.deal.n_periods + 1),
            "payment_date": self._dates(),
            "pool_balance_start": p.bal_start,
            "interest_collected": p.interest,
            "principal_collected": p.principal - p.prepayment,
            "prepayment": p.prepayment,
            "defaults": p.defaults,
            "recoveries": p.recoveries,
            "pool_balance_end": p.bal_end,
            "cumulative_default_ratio": o.cum_def_ratio,
            "coverage_ratio": pd.Series(cov).astype("Float64"),
            "state": [("normal", "accelerated", "post_default")[s] for s in o.state],
            "clean_up_call": o.called.astype(bool),
        })

    def fees_frame(self) -> pd.DataFrame:
        rows = {"period": np.arange(1, self.deal.n_periods + 1), "payment_date": self._dates()}
        for f, name in enumerate(self.deal.names.fees):
            rows[f"{name}_due"] = self.out.fee_due[:, f]
            rows[f"{name}_paid"] = self.out.fee_paid[:, f]
        return pd.DataFrame(rows)

    def accounts_frame(self) -> pd.DataFrame:
        rows = {"period": np.arange(1, self.deal.n_periods + 1), "payment_date": self._dates()}
        for a, name in enumerate(self.deal.names.accounts):
            rows[f"{name}_balance"] = self.out.acct_bal[:, a]
        for s, name in enumerate(self.deal.names.supports):
            rows[f"{name}_draw"] = self.out.sup_draw[:, s]
        return pd.DataFrame(rows)

    def cashflows(self) -> pd.DataFrame:
        """Long table of every tranche's schedule (tranche column), for Parquet export."""
        frames = []
        for k, name in enumerate(self.deal.names.tranches):
            f = self.tranche_frame(k)
            f.insert(0, "tranche", name)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    # ---- summary -----------------------------------------------------------------------------------------------
    def tranche_summary(self) -> list[dict[str, Any]]:
        """Per tranche: balance, coupon (a floating tranche's first-period coupon), WAL, yield, durations, maturities,
        principal window, loss."""
        s = self.deal.scenario
        dates = self._dates()
        rows = []
        for k, tr in enumerate(s.tranches):
            o = self.out
            m = bond_metrics(
                s.deal.closing_date, dates, o.tr_int_paid[:, k], o.tr_prin_paid[:, k], o.tr_resid[:, k], tr.balance,
                tr.price, s.deal.day_count, s.deal.payment_frequency,
            )
            rows.append({
                "name": tr.name,
                "seniority": tr.seniority,
                "original_balance": tr.balance,
                "coupon": tr.coupon if tr.floating is None else float(self.deal.waterfall.tr_rate[0, k]),
                "price": tr.price,
                "wal_years": m.wal_years,
                "yield": m.yield_at_price,
                "yield_at_par": m.yield_at_par,
                "macaulay_duration": m.macaulay_duration,
                "modified_duration": m.modified_duration,
                "expected_maturity": (tr.expected_maturity or s.deal.legal_maturity).isoformat(),
                "legal_maturity": s.deal.legal_maturity.isoformat(),
                "first_principal_date": m.first_principal_date.isoformat() if m.first_principal_date else None,
                "last_principal_date": m.last_principal_date.isoformat() if m.last_principal_date else None,
                "interest_paid": float(o.tr_int_paid[:, k].sum()),
                "principal_paid": float(o.tr_prin_paid[:, k].sum()),
                "residual_paid": float(o.tr_resid[:, k].sum()),
                "loss": float(o.tr_bal_end[-1, k]),
                "interest_shortfall": float(o.tr_int_short[-1, k]),
            })
        return rows

    def pool_summary(self) -> dict[str, Any]:
        p = self.pool
        return {
            "cutoff_balance": self.deal.pool_balance,
            "n_assets": len(self.deal.info.asset_ids),
            "n_obligors": len(self.deal.info.obligor_ids),
            "interest_collected": float(p.interest.sum()),
            "principal_collected": float(p.principal.sum()),
            "defaults": float(p.defaults.sum()),
            "recoveries": float(p.recoveries.sum()),
            "support_draws": float(self.out.sup_draw.sum()),
            "min_coverage_ratio": float(self.out.coverage[self.out.coverage >= 0].min())
            if (self.out.coverage >= 0).any() else None,
        }
