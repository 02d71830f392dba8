"""Reading and writing scenario files (TOML, English keys). No business logic here.

:func:`load_scenario` reads a TOML file, validates it (every problem reported at once, each naming the file, table
and key), reads the pool tape it points to and returns a :class:`LoadedScenario`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ipabs.errors import Issue, ScenarioError
from ipabs.scenario.schema import (
    Account,
    DealTerms,
    Fee,
    Scenario,
    Step,
    Support,
    Tranche,
    Trigger,
    Waterfalls,
    check_references,
)
from ipabs.tomlfile import read_toml_file

#: The scenario's lists of named items, and the model of an item.
_LISTS = {"tranches": Tranche, "fees": Fee, "accounts": Account, "support": Support, "triggers": Trigger}


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with its accepted pool rows and provenance."""

    scenario: Scenario
    tape: Any  # ipabs.scenario.tape.TapeResult
    path: Path | None
    scenario_hash: str

    @property
    def source(self) -> str:
        return str(self.path) if self.path else "<scenario>"


def _loc_to_table_field(loc: tuple) -> tuple[str | None, str | None]:
    """pydantic error location → ('tranches[1]', 'coupon')."""
    parts: list[str] = []
    for x in loc:
        if isinstance(x, int) and parts:
            parts[-1] = f"{parts[-1]}[{x}]"
        else:
            parts.append(str(x))
    if not parts:
        return None, None
    if len(parts) == 1:
        return None, parts[0]
    return ".".join(parts[:-1]), parts[-1]


def validation_issues(err: ValidationError, file: str | None) -> list[Issue]:
    issues = []
    for e in err.errors():
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        table, fld = _loc_to_table_field(loc)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not in the scenario schema; see docs/scenario-format.md)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        inp = e.get("input")
        if e["type"] not in ("missing", "extra_forbidden") and not isinstance(inp, dict | list):
            msg = f"{msg} (got {inp!r})"
        issues.append(Issue(msg, file=file, table=table, field=fld))
    return issues


def _part(model: Any, raw: Any) -> Any:
    """``raw`` validated as ``model``, or (when it fails) constructed without validation, keeping its names."""
    try:
        return model.model_validate(raw)
    except ValidationError:
        return model.model_construct(**raw) if isinstance(raw, dict) else raw


def _related(a: str, b: str) -> bool:
    """Table ``a`` is ``b``, inside it, or contains it (``tranches`` and ``tranches[1].schedule[0]``)."""
    return a == b or any(x.startswith(y + c) for x, y in ((a, b), (b, a)) for c in "[.")


def _reference_issues_despite(data: dict, file: str | None, field_issues: list[Issue]) -> list[Issue]:
    """The cross-reference problems of a scenario that also has field errors, so that one pass reports both.

    Best effort: every table and list item that fails validation is taken as written (unvalidated), the
    references are checked on the result, and only problems in tables unrelated to a field error are kept.
    Whatever cannot be checked this way (a broken or missing ``[deal]`` or waterfall, or a check tripping over an
    unvalidated value) is reported in the next pass, once the field errors are fixed.
    """
    parts: dict[str, Any] = {}
    for key, raw in data.items():
        if key in _LISTS and isinstance(raw, list):
            parts[key] = [_part(_LISTS[key], x) for x in raw]
        elif key == "waterfall" and isinstance(raw, dict):
            parts[key] = Waterfalls.model_construct(**{
                state: [_part(Step, x) for x in steps] if isinstance(steps, list) else steps
                for state, steps in raw.items()})
        elif key in Scenario.model_fields and key != "schema_version":
            parts[key] = _part(Scenario.model_fields[key].annotation, raw)
    if not isinstance(parts.get("deal"), DealTerms) or "waterfall" not in parts:
        return []
    try:
        found = check_references(Scenario.model_construct(**parts), file)
    except Exception:  # noqa: BLE001 - an unvalidated value the checks cannot read: left for the next pass
        return []
    broken = [i.table for i in field_issues if i.table]
    return [i for i in found if not (i.table and any(_related(i.table, b) for b in broken))]


def scenario_hash(data: dict) -> str:
    """SHA-256 of the canonical JSON of the validated scenario (provenance, cache key)."""
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def parse_scenario(data: dict, file: str | None = None) -> Scenario:
    """Validate a scenario mapping; raise :class:`ScenarioError` listing every problem."""
    if not isinstance(data, dict):
        raise ScenarioError([Issue("a scenario must be a TOML table", file=file)])
    try:
        s = Scenario.model_validate(data)
    except ValidationError as e:
        issues = validation_issues(e, file)
        raise ScenarioError(issues + _reference_issues_despite(data, file, issues)) from None
    issues = check_references(s, file)
    if issues:
        raise ScenarioError(issues)
    return s


def read_toml(path: Path) -> dict:
    """A scenario file's TOML (:func:`ipabs.tomlfile.read_toml_file`: every failure a :class:`ScenarioError`)."""
    return read_toml_file(path, error=ScenarioError, title="invalid scenario", what="scenario")


def load_scenario(path: str | Path, *, data: dict | None = None, tape_strict: bool | None = None,
                  base_dir: str | Path | None = None) -> LoadedScenario:
    """Read, validate and load a scenario and its tape.

    Parameters
    ----------
    path : str or Path
        The scenario file (or a label when ``data`` is given).
    data : dict, optional
        An already-parsed scenario mapping (the UI edits scenarios as dicts); ``path`` then only names it.
    tape_strict : bool, optional
        Override ``pool.strict``.
    base_dir : str or Path, optional
        Folder for a relative tape path (default: the scenario file's folder).
    """
    from ipabs.scenario.tape import read_tape

    p = Path(path)
    if data is None:
        data = read_toml(p)
    s = parse_scenario(data, str(p))
    folder = Path(base_dir) if base_dir is not None else p.parent
    tape_path = Path(s.pool.tape)
    if not tape_path.is_absolute():
        tape_path = folder / tape_path
    strict = s.pool.strict if tape_strict is None else tape_strict
    tape = read_tape(tape_path, sheet=s.pool.sheet, strict=strict)
    if tape.n_accepted == 0:
        raise ScenarioError([Issue("the pool tape has no usable rows", file=str(tape_path))] + list(tape.rejected))
    h = scenario_hash({"scenario": s.model_dump(mode="json"), "tape_sha256": _file_sha256(tape_path)})
    return LoadedScenario(s, tape, p, h)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dump_toml(data: dict) -> str:
    """A minimal TOML writer for scenario dicts (tables, arrays of tables, inline tables in arrays)."""
    lines: list[str] = []

    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)
        if hasattr(v, "isoformat"):
            return v.isoformat()
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {val(x)}" for k, x in v.items() if x is not None) + " }"
        raise TypeError(f"cannot write {type(v).__name__} to TOML")

    def table(prefix: str, d: dict) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict) and not _is_table_array(v) and v is not None}
        for k, v in scalars.items():
            lines.append(f"{k} = {val(v)}")
        for k, v in d.items():
            name = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict):
                lines.append("")
                lines.append(f"[{name}]")
                table(name, v)
            elif _is_table_array(v):
                for item in v:
                    lines.append("")
                    lines.append(f"[[{name}]]")
                    table(name, item)

    table("", data)
    return "\n".join(lines).strip() + "\n"


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)
