"""Fixtures for the surveillance tests (helpers in surveil_samples.py)."""

from __future__ import annotations

import pytest
from surveil_samples import compiled


@pytest.fixture(scope="session")
def ganzhou():
    return compiled("ganzhou_pledge_2026")
