"""Shared helpers of the app's pages: language, glossary labels, display units, error display, uploads, progress.

UI only: no numerics beyond converting yuan to the display units (万元 / 亿元). Every label comes from
:mod:`ipabs.glossary`; Chinese is the default language.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import io
import math
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from ipabs.errors import InputError
from ipabs.glossary import TERMS, label

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
#: Largest upload in MB; the same number is server.maxUploadSize in .streamlit/config.toml.
UPLOAD_MB = 50
LANGS = ("zh", "en")
WAN = 10_000.0
YI = 100_000_000.0


# --- language and labels ----------------------------------------------------------------------------------------

def lang() -> str:
    """The display language: 'zh' (default) or 'en', chosen in the sidebar."""
    value = st.session_state.get("lang", "zh")
    return value if value in LANGS else "zh"


def glossary_key(key: str) -> str | None:
    """The glossary key of a UI label: the app's own ``ui_<key>`` first, then the library's ``<key>``."""
    for k in (f"ui_{key}", key):
        if k in TERMS:
            return k
    return None


def t(key: str, **values: Any) -> str:
    """The glossary label of ``key`` in the current language, with ``{placeholders}`` filled."""
    text = label(glossary_key(key) or key, lang())
    return text.format(**values) if values else text


def term(value: Any, code: str | None = None) -> str:
    """A canonical value (e.g. 'senior', 'quarterly') by its glossary label; anything else as it is."""
    k = glossary_key(str(value))
    return label(k, code or lang()) if k else str(value)


def industry(value: Any, code: str | None = None) -> str:
    """An industry code of the criteria by its glossary label (``rare_earth_tungsten`` → 稀土与钨新材料)."""
    k = f"ui_industry_{value}"
    return label(k, code or lang()) if k in TERMS else str(value)


def term_fn() -> Callable[[Any], str]:
    """``term`` bound to the current language, for a widget's ``format_func`` (called later, maybe elsewhere)."""
    code = lang()
    return lambda value: term(value, code)


def industry_fn() -> Callable[[Any], str]:
    code = lang()
    return lambda value: industry(value, code)


def wan_header(key: str) -> str:
    """A column header of an amount column: ``实付利息 (万元)`` / ``interest paid (CNY 10k)``."""
    return f"{t(key)} ({t('unit_wan_yuan_short')})"


def pct_header(key: str) -> str:
    return f"{t(key)} (%)"


# --- display formats ----------------------------------------------------------------------------------------------

def fmt_date(d: Any) -> str:
    """A date in the display language: ``2026年4月20日`` (zh) or ``2026-04-20`` (en)."""
    if d is None or (isinstance(d, float) and math.isnan(d)):
        return ""
    if isinstance(d, str):
        d = dt.date.fromisoformat(d[:10])
    if isinstance(d, pd.Timestamp | dt.datetime):
        d = d.date()
    if lang() == "zh":
        return f"{d.year}年{d.month}月{d.day}日"
    return d.isoformat()


def _trim(x: float) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def fmt_amount(yuan: float | None) -> str:
    """An amount with its unit for a headline figure: ``1.9亿元`` from 1亿 up, else ``870万元`` / ``28.35万元``.

    English shows ``CNY 190m`` / ``CNY 8.7m`` (millions read naturally there); tables keep the 万元 scale in both
    languages (header unit 万元 / CNY 10k), so their numbers agree across languages.
    """
    if yuan is None or (isinstance(yuan, float) and math.isnan(yuan)):
        return "–"
    if lang() != "zh":
        return f"CNY {_trim(yuan / 1e6)}m" if abs(yuan) >= 10_000 else f"CNY {yuan:,.0f}"
    if abs(yuan) >= YI:
        return f"{_trim(yuan / YI)}{t('unit_yi_yuan')}"
    return f"{_trim(yuan / WAN)}{t('unit_wan_yuan_short')}"


def cap(text: str) -> str:
    """A heading: English labels start with a capital (the glossary's are lower case); Chinese is unchanged."""
    return text[:1].upper() + text[1:] if lang() != "zh" else text


def h(key: str, **values: Any) -> str:
    """``t`` for headings, tabs and buttons: capitalised in English."""
    return cap(t(key, **values))


def fmt_pct(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{100 * x:.{digits}f}%"


def fmt_pct_se(x: float, se: float, digits: int = 3) -> str:
    """A probability with its Monte Carlo standard error: ``0.120% ± 0.011%``."""
    return f"{100 * x:.{digits}f}% ± {100 * se:.{digits}f}%"


def display_frame(df: pd.DataFrame, *, amounts: Iterable[str] = (), pcts: Iterable[str] = (),
                  dates: Iterable[str] = (), terms: Iterable[str] = ()) -> pd.DataFrame:
    """A copy of ``df`` for display: amounts in 万元, shares in %, dates and terms in the language, glossary headers.

    Other columns keep their values; every header is translated when the glossary knows it.
    """
    out = df.copy()
    rename: dict[str, str] = {}
    for c in amounts:
        if c in out:
            out[c] = (pd.to_numeric(out[c], errors="coerce") / WAN).round(2)
            rename[c] = wan_header(c)
    for c in pcts:
        if c in out:
            out[c] = (pd.to_numeric(out[c], errors="coerce") * 100).round(4)
            rename[c] = pct_header(c)
    for c in dates:
        if c in out:
            out[c] = [fmt_date(v) for v in out[c]]
    for c in terms:
        if c in out:
            out[c] = [term(v) for v in out[c]]
    for c in out.columns:
        if c not in rename and isinstance(c, str) and glossary_key(c):
            rename[c] = t(c)
    return out.rename(columns=rename)


# --- errors -------------------------------------------------------------------------------------------------------

def _shown(issue: Any) -> str:
    """An issue as text, an uploaded file named as the user named it (not by its temporary copy's path)."""
    return _UPLOAD_PATH.sub("", str(issue))


def show_input_error(err: InputError) -> None:
    """The library's validation messages, one bullet per issue (file, table, row, field), never a traceback."""
    lines = [t("input_problems")]
    for issue in err.issues[:200]:
        lines.append(f"- {_shown(issue)}")
    if len(err.issues) > 200:
        lines.append(f"- … (+{len(err.issues) - 200})")
    st.error("\n".join(lines))


def show_issues_warning(head: str, issues: list) -> None:
    if not issues:
        return
    body = "\n".join(f"- {_shown(i)}" for i in issues[:100])
    more = f"\n- … (+{len(issues) - 100})" if len(issues) > 100 else ""
    st.warning(f"{head}\n{body}{more}")


# --- uploads ------------------------------------------------------------------------------------------------------

UPLOAD_ROOT = Path(tempfile.gettempdir()) / "ipabs-uploads"
_UPLOAD_PATH = re.compile(re.escape(str(UPLOAD_ROOT)) + r"[/\\][0-9a-f]{24}[/\\]")

def written_files(write: Callable[[Path], Path], zip_name: str, zip_suffix: str = "") -> dict[str, bytes]:
    """Run a library writer (``write(folder) -> the folder written``, given a path that does not exist yet) in a
    temporary folder and return its files as bytes by name, plus ``zip_name``: a zip of those ending in
    ``zip_suffix`` (all by default) — the app's downloads of what the CLI's ``--out`` writes."""
    with tempfile.TemporaryDirectory(prefix="ipabs-out-") as tmp:
        folder = write(Path(tmp) / "out")
        files = {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            if name.endswith(zip_suffix):
                z.writestr(name, data)
    files[zip_name] = buf.getvalue()
    return files


def save_upload(uploaded: Any) -> Path:
    """Write an uploaded file to a content-addressed temporary path (the path changes when the content does).

    The library's readers then apply their own checks (size, encoding, columns) to the file as uploaded.
    """
    data = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:24]
    name = Path(uploaded.name).name or "upload"
    folder = UPLOAD_ROOT / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        path.write_bytes(data)
    return path


def uploader(key_label: str, types: list[str], key: str) -> Any:
    """A file uploader whose help states the size limit."""
    return st.file_uploader(t(key_label), type=types, key=key, help=t("upload_help", mb=UPLOAD_MB),
                            max_upload_size=UPLOAD_MB)


# --- progress -----------------------------------------------------------------------------------------------------

def progress_callback(bar: Any) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback for the library's Monte Carlo runs that moves ``bar``.

    The callback runs inside an ``st.cache_data`` function; it updates the bar in the context captured here (outside
    the cached function) so the updates are not recorded for replay. A click on the page's Cancel button makes
    Streamlit stop the script at that next update (the run is then not cached). Pages still catch
    :class:`ipabs.errors.Cancelled`, the library's own way to stop a run from its callback.
    """
    ctx = contextvars.copy_context()

    def update(done: int, total: int) -> None:
        frac = done / total if total else 1.0
        ctx.run(bar.progress, min(1.0, frac), t("running", done=f"{done:,}", total=f"{total:,}"))

    return update


def scheduler_address() -> str | None:
    """The dask scheduler named in the sidebar (``tcp://HOST:PORT``), or None: runs stay in this process."""
    value = str(st.session_state.get("scheduler", "") or "").strip()
    return value or None


def cluster_setting() -> None:
    """The sidebar's cluster setting: off (empty) by default; only an existing cluster, never workers started by
    the app (a shared server should not spawn processes per user)."""
    with st.sidebar.expander(t("cluster_setting"), expanded=bool(scheduler_address())):
        st.text_input(t("scheduler_address"), key="scheduler", placeholder="tcp://127.0.0.1:8786",
                      help=t("scheduler_help"))


def missing_module_notice(module: str) -> None:
    st.info(t("not_available", module=module))
