"""Test support for the agent runtime: a scripted hub (real HTTP/HTTPS on loopback), a
self-signed certificate made with `openssl req`, a stand-in collector and small waiting helpers.

`ScriptedHub` behaves like a minimal fleetwatch hub (register, idempotent metrics by
snapshot_id, live, ping, config poll, log batches) and records every request; a test makes it
misbehave by queueing answers per path (`hub.script("/api/metrics", (500, {}, {...}))`) or by
replacing the key it accepts; `down` answers 503 to everything (GET /api/ping included) and
`metrics_delay` / `logs_delay` make each snapshot / log POST slow.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Answer = tuple[int, dict[str, str], Any]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw_size: int
    gzipped: bool
    peer: tuple[str, int]


@dataclass
class HubState:
    keys: dict[str, str] = field(default_factory=dict)  # server_id -> api_key
    snapshots: list[dict[str, Any]] = field(default_factory=list)  # stored, in arrival order
    snapshot_ids: set[str] = field(default_factory=set)
    duplicates: int = 0
    live: list[dict[str, Any]] = field(default_factory=list)
    pings: int = 0
    pending_config: dict[str, Any] | None = None
    confirms: list[dict[str, Any]] = field(default_factory=list)
    log_lines: int = 0  # lines taken by POST /api/logs


class ScriptedHub:
    def __init__(
        self, certfile: Path | None = None, keyfile: Path | None = None, port: int = 0
    ) -> None:
        self.state = HubState()
        self.max_batch = 1000  # larger batches get 413
        self.down = False  # True: every request gets 503 (a hub restarting behind a proxy)
        self.metrics_delay = 0.0  # seconds each POST /api/metrics takes (a slow hub)
        self.logs_delay = 0.0  # seconds each POST /api/logs takes
        self.requests: list[Request] = []
        self.scripts: dict[str, deque[Answer]] = {}
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                gzipped = self.headers.get("Content-Encoding") == "gzip"
                data = gzip.decompress(raw) if gzipped else raw
                body = json.loads(data) if data else None
                req = Request(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    len(raw),
                    gzipped,
                    self.client_address,
                )
                status, headers, answer = hub.answer(req)
                out = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if certfile is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> ScriptedHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, path: str, *answers: Answer) -> None:
        """Answer the next requests to `path` with these, in order, before behaving normally."""
        with self.lock:
            self.scripts.setdefault(path, deque()).extend(answers)

    def requests_to(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def stored_ids(self) -> list[str]:
        with self.lock:
            return [s["snapshot_id"] for s in self.state.snapshots]

    def answer(self, req: Request) -> Answer:
        if self.metrics_delay and req.path == "/api/metrics" and not self.down:
            time.sleep(self.metrics_delay)
        if self.logs_delay and req.path == "/api/logs" and not self.down:
            time.sleep(self.logs_delay)
        with self.lock:
            if self.down:
                self.requests.append(req)
                return 503, {}, {"error": {"code": "unavailable", "message": "hub restarting"}}
            self.requests.append(req)
            queued = self.scripts.get(req.path)
            if queued:
                return queued.popleft()
            return self._behave(req)

    def _authorized(self, req: Request) -> bool:
        auth = req.headers.get("authorization", "")
        server_id, _, key = auth.removeprefix("Bearer ").partition(":")
        return bool(key) and self.state.keys.get(server_id) == key

    def _behave(self, req: Request) -> Answer:
        unauthorized: Answer = (401, {}, {"error": {"code": "unauthorized", "message": "bad key"}})
        if req.path == "/api/register":
            server_id = f"srv-{next(self._ids)}"
            self.state.keys[server_id] = f"fwk_key{server_id}"
            return 201, {}, {"server_id": server_id, "api_key": self.state.keys[server_id]}
        if req.method == "GET" and req.path == "/api/ping":
            return 200, {}, {"status": "ok"}
        if not self._authorized(req):
            return unauthorized
        if req.path == "/api/metrics":
            items = req.body.get("snapshots", [req.body])
            if len(items) > self.max_batch:
                return 413, {}, {"error": {"code": "too_large", "message": "body too large"}}
            stored = 0
            for item in items:
                if item["snapshot_id"] in self.state.snapshot_ids:
                    self.state.duplicates += 1
                    continue
                self.state.snapshot_ids.add(item["snapshot_id"])
                self.state.snapshots.append(item)
                stored += 1
            return 200, {}, {"status": "ok", "stored": stored, "duplicates": len(items) - stored}
        if req.path == "/api/logs":
            self.state.log_lines += len(req.body.get("lines", []))
            return 200, {}, {"status": "ok", "stored": len(req.body["lines"]), "duplicate": False}
        if req.path == "/api/metrics/live":
            self.state.live.append(req.body)
            return 200, {}, {"status": "ok"}
        if req.path == "/api/ping":
            self.state.pings += 1
            return 200, {}, {"status": "ok"}
        if req.path.startswith("/api/config/"):
            if req.method == "GET":
                pending = self.state.pending_config
                answer = {"has_update": pending is not None, "config": pending, "config_id": 7}
                return 200, {}, answer
            self.state.confirms.append(req.body)
            self.state.pending_config = None
            return 200, {}, {"status": "ok"}
        return 404, {}, {"error": {"code": "not_found", "message": req.path}}


def make_cert(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for `host`, made by `openssl req`."""
    if shutil.which("openssl") is None:
        import pytest

        pytest.skip("openssl is not installed")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={host}", "-addext", f"subjectAltName=IP:{host}",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class StandInCollector:
    """A cheap collector with the `SnapshotCollector` interface (for in-process daemon tests)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.scan_processes = True
        self.scans: list[bool] = []
        self.n = 0

    def collect(self) -> dict[str, Any]:
        self.n += 1
        self.scans.append(self.scan_processes)
        return {
            "metrics": {
                "cpu_percent": 1.0,
                "memory_total": 100,
                "memory_used": 50,
                "memory_free": 50,
                "memory_percent": 50.0,
            },
            "processes": [{"pid": 1, "name": "init"}] if self.scan_processes else [],
            "seq": self.n,
        }

    def collect_live(self) -> dict[str, Any]:
        return {"cpu_percent": 1.0, "memory_percent": 50.0}

    def reconfigure(self, config: dict[str, Any]) -> None:
        self.config = config


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `predicate` until truthy; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(path: Path, **values: Any) -> Path:
    path.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
    return path


def agent_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --- real processes ----------------------------------------------------------------------


class AgentProcess:
    """`fleetwatch agent run --config PATH` as a child process; its stderr goes to a file."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.stderr_path = config.parent / f"agent-stderr-{time.monotonic_ns()}.log"
        with self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fleetwatch.cli.main", "agent", "run", "--config",
                 str(config)],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=agent_env(),
            )  # fmt: skip

    def output(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class HubProcess:
    """`fleetwatch hub` on a given port and data folder (restartable on the same port)."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> HubProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / f"hub-{time.monotonic_ns()}.log").open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fleetwatch.cli.main", "hub", "--port", str(self.port),
             "--data-dir", str(self.data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )  # fmt: skip
        log.close()

        def up() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"hub exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/ping", timeout=1) as resp:
                    return bool(resp.status == 200)
            except OSError:
                return False

        wait_for(up, timeout=30, what="the hub to answer /api/ping")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def snapshots(self, server_id: str) -> list[tuple[int, float, str]]:
        """(row id, ts, snapshot_id) of a server's stored snapshots, in arrival order."""
        conn = sqlite3.connect(self.data_dir / "fleetwatch.db", timeout=30)
        try:
            rows = conn.execute(
                "SELECT id, ts, snapshot_id FROM snapshots WHERE server_id = ? ORDER BY id",
                (server_id,),
            ).fetchall()
        finally:
            conn.close()
        return [(int(r[0]), float(r[1]), str(r[2])) for r in rows]


def buffered_ids(buffer_file: Path) -> list[str]:
    """Snapshot ids waiting in an agent's durable buffer file."""
    conn = sqlite3.connect(buffer_file, timeout=30)
    try:
        return [r[0] for r in conn.execute("SELECT snapshot_id FROM pending ORDER BY id")]
    finally:
        conn.close()
