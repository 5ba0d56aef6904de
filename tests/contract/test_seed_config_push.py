"""Seed 001's dashboard pushes agent config wrapped: `{"config": {...}}` (26.1).

Both that form and the bare `{"key": value}` form are accepted and give the same pending change;
a wrapper whose value is not an object is refused on `config`, and nothing is recorded.
"""

from __future__ import annotations

from pathlib import Path

from hubtest import register
from unit.agent_runtime.test_hub_agent_config import hub

# the exact body the seed dashboard's config editor sends
SEED_BODY = {"config": {"collection_interval_seconds": 30, "top_processes_count": 5}}


def test_wrapped_and_bare_pushes_are_the_same_change(tmp_path: Path) -> None:
    with hub(tmp_path) as (client, user):
        server_id, agent = register(client)
        url = f"/api/dashboard/server/{server_id}/config"
        wrapped = user.post(url, json=SEED_BODY)
        assert wrapped.status_code == 201, wrapped.text
        poll = client.get(f"/api/config/{server_id}", headers=agent).json()
        assert poll["config"] == SEED_BODY["config"]
        bare = user.post(url, json={"top_processes_count": 7})
        assert bare.status_code == 201, bare.text
        poll = client.get(f"/api/config/{server_id}", headers=agent).json()
        assert poll["config"] == {"collection_interval_seconds": 30, "top_processes_count": 7}


def test_a_wrapper_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    with hub(tmp_path) as (client, user):
        server_id, _ = register(client)
        url = f"/api/dashboard/server/{server_id}/config"
        for body in ({"config": [1, 2]}, {"config": "interval=5"}, {"config": {}}):
            r = user.post(url, json=body)
            assert r.status_code == 422, r.text
        r = user.post(url, json={"config": {"nonsense": 1}})
        assert r.status_code == 422 and r.json()["error"]["field"] == "nonsense"
        assert user.get(url).json()["history"] == []
