"""A large synthetic pool tape for the tape-reading benchmark (``benchmarks/test_bench_tape.py``).

Realistic and unfavourable to caching: unique asset ids and IP registration numbers, five assets per obligor,
one to three IP rights per asset, amounts and dates drawn at random. Written with numpy and plain string joins
(1,000,000 rows in a few seconds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HEADER = ("asset_id,obligor_id,obligor_name,industry,county,asset_type,principal,rate,start_date,maturity_date,"
          "payment_frequency,amortization,custom_schedule,rating,pd,ip_type,ip_registration_no,ip_expiry_date,"
          "ip_appraised_value,ip_valuation,ip_owner_id,ip_prior_pledge,cnipa_pledge_registered,financing_amount,"
          "whitelisted,overdue_history,blacklisted")
INDUSTRIES = ("rare_earth_tungsten", "nev", "electronics", "furniture", "biomedicine")
RATINGS = ("AA", "AA-", "A+", "A", "A-", "BBB+")


def write_tape(path: Path, n_rows: int, seed: int = 1, bad_every: int = 0) -> Path:
    """Write an ``n_rows`` CSV tape to ``path``; with ``bad_every`` > 0, every so many rows has a bad principal."""
    rng = np.random.default_rng(seed)
    i = np.arange(n_rows)
    obligor = i // 5
    principal = (rng.integers(100, 5000, n_rows) * 10_000).astype(str)
    if bad_every:
        principal[::bad_every] = "-5"
    rate = np.round(rng.uniform(0.03, 0.07, n_rows), 4).astype(str)
    start = np.datetime64("2026-01-01") + rng.integers(0, 120, n_rows)
    maturity = start + 365 * rng.integers(1, 4, n_rows)
    n_ip = rng.integers(1, 4, n_rows)
    industry = np.array(INDUSTRIES)[obligor % len(INDUSTRIES)]
    rating = np.array(RATINGS)[obligor % len(RATINGS)]
    lines = [HEADER]
    for k in range(n_rows):
        o = f"GZ{obligor[k]:07d}"
        m = n_ip[k]
        regs = ";".join(f"ZL{k:09d}{j}.X" for j in range(m))
        lines.append(
            f"A{k:08d},{o},企业{obligor[k]},{industry[k]},赣州,pledge_loan,{principal[k]},{rate[k]},{start[k]},"
            f"{maturity[k]},quarterly,interest_only,,{rating[k]},,{';'.join(['invention_patent'] * m)},{regs},"
            f"{';'.join(['2036-03-28'] * m)},{';'.join(['5000000'] * m)},{';'.join(['external'] * m)},"
            f"{';'.join([o] * m)},{';'.join(['false'] * m)},true,{principal[k]},true,false,false")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
