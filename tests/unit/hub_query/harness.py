"""Test harness of the query side: a hub in-process on a real database, and direct seeding.

Seeding writes rows straight into the tables (servers, snapshots and both rollup tiers computed
here) so query tests do not depend on the ingest path; end-to-end tests use the public API.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from sqlalchemy import Connection, Engine, insert

from authhelp import dashboard_auth, token_for
from fleetwatch.hub.app import create_app
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.settings import load_settings
from fleetwatch.hub.store import tables
from fleetwatch.hub.store.codec import pack


class SyncClient:
    """httpx against the ASGI app, driven from sync tests through a private event-loop thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        transport = httpx.ASGITransport(app=app)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://hub.test")

    def set_dashboard_token(self, token: str) -> None:
        self._client.event_hooks["request"] = [dashboard_auth(token)]

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.run(self._client.request(method, url, **kwargs))  # type: ignore[no-any-return]

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self.run(self._client.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


@dataclass
class Hub:
    client: SyncClient
    ctx: HubContext

    @property
    def engine(self) -> Engine:
        return self.ctx.db.engine


@contextmanager
def running_hub(database_url: str, data_dir: Path) -> Iterator[Hub]:
    """The real app (lifespan, writer, migrations) behind an in-process HTTP client."""
    settings = load_settings({"database_url": database_url, "data_dir": data_dir}, environ={})
    app = create_app(settings)
    client = SyncClient(app)
    lifespan = app.router.lifespan_context(app)
    client.run(lifespan.__aenter__())
    token = client.run(token_for(app.state.ctx, "admin", name="tests-admin"))
    client._client.event_hooks["request"].append(dashboard_auth(token))
    try:
        yield Hub(client=client, ctx=app.state.ctx)
    finally:
        client.run(lifespan.__aexit__(None, None, None))
        client.close()


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A throwaway schema on `base_url`; yields a URL whose connections use it; dropped after."""
    schema = f"fwq_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def database_url(backend: str, tmp_path: Path, postgres_base: str | None) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    assert postgres_base is not None
    with postgres_schema(postgres_base) as url:
        yield url


def insert_server(
    engine: Engine,
    *,
    hostname: str = "web-01",
    server_id: str | None = None,
    group_name: str | None = None,
    last_seen: float | None = None,
    snapshot: Mapping[str, Any] | None = None,
    live: Mapping[str, Any] | None = None,
    interval_seconds: int | None = None,
    display_name: str | None = None,
) -> str:
    server_id = server_id or str(uuid.uuid4())
    now = time.time()
    with engine.begin() as conn:
        conn.execute(
            insert(tables.servers).values(
                id=server_id,
                hostname=hostname,
                display_name=display_name,
                group_name=group_name,
                key_prefix="fwk_test",
                key_hash=hashlib.sha256(server_id.encode()).hexdigest(),
                created_at=now - 86400,
                last_seen=last_seen,
                last_snapshot_at=last_seen if snapshot is not None else None,
                interval_seconds=interval_seconds,
                tags=orjson.dumps(["t1"]).decode(),
                latest=pack(dict(snapshot)) if snapshot is not None else None,
                latest_live=pack(dict(live)) if live is not None else None,
            )
        )
    return server_id


def _rollup_rows(
    server_id: str, points: Sequence[tuple[float, Mapping[str, float]]], width: int
) -> list[dict[str, Any]]:
    buckets: dict[float, dict[str, Any]] = {}
    for ts, values in points:
        start = float(int(ts // width) * width)
        row = buckets.setdefault(start, {"server_id": server_id, "bucket": start})
        for name in tables.HOT_METRICS:
            v = values.get(name)
            if v is None:
                row.setdefault(f"{name}_n", 0)
                continue
            row[f"{name}_min"] = min(v, row.get(f"{name}_min", v))
            row[f"{name}_max"] = max(v, row.get(f"{name}_max", v))
            row[f"{name}_sum"] = row.get(f"{name}_sum", 0.0) + v
            row[f"{name}_n"] = row.get(f"{name}_n", 0) + 1
    full = []
    for row in buckets.values():
        for name in tables.HOT_METRICS:
            for suffix in ("_min", "_max", "_sum"):
                row.setdefault(name + suffix, None)
            row.setdefault(f"{name}_n", 0)
        full.append(row)
    return full


def insert_series(
    conn_or_engine: Engine | Connection,
    server_id: str,
    points: Sequence[tuple[float, Mapping[str, float]]],
    *,
    raw: bool = True,
) -> None:
    """Store `points` as raw snapshots (if `raw`) and as 1-minute and 1-hour rollups."""

    def run(conn: Connection) -> None:
        if raw:
            raw_rows = [
                {
                    "server_id": server_id,
                    "ts": ts,
                    "snapshot_id": None,
                    "detail": None,
                    **{n: values.get(n) for n in tables.HOT_METRICS},
                }
                for ts, values in points
            ]
            conn.execute(insert(tables.snapshots), raw_rows)
        conn.execute(insert(tables.rollup_1m), _rollup_rows(server_id, points, 60))
        conn.execute(insert(tables.rollup_1h), _rollup_rows(server_id, points, 3600))

    if isinstance(conn_or_engine, Connection):
        run(conn_or_engine)
    else:
        with conn_or_engine.begin() as conn:
            run(conn)


def insert_live(
    engine: Engine, server_id: str, samples: Sequence[tuple[float, dict[str, Any]]]
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(tables.live_samples),
            [
                {
                    "server_id": server_id,
                    "ts": ts,
                    "cpu_percent": s["cpu_percent"],
                    "memory_percent": s["memory_percent"],
                    "swap_percent": s.get("swap_percent", 0.0),
                    "process_count": s.get("process_count", 0),
                    "thread_count": s.get("thread_count", 0),
                    "handle_count": s.get("handle_count", 0),
                    "detail": pack(s),
                }
                for ts, s in samples
            ],
        )
