"""Fixtures of the policy engine's tests."""

from __future__ import annotations

import pytest

from ipabs.policy.io import load_policy


@pytest.fixture(scope="session")
def ganzhou():
    return load_policy("ganzhou-2025")
