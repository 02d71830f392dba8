"""Errors and the issue catalogue.

Every validation problem is an :class:`Issue` naming where it was found (file, table, row, field).
Validation collects all issues and raises one :class:`ScenarioError` (or :class:`TapeError`) listing them,
in the manner of Hastructure's ``validatePreRun``: a user fixes a file once, not once per problem.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One problem found in an input.

    Parameters
    ----------
    message : str
        What is wrong, in plain English, with the observed value where useful.
    file : str, optional
        The file the problem is in.
    table : str, optional
        The TOML table (e.g. ``tranches[1]``) or sheet.
    row : int, optional
        1-based data row of a tape (header is row 0).
    field : str, optional
        The key or column.
    """

    message: str
    file: str | None = None
    table: str | None = None
    row: int | None = None
    field: str | None = None

    def location(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.table:
            parts.append(f"[{self.table}]")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field:
            parts.append(f"field '{self.field}'")
        return " ".join(parts)

    def __str__(self) -> str:
        loc = self.location()
        return f"{loc}: {self.message}" if loc else self.message

    def to_dict(self) -> dict:
        return {"file": self.file, "table": self.table, "row": self.row, "field": self.field, "message": self.message}


class IpabsError(Exception):
    """Base class of every error ipabs raises on purpose."""


class InputError(IpabsError):
    """Invalid input: a scenario, tape, policy or criteria file. The CLI exits with code 2."""

    def __init__(self, issues: Iterable[Issue] | str, *, title: str = "invalid input"):
        if isinstance(issues, str):
            issues = [Issue(issues)]
        self.issues: list[Issue] = list(issues)
        self.title = title
        super().__init__(self._format())

    def _format(self) -> str:
        n = len(self.issues)
        head = f"{self.title}: {n} problem{'s' if n != 1 else ''}"
        return head + "".join(f"\n  - {i}" for i in self.issues)


class ScenarioError(InputError):
    """A scenario file failed validation; ``issues`` lists every problem found."""

    def __init__(self, issues: Iterable[Issue] | str, *, title: str = "invalid scenario"):
        super().__init__(issues, title=title)


class TapeError(InputError):
    """A pool tape cannot be used at all (unreadable, missing columns) or was rejected under ``strict``."""

    def __init__(self, issues: Iterable[Issue] | str, *, title: str = "invalid pool tape"):
        super().__init__(issues, title=title)


class EngineError(IpabsError):
    """A failure while running an engine (not caused by invalid input). The CLI exits with code 1."""


class Cancelled(IpabsError):
    """A run was cancelled through its progress callback."""
