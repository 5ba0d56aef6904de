"""Grafana for the hub (H11, seed 000's Grafana integration).

`summary(overview)` is seed 000's "Grafana JSON metrics" (`GET /api/grafana/summary`), for a
JSON data source: `system` (the hub), `servers` (each one's latest numbers), `application`
(fleet counts). `dashboard()` is an importable dashboard JSON (schema version 39) for a
Prometheus data source chosen at import (`${DS_PROMETHEUS}`): the health score and servers up as
stats, a status pie, CPU, memory, disk and network time series per server, filtered by the
`group` and `server` template variables, and a table of the servers that are down. Every
expression uses only series `/metrics` exposes (a test runs each one in a real Prometheus).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from fleetwatch import __version__

DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
SEL = 'group=~"$group", hostname=~"$server"'
#: the health bands (issue 20): red below 70, amber below 90, green from 90
HEALTH_STEPS = {"mode": "absolute", "steps": [{"color": "red", "value": None},
                {"color": "orange", "value": 70}, {"color": "green", "value": 90}]}  # fmt: skip

#: (title, unit, PromQL, legend) of the per-server time series panels
SERIES: tuple[tuple[str, str, str, str], ...] = (
    ("CPU", "percentunit", f"fleetwatch_cpu_usage_ratio{{{SEL}}}", "{{hostname}}"),
    ("Memory", "percentunit", f"fleetwatch_memory_usage_ratio{{{SEL}}}", "{{hostname}}"),
    ("Disk space used", "percentunit", f"fleetwatch_filesystem_usage_ratio{{{SEL}}}",
     "{{hostname}} {{mountpoint}}"),
    ("Network received", "Bps",
     f"sum by (hostname) (rate(fleetwatch_network_receive_bytes_total{{{SEL}}}[5m]))",
     "{{hostname}}"),
    ("Network sent", "Bps",
     f"sum by (hostname) (rate(fleetwatch_network_transmit_bytes_total{{{SEL}}}[5m]))",
     "{{hostname}}"),
    ("Load (1 min)", "short", f"fleetwatch_load1{{{SEL}}}", "{{hostname}}"),
)  # fmt: skip


def _target(expr: str, legend: str = "", instant: bool = False, table: bool = False) -> Any:
    target: dict[str, Any] = {"datasource": DATASOURCE, "expr": expr, "refId": "A",
                              "legendFormat": legend or "__auto"}  # fmt: skip
    if instant:
        target["instant"], target["range"] = True, False
    if table:
        target["format"] = "table"
    return target


def _panel(pid: int, kind: str, title: str, grid: tuple[int, int, int, int], **extra: Any) -> Any:
    x, y, w, h = grid
    panel: dict[str, Any] = {"id": pid, "type": kind, "title": title, "datasource": DATASOURCE,
                             "gridPos": {"x": x, "y": y, "w": w, "h": h}}  # fmt: skip
    panel.update(extra)
    return panel


def _variable(name: str, label: str, query: str) -> Any:
    return {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "query": {"query": query, "refId": f"{name}-var"}, "definition": query,
            "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
            "current": {"text": "All", "value": "$__all"}, "sort": 1}  # fmt: skip


def dashboard(title: str = "fleetwatch fleet") -> dict[str, Any]:
    """The dashboard JSON (import it in Grafana: Dashboards > New > Import)."""
    stat = {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value"}
    panels = [
        _panel(1, "stat", "Health score", (0, 0, 6, 5), options=stat,
               fieldConfig={"defaults": {"unit": "none", "min": 0, "max": 100, "decimals": 0,
                                         "thresholds": HEALTH_STEPS}},
               targets=[_target(f'avg(fleetwatch_health_score{{scope="server", {SEL}}})',
                                instant=True)]),
        _panel(2, "stat", "Servers up", (6, 0, 6, 5), options=stat,
               targets=[_target(f"sum(fleetwatch_server_up{{{SEL}}})", instant=True)]),
        _panel(3, "piechart", "Server status", (12, 0, 12, 10),
               options={"reduceOptions": {"calcs": ["lastNotNull"]}, "legend": {"show": True}},
               targets=[_target("sum by (status) (fleetwatch_hub_servers)", "{{status}}",
                                instant=True)]),
        _panel(4, "table", "Servers down", (0, 5, 12, 5),
               targets=[_target(f"fleetwatch_server_up{{{SEL}}} == 0", instant=True, table=True)]),
    ]  # fmt: skip
    for i, (name, unit, expr, legend) in enumerate(SERIES):
        grid = (12 * (i % 2), 10 + 8 * (i // 2), 12, 8)
        panels.append(_panel(10 + i, "timeseries", name, grid, targets=[_target(expr, legend)],
                             fieldConfig={"defaults": {"unit": unit}}))  # fmt: skip
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "title": title,
        "uid": "fleetwatch-fleet",
        "tags": ["fleetwatch"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "browser",
        "templating": {"list": [
            _variable("group", "Group", "label_values(fleetwatch_server_up, group)"),
            _variable("server", "Server",
                      'label_values(fleetwatch_server_up{group=~"$group"}, hostname)'),
        ]},
        "panels": panels,
    }  # fmt: skip


def expressions(board: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard (panels and template variables)."""
    out = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    out += [v["query"]["query"] for v in board["templating"]["list"]]
    return out


def summary(overview: dict[str, Any], stream_clients: int, started_at: float) -> dict[str, Any]:
    """Seed 000's three sections from `services.dashboard.overview`'s answer."""
    import psutil

    me = psutil.Process(os.getpid())
    with me.oneshot():
        system = {"hub_version": __version__,
                  "uptime_seconds": round(time.time() - started_at, 1),
                  "cpu_percent": me.cpu_percent(interval=None),
                  "memory_rss_bytes": me.memory_info().rss,
                  "threads": me.num_threads()}  # fmt: skip
    servers = []
    for item in overview["servers"]:
        m = item.get("metrics") or {}
        servers.append({
            "server_id": item["id"], "hostname": item["hostname"], "name": item["name"],
            "group": item["group_name"], "status": item["status"],
            "cpu_percent": m.get("cpu_percent"), "memory_percent": m.get("memory_percent"),
            "disk_percent": m.get("disk_percent_max"), "load_1": m.get("load_1"),
            "uptime_seconds": m.get("uptime_seconds"), "active_alerts": item["alert_count"],
        })  # fmt: skip
    counts = overview["summary"]
    application = {key: counts[key] for key in ("total_servers", "online_servers",
                   "offline_servers", "active_alerts", "critical_alerts", "groups")}  # fmt: skip
    application["stream_clients"] = stream_clients
    return {
        "generated_at": datetime.fromtimestamp(overview["generated_at"], UTC).isoformat(),
        "system": system,
        "servers": servers,
        "application": application,
    }
