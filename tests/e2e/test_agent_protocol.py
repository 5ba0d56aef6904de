"""The lean HTTP protocol (`hub/ingest/fasthttp.py`): agents' writes answered without ASGI.

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
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import orjson
import pytest
import uvicorn

from factories import make_snapshot
from fleetwatch.hub.app import create_app
from fleetwatch.hub.ingest import fasthttp
from fleetwatch.hub.ingest import routes as ingest
from hubtest import free_port, hub_settings

pytestmark = pytest.mark.e2e

MAX_BODY = 256 * 1024  # the protocol answers bodies up to 64 KiB, uvicorn the larger ones


class Hub:
    def __init__(self, tmp_path: Path, per_minute: int = 0) -> None:
        self.app = create_app(
            hub_settings(tmp_path, rate_limit_per_minute=per_minute, max_body_bytes=MAX_BODY)
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


@contextmanager
def serving(hub: Hub) -> Iterator[Hub]:
    hub.thread.start()
    deadline = time.monotonic() + 30
    while not hub.server.started:
        assert time.monotonic() < deadline and hub.thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield hub
    finally:
        hub.server.should_exit = True
        hub.thread.join(timeout=30)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with serving(Hub(tmp_path_factory.mktemp("agent-protocol"))) as hub:
        yield hub


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


def registered(hub: Hub) -> dict[str, str]:
    """Headers of a newly registered server (registered through the real socket)."""
    r = httpx.post(f"http://127.0.0.1:{hub.port}/api/register", json={"hostname": "lean-01"})
    assert r.status_code == 201, r.text
    body = r.json()
    return {"Authorization": f"Bearer {body['server_id']}:{body['api_key']}"}


@pytest.fixture(scope="module")
def agent(hub: Hub) -> dict[str, str]:
    return registered(hub)


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
                "collected_at": datetime.now(UTC).isoformat(),  # live: within live retention
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


def test_pipelined_writes_are_answered_in_order(
    hub: Hub, agent: dict[str, str], answered_here: list[bool]
) -> None:
    sock, f = hub.connect()
    with sock, f:
        one = request("/api/metrics", snapshot("pair-1"), agent)
        sock.sendall(one + one)  # the second, a replay, waits in uvicorn's pipeline
        assert response(f)[2] == {"status": "ok", "stored": 1, "duplicates": 0}
        assert response(f)[2] == {"status": "ok", "stored": 0, "duplicates": 1}
    assert len(answered_here) == 1


def test_a_body_arriving_in_pieces_is_answered_whole(
    hub: Hub, agent: dict[str, str], answered_here: list[bool]
) -> None:
    raw = request("/api/metrics", snapshot("pieces-1"), agent)
    sock, f = hub.connect()
    with sock, f:
        for start in range(0, len(raw), 1500):
            sock.sendall(raw[start : start + 1500])
            time.sleep(0.01)
        assert response(f)[2] == {"status": "ok", "stored": 1, "duplicates": 0}
    assert len(answered_here) == 1


def test_a_body_over_64_kib_goes_to_uvicorn(
    hub: Hub, agent: dict[str, str], answered_here: list[bool]
) -> None:
    """The protocol reads a body whole before authenticating: it takes none larger than
    uvicorn would buffer (a key-less client cannot make it hold more)."""
    batch = {"snapshots": [make_snapshot(snapshot_id=f"big-{i}") for i in range(40)]}
    body = orjson.dumps(batch)
    assert 64 * 1024 < len(body) < MAX_BODY
    status, _, answer = exchange(hub, request("/api/metrics", body, agent))
    assert (status, answer) == (200, {"status": "ok", "stored": 40, "duplicates": 0})
    status, _, answer = exchange(hub, request("/api/metrics", body, {}))
    assert (status, answer["error"]["code"]) == (401, "unauthorized")
    assert answered_here == []


def test_a_client_gone_mid_body_stores_nothing(
    hub: Hub, agent: dict[str, str], answered_here: list[bool]
) -> None:
    raw = request("/api/metrics", snapshot("gone-1"), agent)
    sock, f = hub.connect()
    with sock, f:
        sock.sendall(raw[: len(raw) - 100])
        time.sleep(0.05)
    time.sleep(0.1)
    status, _, answer = exchange(hub, raw)  # the same write again: stored now, the first time
    assert (status, answer) == (200, {"status": "ok", "stored": 1, "duplicates": 0})
    assert len(answered_here) == 1


def test_rate_limits_answer_as_the_routes(tmp_path: Path, answered_here: list[bool]) -> None:
    with serving(Hub(tmp_path, per_minute=2)) as hub:
        agent = registered(hub)
        answers = []
        for i in range(2):  # the server's budget: 2 writes
            answers.append(exchange(hub, request("/api/metrics", snapshot(f"rl-{i}"), agent)))
        body = snapshot("rl-9")
        here = exchange(hub, request("/api/metrics", body, agent))
        routed_request = request(
            "/api/metrics", chunked(body), {**agent, "Transfer-Encoding": "chunked"}
        )
        routed = exchange(hub, routed_request)
    assert [a[0] for a in answers] == [200, 200]
    assert (here[0], here[2]["error"]["code"]) == (429, "rate_limited")
    assert (routed[0], routed[2]) == (here[0], here[2])
    retry = int(here[1]["retry-after"])  # whole seconds, asked a few ms apart
    assert retry >= 1 and abs(int(routed[1]["retry-after"]) - retry) <= 1
    assert len(answered_here) == 3
