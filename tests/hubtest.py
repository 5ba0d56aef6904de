"""Helpers to run the real hub in tests (reuse them; do not copy them).

In-process (the real app with lifespan: migrations, writer thread, real database):

    with sync_hub_client(tmp_path) as client:                # starlette TestClient
        server_id, headers = register(client)
        client.post("/api/metrics", json=make_snapshot(), headers=headers)

    async with hub_client(tmp_path) as client:               # httpx.AsyncClient, ASGI transport
        await client.get("/api/ping")

Both clients send an admin API token on `/api/dashboard/*` requests that carry no
Authorization header of their own (see authhelp.py; pass `headers=` to act as someone else).

As a real process on a free loopback port (`fleetwatch hub`), stopped and reaped on exit:

    with running_hub(tmp_path) as hub:                       # hub.base_url, hub.kill(), ...
        httpx.get(f"{hub.base_url}/api/ping")

`database_url=None` means SQLite under `tmp_path`; for PostgreSQL wrap the test in
`postgres_schema(postgres_url)`, which yields a URL bound to a throwaway schema and drops it
afterwards. Settings keywords (`rate_limit_per_minute=0`, ...) pass through to `HubSettings`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI

from authhelp import dashboard_auth, token_for
from fleetwatch.hub.app import create_app
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.settings import load_settings


def hub_settings(tmp_path: Path, database_url: str | None = None, **settings: Any) -> Any:
    overrides = {"data_dir": tmp_path, "database_url": database_url or "", **settings}
    return load_settings(overrides, environ={})


class SyncClient:
    """A blocking client for an in-process app: an event loop in a thread runs the app (and
    its lifespan), an httpx.AsyncClient with the ASGI transport talks to it. (Starlette's
    TestClient warns under httpx, and warnings are errors here.)"""

    def __init__(self, app: FastAPI, client_ip: str = "127.0.0.1") -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
        self._client = httpx.AsyncClient(transport=transport, base_url="http://hub")

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=120)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.run(self._client.request(method, url, **kwargs))
        return response

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
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@contextmanager
def sync_hub_client(
    tmp_path: Path, database_url: str | None = None, **settings: Any
) -> Iterator[SyncClient]:
    """The real app in-process behind a blocking client (lifespan run on enter and exit)."""
    app = create_app(hub_settings(tmp_path, database_url, **settings))
    client = SyncClient(app)
    lifespan = app.router.lifespan_context(app)
    client.run(lifespan.__aenter__())
    token = client.run(token_for(app.state.ctx, "admin", name="tests-admin"))
    client._client.event_hooks["request"].append(dashboard_auth(token))
    try:
        yield client
    finally:
        client.run(lifespan.__aexit__(None, None, None))
        client.close()


@asynccontextmanager
async def hub_client(
    tmp_path: Path, database_url: str | None = None, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app in-process behind an httpx.AsyncClient (ASGI transport, lifespan run)."""
    app = create_app(hub_settings(tmp_path, database_url, **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        token = await token_for(app.state.ctx, "admin", name="tests-admin")
        hooks = {"request": [dashboard_auth(token)]}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://hub", event_hooks=hooks
        ) as client:
            client._fleetwatch_app = app  # type: ignore[attr-defined]
            yield client


def ctx_of(client: SyncClient | httpx.AsyncClient) -> HubContext:
    app = client.app if isinstance(client, SyncClient) else client._fleetwatch_app  # type: ignore[attr-defined]
    ctx: HubContext = app.state.ctx
    return ctx


def register(
    client: SyncClient, hostname: str = "web-01", **extra: Any
) -> tuple[str, dict[str, str]]:
    """Register a server; returns (server_id, headers carrying its bearer credentials)."""
    r = client.post("/api/register", json={"hostname": hostname, **extra})
    assert r.status_code == 201, r.text
    body = r.json()
    return body["server_id"], bearer(body["server_id"], body["api_key"])


def bearer(server_id: str, api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {server_id}:{api_key}"}


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A throwaway schema on `base_url`; yields a URL whose connections use it; dropped after."""
    schema = f"fwt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningHub:
    process: subprocess.Popen[bytes]
    base_url: str
    data_dir: Path
    log_path: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (crash test)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_hub(
    data_dir: Path, database_url: str | None = None, *args: str, **env: str
) -> RunningHub:
    """Start `fleetwatch hub` on a free port and wait until GET /api/ping answers."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"hub-{port}.log"
    cmd = [sys.executable, "-m", "fleetwatch.cli.main", "hub", "--port", str(port)]
    cmd += ["--data-dir", str(data_dir), *args]
    if database_url:
        cmd += ["--database-url", database_url]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_")}
    environ.update(env)
    with log_path.open("wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=environ)
    hub = RunningHub(process, f"http://127.0.0.1:{port}", data_dir, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hub exited with {process.returncode}:\n{hub.log()}")
        try:
            if httpx.get(f"{hub.base_url}/api/ping", timeout=1).status_code == 200:
                return hub
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    hub.stop()
    raise RuntimeError(f"hub did not answer within 30 s:\n{hub.log()}")


@contextmanager
def running_hub(
    tmp_path: Path, database_url: str | None = None, *args: str, **env: str
) -> Iterator[RunningHub]:
    """A real `fleetwatch hub` process (extra CLI `args`, extra environment `env`)."""
    hub = start_hub(tmp_path / "hub", database_url, *args, **env)
    try:
        yield hub
    finally:
        hub.stop()


def admin_token(hub: RunningHub) -> str:
    """An API token of the first admin of a running hub (`fleetwatch user token admin`)."""
    return subprocess.run(
        [sys.executable, "-m", "fleetwatch.cli.main", "user", "token", "admin",
         "--data-dir", str(hub.data_dir)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip


def wait_for_alerts(hub: RunningHub, metric: str, servers: set[str], timeout: float = 20) -> None:
    """Wait until an alert on `metric` is firing for each of `servers` (AssertionError if not)."""
    auth = {"Authorization": f"Bearer {admin_token(hub)}"}
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=hub.base_url, timeout=10, headers=auth) as api:
        while True:  # asked at least once, whatever `servers` is
            alerts = api.get("/api/dashboard/alerts").json()
            firing = {a["server_id"] for a in alerts if a["metric"] == metric}
            if firing == servers or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    assert firing == servers, hub.log()
