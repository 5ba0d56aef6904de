"""The WebSocket stream `/ws` (H10) against a real hub process, with real `websockets` clients:
seed 004's control messages and errors, subscribe filters, roles and credentials, alerts, and a
deliberately slow client dropped while ingest goes on."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets

from factories import make_interface, make_snapshot
from hubtest import RunningHub, admin_token, bearer, start_hub

pytestmark = pytest.mark.e2e
LIMITS = {
    "FLEETWATCH_RATE_LIMIT_PER_MINUTE": "0",
    "FLEETWATCH_STREAM_MAX_FRAME_BYTES": "2048",
    "FLEETWATCH_STREAM_QUEUE_MAX": "16",
    "FLEETWATCH_STREAM_SLOW_SECONDS": "1",
}
FLEETWATCH = [sys.executable, "-m", "fleetwatch.cli.main"]


class Fleet:
    def __init__(self, hub: RunningHub) -> None:
        self.hub = hub
        self.url = hub.base_url.replace("http://", "ws://") + "/ws"
        self.admin = admin_token(hub)
        self.servers: dict[str, tuple[str, dict[str, str]]] = {}
        for name, group in (("web-01", "web"), ("db-01", "db")):
            reg = httpx.post(f"{hub.base_url}/api/register",
                             json={"hostname": name, "group_name": group}).json()  # fmt: skip
            self.servers[name] = (reg["server_id"], bearer(reg["server_id"], reg["api_key"]))

    def send(self, name: str, count: int = 1, **metrics: Any) -> None:
        _, headers = self.servers[name]
        snaps = []
        for _ in range(count):
            body = make_snapshot(snapshot_id=uuid.uuid4().hex,
                                 collected_at=datetime.now(UTC).isoformat())  # fmt: skip
            body["metrics"].update(metrics)
            snaps.append(body)
        payload = snaps[0] if count == 1 else {"snapshots": snaps}
        r = httpx.post(f"{self.hub.base_url}/api/metrics", json=payload, headers=headers)
        assert r.status_code == 200, r.text

    def connect(self, token: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or self.admin}"}
        return websockets.connect(self.url, additional_headers=headers, **kwargs)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    hub = start_hub(tmp_path_factory.mktemp("stream"), None, **LIMITS)
    try:
        yield Fleet(hub)
    finally:
        hub.stop()


async def recv(ws: Any, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next message of type `kind` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] == kind:
                return message


async def ask(ws: Any, message: Any) -> dict[str, Any]:
    await ws.send(message if isinstance(message, str) else json.dumps(message))
    while True:
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if reply["type"] not in ("monitoring_data", "alert", "connection"):
            return reply


def test_seed_004_control_messages_and_typed_errors(fleet: Fleet) -> None:
    async def scenario() -> None:
        async with fleet.connect() as ws:
            assert json.loads(await ws.recv()) == {"type": "connection", "status": "connected"}
            pong = await ask(ws, {"type": "ping"})
            assert pong["type"] == "pong" and datetime.fromisoformat(pong["timestamp"])
            status = await ask(ws, {"type": "get_status"})
            assert status["type"] == "status" and status["connected_clients"] >= 1
            assert status["servers_known"] == 2 and status["uptime_seconds"] > 0
            assert status["server_version"] and status["server_start_time"]
            for frame, code in [
                ("not json", "invalid_format"),
                ("[1, 2]", "invalid_format"),
                ({"type": "reboot"}, "unknown_type"),
                ({"type": "subscribe", "families": ["cpu", "weather"]}, "invalid_subscription"),
                ({"type": "subscribe", "rate_seconds": -1}, "invalid_subscription"),
                (json.dumps({"type": "ping", "pad": "x" * 4096}), "frame_too_large"),
            ]:
                reply = await ask(ws, frame)
                assert reply["type"] == "error" and reply["code"] == code, (frame, reply)
                assert reply["message"]
            assert (await ask(ws, {"type": "ping"}))["type"] == "pong"  # still served

    asyncio.run(scenario())


def test_snapshots_arrive_in_seed_004_shape_and_filters_apply(fleet: Fleet) -> None:
    db_id = fleet.servers["db-01"][0]

    async def scenario() -> None:
        async with fleet.connect() as everything, fleet.connect() as only_db:
            reply = await ask(only_db, {"type": "subscribe", "servers": ["db"],
                                        "families": ["cpu"], "rate_seconds": 60})  # fmt: skip
            assert reply == {"type": "subscribed", "status": "subscribed", "servers": ["db"],
                             "families": ["cpu"], "rate_seconds": 60.0}  # fmt: skip
            await asyncio.to_thread(fleet.send, "web-01", memory_percent=41.5)
            full = await recv(everything, "monitoring_data")
            data = full["data"]
            assert data["memory"]["percentage"] == 41.5 and data["memory"]["total"] > 0
            assert {"usage_percent", "per_core_usage", "frequency_current"} <= set(
                data["processor"]
            )
            assert data["disk"]["path"] == "/" and data["system"]["hostname"] == "web-01"
            assert {"network", "processes", "services", "gpu", "disks"} <= set(data)
            await asyncio.to_thread(fleet.send, "db-01", count=3)
            got = await recv(only_db, "monitoring_data")
            assert got["server_id"] == db_id
            assert set(got["data"]) == {"system", "processor"}
            with pytest.raises(TimeoutError):  # web-01 filtered out, db-01 rate-limited to 1/min
                await recv(only_db, "monitoring_data", timeout=1.5)
            assert (await ask(only_db, {"type": "unsubscribe"}))["type"] == "unsubscribed"
            await asyncio.to_thread(fleet.send, "db-01")
            with pytest.raises(TimeoutError):
                await recv(only_db, "monitoring_data", timeout=1.5)

    asyncio.run(scenario())


def test_alerts_are_pushed_when_they_fire(fleet: Fleet) -> None:
    async def scenario() -> None:
        async with fleet.connect() as ws:
            await ask(ws, {"type": "subscribe", "families": ["alerts"]})
            await asyncio.to_thread(fleet.send, "db-01", memory_percent=97.5)
            message = await recv(ws, "alert", timeout=20)
            alert = message["alert"]
            assert message["event"] == "fired" and alert["level"] == "CRITICAL"
            assert alert["component"] == "memory" and alert["value"] == 97.5
            assert alert["threshold"] == 90.0 and alert["server_id"] == fleet.servers["db-01"][0]
            assert alert["message"] == "Critical memory usage: 97.5% (threshold: 90.0%)"
            await asyncio.to_thread(fleet.send, "db-01", memory_percent=20.0)
            resolved = await recv(ws, "alert", timeout=20)
            assert resolved["event"] == "resolved"

    asyncio.run(scenario())


def _viewer_token(hub: RunningHub) -> str:
    cli = [*FLEETWATCH, "user"]
    data = ["--data-dir", str(hub.data_dir)]
    subprocess.run(
        [*cli, "add", "vera", "--role", "viewer", "--password-stdin", *data],
        input="viewer-password-1\n",
        text=True,
        check=True,
        capture_output=True,
    )
    return subprocess.run([*cli, "token", "vera", *data], text=True, check=True,
                          capture_output=True).stdout.strip()  # fmt: skip


def test_credentials_roles_and_origin(fleet: Fleet) -> None:
    viewer = _viewer_token(fleet.hub)

    async def closed_with(connect: Any) -> tuple[int | None, dict[str, Any]]:
        async with connect as ws:
            error = json.loads(await ws.recv())
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            return closed.value.rcvd.code if closed.value.rcvd else None, error

    async def scenario() -> None:
        async with fleet.connect(viewer) as ws:  # the read role is enough
            await ws.recv()
            await asyncio.to_thread(fleet.send, "web-01")
            assert (await recv(ws, "monitoring_data"))["data"]["system"]["hostname"]
        code, error = await closed_with(websockets.connect(fleet.url))
        assert code == 4401 and error["code"] == "unauthenticated"
        code, _ = await closed_with(fleet.connect("fwu_not-a-token"))
        assert code == 4401
        login = httpx.post(f"{fleet.hub.base_url}/api/session/login",
                           json={"name": "vera", "password": "viewer-password-1"},
                           headers={"Origin": fleet.hub.base_url})  # fmt: skip
        cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
        own = {"Cookie": cookie, "Origin": fleet.hub.base_url}
        async with websockets.connect(fleet.url, additional_headers=own) as ws:
            assert json.loads(await ws.recv())["type"] == "connection"
        evil = {"Cookie": cookie, "Origin": "http://evil.example"}
        code, error = await closed_with(websockets.connect(fleet.url, additional_headers=evil))
        assert code == 4403 and error["code"] == "forbidden"

    asyncio.run(scenario())


def _raw_stream(fleet: Fleet) -> socket.socket:
    """A WebSocket handshake on a plain socket with a tiny receive buffer that is then never
    read: the slowest client there is (a library client keeps reading into memory)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = fleet.hub.base_url.removeprefix("http://").split(":")
    sock.connect((host, int(port)))
    key = base64.b64encode(uuid.uuid4().bytes).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {fleet.admin}\r\n"
                  "\r\n").encode())  # fmt: skip
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _read_to_end(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    chunks = []
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(1 << 20):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_slow_client_is_dropped_and_ingest_goes_on(fleet: Fleet) -> None:
    # ~75 KB per message (many interfaces): a few dozen fill any socket buffer
    interfaces = [make_interface(f"veth{i:04d}") for i in range(200)]

    async def scenario() -> None:
        received = 0

        async def read_all(ws: Any) -> None:
            nonlocal received
            async for raw in ws:
                received += json.loads(raw)["type"] == "monitoring_data"

        slow = _raw_stream(fleet)
        async with fleet.connect() as healthy:
            reader = asyncio.create_task(read_all(healthy))
            started = time.monotonic()
            for _ in range(30):
                await asyncio.to_thread(fleet.send, "web-01", count=10, interfaces=interfaces)
                await asyncio.sleep(0.1)
            assert time.monotonic() - started < 30  # ingest never waited for the slow client
            await asyncio.sleep(2.5)  # the slow client's queue has been full for > 1 s
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            assert received >= 290  # the healthy client got (nearly) everything meanwhile
            status = await ask(healthy, {"type": "get_status"})
            assert status["connected_clients"] == 1  # the slow one is gone, the healthy stays
        stream = await asyncio.to_thread(_read_to_end, slow, 10.0)
        slow.close()
        assert b'"code":"slow_consumer"' in stream
        assert b"\x03\xf0slow_consumer" in stream  # the close frame: 1008, slow_consumer

    asyncio.run(scenario())


def test_watch_cli_prints_json_lines_and_refuses_bad_tokens(fleet: Fleet) -> None:
    env = {"PATH": "/usr/bin:/bin", "FLEETWATCH_TOKEN": fleet.admin}
    cmd = [*FLEETWATCH, "watch", "--url", fleet.hub.base_url, "--server", "web",
           "--families", "memory", "--count", "2"]  # fmt: skip
    watcher = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while watcher.poll() is None and time.monotonic() < deadline:
            fleet.send("web-01", memory_percent=33.0)
            fleet.send("db-01")
            time.sleep(0.5)
        out, err = watcher.communicate(timeout=10)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2 and all(m["type"] == "monitoring_data" for m in lines)
    assert {m["server_id"] for m in lines} == {fleet.servers["web-01"][0]}
    assert set(lines[0]["data"]) == {"system", "memory"}
    bad = subprocess.run([*FLEETWATCH, "watch", "--url", fleet.hub.base_url, "--once"],
                         env={**env, "FLEETWATCH_TOKEN": "fwu_wrong"}, capture_output=True,
                         text=True, timeout=30)  # fmt: skip
    assert bad.returncode == 1 and "4401" in bad.stderr
