"""Issue 22.3: the live log tail through a real hub process: `/ws` family `logs` pushes the
lines agents ship (filtered by server and level), and `fleetwatch logs` searches and follows
the store from the command line."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.sync.client import connect

from controlhelp import FLEETWATCH, user_token
from hubtest import running_hub

pytestmark = pytest.mark.e2e


def _register(api: httpx.Client, hostname: str) -> tuple[str, dict[str, str]]:
    body = api.post("/api/register", json={"hostname": hostname}).json()
    return body["server_id"], {"Authorization": f"Bearer {body['server_id']}:{body['api_key']}"}


def _ship(api: httpx.Client, auth: dict[str, str], *lines: tuple[str, str]) -> None:
    batch = {
        "batch_id": uuid.uuid4().hex,
        "lines": [
            {"ts": time.time(), "app": "shop", "source": "/tmp/x", "level": level, "message": text}
            for level, text in lines
        ],
    }
    r = api.post("/api/logs", json=batch, headers=auth)
    assert r.status_code == 200, r.text


def test_logs_arrive_live_over_ws_and_through_the_cli(tmp_path: Path) -> None:
    with (
        running_hub(tmp_path, None, FLEETWATCH_RATE_LIMIT_PER_MINUTE="0") as hub,
        httpx.Client(base_url=hub.base_url, timeout=10) as api,
    ):
        viewer = user_token(hub, "lou", "viewer")
        web, web_auth = _register(api, "web-01")
        _db, db_auth = _register(api, "db-01")
        _ship(api, web_auth, ("info", "before anybody watched"))
        ws_url = hub.base_url.replace("http://", "ws://") + f"/ws?token={viewer}"
        with connect(ws_url) as ws:
            subscribe = {
                "type": "subscribe",
                "families": ["logs"],
                "servers": [web],
                "log_level": "warning",
            }
            ws.send(orjson.dumps(subscribe).decode())
            seen: list[Any] = []

            def got(*kinds: str) -> dict[str, Any]:
                while True:
                    message = orjson.loads(ws.recv(timeout=10))
                    if message["type"] in kinds:
                        return dict(message)

            assert got("subscribed", "error")["log_level"] == "warning"
            _ship(api, web_auth, ("info", "routine"), ("error", "payment failed"))
            _ship(api, db_auth, ("critical", "other host"))
            _ship(api, web_auth, ("warning", "slow checkout"))
            while len(seen) < 2:
                seen += got("log_lines")["lines"]
            assert [(r["level"], r["message"], r["hostname"]) for r in seen] == [
                ("error", "payment failed", "web-01"),
                ("warning", "slow checkout", "web-01"),
            ]
            ws.send(orjson.dumps({"type": "subscribe", "families": ["nope"]}).decode())
            assert "unknown nope" in got("error")["message"]
        env = {**os.environ, "FLEETWATCH_TOKEN": viewer}
        cli = [*FLEETWATCH, "logs", "--url", hub.base_url]
        done = subprocess.run(
            [*cli, "web-01", "-q", "payment"], capture_output=True, text=True, timeout=60, env=env
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().endswith("web-01 shop ERROR payment failed")
        follow = subprocess.Popen(
            [*cli, "--level", "critical", "--follow"], stdout=subprocess.PIPE, text=True, env=env
        )
        try:
            assert follow.stdout is not None
            assert "db-01 shop CRITICAL other host" in follow.stdout.readline()
            _ship(api, db_auth, ("critical", "disk gone"), ("info", "not this one"))
            assert "db-01 shop CRITICAL disk gone" in follow.stdout.readline()
        finally:
            follow.kill()
            follow.wait(timeout=10)
            if follow.stdout is not None:
                follow.stdout.close()
