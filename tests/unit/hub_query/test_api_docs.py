"""docs/api.md stays true: every query, export and ingest route has its own `## ` section."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute

from fleetwatch.hub.api import export, query
from fleetwatch.hub.ingest import routes as ingest

DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def test_every_route_is_documented() -> None:
    headings = set(re.findall(r"^## (GET|POST|PATCH|PUT|DELETE) (\S+)$", DOC.read_text(), re.M))
    missing = []
    for router in (query.router, export.router, ingest.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods - {"HEAD", "OPTIONS"}:
                if (method, route.path) not in headings:
                    missing.append(f"{method} {route.path}")
    assert not missing, f"add a '## METHOD path' section to docs/api.md for: {missing}"


def test_every_setting_is_documented() -> None:
    from fleetwatch.hub.services.settings import SETTING_NAMES

    text = DOC.read_text()
    assert [name for name in SETTING_NAMES if f"`{name}`" not in text] == []
