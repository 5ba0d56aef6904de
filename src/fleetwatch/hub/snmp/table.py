"""The responder's view of the hub: seed 000's enterprise OIDs and a per-server table, every
value encoded once when the table is built (`build`), so answering is lookups and joins.

Under `1.3.6.1.4.1.12345` (`FLEETWATCH-MIB.txt`, printed by `fleetwatch snmp mib`):

- `.1` fleet: `.1.1` the fleet's health score 0-100 (`services/health.py`), `.1.2` CPU,
  `.1.3` memory and `.1.4` disk (fullest mount) usage as the mean of online servers,
  `.1.5` hub uptime in seconds;
- `.2` servers: `.2.1` total, `.2.2` running (online), `.2.3` offline, `.2.4` error (online
  with a critical alert firing);
- `.3` the hub process: `.3.1` CPU, `.3.2` resident memory (KiB), `.3.3` WebSocket stream
  connections, `.3.4` dashboard pages open;
- `.4.1.<column>.<index>` one row per server, oldest registration first: index, hostname,
  status (1 online, 2 offline, 3 error), CPU, memory, disk, server id, group.

Percentages are Gauge32 in hundredths (`DISPLAY-HINT "d-2"`: 1234 reads 12.34).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fleetwatch.hub.snmp import ber
from fleetwatch.hub.snmp.ber import Oid

BASE: Oid = (1, 3, 6, 1, 4, 1, 12345)
ONLINE, OFFLINE, ERROR = 1, 2, 3
#: the per-server table's columns, in OID order: (arc, name)
SERVER_COLUMNS = ((1, "index"), (2, "hostname"), (3, "status"), (4, "cpu"), (5, "memory"),
                  (6, "disk"), (7, "server_id"), (8, "group"))  # fmt: skip


def hundredths(percent: float | None) -> bytes:
    value = 0 if percent is None else max(0, min(10_000, round(percent * 100)))
    return ber.unsigned(value, ber.GAUGE32)


def gauge(value: float | int) -> bytes:
    return ber.unsigned(max(0, min(0xFFFFFFFF, int(value))), ber.GAUGE32)


@dataclass
class Table:
    """Sorted OIDs with their encoded forms and encoded values."""

    oids: list[Oid] = field(default_factory=list)
    encoded: list[bytes] = field(default_factory=list)  # each OID, BER
    values: list[bytes] = field(default_factory=list)  # each value, BER
    at: dict[Oid, int] = field(default_factory=dict)
    built_at: float = field(default_factory=time.monotonic)

    def get(self, oid: Oid) -> int | None:
        return self.at.get(oid)

    def next(self, oid: Oid) -> int | None:
        """The position of the first OID after `oid`, None past the end."""
        i = bisect.bisect_right(self.oids, oid)
        return i if i < len(self.oids) else None


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def build(overview: Mapping[str, Any], hub: Mapping[str, float]) -> Table:
    """The table of `services.dashboard.overview`'s answer and the hub's own `hub` figures
    (`health_score`, `uptime_seconds`, `cpu_percent`, `rss_bytes`, `stream_clients`,
    `dashboards`)."""
    servers = sorted(overview["servers"], key=lambda s: (s.get("created_at") or 0, s["id"]))
    pairs: list[tuple[Oid, bytes]] = []
    online = [s for s in servers if s["status"] == "online"]
    failing = [s for s in online if s.get("critical_alert_count")]
    metrics = [s.get("metrics") or {} for s in online]
    pairs += [
        ((*BASE, 1, 1, 0), gauge(round(hub["health_score"]))),
        ((*BASE, 1, 2, 0), hundredths(_mean([m.get("cpu_percent") for m in metrics]))),
        ((*BASE, 1, 3, 0), hundredths(_mean([m.get("memory_percent") for m in metrics]))),
        ((*BASE, 1, 4, 0), hundredths(_mean([m.get("disk_percent_max") for m in metrics]))),
        ((*BASE, 1, 5, 0), gauge(hub["uptime_seconds"])),
        ((*BASE, 2, 1, 0), gauge(len(servers))),
        ((*BASE, 2, 2, 0), gauge(len(online))),
        ((*BASE, 2, 3, 0), gauge(len(servers) - len(online))),
        ((*BASE, 2, 4, 0), gauge(len(failing))),
        ((*BASE, 3, 1, 0), hundredths(hub["cpu_percent"])),
        ((*BASE, 3, 2, 0), gauge(hub["rss_bytes"] // 1024)),
        ((*BASE, 3, 3, 0), gauge(hub["stream_clients"])),
        ((*BASE, 3, 4, 0), gauge(hub["dashboards"])),
    ]
    for index, server in enumerate(servers, start=1):
        m = server.get("metrics") or {}
        status = ONLINE if server["status"] == "online" else OFFLINE
        if status == ONLINE and server.get("critical_alert_count"):
            status = ERROR
        cells = {
            "index": ber.integer(index),
            "hostname": ber.octets(server["hostname"]),
            "status": ber.integer(status),
            "cpu": hundredths(m.get("cpu_percent")),
            "memory": hundredths(m.get("memory_percent")),
            "disk": hundredths(m.get("disk_percent_max")),
            "server_id": ber.octets(server["id"]),
            "group": ber.octets(server.get("group_name") or ""),
        }
        for arc, name in SERVER_COLUMNS:
            pairs.append(((*BASE, 4, 1, arc, index), cells[name]))
    pairs.sort()
    table = Table()
    for i, (arcs, value) in enumerate(pairs):
        table.oids.append(arcs)
        table.encoded.append(ber.oid(arcs))
        table.values.append(value)
        table.at[arcs] = i
    return table
