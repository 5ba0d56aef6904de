"""26.7: one ingest package with one seam. Every ingest write goes through the installed
`Writer`; the ingest and services layers never import the HTTP layer (`hub/api`)."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from factories import make_snapshot
from fleetwatch.hub.events import SnapshotView
from fleetwatch.hub.ingest.writer import WRITER_KEY, LocalWriter
from hubtest import ctx_of, register, sync_hub_client

HUB = Path(__file__).resolve().parents[2] / "src" / "fleetwatch" / "hub"
#: the HTTP entries of the ingest package may use the API's helpers; nothing below them may
HTTP_ENTRIES = {"routes.py", "app.py", "fasthttp.py"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize(
    "path",
    [p for p in sorted((HUB / "ingest").glob("*.py")) if p.name not in HTTP_ENTRIES]
    + sorted((HUB / "services").glob("*.py")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_ingest_and_services_do_not_import_the_http_layer(path: Path) -> None:
    bad = sorted(m for m in _imports(path) if m.startswith("fleetwatch.hub.api"))
    assert not bad, f"{path.name} imports {bad}"


def test_no_ingest_module_is_left_in_api() -> None:
    left = {"ingest.py", "fastpath.py", "fasthttp.py", "wire_fast.py"} & {
        p.name for p in (HUB / "api").glob("*.py")
    }
    assert not left


class Recording:
    """A `Writer` that commits through the local one and remembers what went through."""

    def __init__(self, inner: LocalWriter) -> None:
        self.inner = inner
        self.kinds: list[str] = []

    async def __call__(
        self, kind: str, item: Any, snapshots: Sequence[SnapshotView] | None = None
    ) -> Any:
        self.kinds.append(kind)
        return await self.inner(kind, item, snapshots)


def test_every_agent_write_goes_through_the_installed_writer(tmp_path: Path) -> None:
    with sync_hub_client(tmp_path, None, rate_limit_per_minute=0) as client:
        ctx = ctx_of(client)
        recording = Recording(LocalWriter(ctx.db))
        ctx.extras[WRITER_KEY] = recording
        server_id, auth = register(client)
        assert client.post("/api/metrics", json=make_snapshot(), headers=auth).status_code == 200
        live = {"cpu_percent": 5.0, "memory_percent": 6.0}
        assert client.post("/api/metrics/live", json=live, headers=auth).status_code == 200
        assert client.post("/api/ping", headers=auth).status_code == 200
        assert recording.kinds == ["snapshots", "live", "pings"]
        got = client.get(f"/api/dashboard/server/{server_id}").json()
        assert got["latest"]["snapshot_id"] == make_snapshot()["snapshot_id"]  # committed
