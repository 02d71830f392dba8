"""Reading TOML input files (scenario, self-check, criteria, policy) safely: one place for what can go wrong.

Every failure is an :class:`~ipabs.errors.InputError` (or the subclass the caller names) that names the file: not
found, a folder, too large, not UTF-8 (a binary file), not valid TOML, nested too deeply for the parser (Python's
``tomllib`` recurses per level of nesting and would raise ``RecursionError``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from ipabs.errors import InputError, Issue

#: Largest TOML input file read, bytes (scenarios are a few kB; a larger file is refused before it is read).
MAX_TOML_BYTES = 5 * 1024 * 1024


def parse_toml(text: str, file: str, *, error: type[InputError] = InputError, title: str = "invalid input") -> dict:
    """``tomllib.loads(text)``, every failure as ``error`` naming ``file``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise error([Issue(f"not valid TOML: {e}", file=file)], title=title) from None
    except RecursionError:
        raise error([Issue("not valid TOML: arrays or tables nested too deeply", file=file)], title=title) from None


def read_toml_file(path: str | os.PathLike, *, error: type[InputError] = InputError, title: str = "invalid input",
                   what: str = "TOML") -> dict[str, Any]:
    """Read a UTF-8 TOML file (a BOM is allowed); ``what`` names the kind of file in messages."""
    p = Path(path)
    f = str(p)

    def fail(message: str) -> InputError:
        return error([Issue(message, file=f)], title=title)

    if not p.exists():
        raise fail("file not found")
    if p.is_dir():
        raise fail(f"is a folder, not a {what} file")
    if not p.is_file():
        raise fail(f"is not a regular file (a device or pipe?), not a {what} file")
    try:
        size = p.stat().st_size
        if size > MAX_TOML_BYTES:
            raise fail(f"file of {size:,} bytes is larger than the {MAX_TOML_BYTES:,} bytes a {what} file may have")
        raw = p.read_bytes()
    except OSError as e:
        raise fail(f"cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise fail(f"not UTF-8 text (byte {e.start:,} cannot be decoded; {what} files are UTF-8 TOML, not a "
                   "binary file)") from None
    return parse_toml(text, f, error=error, title=title)
