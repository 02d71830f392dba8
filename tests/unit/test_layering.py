"""The layers import downwards only (docs/decisions/021): kernels import nothing above them, and the command-line
modules reach the engines only through :mod:`ipabs.api`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "ipabs"
#: Packages above the kernels: the ground floor never imports from them.
ABOVE_KERNELS = ("ipabs.compile", "ipabs.engine", "ipabs.prepare", "ipabs.structuring", "ipabs.policy",
                 "ipabs.surveillance")
CLI_MODULES = sorted([*SRC.glob("cli*.py"), *SRC.glob("*/cli.py"), *SRC.glob("*/cli_*.py")])


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (function-level imports included), with its line."""
    out = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def reaches(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


@pytest.mark.parametrize("path", sorted((SRC / "kernels").glob("*.py")), ids=lambda p: p.name)
def test_kernel_modules_import_nothing_from_the_layers_above_them(path):
    bad = [f"{path.name}:{line} imports {m}" for line, m in imported_modules(path) if reaches(m, ABOVE_KERNELS)]
    assert not bad, "; ".join(bad)


def test_the_cli_modules_are_found():
    names = {p.relative_to(SRC).as_posix() for p in CLI_MODULES}
    assert {"cli.py", "cli_deal.py", "structuring/cli.py"} <= names


@pytest.mark.parametrize("path", CLI_MODULES, ids=lambda p: p.relative_to(SRC).as_posix())
def test_cli_modules_reach_the_engines_only_through_the_api(path):
    bad = [f"{path.name}:{line} imports {m}" for line, m in imported_modules(path)
           if reaches(m, ("ipabs.engine", "ipabs.prepare"))]
    assert not bad, "; ".join(bad)
