"""Channels against real receivers on loopback: webhook (HMAC verified), Slack, failing and
slow endpoints (retried, recorded, never blocking others), rotating file, console, in-app."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fleetwatch.hub.alerts.channels.registry import validate_channel
from fleetwatch.hub.alerts.state import AlertEvent
from fleetwatch.hub.mail.service import MailService
from fleetwatch.hub.services.notify import DeliveryPolicy, Notifier
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.tables import metadata
from fleetwatch.hub.store.tables_alerts import channel_stats, channels, notifications

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.path, dict(self.headers), body))
                if self.path == "/slow":
                    time.sleep(3)
                self.send_response(500 if self.path == "/fail" else 200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'alerts.db'}", max_delay_ms=1)
    metadata.create_all(database.engine)
    database.start()
    yield database
    database.close()


def event(level: str = "CRITICAL", component: str = "disk", kind: str = "fired") -> AlertEvent:
    return AlertEvent(kind, {
        "id": 7, "timestamp": "2025-01-01T00:00:00+00:00", "component": component,
        "metric": "disk_percent", "target": "/var", "value": 96.5, "threshold": 95.0,
        "level": level, "message": "Critical disk usage on /var: 96.5% (threshold: 95.0%)",
        "server_id": "s1", "server_name": "web-01", "state": "firing", "fired_at": 1.0,
        "updated_at": 1.0,
    })  # fmt: skip


async def add_channel(db: Database, **data: Any) -> int:
    values = validate_channel(data)
    now = time.time()

    def insert(conn: Any) -> int:
        result = conn.execute(channels.insert().values(**values, created_at=now, updated_at=now))
        return int(result.inserted_primary_key[0])

    return await db.write(insert)


async def until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


FAST = DeliveryPolicy(retries=2, backoff_seconds=0.05, timeout_seconds=1.0)


async def test_webhook_signed_slack_coloured_and_filters(db: Database, receiver: Receiver) -> None:
    hook = await add_channel(
        db,
        name="hook",
        kind="webhook",
        config={"url": receiver.url + "/hook", "secret": "k3y", "headers": {"X-Team": "ops"}},
    )
    await add_channel(
        db,
        name="slack",
        kind="slack",
        config={"webhook_url": receiver.url + "/slack", "channel": "#ops", "username": "fw"},
    )
    await add_channel(db, name="cpu only", kind="webhook", components=["cpu"],
                      config={"url": receiver.url + "/cpu"})  # fmt: skip
    await add_channel(db, name="off", kind="webhook", enabled=False,
                      config={"url": receiver.url + "/off"})  # fmt: skip
    notifier = Notifier(db, MailService(db), FAST)
    await notifier.start()
    notifier.submit([event(), event(level="WARNING", kind="resolved")])
    await until(lambda: len(receiver.requests) >= 4)
    await asyncio.sleep(0.1)
    await notifier.close()
    assert sorted(set(receiver.paths())) == ["/hook", "/slack"]
    _, headers, body = next(r for r in receiver.requests if r[0] == "/hook")
    expected = "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert headers["X-Fleetwatch-Signature"] == expected and headers["X-Team"] == "ops"
    doc = json.loads(body)
    assert doc["event"] == "fired" and doc["alert"]["level"] == "CRITICAL"
    slack = [json.loads(b) for p, _, b in receiver.requests if p == "/slack"]
    assert slack[0]["channel"] == "#ops" and slack[0]["username"] == "fw"
    assert slack[0]["attachments"][0]["color"] == "#f85149"  # critical red
    assert slack[0]["icon_emoji"] == ":rotating_light:"
    assert slack[1]["attachments"][0]["color"] == "#3fb950"  # resolved green
    stats = await db.read(lambda c: {r.channel_id: r for r in c.execute(select(channel_stats))})
    assert stats[hook].handled_total == 2 and stats[hook].errors_total == 0


async def test_failing_and_slow_channels_never_block_others(
    db: Database, receiver: Receiver
) -> None:
    failing = await add_channel(db, name="fail", kind="webhook",
                                config={"url": receiver.url + "/fail"})  # fmt: skip
    slow_config = {"url": receiver.url + "/slow", "timeout_seconds": 0.3}
    slow = await add_channel(db, name="slow", kind="webhook", config=slow_config)
    await add_channel(db, name="ok", kind="webhook", config={"url": receiver.url + "/ok"})
    notifier = Notifier(db, MailService(db), FAST)
    await notifier.start()
    started = time.monotonic()
    notifier.submit([event()])  # returns at once
    assert time.monotonic() - started < 0.05
    await until(lambda: "/ok" in receiver.paths(), timeout=2)
    assert time.monotonic() - started < 1.0  # not behind the slow or failing channel
    await until(lambda: receiver.paths().count("/fail") == 3)  # first try + 2 retries
    await until(lambda: (notifier.stats(slow) or {}).get("dropped_total") == 1)
    await until(lambda: (notifier.stats(failing) or {}).get("dropped_total") == 1)
    fail_stats = notifier.stats(failing) or {}
    assert fail_stats["errors_total"] == 3 and "HTTP 500" in fail_stats["last_error"]
    assert (
        "timed out" in (notifier.stats(slow) or {})["last_error"].lower()
        or "Timeout" in (notifier.stats(slow) or {})["last_error"]
    )
    await notifier.close()


async def test_file_rotates_and_console_colours(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "logs" / "alerts.log"
    await add_channel(db, name="file", kind="file",
                      config={"path": str(path), "max_bytes": 1024, "backup_count": 2})  # fmt: skip
    await add_channel(db, name="console", kind="console", config={"stream": "stdout"})
    await add_channel(db, name="bell", kind="inapp", min_level="CRITICAL")
    notifier = Notifier(db, MailService(db), FAST)
    await notifier.start()
    notifier.submit([event() for _ in range(30)] + [event(level="WARNING")])
    await until(lambda: path.with_name("alerts.log.2").exists())
    await asyncio.sleep(0.3)
    await notifier.close()
    assert path.stat().st_size <= 1024 and not path.with_name("alerts.log.3").exists()
    assert "Critical disk usage on /var" in path.read_text()
    out = capsys.readouterr().out
    assert "\033[1;31m" in out and "\033[33m" in out  # red critical, yellow warning
    rows = await db.read(lambda c: list(c.execute(select(notifications))))
    assert len(rows) == 30 and {r.level for r in rows} == {"CRITICAL"}  # min_level filter
