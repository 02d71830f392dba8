"""Output folders: :func:`output_folder`, the one checked, atomic way every ipabs verb writes a folder (decision
018), and the outputs of ``ipabs run``: summary.json, cashflows.parquet/.xlsx (:mod:`ipabs.report.workbook`), the
Monte Carlo tables and, on request, the printable report.html (:mod:`ipabs.report.html`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ipabs import __version__
from ipabs.errors import InputError, Issue
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
        if mc.index_levels is not None:
            doc["monte_carlo"]["rate_model"] = mc.meta.get("rate_model")
            doc["monte_carlo"]["index_paths"] = mc.index_summary().to_dict(orient="records")
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
        if mc.index_levels is not None:  # simulated index paths (simulation.rates)
            write_parquet(folder / "index_paths.parquet", mc.index_summary())
    if path_sample is not None:
        write_parquet(folder / "path_sample.parquet", path_sample)
    if report:
        from ipabs.report.html import render_report

        (folder / "report.html").write_text(render_report(det, mc, lang, tape=tape), encoding="utf-8")


# --- output folders -----------------------------------------------------------------------------------------------
#
# Every ipabs verb that writes a folder (``run``, ``eligibility``, ``selfcheck``, ``subsidy``, ``fund`` and any verb
# added later) goes through :func:`output_folder`; nothing else in ipabs creates, renames or deletes an output
# folder. Decision 018 (docs/decisions/018-output-folders-and-hostile-inputs.md) states the rules.

#: The marker file every ipabs output folder holds (JSON: format, version, command, time). Only a folder holding it
#: may be replaced by a later output.
MARKER_NAME = ".ipabs-output"
#: Hidden siblings of an output folder while it is being written / replaced:
#: ``.<name>.ipabs-tmp-<pid>-<random>`` and ``.<name>.ipabs-old-<pid>-<random>``.
_TEMP_KINDS = ("tmp", "old")
#: A temporary sibling whose process has gone, or older than this, is stale and removed by the next write.
STALE_AFTER_SECONDS = 7 * 24 * 3600


def _temp_pattern(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(f".{name}.ipabs-") + r"(tmp|old)-(\d+)-[A-Za-z0-9_]{4,16}")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _refuse(message: str, path: Path) -> InputError:
    return InputError([Issue(message, file=str(path))], title="invalid output folder")


def _is_within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of an ipabs output folder, or None when ``folder`` has none (it is not an ipabs output)."""
    m = folder / MARKER_NAME
    if not m.is_file() or m.is_symlink():
        return None
    try:
        doc = json.loads(m.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == "ipabs-output" else None


def clean_stale_temporaries(out: Path) -> list[Path]:
    """Remove the stale hidden temporaries of ``out`` (left by a run killed mid-write): only names of ipabs's own
    pattern, and only those whose process is gone or that are older than :data:`STALE_AFTER_SECONDS`."""
    removed: list[Path] = []
    pat = _temp_pattern(out.name)
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return removed
    now = time.time()
    for p in entries:
        m = pat.fullmatch(p.name)
        if not m or p.is_symlink() or not p.is_dir():
            continue
        try:
            age = now - p.stat().st_mtime
        except OSError:
            continue
        if _pid_alive(int(m.group(2))) and age < STALE_AFTER_SECONDS:
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


@dataclass(frozen=True)
class OutputFolder:
    """A checked output folder; write it with ``with target.writing() as tmp: ...`` (see :func:`output_folder`)."""

    path: Path
    command: str
    inputs: tuple[Path, ...] = ()

    def check(self) -> None:
        """Refuse (:class:`~ipabs.errors.InputError`, exit code 2) what must not be written; see :func:`output_folder`."""
        out = self.path
        cwd = Path.cwd().resolve()
        if _is_within(cwd, out):
            raise _refuse("the output folder is the current folder or contains it; name a new sub-folder "
                          "(e.g. --out out/results)", out)
        for inp in self.inputs:
            folder = inp if inp.is_dir() else inp.parent
            if _is_within(folder, out):
                raise _refuse(f"the output folder would replace the folder of the input {inp}; "
                              "choose a folder of its own (e.g. out/results)", out)
        for anc in [out, *out.parents]:
            if anc.is_symlink() and anc == out:
                raise _refuse("the output path is a symbolic link; name a real folder", out)
            if anc.exists():
                if not anc.is_dir():
                    what = "the output path" if anc == out else f"{anc}"
                    raise _refuse(f"{what} exists and is not a folder", out)
                if anc != out and not os.access(anc, os.W_OK | os.X_OK):
                    raise _refuse(f"cannot write in {anc} (permission denied)", out)
                break
        if out.is_dir():
            try:
                non_empty = any(out.iterdir())
            except OSError as e:
                raise _refuse(f"cannot read the existing output folder: {e.strerror}", out) from None
            if non_empty and read_marker(out) is None:
                raise _refuse("the folder exists, is not empty and was not written by ipabs (it has no "
                              f"{MARKER_NAME} marker); ipabs replaces only its own earlier outputs: choose a new "
                              "folder or remove this one yourself", out)
            if not os.access(out.parent, os.W_OK | os.X_OK):
                raise _refuse(f"cannot replace the folder: {out.parent} is not writable", out)

    @contextlib.contextmanager
    def writing(self) -> Iterator[Path]:
        """Yield a new hidden temporary folder beside the output; when the block completes it replaces the output
        folder in one rename (with the marker file added); when the block fails it is removed and the earlier
        output, if any, is left as it was."""
        self.check()
        out = self.path
        clean_stale_temporaries(out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.ipabs-tmp-{os.getpid()}-", dir=out.parent))
        except OSError as e:
            raise _refuse(f"cannot create the output folder: {e.strerror or e}", out) from None
        try:
            yield tmp
            write_json(tmp / MARKER_NAME, {"format": "ipabs-output", "version": __version__,
                                           "command": self.command,
                                           "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
            os.chmod(tmp, 0o755)  # mkdtemp makes it private; an output folder is an ordinary one
            self.check()  # the folder may have changed while the run was going on
            old = None
            if out.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{out.name}.ipabs-old-{os.getpid()}-", dir=out.parent))
                os.rmdir(old)
                os.replace(out, old)
            try:
                os.replace(tmp, out)
            except BaseException:
                if old is not None:
                    os.replace(old, out)  # put the earlier output back
                raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def output_folder(out: str | os.PathLike | OutputFolder, *, command: str,
                  inputs: Iterable[str | os.PathLike | None] = ()) -> OutputFolder:
    """The one way an ipabs verb writes an output folder: check it now (before any work), write it atomically later.

    >>> target = output_folder(args.out, command="run", inputs=[scenario_file, tape_file])   # refuses now: exit 2
    >>> ...                                                                                  # the long run
    >>> with target.writing() as tmp:                                                        # all or nothing
    ...     write_everything(tmp)

    Rules (decision 018), each refusal an :class:`~ipabs.errors.InputError` (exit code 2) naming the folder:

    - a folder that does not exist, or an empty one, is written; an existing non-empty folder is replaced only when
      it holds the marker file :data:`MARKER_NAME` that every ipabs output holds (an earlier ipabs output);
    - the output folder must not be, or contain, the folder of any input file (``inputs``: scenario, tape,
      criteria, pipeline, policy...) nor the current folder (``--out .``);
    - a path that exists and is not a folder, a path under a regular file, a symbolic link, or a place that is not
      writable are refused before the run, not met as an ``OSError`` after it;
    - the output is written into a hidden sibling ``.<name>.ipabs-tmp-<pid>-<random>`` and renamed into place:
      a run either completes or leaves the earlier output as it was; stale siblings of that pattern left by a
      killed run are removed by the next write (:func:`clean_stale_temporaries`).

    ``command`` (e.g. ``"run"``) is recorded in the marker. ``out`` may already be an :class:`OutputFolder`
    (returned as it is, checked again).
    """
    if isinstance(out, OutputFolder):
        out.check()
        return out
    path = Path(os.path.abspath(Path(out).expanduser()))
    if path.name == "":
        raise _refuse("the output folder cannot be a file system's root", path)
    path = path.parent.resolve() / path.name  # resolve the parents only: a symlinked output itself is refused
    ins = tuple(Path(os.path.abspath(Path(p).expanduser())).resolve() for p in inputs if p is not None)
    target = OutputFolder(path, command, ins)
    target.check()
    _probe_writable(path)
    return target


def _probe_writable(out: Path) -> None:
    """Create and remove a temporary folder in the nearest existing ancestor of ``out``: an unwritable place (a
    read-only file system, a permission, /proc) is refused before the run rather than failing after it."""
    anc = next(a for a in [out.parent, *out.parent.parents] if a.exists())
    try:
        probe = tempfile.mkdtemp(prefix=f".{out.name}.ipabs-tmp-{os.getpid()}-", dir=anc)
        os.rmdir(probe)
    except OSError as e:
        raise _refuse(f"cannot write in {anc}: {e.strerror or e}", out) from None
