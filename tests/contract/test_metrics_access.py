"""Who may scrape `GET /metrics`: a user's API token always; without one only with
`metrics_open_on_loopback`, only from this machine, and never through a proxy."""

from __future__ import annotations

from pathlib import Path

import httpx

from hubtest import SyncClient, sync_hub_client


def scrape(client: SyncClient, ip: str, **headers: str) -> int:
    transport = httpx.ASGITransport(app=client.app, client=(ip, 50000))

    async def get() -> int:
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            return (await http.get("/metrics", headers=headers)).status_code

    status: int = client.run(get())
    return status


def test_closed_by_default_even_on_loopback(tmp_path: Path) -> None:
    with sync_hub_client(tmp_path) as client:
        assert scrape(client, "127.0.0.1") == 401


def test_open_on_loopback_when_configured(tmp_path: Path) -> None:
    with sync_hub_client(tmp_path, metrics_open_on_loopback=True) as client:
        assert scrape(client, "127.0.0.1") == 200
        assert scrape(client, "::1") == 200
        assert scrape(client, "10.0.0.5") == 401  # another machine
        assert scrape(client, "127.0.0.1", **{"X-Forwarded-For": "203.0.113.9"}) == 401  # proxied
        assert scrape(client, "127.0.0.1", Authorization="Bearer fwu_wrong") == 401  # checked
