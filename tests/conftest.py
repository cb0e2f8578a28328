"""Shared fixtures: ``world`` runs a contract test once per world."""

from __future__ import annotations

import pytest

from tests.worlds import WORLDS


@pytest.fixture(params=WORLDS)
def world(request: pytest.FixtureRequest) -> str:
    """The world the test's main party runs in: thread, trio or asyncio."""
    return str(request.param)
