"""The risk-compensation fund (风险补偿资金): loss sharing over a portfolio of IP-pledge loans, by Monte Carlo.

Model (docs/policy.md §6). Firm *f* defaults in year ``D_f`` (the credit engine's correlated copula). Each of its
loans outstanding then — start year ≤ ``D_f`` ≤ maturity year — loses ``L = principal × LGD`` (rounded half up to
the fen; interest-only with bullet repayment, so the exposure is the principal). The loss is split by the policy's
shares: each party other than the bank gets ``share × L`` rounded by the policy's rule; the bank takes the rest
(rounding remainders included). The fund's part is capped at ``per_loan_cap``; the excess falls to the bank. The
fund pays its claims ``claim_lag_years`` after the default year, while its balance lasts:

    B_0 = fund_size;  B_y += annual_top_up (y ≥ 1);  draw_y = min(claims_y, B_y);  B_y −= draw_y

and what it cannot pay (``claims_y − draw_y``) falls to the bank. The fund is *exhausted* in the first year a
claim is not paid in full or the balance reaches zero.

Leverage: the portfolio it backs over the fund (``principal / fund_size``, the 放大倍数), and the leverage it
*supports* at confidence ``c``: ``principal / Q_c(total claims)`` — the multiple of the fund that the ``c``-quantile
of lifetime claims of this portfolio, scaled pro rata, would just use up (exact when no per-loan cap binds).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ipabs import __version__
from ipabs.defaults import MAX_POLICY_PATHS
from ipabs.errors import InputError, Issue
from ipabs.policy import rng
from ipabs.policy.io import file_sha256, pydantic_issues, read_table
from ipabs.policy.money import MAX_YUAN, Rate, apply_rate, to_fen
from ipabs.policy.pipeline import Date, parse_amount
from ipabs.policy.schema import PARTIES, Policy
from ipabs.policy.stats import PROBS, summarize

Progress = Callable[[int, int], None]
CHUNK_PATHS = 4096
DEFAULT_RHO = 0.2
DEFAULT_SECTOR_RHO = 0.1


class PortfolioLoan(BaseModel):
    """One IP-pledge loan of the fund's portfolio."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    source_row: int = 0
    loan_id: str = Field(min_length=1)
    firm_id: str = Field(min_length=1)
    firm_name: str | None = None
    sector: str = Field("unspecified", min_length=1)
    bank_id: str | None = None
    principal: Annotated[Decimal, BeforeValidator(parse_amount)] = Field(gt=0, le=Decimal(10) ** 11, decimal_places=2)
    start_date: Date
    term_months: int = Field(ge=1, le=120)
    pd: float = Field(ge=0, lt=1, allow_inf_nan=False, description="the firm's annual default probability")
    lgd: Decimal = Field(ge=0, le=1, decimal_places=6, description="loss given default, share of the principal")
    note: str | None = None

    @property
    def maturity_year(self) -> int:
        return self.start_date.year + (self.start_date.month - 1 + self.term_months) // 12


PORTFOLIO_COLUMNS = sorted(set(PortfolioLoan.model_fields) - {"source_row"})


@dataclass(frozen=True)
class Portfolio:
    source: str
    loans: tuple[PortfolioLoan, ...]
    fingerprint: str = ""
    rejected: tuple[Issue, ...] = ()


def portfolio_from_rows(rows: list[dict[str, str]], *, source: str = "<portfolio>", header: list[str] | None = None,
                        table: str | None = None, skip_invalid_rows: bool = False,
                        fingerprint: str = "") -> Portfolio:
    """Validate raw rows of a loan portfolio; every problem is reported with file, row and field."""
    header = header if header is not None else list(dict.fromkeys(k for r in rows for k in r))
    issues = [Issue(f"unknown column '{h}' (known: {', '.join(PORTFOLIO_COLUMNS)}; prefix extras with x_)",
                    file=source, table=table, row=0, field=h)
              for h in header if h and h not in PORTFOLIO_COLUMNS and not h.startswith(("x_", "note"))]
    if issues:
        raise InputError(issues, title="invalid portfolio")
    good, bad = [], []
    for i, raw in enumerate(rows, start=1):
        vals = {k: v for k, v in raw.items() if v != "" and not k.startswith("x_")
                and (k == "note" or not k.startswith("note"))}
        try:
            good.append(PortfolioLoan.model_validate({**vals, "source_row": i}))
        except ValidationError as e:
            bad.extend(pydantic_issues(e, file=source, table_prefix=table or "", row=i))
    seen: dict[str, int] = {}
    first: dict[str, PortfolioLoan] = {}
    for r in good:
        if r.loan_id in seen:
            bad.append(Issue(f"duplicate loan_id '{r.loan_id}' (first in row {seen[r.loan_id]})", file=source,
                             table=table, row=r.source_row, field="loan_id"))
        seen.setdefault(r.loan_id, r.source_row)
        f0 = first.setdefault(r.firm_id, r)
        for fld in ("pd", "sector"):
            if getattr(r, fld) != getattr(f0, fld):
                bad.append(Issue(f"firm '{r.firm_id}' has {fld} = {getattr(f0, fld)} in row {f0.source_row}; a firm "
                                 f"has one {fld}", file=source, table=table, row=r.source_row, field=fld))
    if bad and not skip_invalid_rows:
        raise InputError(bad, title="invalid portfolio")
    rows_bad = {i.row for i in bad}
    kept = tuple(r for r in good if r.source_row not in rows_bad)
    if not kept:
        raise InputError(bad or [Issue("the portfolio has no loans", file=source)], title="invalid portfolio")
    return Portfolio(source, kept, fingerprint, tuple(bad))


def read_portfolio(path: str | os.PathLike, *, sheet: str | None = None,
                   skip_invalid_rows: bool = False) -> Portfolio:
    """Read and validate a loan portfolio (CSV or XLSX); see docs/policy.md §6 for the columns."""
    header, rows = read_table(path, sheet=sheet)
    return portfolio_from_rows(rows, source=str(path), header=header, table=sheet,
                               skip_invalid_rows=skip_invalid_rows, fingerprint=file_sha256(path))


def loss_split(loss_fen: int, shares: dict[str, Decimal], rounding: str, per_loan_cap_fen: int | None
               ) -> dict[str, int]:
    """Split one loss among the parties, exactly: non-bank parties ``share × loss`` rounded; the fund's part
    capped; the bank takes the rest (its own share, rounding remainders and the fund's excess)."""
    out = {p: 0 for p in PARTIES}
    for p, s in shares.items():
        if p != "bank":
            out[p] = apply_rate(loss_fen, Rate.of(s), rounding)
    if per_loan_cap_fen is not None and out["fund"] > per_loan_cap_fen:
        out["fund"] = per_loan_cap_fen
    out["bank"] = loss_fen - sum(v for p, v in out.items() if p != "bank")
    return out


@dataclass
class FundResult:
    """Per-path fund claims and draws by year (fen), party losses summed over paths, and the run's settings."""

    policy: str
    policy_fingerprint: str
    portfolio_source: str
    portfolio_fingerprint: str
    seed: int
    path0: int
    n_paths: int
    y0: int
    fund_size_fen: int
    top_up_fen: int
    per_loan_cap_fen: int | None
    principal_fen: int
    loan_ids: tuple[str, ...]
    claims: np.ndarray  # int64[n, n_years] fund's share of losses falling due
    draws: np.ndarray  # int64[n, n_years] what the fund paid
    exhausted_year: np.ndarray  # int64[n]: first year index exhausted, -1 never
    party_losses: np.ndarray  # int64[n_parties, n_years] summed over paths (bank includes unpaid fund claims)
    loan_defaults: np.ndarray  # int64[n_loans] paths where the loan lost
    loan_fund_claims: np.ndarray  # int64[n_loans] summed fund claims (after per-loan cap)
    assumptions: tuple[str, ...] = ()
    settings: dict = field(default_factory=dict)

    @property
    def years(self) -> list[int]:
        return [self.y0 + i for i in range(self.claims.shape[1])]

    @staticmethod
    def combine(parts: list[FundResult]) -> FundResult:
        """Join consecutive path ranges; identical to a single run."""
        parts = sorted(parts, key=lambda r: r.path0)
        for a, b in zip(parts, parts[1:], strict=False):
            if a.path0 + a.n_paths != b.path0 or a.settings != b.settings or a.seed != b.seed:
                raise ValueError("results are not consecutive parts of one run")
        h = parts[0]
        return FundResult(
            h.policy, h.policy_fingerprint, h.portfolio_source, h.portfolio_fingerprint, h.seed, h.path0,
            sum(r.n_paths for r in parts), h.y0, h.fund_size_fen, h.top_up_fen, h.per_loan_cap_fen,
            h.principal_fen, h.loan_ids, np.concatenate([r.claims for r in parts]),
            np.concatenate([r.draws for r in parts]), np.concatenate([r.exhausted_year for r in parts]),
            sum(r.party_losses for r in parts), sum(r.loan_defaults for r in parts),
            sum(r.loan_fund_claims for r in parts), h.assumptions, h.settings,
        )

    def by_year(self) -> pd.DataFrame:
        """Per year and in total: fund claims and draws (mean, P50–P99 with SEs), P(exhausted in / by the year),
        mean unpaid claims and each party's mean loss."""
        n = self.n_paths
        rows = []
        for j, y in enumerate(self.years):
            s = summarize(self.draws[:, j] / 100.0)
            rows.append({
                "year": str(y), **{f"draw_{k}": v for k, v in s.items() if k != "n"},
                "claims_mean": self.claims[:, j].sum() / n / 100.0,
                "unpaid_mean": (self.claims[:, j] - self.draws[:, j]).sum() / n / 100.0,
                "prob_exhausted_in_year": float((self.exhausted_year == j).mean()),
                "prob_exhausted_by_year": float(((self.exhausted_year >= 0) & (self.exhausted_year <= j)).mean()),
                **{f"loss_{p}": self.party_losses[i, j] / n / 100.0 for i, p in enumerate(PARTIES)},
            })
        s = summarize(self.draws.sum(axis=1) / 100.0)
        rows.append({
            "year": "total", **{f"draw_{k}": v for k, v in s.items() if k != "n"},
            "claims_mean": self.claims.sum() / n / 100.0,
            "unpaid_mean": (self.claims - self.draws).sum() / n / 100.0,
            "prob_exhausted_in_year": float((self.exhausted_year >= 0).mean()),
            "prob_exhausted_by_year": float((self.exhausted_year >= 0).mean()),
            **{f"loss_{p}": self.party_losses[i].sum() / n / 100.0 for i, p in enumerate(PARTIES)},
        })
        return pd.DataFrame(rows)

    def leverage(self, confidence=(0.95, 0.99)) -> pd.DataFrame:
        """The portfolio's leverage on the fund and the leverage the fund supports at each confidence."""
        total = np.sort(self.claims.sum(axis=1)) / 100.0
        principal = self.principal_fen / 100.0
        capacity = (self.fund_size_fen + self.top_up_fen * max(self.claims.shape[1] - 1, 0)) / 100.0
        rows = [{"measure": "portfolio / fund (actual)", "confidence": float("nan"),
                 "value": principal / (self.fund_size_fen / 100.0) if self.fund_size_fen else float("inf"),
                 "portfolio_supported": float("nan")}]
        for c in confidence:
            q = float(np.quantile(total, c, method="linear"))
            lev = principal / q if q > 0 else float("inf")
            rows.append({"measure": "supported leverage: principal / Q(total claims)", "confidence": c,
                         "value": lev, "portfolio_supported": capacity * lev if q > 0 else float("inf")})
        rows.append({"measure": "P(fund exhausted over the horizon)", "confidence": float("nan"),
                     "value": float((self.exhausted_year >= 0).mean()), "portfolio_supported": float("nan")})
        return pd.DataFrame(rows)

    def loans(self) -> pd.DataFrame:
        n = self.n_paths
        return pd.DataFrame({"loan_id": list(self.loan_ids), "prob_loss": self.loan_defaults / n,
                             "mean_fund_claim": self.loan_fund_claims / n / 100.0})

    def provenance(self) -> dict:
        return {
            "ipabs_version": __version__, "numpy_version": np.__version__, "policy": self.policy,
            "policy_sha256": self.policy_fingerprint, "portfolio": self.portfolio_source,
            "portfolio_sha256": self.portfolio_fingerprint, "seed": self.seed, "path0": self.path0,
            "n_paths": self.n_paths, "first_year": self.y0, "fund_size": self.fund_size_fen / 100.0,
            "annual_top_up": self.top_up_fen / 100.0,
            "per_loan_cap": None if self.per_loan_cap_fen is None else self.per_loan_cap_fen / 100.0,
            "settings": self.settings, "assumptions": list(self.assumptions),
            "rng": "defaults: ipabs.credit.defaults.sample_default_years(seed, path0=p)",
        }


def _amount_fen(value: Decimal | str | float, field: str) -> int:
    """An amount in yuan given to :func:`simulate_fund` → fen; anything not a finite amount from 0 to
    :data:`~ipabs.policy.money.MAX_YUAN` (rounded to the fen) is an :class:`InputError` naming ``field``."""
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).replace(",", "").strip())
        if not d.is_finite():
            raise ValueError(f"not a finite amount: {value!r}")
        if d < 0:
            raise ValueError(f"amount must not be negative: {value!r}")
        if d > MAX_YUAN:
            raise ValueError(f"amount {value!r} exceeds {MAX_YUAN:,} yuan")
        return to_fen(d.quantize(Decimal("0.01")))
    except (ValueError, InvalidOperation) as e:
        msg = str(e) if isinstance(e, ValueError) else f"not a number: {value!r}"
        raise InputError([Issue(msg, field=field)]) from None


def simulate_fund(
    portfolio: Portfolio,
    policy: Policy,
    *,
    fund_size: Decimal | str | float | None = None,
    leverage: float | None = None,
    per_loan_cap: Decimal | str | float | None = None,
    n_paths: int = 10_000,
    seed: int = 20260101,
    path0: int = 0,
    rho: float = DEFAULT_RHO,
    sector_rho: float = DEFAULT_SECTOR_RHO,
    chunk_paths: int = CHUNK_PATHS,
    progress: Progress | None = None,
) -> FundResult:
    """Monte Carlo of the fund's yearly draws over ``portfolio`` under ``policy.risk_compensation``.

    Parameters
    ----------
    fund_size : Decimal, optional
        Initial fund, yuan; else ``policy.risk_compensation.fund_size``; else ``principal / leverage``.
    leverage : float, optional
        Portfolio principal per yuan of fund (放大倍数), used when no fund size is given.
    per_loan_cap : Decimal, optional
        Overrides the policy's ``per_loan_cap``.
    n_paths, seed, path0, rho, sector_rho, chunk_paths, progress
        As :func:`ipabs.policy.budget.simulate_budget`.
    """
    rc = policy.risk_compensation
    if rc is None:
        raise InputError([Issue(f"policy '{policy.name}' has no [risk_compensation] table (presets with one: "
                                "zhongshan, zhuhai, shenzhen)", table="risk_compensation")], title="invalid policy")
    if not 1 <= n_paths <= MAX_POLICY_PATHS:  # before any allocation
        raise InputError([Issue(f"n_paths must be 1 to {MAX_POLICY_PATHS:,} (got {n_paths:,})", field="n_paths")])
    if not 0 <= seed < 2**63 or path0 < 0:
        raise InputError([Issue("seed and path0 must be non-negative 63-bit integers", field="seed")])
    if not (rho >= 0 and sector_rho >= 0 and rho + sector_rho < 1):
        raise InputError([Issue("correlations need 0 <= rho, 0 <= sector_rho, rho + sector_rho < 1", field="rho")])
    loans = portfolio.loans
    principal = sum(to_fen(x.principal) for x in loans)
    if fund_size is not None:
        size = _amount_fen(fund_size, "fund_size")
    elif rc.fund_size is not None:
        size = to_fen(rc.fund_size)
    elif leverage is not None:
        try:
            lev = float(leverage)
        except (TypeError, ValueError):
            lev = math.nan
        if not (math.isfinite(lev) and lev > 0):
            raise InputError([Issue(f"leverage must be a finite positive number (got {leverage!r})",
                                    field="leverage")])
        size = int(round(principal / lev))
        if size > to_fen(MAX_YUAN):
            raise InputError([Issue(f"leverage {leverage!r} gives a fund above {MAX_YUAN:,} yuan", field="leverage")])
    else:
        raise InputError([Issue("no fund size: pass --fund-size or --leverage, or set risk_compensation."
                                "fund_size in a policy file", table="risk_compensation", field="fund_size")])
    cap = _amount_fen(per_loan_cap, "per_loan_cap") if per_loan_cap is not None else (
        to_fen(rc.per_loan_cap) if rc.per_loan_cap is not None else None)
    top_up = to_fen(rc.annual_top_up)
    lag = rc.claim_lag_years

    y0 = min(x.start_date.year for x in loans)
    start = np.array([x.start_date.year - y0 for x in loans], dtype=np.int64)
    end = np.array([x.maturity_year - y0 for x in loans], dtype=np.int64)
    n_def_years = int(end.max()) + 1
    n_years = n_def_years + lag
    firms = list(dict.fromkeys(x.firm_id for x in loans))
    fidx = {f: i for i, f in enumerate(firms)}
    first = {}
    for x in loans:
        first.setdefault(x.firm_id, x)
    sectors = sorted({first[f].sector for f in firms})
    obl = np.array([fidx[x.firm_id] for x in loans], dtype=np.int64)
    pd_f = np.array([first[f].pd for f in firms], dtype=np.float64)
    sec_f = np.array([sectors.index(first[f].sector) for f in firms], dtype=np.int64)
    splits = [loss_split(apply_rate(to_fen(x.principal), Rate.of(x.lgd), "half_up"), rc.shares, policy.rounding,
                         cap) for x in loans]
    party = np.array([[s[p] for s in splits] for p in PARTIES], dtype=np.int64)  # [n_parties, n_loans]
    fund_claim = party[PARTIES.index("fund")]

    claims = np.zeros((n_paths, n_years), dtype=np.int64)
    draws = np.zeros_like(claims)
    exhausted = np.full(n_paths, -1, dtype=np.int64)
    party_losses = np.zeros((len(PARTIES), n_years), dtype=np.int64)
    loan_defaults = np.zeros(len(loans), dtype=np.int64)
    loan_claims = np.zeros(len(loans), dtype=np.int64)
    done = 0
    while done < n_paths:
        n = min(chunk_paths, n_paths - done)
        dy = rng.draw_default_years(pd_f, sec_f, rho, sector_rho, n_def_years, n, seed, path0 + done)
        d = dy[:, obl].astype(np.int64)
        hit = (d >= start[None, :]) & (d <= end[None, :])
        year = np.where(hit, d + lag, 0)
        flat = (np.arange(n)[:, None] * n_years + year).ravel()
        c = np.zeros(n * n_years, dtype=np.int64)
        np.add.at(c, flat, np.where(hit, fund_claim[None, :], 0).ravel())
        c = c.reshape(n, n_years)
        bal = np.full(n, size, dtype=np.int64)
        dr = np.zeros_like(c)
        ex = np.full(n, -1, dtype=np.int64)
        for j in range(n_years):
            if j > 0:
                bal += top_up
            dr[:, j] = np.minimum(c[:, j], bal)
            bal -= dr[:, j]
            newly = (ex < 0) & ((dr[:, j] < c[:, j]) | ((bal == 0) & (c[:, j] > 0)))
            ex[newly] = j
        claims[done:done + n] = c
        draws[done:done + n] = dr
        exhausted[done:done + n] = ex
        for i in range(len(PARTIES)):
            pl = np.zeros(n * n_years, dtype=np.int64)
            np.add.at(pl, flat, np.where(hit, party[i][None, :], 0).ravel())
            party_losses[i] += pl.reshape(n, n_years).sum(axis=0)
        party_losses[PARTIES.index("fund")] -= (c - dr).sum(axis=0)
        party_losses[PARTIES.index("bank")] += (c - dr).sum(axis=0)
        loan_defaults += hit.sum(axis=0)
        loan_claims += np.where(hit, fund_claim[None, :], 0).sum(axis=0)
        done += n
        if progress is not None:
            progress(done, n_paths)
    settings = {"rho": float(rho), "sector_rho": float(sector_rho), "claim_lag_years": lag,
                "shares": {k: str(v) for k, v in rc.shares.items()}}
    return FundResult(
        policy.name, policy.fingerprint(), portfolio.source, portfolio.fingerprint, int(seed), int(path0),
        int(n_paths), y0, size, top_up, cap, principal, tuple(x.loan_id for x in loans), claims, draws, exhausted,
        party_losses, loan_defaults, loan_claims, tuple(policy.assumptions), settings,
    )


__all__ = ["Portfolio", "PortfolioLoan", "FundResult", "read_portfolio", "portfolio_from_rows", "simulate_fund",
           "loss_split", "PROBS"]
