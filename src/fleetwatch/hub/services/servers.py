"""Server state (H4): online/offline, the per-server summary of the latest snapshot, and the
changes a user makes to a server (display name, group, notes, thresholds, interval, delete).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Collection, Mapping
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services.audit import record_audit
from fleetwatch.hub.services.history_cache import history_cache
from fleetwatch.hub.services.settings import Thresholds, ThresholdsPatch, threshold_order_problem
from fleetwatch.hub.store import tables

#: colours of groups nobody chose a colour for (picked by a hash of the name: stable)
PALETTE: tuple[str, ...] = (
    "#3b82f6",
    "#22c55e",
    "#f59e0b",
    "#a855f7",
    "#ef4444",
    "#06b6d4",
    "#ec4899",
    "#84cc16",
    "#f97316",
    "#6366f1",
)
COLOR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
#: a server with its own interval is offline after this many missed intervals
MISSED_INTERVALS = 2.5


class ServerNotFound(LookupError):
    """No server with that id."""


class InvalidField(ValueError):
    """A value that is well-typed but not acceptable; `field` names it (dotted path)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def offline_after_seconds(stale_threshold_minutes: int, interval_seconds: int | None) -> float:
    """Seconds of silence after which a server is offline: max(stale, 2.5 x interval)."""
    limit = stale_threshold_minutes * 60.0
    if interval_seconds:
        limit = max(limit, MISSED_INTERVALS * interval_seconds)
    return limit


def server_status(
    last_seen: float | None, interval_seconds: int | None, stale_minutes: int, now: float
) -> str:
    """`online` or `offline` (never seen = offline)."""
    if last_seen is None:
        return "offline"
    limit = offline_after_seconds(stale_minutes, interval_seconds)
    return "online" if now - last_seen <= limit else "offline"


def fallback_color(group: str, taken: Collection[str] = ()) -> str:
    """A stable palette colour for a group that has no stored colour yet: the name's hash
    picks the first one tried, then the next one no other group has (while any is free)."""
    start = zlib.crc32(group.encode()) % len(PALETTE)
    for step in range(len(PALETTE)):
        color = PALETTE[(start + step) % len(PALETTE)]
        if color.lower() not in taken:
            return color
    return PALETTE[start]


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def hot_summary(snapshot: Mapping[str, Any] | None) -> dict[str, Any]:
    """The numbers the overview shows, from a stored snapshot dict (absent values = None)."""
    if not snapshot:
        return {"metrics": None, "disks": []}
    m = snapshot.get("metrics") or {}
    cpu = m.get("cpu") or {}
    swap = m.get("swap") or {}
    net = m.get("network") or {}
    dio = m.get("disk_io") or {}
    disks = [
        {
            "mountpoint": d.get("mountpoint"),
            "device": d.get("device"),
            "fstype": d.get("fstype"),
            "total": d.get("total"),
            "used": d.get("used"),
            "free": d.get("free"),
            "percent": d.get("percent"),
        }
        for d in m.get("disks") or []
        if isinstance(d, dict)
    ]
    percents = [p for d in disks if (p := _num(d["percent"])) is not None]
    metrics = {
        "cpu_percent": _num(m.get("cpu_percent")),
        "memory_percent": _num(m.get("memory_percent")),
        "memory_total": m.get("memory_total"),
        "memory_used": m.get("memory_used"),
        "swap_percent": _num(swap.get("percent")),
        "load_1": _num(cpu.get("load_1")),
        "load_5": _num(cpu.get("load_5")),
        "load_15": _num(cpu.get("load_15")),
        "cpu_count_logical": cpu.get("count_logical"),
        "disk_percent_max": max(percents) if percents else None,
        "net_sent_bytes_per_sec": _num(net.get("bytes_sent_per_sec")),
        "net_recv_bytes_per_sec": _num(net.get("bytes_recv_per_sec")),
        "disk_read_bytes_per_sec": _num(dio.get("read_bytes_per_sec")),
        "disk_write_bytes_per_sec": _num(dio.get("write_bytes_per_sec")),
        "process_count": m.get("process_count"),
        "thread_count": m.get("thread_count"),
        "uptime_seconds": _num(m.get("uptime_seconds")),
    }
    return {"metrics": metrics, "disks": disks}


def load_thresholds(raw: str | None) -> dict[str, float]:
    """A server's stored threshold overrides (JSON text) as a dict; bad data = none."""
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float)}


def effective_thresholds(overrides: Mapping[str, float], defaults: Thresholds) -> dict[str, float]:
    return {**defaults.model_dump(), **overrides}


# --- changes -----------------------------------------------------------------------------


def _no_nul(text: str) -> str:
    """Text a user gives is stored as given, except NUL characters (PostgreSQL refuses them)."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


NoNul = AfterValidator(_no_nul)
Label = Annotated[str, Field(max_length=255), NoNul]
GroupName = Annotated[str, Field(min_length=1, max_length=255), NoNul]


class ServerUpdate(BaseModel):
    """`PATCH /api/dashboard/server/{id}` body: only the fields given change; null clears."""

    model_config = ConfigDict(extra="forbid", strict=True)

    display_name: Label | None = None
    group_name: Label | None = None
    group_color: Annotated[str, Field(pattern=COLOR_RE.pattern)] | None = None
    notes: Annotated[str, Field(max_length=10_000), NoNul] | None = None
    tags: list[Label] | None = Field(default=None, max_length=64)
    thresholds: ThresholdsPatch | None = None
    interval_seconds: Annotated[int, Field(ge=1, le=86_400)] | None = None


def ensure_group(conn: Connection, name: str, color: str | None = None) -> str:
    """Create `name` on first use (its stable palette colour unless given); set `color` if given."""
    row = conn.execute(select(tables.groups.c.color).where(tables.groups.c.name == name)).first()
    if row is None:
        wanted = color
        if color is None:  # a colour no other group has, while the palette lasts
            taken = {str(c).lower() for c in conn.execute(select(tables.groups.c.color)).scalars()}
            color = fallback_color(name, taken)
        try:
            with conn.begin_nested():  # another process may create it at the same moment
                conn.execute(insert(tables.groups).values(name=name, color=color))
        except IntegrityError:
            return ensure_group(conn, name, wanted)
        return color
    if color is not None and color != row.color:
        conn.execute(update(tables.groups).where(tables.groups.c.name == name).values(color=color))
        return color
    return str(row.color)


def apply_server_update(
    conn: Connection, server_id: str, body: ServerUpdate, defaults: Thresholds, actor: str
) -> dict[str, Any]:
    """Apply `body` in the caller's transaction; returns the changed columns.

    Raises ServerNotFound, or InvalidField naming the field (`thresholds.cpu_warning`, ...).
    """
    s = tables.servers.c
    row = conn.execute(select(s.group_name, s.thresholds).where(s.id == server_id)).first()
    if row is None:
        raise ServerNotFound(server_id)
    given = body.model_fields_set
    values: dict[str, Any] = {}
    for name in ("display_name", "notes", "interval_seconds"):
        if name in given:
            value = getattr(body, name)
            values[name] = value if value != "" else None
    if "tags" in given:
        values["tags"] = orjson.dumps(body.tags or []).decode()
    if "group_name" in given:
        values["group_name"] = body.group_name or None
    if "thresholds" in given:
        if body.thresholds is None:
            values["thresholds"] = None
        else:
            patch = body.thresholds.model_dump(exclude_unset=True)
            merged = {**load_thresholds(row.thresholds), **patch}
            merged = {k: v for k, v in merged.items() if v is not None}
            problem = threshold_order_problem(
                effective_thresholds(merged, defaults), prefix="thresholds."
            )
            if problem is not None:
                raise InvalidField(*problem)
            values["thresholds"] = orjson.dumps(merged).decode() if merged else None
    group = values.get("group_name", row.group_name) if "group_name" in given else row.group_name
    if "group_color" in given and body.group_color is not None and not group:
        raise InvalidField("group_color", "the server has no group; give group_name too")
    if group:
        values["group_color"] = ensure_group(conn, group, body.group_color)
    columns = {k: v for k, v in values.items() if k != "group_color"}
    if columns:
        conn.execute(update(tables.servers).where(s.id == server_id).values(**columns))
    record_audit(conn, actor, "server.update", server_id, body.model_dump(exclude_unset=True))
    return values


def delete_server(conn: Connection, server_id: str, actor: str) -> dict[str, int]:
    """Remove a server and every row that refers to it (all tables with `server_id`)."""
    s = tables.servers.c
    query = select(s.hostname).where(s.id == server_id)
    if conn.dialect.name == "postgresql":
        # the server's row first, as ingest locks it (timeseries.servers_for_snapshots)
        # before its rollups: the other order deadlocks with a concurrent write
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise ServerNotFound(server_id)
    counts: dict[str, int] = {}
    for table in tables.metadata.sorted_tables:
        if "server_id" in table.c:
            result = conn.execute(delete(table).where(table.c.server_id == server_id))
            counts[table.name] = result.rowcount
    conn.execute(delete(tables.servers).where(s.id == server_id))
    counts["servers"] = 1
    record_audit(conn, actor, "server.delete", server_id, {"hostname": row.hostname, **counts})
    return counts


def list_groups(conn: Connection) -> list[dict[str, Any]]:
    """Every group, stored or referenced by a server, with its colour and server count."""
    colors = {r.name: r.color for r in conn.execute(select(tables.groups)).all()}
    counts: dict[str, int] = {}
    for (name,) in conn.execute(select(tables.servers.c.group_name)).all():
        if name:
            counts[name] = counts.get(name, 0) + 1
    names = sorted(set(colors) | set(counts))
    return [
        {
            "name": name,
            "color": colors.get(name) or fallback_color(name),
            "server_count": counts.get(name, 0),
        }
        for name in names
    ]


class GroupUpdate(BaseModel):
    """`PATCH /api/dashboard/groups` body: colour and/or new name of one group."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: GroupName
    color: Annotated[str, Field(pattern=COLOR_RE.pattern)] | None = None
    rename_to: GroupName | None = None


def update_group(conn: Connection, body: GroupUpdate, actor: str) -> dict[str, Any]:
    """Create or recolour a group; `rename_to` moves its servers to the new name too."""
    name = body.name
    color = ensure_group(conn, name, body.color)
    if body.rename_to and body.rename_to != name:
        g = tables.groups.c
        exists = conn.execute(select(g.name).where(g.name == body.rename_to)).first()
        if exists is not None:
            raise InvalidField("rename_to", f"a group named {body.rename_to!r} already exists")
        conn.execute(update(tables.groups).where(g.name == name).values(name=body.rename_to))
        conn.execute(
            update(tables.servers)
            .where(tables.servers.c.group_name == name)
            .values(group_name=body.rename_to)
        )
        name = body.rename_to
    record_audit(conn, actor, "group.update", body.name, body.model_dump(exclude_unset=True))
    return {"name": name, "color": color}


#: ctx.extras key: callables `fn(server_id)` run after a server is deleted (the app registers
#: `services.keys.invalidate_server` here, so the deleted server's agent key stops working)
DELETE_HOOKS_KEY = "servers.delete_hooks"


def forget_server(ctx: HubContext, server_id: str) -> None:
    """Drop in-memory state of a deleted server in this process (its cached key, ...)."""
    history_cache(ctx.extras).forget_server(server_id)
    for hook in ctx.extras.get(DELETE_HOOKS_KEY, ()):
        hook(server_id)
