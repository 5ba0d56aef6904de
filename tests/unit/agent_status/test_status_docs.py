"""docs/agent.md stays true: every metric family and every top-level tree key is documented."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from factories import make_snapshot
from fleetwatch.agent.status.metrics import render_metrics
from fleetwatch.agent.status.tree import build_tree

DOC = (Path(__file__).parents[3] / "docs" / "agent.md").read_text()


def full_snapshot() -> dict[str, object]:
    """Every family present: GPU, container, fans, battery, agent self-measurement."""
    gpu = {"index": 0, "name": "A100", "uuid": "GPU-1", "driver_version": "535"}
    gpu |= {"memory_total_bytes": 8, "memory_used_bytes": 4, "memory_free_bytes": 4}
    gpu |= {"utilization_percent": 5, "temperature_celsius": 50}
    gpu |= {"power_draw_watts": 100, "power_limit_watts": 300}
    container = {"id": "abc", "name": "web", "image": "nginx", "state": "running"}
    container |= {"cpu_percent": 1.0, "memory_used_bytes": 10, "memory_limit_bytes": 100}
    temperature = {"chip": "c", "label": "l", "current_celsius": 40}
    temperature |= {"high_celsius": 80, "critical_celsius": 90}
    sensors = {
        "temperatures": [temperature],
        "fans": [{"chip": "f", "label": "fan1", "rpm": 1200}],
        "battery": {"percent": 50, "plugged": True, "seconds_left": 3600},
    }
    agent = {"version": "0.1.0", "cpu_percent": 1, "rss_bytes": 1, "over_budget": False}
    return make_snapshot(
        gpus=[gpu], containers=[container], metrics={"sensors": sensors}, agent=agent
    )


def test_every_metric_family_is_documented() -> None:
    stats = {"cycles": 1, "total_duration_ms": 1.0, "warnings_total": 0}
    text = render_metrics(full_snapshot(), stats)
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name + ("_total" if family.type == "counter" else ""))
    assert len(names) > 80
    missing = sorted(n for n in names if f"`{n}`" not in DOC)
    assert not missing, f"undocumented in docs/agent.md: {missing}"


def test_every_top_level_tree_key_is_documented() -> None:
    for key in build_tree(full_snapshot()):
        assert f"`{key}/" in DOC, key
