"""Shared fixtures. Factories over fixture zoos: see tests/factories.py."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL DSN for tests; skips with a visible reason when none is configured."""
    url = os.environ.get("FLEETWATCH_TEST_POSTGRES_URL", "")
    if not url:
        pytest.skip("PostgreSQL tests need FLEETWATCH_TEST_POSTGRES_URL (CI sets it)")
    return url
