"""Shared helpers for the routelab.data tests: the fixture folder and an exact instance comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
