"""The overview's live feed (`hub/ui/feed.py`) on the real in-process hub: real SQLite, real
ingest, the real event bus. A snapshot posted through the API reaches a listener within a few
push intervals, only the server that reported changes, and nothing stays subscribed once the
last page is gone."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from factories import make_snapshot
from fleetwatch.hub.events import EventBus
from fleetwatch.hub.ui.feed import PUSH_SECONDS, Change, fleet_feed
from hubtest import bearer, ctx_of, hub_client

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _server(client: httpx.AsyncClient, hostname: str) -> tuple[str, dict[str, str]]:
    r = await client.post("/api/register", json={"hostname": hostname})
    assert r.status_code == 201, r.text
    return r.json()["server_id"], bearer(r.json()["server_id"], r.json()["api_key"])


async def _report(client: httpx.AsyncClient, headers: dict[str, str], cpu: float) -> None:
    body: dict[str, Any] = make_snapshot(
        snapshot_id=uuid.uuid4().hex, collected_at=datetime.now(UTC).isoformat()
    )
    body["metrics"]["cpu_percent"] = cpu
    r = await client.post("/api/metrics", json=body, headers=headers)
    assert r.is_success, r.text


async def test_a_reported_snapshot_is_pushed_and_only_its_server_changes(tmp_path: Path) -> None:
    async with hub_client(tmp_path, rate_limit_per_minute=0) as client:
        ctx = ctx_of(client)
        a, a_headers = await _server(client, "feed-a")
        b, b_headers = await _server(client, "feed-b")
        await _report(client, a_headers, 10.0)
        await _report(client, b_headers, 20.0)
        feed = fleet_feed(ctx)
        first = await feed.current()
        assert first.by_id[a]["metrics"]["cpu_percent"] == 10.0
        changes: list[Change] = []
        feed.add("page-1", changes.append, lambda: None)

        await _report(client, a_headers, 91.0)
        deadline = time.monotonic() + 6 * PUSH_SECONDS
        while not changes and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert changes, "no update pushed"
        change = changes[-1]
        assert change.changed == {a}
        assert not change.relayout
        assert change.view.by_id[a]["metrics"]["cpu_percent"] == 91.0
        assert change.view.by_id[b] is first.by_id[b]  # unchanged: the same shared item
        assert "91%" in feed.card(change.view.by_id[a])
        assert feed.card(change.view.by_id[b]) is feed.card(first.by_id[b])  # rendered once

        feed.remove("page-1")
        await asyncio.sleep(2 * PUSH_SECONDS + 0.5)
        bus: EventBus = ctx.extras["events"]
        assert all(sub.name != "dashboard" for sub in bus._subscriptions)


async def test_a_page_showing_other_servers_gets_nothing(tmp_path: Path) -> None:
    async with hub_client(tmp_path, rate_limit_per_minute=0) as client:
        ctx = ctx_of(client)
        _a, a_headers = await _server(client, "feed-a")
        b, b_headers = await _server(client, "feed-b")
        await _report(client, a_headers, 10.0)
        await _report(client, b_headers, 20.0)
        feed = fleet_feed(ctx)
        await feed.current()
        changes: list[Change] = []
        feed.add("page-b", changes.append, lambda: frozenset({b}))
        await _report(client, a_headers, 55.0)
        await asyncio.sleep(3 * PUSH_SECONDS)
        assert changes == []  # a is not shown anywhere: not even read
        await _report(client, b_headers, 66.0)
        deadline = time.monotonic() + 6 * PUSH_SECONDS
        while not changes and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert changes and changes[-1].changed == {b}
        feed.remove("page-b")
