"""Contract: the ingest API (H1) exactly as seed 001 + issue 3, on SQLite and on PostgreSQL.

The real app (migrations, writer thread, rate limits) on a real database, through HTTP requests.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select

from factories import BASE_TS, at, make_snapshot
from fleetwatch.hub.store import codec, hours, tables
from fleetwatch.hub.store.engine import make_engine
from hubtest import SyncClient, bearer, ctx_of, postgres_schema, register, sync_hub_client

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def client(tmp_path: Path, database_url: str) -> Iterator[SyncClient]:
    with sync_hub_client(tmp_path, database_url, rate_limit_per_minute=0) as c:
        yield c


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    e = make_engine(database_url)
    yield e
    e.dispose()


def rows(engine: Engine, table: Any, **where: Any) -> list[Any]:
    query = select(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    with engine.connect() as conn:
        return list(conn.execute(query))


def snap(i: int, **overrides: Any) -> dict[str, Any]:
    return make_snapshot(snapshot_id=f"snap-{i}", collected_at=at(i), **overrides)


# --- registration ---------------------------------------------------------------------------


def test_register_returns_a_key_shown_once_and_stores_only_its_hash(
    client: SyncClient, engine: Engine
) -> None:
    body = {"hostname": "web-01", "ip_address": "10.0.0.5", "os_info": "Debian 12"}
    extra = {"display_name": "Web", "group_name": "prod", "tags": ["eu"], "agent_version": "9"}
    r = client.post("/api/register", json={**body, **extra, "unknown_field": 1})
    assert r.status_code == 201
    answer = r.json()
    assert set(answer) == {"server_id", "api_key", "message"}
    key = answer["api_key"]
    assert key.startswith("fwk_") and len(key) == 4 + 43  # 256 bits, url-safe base64
    (row,) = rows(engine, tables.servers, id=answer["server_id"])
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(tuple(row))
    assert (row.hostname, row.display_name, row.group_name) == ("web-01", "Web", "prod")
    assert orjson.loads(row.tags) == ["eu"] and row.agent_version == "9"


def test_register_keys_differ_and_validation_names_the_field(client: SyncClient) -> None:
    a = client.post("/api/register", json={"hostname": "a"}).json()["api_key"]
    b = client.post("/api/register", json={"hostname": "a"}).json()["api_key"]
    assert a != b
    r = client.post("/api/register", json={"ip_address": "10.0.0.1"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "hostname"


# --- snapshots --------------------------------------------------------------------------------


def test_snapshot_is_stored_with_hot_columns_latest_and_rollups(
    client: SyncClient, engine: Engine
) -> None:
    server_id, headers = register(client)
    payload = snap(1, metrics={"cpu_percent": 42.5})
    r = client.post("/api/metrics", json=payload, headers=headers)
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "stored": 1, "duplicates": 0}
    (row,) = rows(engine, tables.snapshots, server_id=server_id)
    assert row.cpu_percent == 42.5 and row.memory_percent == 37.5
    assert row.disk_percent_max == 70.0 and row.load_1 == 0.5 and row.process_count == 120
    assert row.net_recv_bytes_per_sec == 16_384.0 and row.disk_write_bytes_per_sec == 8192.0
    assert row.ts == BASE_TS + 1  # collected_at: one second past the hour
    detail = codec.unpack(row.detail)
    assert detail["processes"][0]["name"] == "postgres"
    assert detail["snapshot_id"] == "snap-1" and detail["metrics"]["cpu_percent"] == 42.5
    (server,) = rows(engine, tables.servers, id=server_id)
    assert codec.unpack(server.latest) == detail
    assert server.last_snapshot_at == row.ts and server.last_seen is not None
    (m1,) = rows(engine, tables.rollup_1m, server_id=server_id)
    assert m1.bucket == BASE_TS
    # a one-value bucket stores the sum only (readers use rollups.low/high)
    assert (m1.cpu_percent_min, m1.cpu_percent_max, m1.cpu_percent_sum, m1.cpu_percent_n) == (
        None,
        None,
        42.5,
        1,
    )
    # the hour is open: readers fold it from its minutes, nothing is stored for it yet
    assert rows(engine, tables.rollup_1h, server_id=server_id) == []
    assert hour_tier(engine, server_id) == [(BASE_TS, 1, 42.5)]
    # a snapshot of the next hour closes it: its row is written from its minutes
    later = make_snapshot(snapshot_id="next-hour", collected_at=at(3605))
    later["metrics"]["cpu_percent"] = 10.0
    assert client.post("/api/metrics", json=later, headers=headers).status_code == 200
    (h1,) = rows(engine, tables.rollup_1h, server_id=server_id)
    assert (h1.bucket, h1.cpu_percent_n, h1.cpu_percent_sum) == (BASE_TS, 1, 42.5)
    assert hour_tier(engine, server_id) == [(BASE_TS, 1, 42.5), (BASE_TS + 3600, 1, 10.0)]


def hour_tier(engine: Engine, server_id: str) -> list[tuple[float, int, float]]:
    """(hour, cpu n, cpu sum) of the 1-hour tier as readers see it."""
    t = hours.hour_tier(engine.dialect.name)
    query = select(t.c.bucket, t.c.cpu_percent_n, t.c.cpu_percent_sum).order_by(t.c.bucket)
    params = {"server_id": server_id, "start": 0.0, "until": 1e12}
    with engine.connect() as conn:
        return [(float(b), int(n), float(v)) for b, n, v in conn.execute(query, params)]


def test_rollups_fold_min_max_sum_n_and_skip_absent_values(
    client: SyncClient, engine: Engine
) -> None:
    server_id, headers = register(client)
    for i, cpu in enumerate((10.0, 30.0, 20.0)):
        payload = snap(i, metrics={"cpu_percent": cpu})
        del payload["metrics"]["swap"]
        assert client.post("/api/metrics", json=payload, headers=headers).status_code == 200
    (m1,) = rows(engine, tables.rollup_1m, server_id=server_id)
    assert (m1.cpu_percent_min, m1.cpu_percent_max, m1.cpu_percent_sum) == (10.0, 30.0, 60.0)
    assert m1.cpu_percent_n == 3
    assert m1.swap_percent_n == 0 and m1.swap_percent_min is None


def test_duplicates_are_ignored_counted_and_not_rolled_up_twice(
    client: SyncClient, engine: Engine
) -> None:
    server_id, headers = register(client)
    assert client.post("/api/metrics", json=snap(1), headers=headers).json()["stored"] == 1
    r = client.post("/api/metrics", json=snap(1), headers=headers)
    assert r.status_code == 200 and r.json() == {"status": "ok", "stored": 0, "duplicates": 1}
    batch = {"snapshots": [snap(1), snap(2), snap(2), snap(3)]}
    r = client.post("/api/metrics", json=batch, headers=headers)
    assert r.json() == {"status": "ok", "stored": 2, "duplicates": 2}
    assert len(rows(engine, tables.snapshots, server_id=server_id)) == 3
    (m1,) = rows(engine, tables.rollup_1m, server_id=server_id)
    assert m1.cpu_percent_n == 3


def test_same_snapshot_id_on_two_servers_is_two_snapshots(client: SyncClient) -> None:
    _, a = register(client, "a")
    _, b = register(client, "b")
    assert client.post("/api/metrics", json=snap(1), headers=a).json()["stored"] == 1
    assert client.post("/api/metrics", json=snap(1), headers=b).json()["stored"] == 1


def test_batch_with_one_invalid_snapshot_is_rejected_whole(
    client: SyncClient, engine: Engine
) -> None:
    server_id, headers = register(client)
    bad = snap(2, metrics={"memory_percent": 140.0})
    r = client.post("/api/metrics", json={"snapshots": [snap(1), bad, snap(3)]}, headers=headers)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["field"] == "snapshots[1].metrics.memory_percent"
    assert "snapshot 1" in error["message"]
    assert rows(engine, tables.snapshots, server_id=server_id) == []


def test_older_replayed_snapshot_does_not_replace_latest(
    client: SyncClient, engine: Engine
) -> None:
    server_id, headers = register(client)
    client.post("/api/metrics", json=snap(5, metrics={"cpu_percent": 55.0}), headers=headers)
    client.post("/api/metrics", json=snap(1, metrics={"cpu_percent": 11.0}), headers=headers)
    (server,) = rows(engine, tables.servers, id=server_id)
    assert codec.unpack(server.latest)["metrics"]["cpu_percent"] == 55.0


def test_strings_are_stored_exactly_as_given(client: SyncClient, engine: Engine) -> None:
    hostile = "<script>alert('x')</script> ünïcødé \\ \"q\""
    server_id, headers = register(client, hostname=hostile)
    payload = snap(1, processes=[{"pid": 1, "name": hostile}])
    assert client.post("/api/metrics", json=payload, headers=headers).status_code == 200
    (server,) = rows(engine, tables.servers, id=server_id)
    assert server.hostname == hostile
    assert codec.unpack(server.latest)["processes"][0]["name"] == hostile


def test_seed_001_example_payload_is_accepted(client: SyncClient) -> None:
    _, headers = register(client)
    seed = {
        "metrics": {
            "cpu_percent": 45.2,
            "memory_total": 17179869184,
            "memory_used": 8589934592,
            "memory_free": 8589934592,
            "memory_percent": 50.0,
            "disks": [
                {
                    "device": "C:\\",
                    "mountpoint": "C:\\",
                    "total": 500000000000,
                    "used": 250000000000,
                    "free": 250000000000,
                    "percent": 50.0,
                }
            ],
            "network": {"bytes_sent": 1, "bytes_recv": 2, "packets_sent": 3, "packets_recv": 4},
            "uptime_seconds": 86400,
            "boot_time": "2025-01-01T00:00:00",
        },
        "processes": [{"pid": 1234, "name": "node.exe", "cpu_percent": 12.5}],
        "services": [{"service_name": "W3SVC", "status": "running", "start_type": "automatic"}],
    }
    r = client.post("/api/metrics", json=seed, headers=headers)
    assert r.status_code == 200 and r.json()["stored"] == 1


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (b"{not json", 400, "malformed_json", None),
        (b"[1, 2]", 422, "invalid", None),
        (b'{"metrics": {"cpu_percent": NaN}}', 422, "invalid", "metrics.cpu_percent"),
        (orjson.dumps(make_snapshot(metrics={"cpu_percent": "high"})), 422, "invalid", None),
        (orjson.dumps(make_snapshot(metrics={"memory_total": -1})), 422, "invalid", None),
        (orjson.dumps(make_snapshot(collected_at="yesterday")), 422, "invalid", "collected_at"),
    ],
)
def test_bad_bodies_get_a_clear_4xx_and_store_nothing(
    client: SyncClient, engine: Engine, body: bytes, status: int, code: str, field: str | None
) -> None:
    server_id, headers = register(client)
    r = client.post("/api/metrics", content=body, headers=headers)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"]
    if field is not None:
        assert error["field"] == field
    assert rows(engine, tables.snapshots, server_id=server_id) == []


def test_wrong_types_name_the_field(client: SyncClient) -> None:
    _, headers = register(client)
    r = client.post("/api/metrics", json=make_snapshot(metrics={"disks": [{}]}), headers=headers)
    assert r.status_code == 422
    assert r.json()["error"]["field"].startswith("metrics.disks[0].")


def test_gzip_bodies_are_accepted_and_bombs_refused(tmp_path: Path, database_url: str) -> None:
    with sync_hub_client(tmp_path, database_url, max_body_bytes=64 * 1024) as client:
        _, headers = register(client)
        gz = {**headers, "Content-Encoding": "gzip"}
        body = gzip.compress(orjson.dumps(snap(1)))
        assert client.post("/api/metrics", content=body, headers=gz).json()["stored"] == 1
        bomb = gzip.compress(b" " * (50 * 1024 * 1024))  # 50 MB of spaces, ~50 KB gzipped
        assert len(bomb) < 64 * 1024
        r = client.post("/api/metrics", content=bomb, headers=gz)
        assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
        r = client.post("/api/metrics", content=b"not gzip", headers=gz)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_gzip"
        r = client.post(
            "/api/metrics", content=b"{}", headers={**headers, "Content-Encoding": "br"}
        )
        assert r.status_code == 415
        big = b'{"metrics": {"cpu_percent": 1' + b" " * (65 * 1024) + b"}}"
        r = client.post("/api/metrics", content=big, headers=headers)
        assert r.status_code == 413


# --- authentication ---------------------------------------------------------------------------


def test_credentials_are_required_and_a_key_writes_only_its_own_server(
    client: SyncClient, engine: Engine
) -> None:
    a_id, a_headers = register(client, "a")
    b_id, _ = register(client, "b")
    a_key = a_headers["Authorization"].split(":", 1)[1]
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": f"Bearer {a_id}"},
        bearer(a_id, "fwk_wrong"),
        bearer("no-such-server", a_key),
        bearer(b_id, a_key),  # a's key cannot write as b
    ):
        r = client.post("/api/metrics", json=snap(1), headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"]["code"] == "unauthorized"
        assert client.post("/api/ping", headers=headers).status_code == 401
        assert client.post("/api/metrics/live", json={}, headers=headers).status_code == 401
    assert rows(engine, tables.snapshots) == []


def test_a_deleted_server_is_refused_even_with_its_key_cached(
    client: SyncClient, engine: Engine
) -> None:
    server_id, headers = register(client)
    assert client.post("/api/ping", headers=headers).status_code == 200  # key now cached
    with engine.begin() as conn:
        conn.execute(tables.servers.delete().where(tables.servers.c.id == server_id))
    r = client.post("/api/metrics", json=snap(1), headers=headers)
    assert r.status_code == 401
    assert rows(engine, tables.snapshots) == []


# --- live samples, ping, health -------------------------------------------------------------


def test_live_sample_and_ping_update_the_server(client: SyncClient, engine: Engine) -> None:
    server_id, headers = register(client)
    seed_live: dict[str, Any] = {
        "cpu_percent": 45.2,
        "cpu_per_core": [32.1, 55.0, 40.3, 52.8],
        "cpu_freq_mhz": 3200,
        "memory_percent": 62.5,
        "memory_used": 10737418240,
        "memory_available": 6442450944,
        "swap_percent": 12.3,
        "swap_used": 1073741824,
        "network_rate": {"bytes_sent_per_sec": 125000, "bytes_recv_per_sec": 250000},
        "disk_io_rate": {"read_bytes_per_sec": 5000000, "write_bytes_per_sec": 3000000},
        "process_count": 245,
        "thread_count": 1850,
        "handle_count": 45000,
    }
    r = client.post("/api/metrics/live", json=seed_live, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    (row,) = rows(engine, tables.live_samples, server_id=server_id)
    assert (row.cpu_percent, row.handle_count) == (45.2, 45000)
    assert codec.unpack(row.detail)["cpu_per_core"] == [32.1, 55.0, 40.3, 52.8]
    (server,) = rows(engine, tables.servers, id=server_id)
    assert codec.unpack(server.latest_live)["memory_used"] == 10737418240
    seen = server.last_seen
    r = client.post("/api/metrics/live", json={"cpu_percent": 101}, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "cpu_percent"
    assert client.post("/api/ping", headers=headers).status_code == 200
    (server,) = rows(engine, tables.servers, id=server_id)
    assert server.last_seen >= seen


def test_health_answers_without_auth(client: SyncClient, database_url: str) -> None:
    r = client.get("/api/ping")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["version"]
    assert body["database"] == ("sqlite" if database_url.startswith("sqlite") else "postgresql")
    assert body["uptime_seconds"] >= 0


def test_openapi_documents_the_ingest_paths_and_bodies(client: SyncClient) -> None:
    doc = client.get("/openapi.json").json()
    for path in ("/api/register", "/api/metrics", "/api/metrics/live", "/api/ping"):
        assert path in doc["paths"]
    assert {"Snapshot", "SnapshotBatch", "LiveSample", "Registration"} <= set(
        doc["components"]["schemas"]
    )


# --- rate limits ------------------------------------------------------------------------------


def test_rate_limits_per_ip_for_register_and_failures_per_key_for_ingest(
    tmp_path: Path, database_url: str
) -> None:
    with sync_hub_client(tmp_path, database_url, rate_limit_per_minute=3) as client:
        ids = [register(client, f"h{i}") for i in range(3)]
        r = client.post("/api/register", json={"hostname": "h4"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(r.headers["Retry-After"]) <= 20
        # many agents behind one address do not throttle each other: budget is per server key
        for _server_id, headers in ids:
            for i in range(3):
                assert client.post("/api/metrics", json=snap(i), headers=headers).status_code == 200
        r = client.post("/api/metrics", json=snap(9), headers=ids[0][1])
        assert r.status_code == 429 and "Retry-After" in r.headers
        # the IP budget (spent by registrations) now refuses failing requests at once
        r = client.post("/api/metrics", json=snap(1), headers=bearer(ids[0][0], "fwk_bad"))
        assert r.status_code == 429


def test_rate_limit_zero_disables_limiting(client: SyncClient) -> None:
    for i in range(130):
        assert client.post("/api/register", json={"hostname": f"h{i}"}).status_code == 201


def test_key_cache_is_dropped_through_the_delete_hooks(client: SyncClient) -> None:
    from fleetwatch.hub.services import keys
    from fleetwatch.hub.services.servers import forget_server

    server_id, headers = register(client)
    client.post("/api/ping", headers=headers)
    ctx = ctx_of(client)
    assert keys.cached_server(ctx, headers["Authorization"]) == server_id
    forget_server(ctx, server_id)
    assert keys.cached_server(ctx, headers["Authorization"]) is None
