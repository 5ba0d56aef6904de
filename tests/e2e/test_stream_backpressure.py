"""The stream under back-pressure, against real hub processes: a client that reads slowly gets
the newest snapshot of every server instead of falling behind, and stays connected; and the
stream works the same when the app runs on plain uvicorn (no `StreamProtocol`: ASGI sends)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets
from test_stream import Fleet, _raw_stream, ask, recv

from factories import make_interface
from hubtest import RunningHub, free_port, start_hub

pytestmark = pytest.mark.e2e
FLEETWATCH = [sys.executable, "-m", "fleetwatch.cli.main"]
ENV = {"FLEETWATCH_RATE_LIMIT_PER_MINUTE": "0", "FLEETWATCH_STREAM_SLOW_SECONDS": "20"}


def _frames(data: bytes) -> list[dict[str, Any]]:
    """The text messages in a byte stream of unmasked, unfragmented server frames."""
    out, i = [], 0
    while i + 2 <= len(data):
        opcode, size, i = data[i] & 0x0F, data[i + 1] & 0x7F, i + 2
        if size >= 126:
            width = 2 if size == 126 else 8
            size, i = int.from_bytes(data[i : i + width]), i + width
        if opcode == 1 and i + size <= len(data):
            out.append(json.loads(data[i : i + size]))
        i += size
    return out


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    hub = start_hub(tmp_path_factory.mktemp("backpressure"), None, **ENV)
    try:
        yield Fleet(hub)
    finally:
        hub.stop()


def test_a_client_behind_gets_the_newest_snapshot_of_each_server(fleet: Fleet) -> None:
    interfaces = [make_interface(f"veth{i:04d}") for i in range(200)]  # ~75 KB a message
    slow = _raw_stream(fleet)  # a 4 KiB receive buffer, not read while the hub sends
    for n in range(1, 13):  # cpu_percent numbers the snapshots: 12 is the newest
        fleet.send("web-01", interfaces=interfaces, cpu_percent=float(n))
    fleet.send("db-01", interfaces=interfaces)
    time.sleep(1.0)  # everything committed and offered while the client read nothing
    data = _read_for(slow, 2.0)
    slow.sendall(_masked(b'{"type":"ping"}'))
    data += _read_for(slow, 2.0)
    slow.close()
    frames = _frames(data)
    kinds = [f["type"] for f in frames]
    assert "error" not in kinds and kinds[-1] == "pong", kinds  # still connected, never dropped
    web_id, db_id = fleet.servers["web-01"][0], fleet.servers["db-01"][0]
    web = [f["data"]["processor"]["usage_percent"] for f in frames
           if f["type"] == "monitoring_data" and f["server_id"] == web_id]  # fmt: skip
    assert 1 <= len(web) < 12, web  # older ones were replaced while it was behind
    assert web == sorted(web) and web[-1] == 12.0  # in order, and the newest one arrived
    assert any(f.get("server_id") == db_id for f in frames)  # every server still reported


def _read_for(sock: socket.socket, quiet: float) -> bytes:
    """Read until nothing arrived for `quiet` seconds."""
    sock.settimeout(quiet)
    chunks = []
    try:
        while chunk := sock.recv(1 << 20):
            chunks.append(chunk)
    except TimeoutError:
        pass
    return b"".join(chunks)


def _masked(payload: bytes) -> bytes:
    """A client text frame (clients must mask; a zero mask keeps the payload as is)."""
    return bytes((0x81, 0x80 | len(payload))) + b"\0\0\0\0" + payload


@pytest.fixture(scope="module")
def plain_uvicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """The hub's app on plain uvicorn: its own WebSocket protocol, not `StreamProtocol`."""
    data = tmp_path_factory.mktemp("plain")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_")}
    env.update(ENV, FLEETWATCH_DATA_DIR=str(data))
    subprocess.run([*FLEETWATCH, "hub", "migrate", "--data-dir", str(data)], env=env, check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    port = free_port()
    log = data / "uvicorn.log"
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "fleetwatch.hub.app:app_from_environ",
           "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    hub = RunningHub(proc, f"http://127.0.0.1:{port}", data, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{hub.base_url}/api/ping", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield hub
    finally:
        hub.stop()


def test_the_stream_without_the_hubs_own_protocol(plain_uvicorn: RunningHub) -> None:
    fleet = Fleet(plain_uvicorn)

    async def scenario() -> None:
        headers = {"Authorization": f"Bearer {fleet.admin}"}
        async with websockets.connect(fleet.url, additional_headers=headers) as ws:
            assert json.loads(await ws.recv()) == {"type": "connection", "status": "connected"}
            assert (await ask(ws, {"type": "ping"}))["type"] == "pong"
            await asyncio.to_thread(fleet.send, "db-01", count=3)
            got = [await recv(ws, "monitoring_data") for _ in range(3)]
            assert {m["server_id"] for m in got} == {fleet.servers["db-01"][0]}
            reply = await ask(ws, {"type": "subscribe", "servers": ["web"]})
            assert reply["type"] == "subscribed"
            await asyncio.to_thread(fleet.send, "db-01")
            await asyncio.to_thread(fleet.send, "web-01")
            message = await recv(ws, "monitoring_data")
            assert message["server_id"] == fleet.servers["web-01"][0]

    asyncio.run(scenario())


def test_live_samples_reach_clients_that_ask_for_them(fleet: Fleet) -> None:
    web_id, web_auth = fleet.servers["web-01"]

    def post_live(cpu: float) -> None:
        sample = {"collected_at": datetime.now(UTC).isoformat(), "cpu_percent": cpu,
                  "memory_percent": 41.0}  # fmt: skip
        r = httpx.post(f"{fleet.hub.base_url}/api/metrics/live", json=sample, headers=web_auth)
        assert r.status_code == 200, r.text

    async def scenario() -> None:
        async with fleet.connect() as live, fleet.connect() as default:
            await recv(live, "connection")
            await recv(default, "connection")
            reply = await ask(live, {"type": "subscribe", "families": ["live", "cpu"]})
            assert reply["families"] == ["cpu", "live"]
            await asyncio.to_thread(post_live, 87.5)
            message = await recv(live, "live_data")
            assert message["server_id"] == web_id and message["data"]["cpu_percent"] == 87.5
            assert datetime.fromisoformat(message["timestamp"])
            await asyncio.to_thread(fleet.send, "web-01")  # the default client's next message
            first = json.loads(await asyncio.wait_for(default.recv(), 10))
            assert first["type"] == "monitoring_data"  # no live_data unless asked for
            bad = await ask(live, {"type": "subscribe", "families": ["lives"]})
            assert bad["code"] == "invalid_subscription" and "live" in bad["message"]

    asyncio.run(scenario())
