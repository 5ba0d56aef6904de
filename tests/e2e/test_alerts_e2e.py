"""The real hub process: snapshots through the public API -> alert fires -> in-app
notification and a signed webhook received by a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from factories import make_snapshot
from hubtest import bearer, running_hub

pytestmark = pytest.mark.e2e


def test_alert_reaches_notification_and_webhook(tmp_path: Path) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(
                (dict(self.headers), self.rfile.read(int(self.headers["Content-Length"])))
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    api: httpx.Client | None = None
    try:
        with running_hub(tmp_path, None, FLEETWATCH_RATE_LIMIT_PER_MINUTE="0") as hub:
            token = subprocess.run(
                [sys.executable, "-m", "fleetwatch.cli.main", "user", "token", "admin",
                 "--data-dir", str(hub.data_dir)],
                capture_output=True, text=True, timeout=60, check=True,
            ).stdout.strip()  # fmt: skip
            api = httpx.Client(base_url=hub.base_url, timeout=10,
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            r = api.post("/api/dashboard/channels", json={
                "name": "ops hook", "kind": "webhook", "min_level": "CRITICAL",
                "config": {"url": url, "secret": "e2e-secret"},
            })  # fmt: skip
            assert r.status_code == 201, r.text
            reg = api.post("/api/register", json={"hostname": "db-07"}).json()
            headers = bearer(reg["server_id"], reg["api_key"])
            body = make_snapshot(collected_at=datetime.now(UTC).isoformat(),
                                 watched_processes={}, services=[])  # fmt: skip
            body["metrics"]["disks"][0].update(percent=97.0, used=97 * 1024**3,
                                               free=3 * 1024**3)  # fmt: skip
            r = api.post("/api/metrics", json=body, headers=headers)
            assert r.status_code < 300, r.text
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not received:
                time.sleep(0.1)
            assert received, hub.log()
            hdrs, raw = received[0]
            sig = "sha256=" + hmac.new(b"e2e-secret", raw, hashlib.sha256).hexdigest()
            assert hdrs["X-Fleetwatch-Signature"] == sig
            alert = json.loads(raw)["alert"]
            assert alert["component"] == "disk" and alert["target"] == "/"
            assert alert["level"] == "CRITICAL" and alert["server_name"] == "db-07"
            active = api.get("/api/dashboard/alerts").json()
            assert [a["id"] for a in active] == [alert["id"]]
            notes = api.get("/api/dashboard/notifications").json()
            assert notes and notes[0]["alert_id"] == alert["id"]
            summary = api.get("/api/dashboard").json()
            assert summary["summary"]["critical_alerts"] == 1, summary.get("summary")
    finally:
        if api is not None:
            api.close()  # an open keep-alive socket would warn (an error) in a later test
        server.shutdown()
        server.server_close()
