"""The lean HTTP protocol (`hub/api/fasthttp.py`): agents' writes answered without ASGI.

A real uvicorn server on a loopback port, with the hub's app and `AgentProtocol`, spoken to
over raw sockets: what it answers must be what the routes answer (status, body, headers),
with keep-alive, pipelining, `Connection: close` and HTTP/1.0 handled as uvicorn does; writes it
is not sure about (chunked bodies, `Expect`) go through uvicorn and the app as before. The
calls the protocol answers itself are counted, so a test fails if it quietly stopped using it.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import orjson
import pytest
import uvicorn

from factories import make_snapshot
from fleetwatch.hub.api import fasthttp, ingest
from fleetwatch.hub.app import create_app
from hubtest import free_port, hub_settings

pytestmark = pytest.mark.e2e

MAX_BODY = 64 * 1024


class Hub:
    def __init__(self, tmp_path: Path) -> None:
        self.app = create_app(
            hub_settings(tmp_path, rate_limit_per_minute=0, max_body_bytes=MAX_BODY)
        )
        self.port = free_port()
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            http=fasthttp.AgentProtocol,
            log_level="warning",
            access_log=False,  # with access logging, every request goes through uvicorn
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def connect(self) -> tuple[socket.socket, BinaryIO]:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return sock, sock.makefile("rb")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    hub = Hub(tmp_path_factory.mktemp("agent-protocol"))
    hub.thread.start()
    deadline = time.monotonic() + 30
    while not hub.server.started:
        assert time.monotonic() < deadline and hub.thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield hub
    hub.server.should_exit = True
    hub.thread.join(timeout=30)


@pytest.fixture
def answered_here(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per write the protocol answered itself."""
    calls: list[bool] = []
    real = ingest.answer_write

    async def counting(*args: Any) -> Any:
        calls.append(True)
        return await real(*args)

    monkeypatch.setattr(ingest, "answer_write", counting)
    return calls


@pytest.fixture(scope="module")
def agent(hub: Hub) -> dict[str, str]:
    """Headers of a registered server (registered through the real socket)."""
    r = httpx.post(f"http://127.0.0.1:{hub.port}/api/register", json={"hostname": "lean-01"})
    assert r.status_code == 201, r.text
    body = r.json()
    return {"Authorization": f"Bearer {body['server_id']}:{body['api_key']}"}


def request(
    path: str, body: bytes, headers: dict[str, str], version: str = "1.1", method: str = "POST"
) -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: hub"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if "Transfer-Encoding" not in headers:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def response(f: BinaryIO) -> tuple[int, dict[str, str], Any]:
    status_line = f.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers: dict[str, str] = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = f.read(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, orjson.loads(body)


def snapshot(snapshot_id: str) -> bytes:
    return orjson.dumps(make_snapshot(snapshot_id=snapshot_id))


def test_keep_alive_writes_are_answered_by_the_protocol_and_committed(
    hub: Hub, agent: dict[str, str], answered_here: list[bool]
) -> None:
    sock, f = hub.connect()
    with sock, f:
        for i in range(3):
            sock.sendall(request("/api/metrics", snapshot(f"keep-{i}"), agent))
            status, headers, body = response(f)
            assert (status, body) == (200, {"status": "ok", "stored": 1, "duplicates": 0})
            assert headers["content-type"] == "application/json"
            assert "date" in headers and "connection" not in headers
        sock.sendall(request("/api/metrics", snapshot("keep-1"), agent))  # a replay
        assert response(f)[2] == {"status": "ok", "stored": 0, "duplicates": 1}
        live = orjson.dumps(
            {
                "collected_at": "2024-05-02T12:00:01+00:00",
                "cpu_percent": 3.5,
                "memory_percent": 41.0,
            }
        )
        sock.sendall(request("/api/metrics/live", live, agent))
        assert response(f)[:1] == (200,)
    assert len(answered_here) == 5


def test_pipelined_requests_are_answered_in_order(
    hub: Hub, agent: dict[str, str], answered_here: list[bool]
) -> None:
    sock, f = hub.connect()
    with sock, f:
        sock.sendall(
            request("/api/metrics", snapshot("pipe-1"), agent)
            + request("/api/ping", b"", {}, method="GET")
            + request("/api/metrics", snapshot("pipe-1"), agent)
            + request("/api/metrics", snapshot("pipe-2"), agent)
        )
        assert response(f)[2] == {"status": "ok", "stored": 1, "duplicates": 0}
        assert response(f)[2]["status"] == "ok"  # the health check, by uvicorn and the app
        assert response(f)[2] == {"status": "ok", "stored": 0, "duplicates": 1}
        assert response(f)[2] == {"status": "ok", "stored": 1, "duplicates": 0}
    assert answered_here  # at least the first; those behind the ping wait in uvicorn's queue


def chunked(body: bytes) -> bytes:
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n" if body else b"0\r\n\r\n"


def exchange(hub: Hub, raw: bytes) -> tuple[int, dict[str, str], Any]:
    sock, f = hub.connect()
    with sock, f:
        sock.sendall(raw)
        return response(f)


def test_errors_are_the_routes_errors(
    hub: Hub, agent: dict[str, str], answered_here: list[bool]
) -> None:
    """Each write, answered by the protocol and (sent chunked) by uvicorn and the app's
    routes: the same answer."""
    wrong_key = {"Authorization": agent["Authorization"][:-4] + "AAAA"}
    cases = [
        (snapshot("e-1"), wrong_key),
        (snapshot("e-2"), {}),
        (b'{"metrics": ', agent),
        (orjson.dumps(make_snapshot(snapshot_id="e-3", collected_at="yesterday")), agent),
        (b"x" * 10, {**agent, "Content-Encoding": "br"}),
        (b"not gzip at all", {**agent, "Content-Encoding": "gzip"}),
        (gzip.compress(snapshot("e-4")), {**agent, "Content-Encoding": "gzip"}),
    ]
    for body, headers in cases:
        status, got_headers, got = exchange(hub, request("/api/metrics", body, headers))
        assert len(answered_here) == 1
        answered_here.clear()
        routed = request("/api/metrics", chunked(body), {**headers, "Transfer-Encoding": "chunked"})
        want_status, want_headers, want = exchange(hub, routed)
        assert not answered_here
        if want == {"status": "ok", "stored": 0, "duplicates": 1}:  # the good write, again
            want = {"status": "ok", "stored": 1, "duplicates": 0}
        assert (status, got) == (want_status, want), body[:40]
        assert got_headers.get("www-authenticate") == want_headers.get("www-authenticate")
        assert got_headers["content-length"] == str(len(orjson.dumps(got)))


def test_connection_close_and_http_1_0_close_after_the_answer(
    hub: Hub, agent: dict[str, str], answered_here: list[bool]
) -> None:
    for version, extra in (("1.1", {"Connection": "close"}), ("1.0", {})):
        sock, f = hub.connect()
        with sock, f:
            sock.sendall(
                request("/api/metrics", snapshot(f"close-{version}"), {**agent, **extra}, version)
            )
            status, headers, body = response(f)
            assert (status, body["stored"]) == (200, 1)
            assert headers["connection"] == "close"
            assert f.read() == b""  # the hub closed the connection
    assert len(answered_here) == 2


def test_writes_the_protocol_leaves_to_uvicorn_still_work(
    hub: Hub, agent: dict[str, str], answered_here: list[bool]
) -> None:
    sock, f = hub.connect()
    with sock, f:
        body = chunked(snapshot("chunked-1"))
        sock.sendall(request("/api/metrics", body, {**agent, "Transfer-Encoding": "chunked"}))
        assert response(f)[:3:2] == (200, {"status": "ok", "stored": 1, "duplicates": 0})
        sock.sendall(
            request("/api/metrics", snapshot("x-1"), {**agent, "X-Forwarded-For": "10.1.1.1"})
        )
        assert response(f)[2]["stored"] == 1
        sock.sendall(request("/api/metrics", b"x" * (MAX_BODY + 1), agent))
        status, _, body = response(f)
        assert (status, body["error"]["code"]) == (413, "too_large")
    assert answered_here == []
