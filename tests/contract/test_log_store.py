"""Issue 22.3 (H17): the log store through a real in-process hub on SQLite and PostgreSQL:
exactly-once batches, newest-first search by server, app, level, time and full text (same
answers on both engines), and clear 4xx answers for bad input."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from authhelp import token_for
from fleetwatch.hub.services import logs
from hubtest import SyncClient, ctx_of, postgres_schema, register, sync_hub_client


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SyncClient]:
    with ExitStack() as stack:
        url = None
        if request.param == "postgres":
            url = stack.enter_context(postgres_schema(request.getfixturevalue("postgres_url")))
        hub = stack.enter_context(sync_hub_client(tmp_path, url, logs_lines_per_minute=3000))
        token = hub.run(token_for(ctx_of(hub), "viewer"))

        async def as_viewer(request: httpx.Request) -> None:  # a viewer reads the logs
            if request.method == "GET" and request.url.path.startswith("/api/logs"):
                request.headers["Authorization"] = f"Bearer {token}"

        hub._client.event_hooks["request"].append(as_viewer)
        yield hub


def line(message: str, level: str = "info", app: str = "shop", ts: float | None = None) -> Any:
    return {
        "ts": ts or time.time(),
        "app": app,
        "source": f"/tmp/fleetwatch_log_{app}",
        "level": level,
        "message": message,
    }


def ship(client: SyncClient, auth: dict[str, str], lines: list[Any], batch_id: str = "") -> Any:
    body = {"batch_id": batch_id or uuid.uuid4().hex, "lines": lines}
    return client.post("/api/logs", json=body, headers=auth)


def messages(client: SyncClient, **params: Any) -> list[str]:
    r = client.get("/api/logs", params=params)
    assert r.status_code == 200, r.text
    return [row["message"] for row in r.json()["logs"]]


def test_batches_are_stored_once_and_read_newest_first(client: SyncClient) -> None:
    web, web_auth = register(client, "web-01")
    db, db_auth = register(client, "db-01")
    now = time.time()
    first = [line("started", ts=now - 60), line("disk /var is 91 % full", "warning", ts=now - 30)]
    r = ship(client, web_auth, first, batch_id="web:1:0:100")
    assert r.json() == {"status": "ok", "stored": 2, "duplicate": False}
    again = ship(client, web_auth, first, batch_id="web:1:0:100")  # the agent missed the 200
    assert again.status_code == 200 and again.json() == {
        "status": "ok",
        "stored": 0,
        "duplicate": True,
    }
    gz = gzip.compress(
        orjson.dumps(
            {
                "batch_id": "db:1",
                "lines": [line("Connection refused by upstream", "error", app="pg", ts=now - 10)],
            }
        )
    )
    r = client.post(
        "/api/logs",
        content=gz,
        headers={**db_auth, "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert r.json()["stored"] == 1, r.text
    page = client.get("/api/logs").json()
    assert [row["message"] for row in page["logs"]] == [
        "Connection refused by upstream",
        "disk /var is 91 % full",
        "started",
    ]
    assert page["logs"][0]["hostname"] == "db-01" and page["logs"][0]["level"] == "error"
    assert messages(client, server=web) == ["disk /var is 91 % full", "started"]
    assert messages(client, app="pg") == ["Connection refused by upstream"]
    assert messages(client, level="warning") == [
        "Connection refused by upstream",
        "disk /var is 91 % full",
    ]
    assert messages(client, since=now - 45, until=now - 20) == ["disk /var is 91 % full"]
    assert messages(client, server=db, level="critical") == []
    one = client.get("/api/logs", params={"limit": 1}).json()
    assert one["next_before"] is not None
    assert messages(client, limit=1, before=one["next_before"]) == ["disk /var is 91 % full"]
    assert client.get("/api/logs/apps").json() == {"apps": ["pg", "shop"]}


def test_full_text_search_finds_the_same_lines_on_both_engines(client: SyncClient) -> None:
    _, auth = register(client, "app-01")
    texts = [
        "Payment FAILED for order 1234",
        "payment succeeded for order 1235",
        "user alice logged in",
        "timeout talking to payments-api",
        "disk /var full",
    ]
    assert ship(client, auth, [line(t) for t in texts]).status_code == 200
    assert messages(client, q="failed") == ["Payment FAILED for order 1234"]
    assert messages(client, q="payment order") == texts[1::-1]
    assert messages(client, q='"order 1235"') == ["payment succeeded for order 1235"]
    assert messages(client, q="pay*") == [texts[3], texts[1], texts[0]]
    assert messages(client, q="alice nobody") == []
    assert messages(client, q="/var") == ["disk /var full"]
    assert messages(client, q="FAILED", level="error") == []


@pytest.mark.parametrize(
    ("q", "fragment"),
    [
        ('"unclosed', "never closed"),
        ("***", "no letters"),
        ("(", "no letters"),
        ("a " * 20, "at most 16 terms"),
    ],
)
def test_search_syntax_errors_are_400_with_a_message(
    client: SyncClient, q: str, fragment: str
) -> None:
    r = client.get("/api/logs", params={"q": q})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_query" and fragment in error["message"]


def test_bad_input_is_refused_or_cleaned_and_loses_nothing(client: SyncClient) -> None:
    _, auth = register(client, "junk-01")
    huge = "x" * 1_000_000
    junk = "bin\x00ary \ufffd junk \x07"
    r = ship(client, auth, [line(huge), line(junk)])
    assert r.status_code == 200, r.text
    stored = messages(client)
    assert stored[0] == "binary \ufffd junk \x07"
    assert stored[1].startswith("x" * logs.MAX_MESSAGE) and stored[1].endswith(
        f"…[cut {1_000_000 - logs.MAX_MESSAGE} characters]"
    )
    answers = {
        "bad level": ship(client, auth, [line("x", level="loud")]),
        "no lines key": client.post("/api/logs", json={"batch_id": "a"}, headers=auth),
        "not json": client.post("/api/logs", content=b"\x89PNG\x00\x01", headers=auth),
        "bad time": ship(client, auth, [line("x", ts=-5)]),
        "long app": ship(client, auth, [line("x", app="a" * 200)]),
        "lone surrogate": client.post(
            "/api/logs",
            headers=auth,
            content=json.dumps({"batch_id": "s", "lines": [line("a \ud800 b")]}).encode(),
        ),
        "bad key": ship(client, {"Authorization": "Bearer nope:nope"}, [line("x")]),
        "bad since": client.get("/api/logs", params={"since": "yesterday"}),
    }
    codes = {k: (v.status_code, v.json()["error"]["code"]) for k, v in answers.items()}
    assert codes == {
        "bad level": (422, "invalid"),
        "no lines key": (422, "invalid"),
        "not json": (400, "invalid_json"),
        "bad time": (422, "invalid"),
        "long app": (422, "invalid"),
        "bad key": (401, "unauthorized"),
        "lone surrogate": (400, "invalid_json"),
        "bad since": (400, "invalid_time"),
    }
    assert len(messages(client)) == 2  # nothing half-stored


def test_a_flooding_host_gets_429_and_others_are_unaffected(client: SyncClient) -> None:
    _, loud = register(client, "loud-01")
    _, quiet = register(client, "quiet-01")
    batch = [line(f"spam {i}") for i in range(1000)]
    answers = [ship(client, loud, batch).status_code for _ in range(5)]
    assert answers[:3] == [200, 200, 200] and answers[3] == 429  # 3,000 lines a minute
    r = ship(client, loud, batch)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert ship(client, quiet, [line("still here")]).json()["stored"] == 1
    assert messages(client, q="still") == ["still here"]


def test_retention_keeps_days_and_bytes(client: SyncClient) -> None:
    _, auth = register(client, "old-01")
    now = time.time()
    old = [line(f"old {i}", ts=now - 20 * 86400) for i in range(3)]
    new = [line(f"new {i} " + "y" * 100, ts=now - i) for i in range(10)]
    assert ship(client, auth, old + new).status_code == 200
    ctx = ctx_of(client)
    dropped = client.run(ctx.db.write(lambda conn: logs.prune(conn, 14, 600)))
    assert dropped == 3 + 5  # 20 days old, then the oldest until <= 600 bytes remain
    left = messages(client)
    assert [m.split()[1] for m in left] == ["9", "8", "7", "6", "5"]  # the first shipped went
    assert messages(client, q="old") == []  # the index forgot them too
