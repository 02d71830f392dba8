"""Rewrite the golden summaries in tests/regression/golden/ (see golden.py); review the diff before committing."""

from __future__ import annotations

import sys

import golden


def main() -> int:
    for path in golden.deal_scenarios():
        print(f"wrote {golden.write(path).relative_to(golden.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
