"""Write the SYNTHETIC sample pool tapes in scenarios/tapes/ (``python scenarios/make_tapes.py``).

SYNTHETIC DATA. Every firm, name, registration number, amount, rate, rating and date in these tapes is invented
from a fixed seed with numpy's Generator. The firm names look like Ganzhou company names (赣州…有限公司) but are
made up; any resemblance to a real firm is accidental. The sector mix and sizes follow DOMAIN.md §8 (Ganzhou
industries: rare earth & tungsten, NEV, electronics, Nankang furniture, biomedicine, navel-orange GI / agri) and
the deal shapes of §2–3; nothing here is market data.

Running the script regenerates byte-identical files (same seed, fixed timestamps inside the XLSX, no pandas
metadata in the Parquet file) with the same numpy / openpyxl / pyarrow versions. Tapes written:

- ``ganzhou_pledge_pool.csv`` (UTF-8), ``ganzhou_pledge_pool_gbk.csv`` (the same rows in GB18030 with CRLF line
  ends, as Chinese Excel saves "CSV"), ``ganzhou_pledge_pool.xlsx`` (typed cells, 是/否 flags, % rates) and
  ``ganzhou_pledge_pool.parquet`` (typed columns, native list columns): an IP-pledge micro-loan pool, deal (a),
  cut-off 2026-04-15;
- ``licence_pool.csv``: patent licence / re-licence royalties, deal (b), cut-off 2026-06-30;
- ``lease_pool.csv``: IP finance leases, deal (c), cut-off 2026-05-31;
- ``abn_pool.csv``: interbank ABN, trust / pledge loans plus supply-chain receivables, deal (d), cut-off 2026-06-15.

Every contract starts after 2025-12-31, on or before its deal's cut-off, and matures after it. scenarios/tapes/
README.md lists the deliberately ineligible (but valid) assets of tape (a).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import numpy as np

SEED = 20260415
HERE = Path(__file__).resolve().parent

COLUMNS = [
    "asset_id", "obligor_id", "obligor_name", "industry", "county", "asset_type", "principal", "rate",
    "start_date", "maturity_date", "payment_frequency", "amortization", "custom_schedule", "rating", "pd",
    "ip_type", "ip_registration_no", "ip_expiry_date", "ip_appraised_value", "ip_valuation", "ip_owner_id",
    "ip_prior_pledge", "cnipa_pledge_registered", "financing_amount", "whitelisted", "overdue_history",
    "blacklisted",
]  # fmt: skip
LIST_COLUMNS = {
    "ip_type", "ip_registration_no", "ip_expiry_date", "ip_appraised_value", "ip_valuation", "ip_owner_id",
    "ip_prior_pledge",
}  # fmt: skip
DATE_COLUMNS = {"start_date", "maturity_date"}
AMOUNT_COLUMNS = {"principal", "financing_amount"}
RATE_COLUMNS = {"rate", "pd"}
BOOL_COLUMNS = {"cnipa_pledge_registered", "whitelisted", "overdue_history", "blacklisted"}

SECTOR_WEIGHTS = {
    "rare_earth_tungsten": 0.30,
    "nev": 0.20,
    "electronics": 0.20,
    "furniture": 0.15,
    "biomedicine": 0.10,
    "agri_gi": 0.05,
}
SECTOR_COUNTIES = {
    "rare_earth_tungsten": ["赣县区", "龙南市", "赣州高新区", "赣州经开区"],
    "nev": ["赣州经开区"],
    "electronics": ["龙南市", "赣州经开区", "赣州高新区"],
    "furniture": ["南康区"],
    "biomedicine": ["章贡区"],
    "agri_gi": ["信丰县", "安远县"],
}
SECTOR_SUFFIXES = {
    "rare_earth_tungsten": ["稀土新材料有限公司", "钨业科技有限公司", "稀金磁材有限公司"],
    "nev": ["新能源汽车零部件有限公司", "动力电池科技有限公司"],
    "electronics": ["电子科技有限公司", "光电显示有限公司"],
    "furniture": ["家具制造有限公司", "家居实业有限公司"],
    "biomedicine": ["生物医药有限公司", "制药有限公司"],
    "agri_gi": ["脐橙农业发展有限公司", "果业科技有限公司"],
}
#: Invented brand words (two characters each) for firm names.
BRANDS = [
    "岚峤", "泓章", "虔晟", "贡川", "峰禾", "嘉澜", "瑞岭", "恒湍", "澄江", "翠微", "云汀", "蓉岫", "桐溪",
    "梅关", "橙乡", "玉虹", "东湖", "瀚霖", "曜石", "金岑", "睿砂", "隆沣", "益桔", "宏廊", "浩淼", "清漪",
    "皓岩", "钰泉", "拓垣", "聚岚", "汇璟", "通衢", "卓岐", "澜橘", "锦屏", "钨峰",
]  # fmt: skip
RATINGS = ["AA", "AA-", "A+", "A", "BBB+"]
RATING_RATE = {"AA": (0.035, 0.040), "AA-": (0.040, 0.045), "A+": (0.045, 0.050), "A": (0.050, 0.053),
               "BBB+": (0.053, 0.055)}  # fmt: skip


# ------------------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------------------


def sector_counts(n: int) -> list[str]:
    """Sectors for n firms by the weights (largest remainder), in a fixed order."""
    raw = {s: w * n for s, w in SECTOR_WEIGHTS.items()}
    counts = {s: int(v) for s, v in raw.items()}
    for s in sorted(raw, key=lambda s: -(raw[s] - counts[s]))[: n - sum(counts.values())]:
        counts[s] += 1
    return [s for s in SECTOR_WEIGHTS for _ in range(counts[s])]


def sized_amounts(rng: np.random.Generator, n: int, median: float, lo: float, hi: float, total: float,
                  step: float = 100_000.0) -> list[float]:  # fmt: skip
    """n lognormal amounts around ``median`` in [lo, hi], rounded to ``step``, summing exactly to ``total``."""
    x = rng.lognormal(np.log(median), 0.45, size=n)
    for _ in range(50):
        x = np.clip(x * total / x.sum(), lo, hi)
    x = np.round(x / step) * step
    x[int(np.argmax(x))] += total - x.sum()
    assert abs(x.sum() - total) < 1e-6 and x.min() >= lo - step and x.max() <= hi + step
    return [float(v) for v in x]


def add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def random_date(rng: np.random.Generator, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=int(rng.integers(0, (last - first).days + 1)))


def patent_number(year: int, kind: int, serial: int) -> str:
    """A CNIPA-style patent number ZL + application number + check digit (invented serials)."""
    digits = f"{year:04d}{kind:d}{serial:07d}"
    weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
    check = sum(int(c) * w for c, w in zip(digits, weights, strict=True)) % 11
    return f"ZL{digits}.{'X' if check == 10 else check}"


def firm_name(sector: str, brand: str, rng: np.random.Generator) -> str:
    suffixes = SECTOR_SUFFIXES[sector]
    return f"赣州{brand}{suffixes[int(rng.integers(len(suffixes)))]}"


def split_value(rng: np.random.Generator, total: float, weights: list[float]) -> list[float]:
    """Split an appraisal over IP rights (Dirichlet scaled by weights), rounded to 10,000 yuan."""
    share = rng.dirichlet(np.full(len(weights), 3.0)) * np.asarray(weights)
    share = share / share.sum()
    values = np.round(total * share / 10_000.0) * 10_000.0
    return [float(max(v, 10_000.0)) for v in values]


def ip_rights(rng: np.random.Generator, loan: float, cover: float, n_patents: int, trademark: bool,
              patent_years: tuple[int, int], utility_share: float = 0.0, copyrights: int = 0,
              expiry_override: list[dt.date] | None = None) -> dict[str, list]:  # fmt: skip
    """IP rights behind one asset: types, numbers, expiry dates and appraised values."""
    types, numbers, expiries, weights = [], [], [], []
    for k in range(n_patents):
        utility = rng.random() < utility_share
        # A utility model lasts 10 years, so recent filings only: no right has lapsed before its asset matures.
        first_year = max(patent_years[0], 2020) if utility else patent_years[0]
        year = int(rng.integers(first_year, patent_years[1] + 1))
        filing = random_date(rng, dt.date(year, 1, 5), dt.date(year, 12, 20))
        types.append("utility_model_patent" if utility else "invention_patent")
        numbers.append(patent_number(year, 2 if utility else 1, int(rng.integers(100_000, 9_999_999))))
        life = 10 if utility else 20
        expiries.append(expiry_override[k] if expiry_override else add_months(filing, 12 * life))
        weights.append(0.5 if utility else 1.0)
    for _ in range(copyrights):
        year = int(rng.integers(2018, 2025))
        types.append("copyright")
        numbers.append(f"{year}SR{int(rng.integers(100_000, 1_999_999)):07d}")
        expiries.append(dt.date(year + 50, 12, 31))
        weights.append(0.6)
    if trademark:
        year = int(rng.integers(2019, 2025))
        types.append("trademark")
        numbers.append(f"{int(rng.integers(20_000_000, 69_999_999))}")
        expiries.append(add_months(random_date(rng, dt.date(year, 1, 10), dt.date(year, 12, 10)), 120))
        weights.append(0.4)
    return {
        "ip_type": types,
        "ip_registration_no": numbers,
        "ip_expiry_date": expiries,
        "ip_appraised_value": split_value(rng, loan * cover, weights),
    }


def rate_for(rng: np.random.Generator, rating: str) -> float:
    lo, hi = RATING_RATE[rating]
    return round(float(rng.uniform(lo, hi)) * 2000) / 2000  # 5 bp steps


def make_firms(rng: np.random.Generator, n: int, prefix: str, brands: list[str]) -> list[dict]:
    firms = []
    for k, sector in enumerate(sector_counts(n)):
        counties = SECTOR_COUNTIES[sector]
        firms.append(
            {
                "obligor_id": f"{prefix}{k + 1:03d}",
                "obligor_name": firm_name(sector, brands[k], rng),
                "industry": sector,
                "county": counties[int(rng.integers(len(counties)))],
                "rating": RATINGS[int(rng.choice(5, p=[0.2, 0.3, 0.25, 0.15, 0.1]))],
                "whitelisted": bool(rng.random() < 0.6),
            }
        )
    return firms


# ------------------------------------------------------------------------------------------------------------
# the four pools
# ------------------------------------------------------------------------------------------------------------


def pledge_pool(rng: np.random.Generator) -> list[dict]:
    """(a) IP-pledge micro-loans: 15 firms, 16 loans (firm GZ001 has two), total 200,000,000, cut-off 2026-04-15."""
    brands = list(rng.permutation(BRANDS))
    firms = make_firms(rng, 15, "GZ", brands)
    borrowers = firms + [firms[0]]  # the 16th loan is a second loan to the first firm
    # Sector weights hold by amount: each sector's loans share weight x 200,000,000.
    amounts = [0.0] * len(borrowers)
    for sector, weight in SECTOR_WEIGHTS.items():
        idx = [k for k, firm in enumerate(borrowers) if firm["industry"] == sector]
        split = sized_amounts(rng, len(idx), 12_000_000, 5_500_000, 30_000_000, weight * 200_000_000)
        for k, amount in zip(idx, split, strict=True):
            amounts[k] = amount
    # Deliberately ineligible (documented in tapes/README.md): loan 5 overdue history, loan 9 patents expiring in
    # 2027, loan 13 LTV above 30% and pledge not yet registered with CNIPA.
    overdue, expiring, high_ltv = 4, 8, 12
    rows = []
    for k, (firm, amount) in enumerate(zip(borrowers, amounts, strict=True)):
        start = random_date(rng, dt.date(2026, 3, 15), dt.date(2026, 4, 10))
        n_patents = int(rng.integers(1, 6))
        cover = 2.2 if k == high_ltv else float(rng.uniform(3.4, 4.5))
        expiry = None
        if k == expiring:
            expiry = [random_date(rng, dt.date(2027, 6, 1), dt.date(2027, 11, 30)) for _ in range(n_patents)]
        trademark = bool(rng.random() < 0.4) and k != expiring
        rights = ip_rights(rng, amount, cover, n_patents, trademark=trademark, patent_years=(2012, 2023),
                           expiry_override=expiry)  # fmt: skip
        n_ip = len(rights["ip_type"])
        valuation = "internal" if amount < 10_000_000 and rng.random() < 0.5 else "external"
        rows.append(
            {
                "asset_id": f"GZP-2026-{k + 1:03d}",
                **{key: firm[key] for key in ("obligor_id", "obligor_name", "industry", "county", "rating")},
                "asset_type": "pledge_loan",
                "principal": amount,
                "rate": rate_for(rng, firm["rating"]),
                "start_date": start,
                "maturity_date": add_months(start, 12),
                "payment_frequency": "quarterly",
                "amortization": "interest_only",
                "custom_schedule": None,
                "pd": None,
                **rights,
                "ip_valuation": [valuation] * n_ip,
                "ip_owner_id": [firm["obligor_id"]] * n_ip,
                "ip_prior_pledge": [False] * n_ip,
                "cnipa_pledge_registered": k != high_ltv,
                "financing_amount": amount,
                "whitelisted": firm["whitelisted"],
                "overdue_history": firm is borrowers[overdue],
                "blacklisted": False,
            }
        )
    return rows


def licence_pool(rng: np.random.Generator) -> list[dict]:
    """(b) patent licence / re-licence royalties: 11 firms, total 300,000,000, 2026-06-30 → 2029-06-30."""
    brands = list(rng.permutation(BRANDS))
    firms = make_firms(rng, 11, "GL", brands)
    amounts = sized_amounts(rng, 11, 27_000_000, 10_000_000, 60_000_000, 300_000_000)
    rows = []
    for k, (firm, amount) in enumerate(zip(firms, amounts, strict=True)):
        rights = ip_rights(rng, amount, float(rng.uniform(2.0, 3.0)), int(rng.integers(4, 19)), trademark=False,
                           patent_years=(2014, 2024), utility_share=0.27)  # fmt: skip
        rows.append(
            {
                "asset_id": f"GZL-2026-{k + 1:03d}",
                **{key: firm[key] for key in ("obligor_id", "obligor_name", "industry", "county", "rating")},
                "asset_type": "royalty_licence",
                "principal": amount,
                "rate": round(float(rng.uniform(0.038, 0.042)) * 2000) / 2000,
                "start_date": dt.date(2026, 6, 30),
                "maturity_date": dt.date(2029, 6, 30),
                "payment_frequency": "quarterly",
                "amortization": "level_payment",
                **rights,
                "cnipa_pledge_registered": True,
                "whitelisted": firm["whitelisted"],
                "overdue_history": False,
            }
        )
    return rows


def lease_pool(rng: np.random.Generator) -> list[dict]:
    """(c) IP finance leases: 20 lessees, total 500,000,000, monthly level rents over 2–3 years."""
    brands = list(rng.permutation(BRANDS))
    firms = make_firms(rng, 20, "GF", brands)
    amounts = sized_amounts(rng, 20, 25_000_000, 10_000_000, 50_000_000, 500_000_000)
    rows = []
    for k, (firm, amount) in enumerate(zip(firms, amounts, strict=True)):
        start = random_date(rng, dt.date(2026, 1, 15), dt.date(2026, 5, 20))
        term = 24 if rng.random() < 0.5 else 36
        rights = ip_rights(rng, amount, float(rng.uniform(1.2, 2.0)), int(rng.integers(1, 5)), trademark=False,
                           patent_years=(2014, 2024), utility_share=0.3,
                           copyrights=int(rng.integers(0, 3)))  # fmt: skip
        rows.append(
            {
                "asset_id": f"GZF-2026-{k + 1:03d}",
                **{key: firm[key] for key in ("obligor_id", "obligor_name", "industry", "county", "rating")},
                "asset_type": "finance_lease",
                "principal": amount,
                "rate": round(float(rng.uniform(0.050, 0.065)) * 2000) / 2000,
                "start_date": start,
                "maturity_date": add_months(start, term),
                "payment_frequency": "monthly",
                "amortization": "level_payment",
                **rights,
                "cnipa_pledge_registered": True,
                "whitelisted": firm["whitelisted"],
            }
        )
    return rows


def abn_pool(rng: np.random.Generator) -> list[dict]:
    """(d) interbank ABN: trust / pledge loans to 8 firms (150,000,000) plus 2 supply-chain receivables."""
    brands = list(rng.permutation(BRANDS))
    firms = make_firms(rng, 8, "GN", brands)
    amounts = sized_amounts(rng, 8, 18_000_000, 8_000_000, 35_000_000, 150_000_000)
    rows = []
    for k, (firm, amount) in enumerate(zip(firms, amounts, strict=True)):
        start = random_date(rng, dt.date(2026, 1, 10), dt.date(2026, 6, 10))
        rights = ip_rights(rng, amount, float(rng.uniform(3.4, 4.5)), int(rng.integers(2, 7)),
                           trademark=bool(rng.random() < 0.3), patent_years=(2013, 2024))  # fmt: skip
        rows.append(
            {
                "asset_id": f"GZN-2026-{k + 1:03d}",
                **{key: firm[key] for key in ("obligor_id", "obligor_name", "industry", "county", "rating")},
                "asset_type": "pledge_loan",
                "principal": amount,
                "rate": rate_for(rng, firm["rating"]),
                "start_date": start,
                "maturity_date": add_months(start, 24),
                "payment_frequency": "semiannual",
                "amortization": "equal_principal",
                **rights,
                "cnipa_pledge_registered": True,
                "whitelisted": firm["whitelisted"],
            }
        )
    # Supply-chain receivables owed by two invented core buyers (content / component purchase contracts).
    buyers = [("GNC01", "赣州章泰电子集团有限公司", "electronics", "赣州经开区", "AA+"),
              ("GNC02", "赣州江汇新能源汽车有限公司", "nev", "赣州经开区", "AA")]  # fmt: skip
    for k, (oid, name, sector, county, rating) in enumerate(buyers):
        start = random_date(rng, dt.date(2026, 4, 1), dt.date(2026, 6, 10))
        amount = float(np.round(rng.uniform(3_000_000, 5_000_000) / 10_000) * 10_000)
        rows.append(
            {
                "asset_id": f"GZN-2026-R{k + 1:02d}",
                "obligor_id": oid,
                "obligor_name": name,
                "industry": sector,
                "county": county,
                "asset_type": "receivable",
                "principal": amount,
                "rate": 0.0,
                "start_date": start,
                "maturity_date": add_months(start, 6),
                "payment_frequency": "at_maturity",
                "amortization": "bullet",
                "rating": rating,
            }
        )
    return rows


# ------------------------------------------------------------------------------------------------------------
# writers
# ------------------------------------------------------------------------------------------------------------


def fmt_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(round(float(x), 6))


def fmt_cell(name: str, v) -> str:
    if v is None:
        return ""
    if name in LIST_COLUMNS:
        return ";".join(fmt_cell("_entry", e) for e in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float):
        return fmt_number(v)
    return str(v)


def columns_of(rows: list[dict]) -> list[str]:
    present = {key for row in rows for key in row}
    return [c for c in COLUMNS if c in present]


def csv_text(rows: list[dict], line_end: str = "\n") -> str:
    out = io.StringIO()
    columns = columns_of(rows)
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([fmt_cell(c, row.get(c)) for c in columns])
    return out.getvalue()


def write_xlsx(rows: list[dict], path: Path) -> None:
    """A typed workbook as Chinese Excel holds it: date cells, numbers, % rates, 是/否 flags; fixed timestamps."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "资产池"
    columns = columns_of(rows)
    ws.append(columns)
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c)
            if c in LIST_COLUMNS and v is not None:
                v = ";".join("是" if e is True else "否" if e is False else fmt_cell("_entry", e) for e in v)
            elif isinstance(v, bool):
                v = "是" if v else "否"
            cells.append(v)
        ws.append(cells)
    for j, c in enumerate(columns, start=1):
        fmt = ("yyyy-mm-dd" if c in DATE_COLUMNS else "#,##0" if c in AMOUNT_COLUMNS
               else "0.00%" if c in RATE_COLUMNS else None)  # fmt: skip
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                cell.number_format = fmt
    fixed = dt.datetime(2026, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(deterministic_zip(buf.getvalue()))


def deterministic_zip(data: bytes) -> bytes:
    """Re-pack a ZIP with fixed member timestamps and a fixed docProps/core.xml modification time."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>2026-01-01T00:00:00Z\2", content)
            member = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o600 << 16
            dst.writestr(member, content)
    return out.getvalue()


def write_parquet(rows: list[dict], path: Path) -> None:
    """Typed columns (date32, float64, bool) and native list columns; no pandas metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    list_types = {
        "ip_type": pa.string(), "ip_registration_no": pa.string(), "ip_expiry_date": pa.date32(),
        "ip_appraised_value": pa.float64(), "ip_valuation": pa.string(), "ip_owner_id": pa.string(),
        "ip_prior_pledge": pa.bool_(),
    }  # fmt: skip
    arrays, names = [], []
    for c in columns_of(rows):
        values = [row.get(c) for row in rows]
        if c in LIST_COLUMNS:
            typ = pa.list_(list_types[c])
        elif c in DATE_COLUMNS:
            typ = pa.date32()
        elif c in AMOUNT_COLUMNS or c in RATE_COLUMNS:
            typ = pa.float64()
        elif c in BOOL_COLUMNS:
            typ = pa.bool_()
        else:
            typ = pa.string()
        arrays.append(pa.array(values, type=typ))
        names.append(c)
    pq.write_table(pa.Table.from_arrays(arrays, names=names), path, compression="zstd")


def write_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    pools = {
        "ganzhou_pledge_pool": pledge_pool(np.random.default_rng([SEED, 1])),
        "licence_pool": licence_pool(np.random.default_rng([SEED, 2])),
        "lease_pool": lease_pool(np.random.default_rng([SEED, 3])),
        "abn_pool": abn_pool(np.random.default_rng([SEED, 4])),
    }
    for name, rows in pools.items():
        path = out / f"{name}.csv"
        path.write_bytes(csv_text(rows).encode("utf-8"))
        written.append(path)
    pledge = pools["ganzhou_pledge_pool"]
    gbk = out / "ganzhou_pledge_pool_gbk.csv"
    gbk.write_bytes(csv_text(pledge, line_end="\r\n").encode("gb18030"))
    xlsx = out / "ganzhou_pledge_pool.xlsx"
    write_xlsx(pledge, xlsx)
    parquet = out / "ganzhou_pledge_pool.parquet"
    write_parquet(pledge, parquet)
    return [*written, gbk, xlsx, parquet]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the SYNTHETIC sample pool tapes.")
    parser.add_argument("--out", type=Path, default=HERE / "tapes", help="output folder (default scenarios/tapes)")
    args = parser.parse_args(argv)
    for path in write_all(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
