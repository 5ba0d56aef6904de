"""Two hub replicas on one PostgreSQL database (H10 across replicas): a stream client on
replica A sees the snapshots an agent sends to replica B, and the alerts whichever replica
leads raises, through `LISTEN/NOTIFY` (`hub/bridge.py`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import websockets

from factories import make_snapshot
from hubtest import bearer, postgres_schema, start_hub

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
ENV = {"FLEETWATCH_RATE_LIMIT_PER_MINUTE": "0", "FLEETWATCH_INGEST_WORKERS": "1"}


def _token(data_dir: Path, url: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "fleetwatch.cli.main", "user", "token", "admin",
         "--data-dir", str(data_dir), "--database-url", url],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip


def test_a_client_on_one_replica_sees_what_the_other_ingests(
    tmp_path: Path, postgres_url: str
) -> None:
    with postgres_schema(postgres_url) as url:
        a = start_hub(tmp_path / "a", url, **ENV)
        b = start_hub(tmp_path / "b", url, **ENV)
        try:
            token = _token(a.data_dir, url)
            reg = httpx.post(f"{b.base_url}/api/register", json={"hostname": "far-01"}).json()
            agent = bearer(reg["server_id"], reg["api_key"])

            def send(memory: float) -> None:
                body = make_snapshot(snapshot_id=uuid.uuid4().hex,
                                     collected_at=datetime.now(UTC).isoformat())  # fmt: skip
                body["metrics"]["memory_percent"] = memory
                r = httpx.post(f"{b.base_url}/api/metrics", json=body, headers=agent)
                assert r.status_code == 200, r.text

            async def scenario() -> None:
                ws_url = a.base_url.replace("http://", "ws://") + "/ws"
                headers = {"Authorization": f"Bearer {token}"}
                async with websockets.connect(ws_url, additional_headers=headers) as ws:
                    await ws.recv()  # connection
                    seen: dict[str, dict[str, object]] = {}
                    async with asyncio.timeout(30):
                        await asyncio.to_thread(send, 97.5)
                        while not ("monitoring_data" in seen and "alert" in seen):
                            message = json.loads(await ws.recv())
                            seen.setdefault(message["type"], message)
                    data = seen["monitoring_data"]
                    assert data["server_id"] == reg["server_id"]
                    assert data["data"]["memory"]["percentage"] == 97.5  # type: ignore[index]
                    assert seen["alert"]["alert"]["server_id"] == reg["server_id"]  # type: ignore[index]

            asyncio.run(scenario())
        finally:
            b.stop()
            a.stop()
