"""Docker containers through a real HTTP server on a unix socket serving recorded answers."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from agent_fakes import FIXTURES, FakeClock

from fleetwatch.agent.collectors.containers import CONTAINERS_REFRESH_SECONDS, ContainerCollector

LISTING = json.loads((FIXTURES / "docker_containers.json").read_text())
STATS = json.loads((FIXTURES / "docker_stats_web.json").read_text())
WEB_ID = LISTING[0]["Id"]


class DockerState:
    def __init__(self) -> None:
        self.stats_calls = 0
        self.paths: list[str] = []
        self.fail_listing = False


class FakeDocker(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    state: DockerState


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeDocker

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        state = self.server.state
        state.paths.append(self.path)
        if self.path == "/containers/json?all=1":
            if state.fail_listing:
                self._send(500, {"message": "Error response from daemon: internal"})
            else:
                self._send(200, LISTING)
        elif self.path == f"/containers/{WEB_ID}/stats?stream=false&one-shot=true":
            state.stats_calls += 1
            stats = json.loads(json.dumps(STATS))
            # each call: the container used 0.5 s of CPU while the host's 4 CPUs ran 4 s
            stats["cpu_stats"]["cpu_usage"]["total_usage"] += state.stats_calls * 500_000_000
            stats["cpu_stats"]["system_cpu_usage"] += state.stats_calls * 4_000_000_000
            self._send(200, stats)
        else:
            self._send(404, {"message": f"page not found: {self.path}"})


@pytest.fixture()
def docker(tmp_path: Path) -> Iterator[tuple[str, DockerState]]:
    path = str(tmp_path / "d.sock")
    server = FakeDocker(path, Handler)
    server.state = DockerState()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield path, server.state
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_containers_listed_with_memory_and_cpu_from_the_second_reading(
    docker: tuple[str, DockerState],
) -> None:
    path, state = docker
    clock = FakeClock()
    collector = ContainerCollector(path, clock=clock)
    warnings: list[str] = []
    rows, status = collector.collect(warnings.append)
    assert status == {"source": "docker", "detail": None}
    assert warnings == []
    web, batch = rows
    assert web["name"] == "web" and web["image"] == "nginx:1.25" and web["state"] == "running"
    assert web["cpu_percent"] is None  # one-shot stats carry no previous sample
    assert web["memory_used_bytes"] == 26214400 - 5242880  # page cache excluded
    assert web["memory_limit_bytes"] == 8589934592
    assert web["memory_percent"] == pytest.approx(0.24, abs=0.01)
    assert batch == {
        "id": LISTING[1]["Id"],
        "name": "batch-job",
        "image": "python:3.12-slim",
        "state": "exited",
        "status": "Exited (0) 2 hours ago",
        "cpu_percent": None,
        "memory_used_bytes": None,
        "memory_limit_bytes": None,
        "memory_percent": None,
    }
    assert state.stats_calls == 1  # no stats call for the stopped container
    clock.advance(CONTAINERS_REFRESH_SECONDS)
    rows, _ = collector.collect(warnings.append)
    assert rows[0]["cpu_percent"] == pytest.approx(50.0)  # 0.5 s / 4 s × 4 CPUs


def test_results_are_reused_until_the_refresh_interval(docker: tuple[str, DockerState]) -> None:
    path, state = docker
    clock = FakeClock()
    collector = ContainerCollector(path, clock=clock)
    for _ in range(4):
        collector.collect(lambda m: None)
        clock.advance(1.0)
    assert state.paths.count("/containers/json?all=1") == 1


def test_absent_socket_is_an_empty_list_with_a_reason(tmp_path: Path) -> None:
    warnings: list[str] = []
    rows, status = ContainerCollector(str(tmp_path / "none.sock")).collect(warnings.append)
    assert rows == []
    assert status == {"source": "none", "detail": f"no Docker socket at {tmp_path / 'none.sock'}"}
    assert warnings == []


def test_a_file_that_is_not_a_socket(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("")
    rows, status = ContainerCollector(str(tmp_path / "plain")).collect(lambda m: None)
    assert rows == [] and "is not a socket" in status["detail"]


def test_daemon_error_is_a_warning_not_a_crash(docker: tuple[str, DockerState]) -> None:
    path, state = docker
    state.fail_listing = True
    warnings: list[str] = []
    rows, status = ContainerCollector(path).collect(warnings.append)
    assert rows == []
    assert status["source"] == "none"
    assert len(warnings) == 1 and "HTTP 500" in warnings[0] and "internal" in warnings[0]


def test_socket_left_behind_by_a_stopped_daemon(tmp_path: Path) -> None:
    path = str(tmp_path / "d.sock")
    FakeDocker(path, Handler).server_close()  # the socket file stays, nobody listens
    warnings: list[str] = []
    rows, status = ContainerCollector(path).collect(warnings.append)
    assert rows == [] and "Docker API unavailable" in status["detail"]
    assert len(warnings) == 1 and "refused" in warnings[0].lower()
