"""`fleetwatch grafana dashboard` against Grafana's own dashboard schema, as published in
`grafana-foundation-sdk` (types generated from Grafana's CUE schemas): the JSON decodes into
the schema's `Dashboard` and encodes back without losing a key, every panel type is a Grafana
panel plugin with a schema, and the grid is Grafana's 24 columns without overlaps."""

from __future__ import annotations

import importlib
import json
from typing import Any

from grafana_foundation_sdk.models.dashboard import Dashboard, DashboardCursorSync

from fleetwatch.hub.grafana import dashboard

#: keys Grafana itself writes but the dashboard model does not declare: `__inputs` wraps an
#: exported dashboard for the import dialog (the data source to pick); `definition` is the
#: query text a query variable shows, written by Grafana's own variable editor
OUTSIDE_THE_MODEL = ("/__inputs", "/definition")


def plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: o.to_json() if hasattr(o, "to_json")
                                  else getattr(o, "value", str(o))))  # fmt: skip


def lost_keys(ours: Any, theirs: Any, path: str = "") -> list[str]:
    lost = []
    if isinstance(ours, dict):
        for key, value in ours.items():
            if not isinstance(theirs, dict) or key not in theirs:
                lost.append(f"{path}/{key}")
            else:
                lost += lost_keys(value, theirs[key], f"{path}/{key}")
    elif isinstance(ours, list):
        assert isinstance(theirs, list) and len(theirs) == len(ours), path
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            lost += lost_keys(a, b, f"{path}[{i}]")
    return lost


def test_the_dashboard_round_trips_through_grafanas_schema() -> None:
    ours = dashboard("fleet")
    model = Dashboard.from_json(ours)
    assert model.title == "fleet" and model.panels
    lost = lost_keys(ours, plain(model.to_json()))
    unexpected = [k for k in lost if not k.endswith(OUTSIDE_THE_MODEL)]
    assert unexpected == []
    assert ours.get("graphTooltip", 0) in {s.value for s in DashboardCursorSync}


def test_every_panel_is_a_grafana_panel_plugin_on_a_24_column_grid() -> None:
    ours = dashboard()
    cells: set[tuple[int, int]] = set()
    inputs = {i["name"] for i in ours["__inputs"]}
    for panel in ours["panels"]:
        importlib.import_module(f"grafana_foundation_sdk.models.{panel['type']}")  # a schema
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])}  # fmt: skip
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
        assert panel["datasource"]["uid"].strip("${}") in inputs
        for target in panel.get("targets", []):
            assert target["expr"] and target["refId"]
