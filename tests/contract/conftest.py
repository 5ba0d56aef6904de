"""Fixtures shared by the contract tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from unit.hub_query.harness import Hub, database_url, running_hub

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    """The real app in-process on SQLite, then on PostgreSQL (a throwaway schema), with its
    engine for seeding rows directly (the query-side contract tests)."""
    base = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    for url in database_url(request.param, tmp_path, base):
        with running_hub(url, tmp_path) as running:
            yield running
