"""The status server in-process on a free loopback port, fed by a scripted snapshot source."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from factories import make_interface, make_snapshot
from fleetwatch.agent.status.server import StatusServer, is_loopback, parse_listen
from fleetwatch.errors import ConfigError, FleetwatchError


@dataclass
class Stats:
    cycles: int = 0
    last_duration_ms: float = 1.0
    total_duration_ms: float = 0.0
    warnings_total: int = 0


@dataclass
class ScriptedSource:
    """Hands out snapshots whose eth0 `errin` counts the cycles; can be told to fail."""

    stats: Stats = field(default_factory=Stats)
    fail: bool = False
    collected: threading.Event = field(default_factory=threading.Event)

    def collect(self) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("sensor exploded")
        self.stats.cycles += 1
        self.stats.total_duration_ms += 1.0
        self.collected.set()
        eth0 = make_interface("eth0", errin=self.stats.cycles)
        return make_snapshot(metrics={"interfaces": [eth0]})


@pytest.fixture
def served() -> Iterator[tuple[StatusServer, ScriptedSource]]:
    source = ScriptedSource()
    server = StatusServer(source, "127.0.0.1", 0, interval_seconds=0.1)
    server.start()
    try:
        yield server, source
    finally:
        server.stop()


def get(server: StatusServer, path: str, method: str = "GET") -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        conn.close()


def test_status_tree_subtree_and_scalar(served: tuple[StatusServer, ScriptedSource]) -> None:
    server, _ = served
    status, ctype, body = get(server, "/status")
    assert (status, ctype) == (200, "application/json")
    assert json.loads(body)["host"]["hostname"] == "web-01"
    status, _, body = get(server, "/status/network/eth0")
    assert status == 200
    assert json.loads(body)["dropin"] == 7
    status, _, body = get(server, "/status/disk/_/percent")
    assert (status, json.loads(body)) == (200, 40.0)
    status, _, body = get(server, "/status/services/ssh/status?pretty=1")
    assert (status, json.loads(body)) == (200, "running")
    status, _, body = get(server, "/status/sensors/temperature/coretemp/Core%200/current_celsius")
    assert (status, json.loads(body)) == (200, 45.0)


def test_values_follow_new_collections(served: tuple[StatusServer, ScriptedSource]) -> None:
    server, source = served
    first = json.loads(get(server, "/status/network/eth0/errin")[2])
    source.collected.clear()
    assert source.collected.wait(5)
    assert source.collected.wait(5)
    later = json.loads(get(server, "/status/network/eth0/errin")[2])
    assert later > first
    assert json.loads(get(server, "/status/collection/cycles")[2]) >= later


def test_unknown_paths_are_404_json_naming_the_path(
    served: tuple[StatusServer, ScriptedSource],
) -> None:
    server, _ = served
    status, ctype, body = get(server, "/status/network/eth9/errin")
    assert (status, ctype) == (404, "application/json")
    error = json.loads(body)["error"]
    assert error["code"] == "not_found"
    assert "'network/eth9/errin'" in error["message"]
    assert "eth0" in error["message"]
    status, _, body = get(server, "/nothing-here")
    assert status == 404
    assert "/nothing-here" in json.loads(body)["error"]["message"]
    assert get(server, "/metrics/extra")[0] == 404


def test_metrics_are_prometheus_text(served: tuple[StatusServer, ScriptedSource]) -> None:
    server, _ = served
    status, ctype, body = get(server, "/metrics")
    assert status == 200
    assert ctype.startswith("text/plain; version=0.0.4")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {"fleetwatch_cpu_usage_ratio", "fleetwatch_network_receive_errors"} <= names
    assert "fleetwatch_collection_cycles" in names  # counter family, `_total` sample


def test_index_head_and_wrong_methods(served: tuple[StatusServer, ScriptedSource]) -> None:
    server, _ = served
    status, ctype, body = get(server, "/")
    assert status == 200
    assert ctype.startswith("text/html")
    assert b'href="/metrics"' in body
    status, _, body = get(server, "/status", method="HEAD")
    assert (status, body) == (200, b"")
    status, _, body = get(server, "/status", method="POST")
    assert status == 405
    assert json.loads(body)["error"]["code"] == "method_not_allowed"


def test_failing_collection_keeps_the_last_snapshot() -> None:
    source = ScriptedSource()
    server = StatusServer(source, "127.0.0.1", 0, interval_seconds=0.05)
    server.start()
    try:
        source.fail = True
        server.loop.collect_once()  # logged, not raised
        assert get(server, "/status/host/hostname")[0] == 200
    finally:
        server.stop()


def test_not_ready_before_the_first_snapshot() -> None:
    source = ScriptedSource(fail=True)
    server = StatusServer(source, "127.0.0.1", 0, interval_seconds=60)
    server.start()
    try:
        status, _, body = get(server, "/status")
        assert status == 503
        assert json.loads(body)["error"]["code"] == "not_ready"
    finally:
        server.stop()


def test_port_in_use_is_a_clear_error(served: tuple[StatusServer, ScriptedSource]) -> None:
    server, _ = served
    with pytest.raises(FleetwatchError, match=r"cannot listen on 127\.0\.0\.1"):
        StatusServer(ScriptedSource(), "127.0.0.1", server.port)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:9101", ("127.0.0.1", 9101)), ("[::1]:80", ("::1", 80)), ("x:0", ("x", 0))],
)
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["9101", ":9101", "host:", "host:port", "h:70000", ""])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_listen(text)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def raw(server: StatusServer, data: bytes) -> bytes:
    """Send raw bytes, read until the server closes the connection."""
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET /status HTTP/2.0\r\n\r\n", b"505"),
        (b"GET /status HTTP/1.1\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n", b"431"),
        (b"GET /status HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
        (b"POST /status HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", b"405"),
    ],
)
def test_bad_requests_get_a_clear_answer_and_a_close(
    served: tuple[StatusServer, ScriptedSource], data: bytes, status: bytes
) -> None:
    server, _ = served
    answer = raw(server, data)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status)
    assert b"Connection: close" in head
    assert json.loads(body)["error"]["message"]


def test_keep_alive_serves_several_requests_on_one_connection(
    served: tuple[StatusServer, ScriptedSource],
) -> None:
    server, _ = served
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for path in ("/status/cpu/percent", "/metrics", "/status/host/hostname"):
            conn.request("GET", path)
            response = conn.getresponse()
            assert response.status == 200
            response.read()
            assert response.getheader("Connection") is None
    finally:
        conn.close()
    answer = raw(server, b"GET /status/host/hostname HTTP/1.0\r\n\r\n")
    assert answer.endswith(b'"web-01"')
    assert b"Connection: close" in answer


def test_serving_imports_stay_light() -> None:
    """`fleetwatch agent serve` loads neither http.server (+6.8 MiB RSS) nor rich nor pydantic."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from fleetwatch.cli.main import build_parser\n"
        "build_parser('agent')\n"
        "import fleetwatch.agent.status.server, fleetwatch.agent.snapshot\n"
        "heavy = ('http.server', 'http.client', 'email', 'ssl', 'asyncio', 'rich', 'pydantic')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
