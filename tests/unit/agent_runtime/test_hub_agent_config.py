"""Hub side of remote agent configuration: push (validated), agent poll/confirm, history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from authhelp import token_for
from hubtest import SyncClient, bearer, ctx_of, register, sync_hub_client


class UserClient:
    """Dashboard requests carry a real API token of a user with the given role."""

    def __init__(self, client: SyncClient, role: str) -> None:
        self.client = client
        token = client.run(token_for(ctx_of(client), role, f"user-{role}"))
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, headers=self.headers, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.client.post(url, headers=self.headers, **kwargs)


@contextmanager
def hub(tmp_path: Path) -> Iterator[tuple[SyncClient, UserClient]]:
    with sync_hub_client(tmp_path, rate_limit_per_minute=0) as client:
        yield client, UserClient(client, "operator")


def test_push_poll_confirm_and_history(tmp_path: Path) -> None:
    with hub(tmp_path) as (client, user):
        server_id, agent = register(client)
        url = f"/api/dashboard/server/{server_id}/config"
        assert user.get(url).json() == {"server_id": server_id, "pending": None, "history": []}
        assert client.get(f"/api/config/{server_id}", headers=agent).json() == {
            "has_update": False,
            "config": None,
            "config_id": None,
        }
        r1 = user.post(url, json={"collection_interval_seconds": 30, "top_processes_count": 5})
        assert r1.status_code == 201, r1.text
        r2 = user.post(url, json={"top_processes_count": 9})
        poll = client.get(f"/api/config/{server_id}", headers=agent).json()
        assert poll == {
            "has_update": True,
            "config": {"collection_interval_seconds": 30, "top_processes_count": 9},
            "config_id": r2.json()["config_id"],
        }
        view = user.get(url).json()
        assert view["pending"]["config"]["top_processes_count"] == 9
        assert [h["status"] for h in view["history"]] == ["pending", "pending"]
        ack = {"config_id": poll["config_id"], "applied": True, "error": None}
        r = client.post(f"/api/config/{server_id}", json=ack, headers=agent)
        assert r.json() == {"status": "ok", "confirmed": 2}
        assert client.get(f"/api/config/{server_id}", headers=agent).json()["has_update"] is False
        view = user.get(url).json()
        assert view["pending"] is None
        assert [h["status"] for h in view["history"]] == ["applied", "applied"]
        assert view["history"][0]["confirmed_at"] is not None


def test_rejection_is_recorded_with_the_agents_reason(tmp_path: Path) -> None:
    with hub(tmp_path) as (client, user):
        server_id, agent = register(client)
        url = f"/api/dashboard/server/{server_id}/config"
        config_id = user.post(url, json={"live_enabled": True}).json()["config_id"]
        ack = {"config_id": config_id, "applied": False, "error": "cannot save: read-only"}
        client.post(f"/api/config/{server_id}", json=ack, headers=agent)
        history = user.get(url).json()["history"]
        assert history[0]["status"] == "rejected"
        assert history[0]["error"] == "cannot save: read-only"


def test_push_is_validated_against_the_agent_schema(tmp_path: Path) -> None:
    with hub(tmp_path) as (client, user):
        server_id, _ = register(client)
        url = f"/api/dashboard/server/{server_id}/config"
        cases = {
            "server_id": ({"server_id": "x"}, "cannot be changed remotely"),
            "dashboard_url": ({"dashboard_url": "http://evil"}, "cannot be changed remotely"),
            "live_interval_seconds": ({"live_interval_seconds": 0}, "at least 1"),
            "nonsense": ({"nonsense": 1}, "unknown key"),
        }
        for key, (body, message) in cases.items():
            r = user.post(url, json=body)
            assert r.status_code == 422, r.text
            error = r.json()["error"]
            assert error["field"] == key and message in error["message"]
        assert user.post(url, json={}).status_code == 422
        assert user.post(url, json=[1, 2]).status_code == 422
        r = user.post("/api/dashboard/server/nope/config", json={"live_enabled": True})
        assert r.status_code == 404
        assert user.get(url).json()["history"] == []
        viewer = UserClient(client, "viewer")
        assert viewer.get(url).status_code == 200
        assert viewer.post(url, json={"live_enabled": True}).status_code == 403
        bogus = {"Authorization": "Bearer fwu_bogus"}
        assert client.post(url, json={"live_enabled": True}, headers=bogus).status_code == 401


def test_agent_reads_only_its_own_config(tmp_path: Path) -> None:
    with hub(tmp_path) as (client, _user):
        a_id, a_headers = register(client, "a")
        b_id, _ = register(client, "b")
        assert client.get(f"/api/config/{b_id}", headers=a_headers).status_code == 403
        assert client.get(f"/api/config/{a_id}").status_code == 401
        wrong = bearer(a_id, "fwk_wrong")
        r = client.get(f"/api/config/{a_id}", headers=wrong)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        ack = {"config_id": None, "applied": True}
        assert client.post(f"/api/config/{b_id}", json=ack, headers=a_headers).status_code == 403


def test_routes_are_documented() -> None:
    from fastapi.routing import APIRoute

    from fleetwatch.hub.api import agent_config

    doc = (Path(__file__).resolve().parents[3] / "docs" / "api.md").read_text()
    for route in agent_config.router.routes:
        assert isinstance(route, APIRoute)
        for method in route.methods:
            assert f"\n## {method} {route.path}\n" in doc
