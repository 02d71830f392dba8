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
import os
import re
import shutil
import stat
import tempfile
import time
import weakref
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from ipabs.errors import InputError, Issue
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


def url_lang() -> str | None:
    """The language the page's URL asks for (``?lang=en``), if it is one the app has."""
    value = st.query_params.get("lang")
    return value if value in LANGS else None


def lang_to_url() -> None:
    """Write the display language into the URL (``?lang=en``), so that a reload or a shared link keeps it."""
    st.query_params["lang"] = lang()


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


#: Below this share (0.01%) a percentage with a few decimals reads 0.000%: such figures are shown in basis points.
SMALL_SHARE = 1e-4


def _bp(x: float) -> str:
    """A small share in basis points with two significant digits: ``0.012 bp`` / ``0.012个基点``."""
    bp = 1e4 * x
    text = f"{bp:.2g}" if abs(bp) >= 1e-3 else f"{bp:.1e}"
    return f"{text}{t('unit_bp')}" if lang() == "zh" else f"{text} {t('unit_bp')}"


def fmt_pct(x: float | None, digits: int = 2) -> str:
    """A share as a percentage; a non-zero share below 0.01% in basis points (never a misleading ``0.000%``)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if x != 0 and abs(x) < SMALL_SHARE:
        return _bp(x)
    return f"{100 * x:.{digits}f}%"


def fmt_pct_se(x: float, se: float, digits: int = 3) -> str:
    """A probability with its Monte Carlo standard error: ``0.120% ± 0.011%`` (basis points when below 0.01%)."""
    return f"{fmt_pct(x, digits)} ± {fmt_pct(se, digits)}"


def _nice_step(span: float, n: int = 5) -> float:
    raw = span / max(1, n)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def fmt_wan_tick(wan: float) -> str:
    """An axis tick of an amount in 万元 as a Chinese analyst reads it: ``5,000万`` / ``1亿`` / ``1.5亿``."""
    if wan == 0:
        return "0"
    if abs(wan) >= 10_000:
        return f"{_trim(wan / 10_000)}{t('unit_yi_yuan')[:1]}"
    return f"{_trim(wan)}{t('unit_wan_yuan_short')[:1]}"


def wan_axis(max_wan: float, min_wan: float = 0.0) -> dict:
    """Plotly axis settings for amounts plotted in 万元: ticks written 万/亿 in Chinese (plotly's own would read
    ``5k / 10k``), and thousands separators with no SI suffix in English (the axis title carries the unit)."""
    if lang() != "zh":
        return {"tickformat": ",.0f"}
    lo, hi = min(0.0, min_wan), max(0.0, max_wan)
    if not math.isfinite(hi - lo) or hi - lo <= 0:
        return {"tickformat": ",.0f"}
    step = _nice_step(hi - lo)
    first = math.floor(lo / step) * step
    vals = [first + i * step for i in range(int((hi - first) / step) + 2)]
    return {"tickmode": "array", "tickvals": vals, "ticktext": [fmt_wan_tick(v) for v in vals]}


def wan_yaxis(fig: Any) -> Any:
    """``fig`` with its y axis (amounts in 万元) ticked by :func:`wan_axis` over the range of its traces' values."""
    ys = [float(v) for tr in fig.data for v in (getattr(tr, "y", None) if getattr(tr, "y", None) is not None else ())
          if v is not None and math.isfinite(float(v))]
    for tr in fig.data:  # error bars reach above the values
        err = getattr(tr, "error_y", None)
        arr = getattr(err, "array", None) if err is not None else None
        if arr is not None and getattr(tr, "y", None) is not None:
            ys += [float(y) + float(e) for y, e in zip(tr.y, arr, strict=False) if y is not None and e is not None]
    if ys:
        fig.update_yaxes(**wan_axis(max(ys), min(ys)))
    return fig


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

#: Each session's uploads live in its own private folder ``<tmp>/ipabs-upload-<random>`` (``tempfile.mkdtemp``: mode
#: 0700, a name no other session can guess), never shared; it is deleted when the session ends (its state is dropped)
#: or when the server stops, and in any case a folder unused for ``UPLOAD_RETENTION_HOURS`` is deleted by the next
#: session that starts. Firms' loan tapes are confidential.
UPLOAD_PREFIX = "ipabs-upload-"
UPLOAD_RETENTION_HOURS = 12
_UPLOAD_PATH = re.compile(re.escape(str(Path(tempfile.gettempdir()))) + r"[/\\]" + re.escape(UPLOAD_PREFIX)
                          + r"[^/\\]+[/\\](?:[0-9a-f]{24}[/\\])?")


class SessionUploads:
    """A session's private upload folder, removed when this object is garbage collected (the session ended) or at
    interpreter exit; :meth:`remove` removes it now."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=UPLOAD_PREFIX))  # mode 0700
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def remove(self) -> None:
        self._finalizer()


def sweep_stale_uploads(retention_hours: float = UPLOAD_RETENTION_HOURS, root: Path | None = None) -> list[Path]:
    """Delete upload folders of ours (this user's, our name pattern) unused for ``retention_hours``."""
    root = Path(tempfile.gettempdir()) if root is None else root
    cutoff = time.time() - retention_hours * 3600
    removed = []
    for p in root.glob(UPLOAD_PREFIX + "*"):
        try:
            st_ = p.lstat()
        except OSError:
            continue
        if (stat.S_ISDIR(st_.st_mode) and st_.st_uid == os.getuid() and st_.st_mtime < cutoff):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def session_upload_dir() -> Path:
    """This session's private upload folder (created on first use, after sweeping stale ones)."""
    box = st.session_state.get("_uploads")
    if not isinstance(box, SessionUploads) or not box.path.is_dir():
        sweep_stale_uploads()
        box = SessionUploads()
        st.session_state["_uploads"] = box
    return box.path


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


def save_upload(uploaded: Any, folder: Path | None = None) -> Path:
    """Write an uploaded file into the session's private upload folder (:func:`session_upload_dir`), under a
    content-addressed sub-folder (the path changes when the content does: cache keys follow it).

    The library's readers then apply their own checks (size, encoding, columns) to the file as uploaded.
    """
    data = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:24]
    name = Path(str(uploaded.name).replace("\\", "/")).name or "upload"
    if name in (".", ".."):
        name = "upload"
    root = session_upload_dir() if folder is None else folder
    target = root / digest
    target.mkdir(mode=0o700, exist_ok=True)
    path = target / name
    if not path.exists():
        path.write_bytes(data)
    os.utime(root)  # the retention counts from the last use
    return path


def confine_uploaded_scenario(data: dict, scenario_path: Path, tape_path: Path | None) -> dict:
    """An uploaded scenario may refer only to files uploaded with it: its pool tape becomes the uploaded tape
    (``tape_path``); without one, its own ``pool.tape`` is not looked up on the server (no absolute path, no
    ``..``, nothing outside its upload folder) and an :class:`InputError` asks for the tape to be uploaded.
    Load the result with ``base_dir=scenario_path.parent``."""
    pool = data.get("pool")
    if tape_path is not None:
        return {**data, "pool": {**(pool if isinstance(pool, dict) else {}), "tape": str(tape_path)}}
    if not isinstance(pool, dict) or not isinstance(pool.get("tape"), str):
        return data  # the schema reports the missing or malformed [pool] table
    ref = pool["tape"]
    folder = scenario_path.parent.resolve()
    rel = Path(ref.replace("\\", "/"))
    inside = not rel.is_absolute() and ".." not in rel.parts and (folder / rel).resolve().is_relative_to(folder)
    if not inside or not (folder / rel).is_file():
        raise InputError([Issue(f"the pool tape '{ref}' was not uploaded with the scenario: upload the tape too (an "
                                "uploaded scenario may refer only to files uploaded with it)",
                                file=scenario_path.name, table="pool", field="tape")], title="invalid scenario")
    return data


def uploader(key_label: str, types: list[str], key: str) -> Any:
    """A file uploader whose help states the size limit."""
    return st.file_uploader(t(key_label), type=types, key=key, help=t("upload_help", mb=UPLOAD_MB),
                            max_upload_size=UPLOAD_MB)


# --- progress -----------------------------------------------------------------------------------------------------

def progress_callback(bar: Any, key: str = "running") -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback for the library's Monte Carlo runs that moves ``bar`` (its text: the
    glossary label ``key`` with ``{done}`` and ``{total}``; default "simulating: done/total paths").

    The callback runs inside an ``st.cache_data`` function; it updates the bar in the context captured here (outside
    the cached function) so the updates are not recorded for replay. A click on the page's Cancel button makes
    Streamlit stop the script at that next update (the run is then not cached). Pages still catch
    :class:`ipabs.errors.Cancelled`, the library's own way to stop a run from its callback.
    """
    ctx = contextvars.copy_context()

    def update(done: int, total: int) -> None:
        frac = done / total if total else 1.0
        ctx.run(bar.progress, min(1.0, frac), t(key, done=f"{done:,}", total=f"{total:,}"))

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


def guarded_run(area: Any, call: Callable[[], Any]) -> tuple[bool, Any]:
    """Run a page's library call under its progress ``area``: ``(True, result)``; on invalid input, a run-time
    failure (e.g. an unreachable dask scheduler) or a cancel, the area is cleared, the reason shown in the user's
    language and ``(False, None)`` returned — never a traceback."""
    from ipabs.errors import Cancelled, EngineError

    try:
        result = call()
    except InputError as e:
        area.empty()
        show_input_error(e)
        return False, None
    except EngineError as e:
        area.empty()
        st.error(t("run_failed", error=str(e)))
        return False, None
    except Cancelled:
        area.empty()
        st.warning(t("cancelled"))
        return False, None
    area.empty()
    return True, result


def missing_module_notice(module: str) -> None:
    st.info(t("not_available", module=module))
