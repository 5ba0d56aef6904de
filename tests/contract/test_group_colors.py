"""Groups get colours no other group has (26.11: two of the demo's five groups shared one)."""

from __future__ import annotations

from fleetwatch.demo.fleet import GROUPS
from unit.hub_query.harness import Hub


def test_demo_groups_registered_by_agents_get_distinct_colours(hub: Hub) -> None:
    for i, group in enumerate(GROUPS * 2):
        body = {"hostname": f"h{i}", "group_name": group}
        assert hub.client.post("/api/register", json=body).status_code == 201
    groups = hub.client.get("/api/dashboard/groups").json()
    groups = groups["groups"] if isinstance(groups, dict) else groups
    colors = {g["name"]: g["color"] for g in groups}
    assert set(colors) == set(GROUPS)
    assert len(set(colors.values())) == len(GROUPS), colors
    overview = hub.client.get("/api/dashboard").json()
    shown = {s["group_name"]: s["group_color"] for s in overview["servers"]}
    assert shown == colors  # cards show the stored colour
