"""The local status endpoint's tree (A11): a snapshot re-shaped for path addressing.

Seed 002 addresses values by path (`network/eth0/errin`, `disk/_home/percent`,
`process/<name>/<pid>/cpu_percent`); this module turns a full snapshot dict (the shape of
`protocol.models.Snapshot`) into such a tree and looks paths up in it. Pure functions, standard
library only. The layout is documented in `docs/agent.md` ("Local status endpoint").

Keys: disks by mountpoint with "/" replaced by "_" (seed 002: "/" -> "_", "/home" -> "_home"),
interfaces by name, watched processes by configured name then pid, top processes by pid,
services by name, GPUs by index, containers by name, sensors by chip then label.
Lists of scalars (per-core CPU, IP addresses) stay lists; their items are addressed by index.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fleetwatch.errors import StatusPathError

Tree = dict[str, Any]

#: Names of the collection statistics copied into `collection/` when a stats object is given.
STATS_FIELDS = ("cycles", "last_duration_ms", "total_duration_ms", "warnings_total")


def stats_of(source: object) -> dict[str, Any] | None:
    """The collector's `stats` (a dataclass, a mapping or an object) as a plain dict, if any."""
    stats = getattr(source, "stats", None)
    if stats is None:
        return None
    if dataclasses.is_dataclass(stats) and not isinstance(stats, type):
        return dataclasses.asdict(stats)
    if isinstance(stats, Mapping):
        return dict(stats)
    return {k: v for k, v in vars(stats).items() if not k.startswith("_")}


def disk_key(mountpoint: str) -> str:
    """Seed 002's disk index: every "/" replaced by "_" ("/" -> "_", "/var/log" -> "_var_log")."""
    return mountpoint.replace("/", "_")


def _unique(key: str, taken: Mapping[str, Any]) -> str:
    """`key`, or `key~2`, `key~3`, ... when already taken (two mounts, two unnamed sensors)."""
    unique, n = key, 1
    while unique in taken:
        n += 1
        unique = f"{key}~{n}"
    return unique


def _keyed(
    items: Iterable[Mapping[str, Any]],
    key_of: Callable[[Mapping[str, Any]], Any],
    drop: Sequence[str] = (),
) -> Tree:
    """Index dict items by `key_of(item)`; a repeated key gets "~2", "~3", ... appended."""
    result: Tree = {}
    for item in items:
        result[_unique(str(key_of(item)), result)] = {
            k: v for k, v in item.items() if k not in drop
        }
    return result


def _by_chip(readings: Iterable[Mapping[str, Any]]) -> Tree:
    """Sensor readings as chip -> label (or position when unlabelled) -> fields."""
    result: Tree = {}
    for reading in readings:
        chip: Tree = result.setdefault(str(reading.get("chip", "")), {})
        label = _unique(str(reading.get("label") or len(chip)), chip)
        chip[label] = {k: v for k, v in reading.items() if k not in ("chip", "label")}
    return result


def _sensors(sensors: Mapping[str, Any] | None) -> Tree:
    sensors = sensors or {}
    return {
        "temperature": _by_chip(sensors.get("temperatures") or []),
        "fan": _by_chip(sensors.get("fans") or []),
        "battery": sensors.get("battery"),
    }


def _watched(watched: Mapping[str, Any]) -> Tree:
    result: Tree = {}
    for name, entry in watched.items():
        node: Tree = {"alive": bool(entry.get("alive")), "instances": 0}
        instances = entry.get("instances") or []
        node["instances"] = len(instances)
        node.update(_keyed(instances, lambda i: i.get("pid"), ("pid",)))
        result[str(name)] = node
    return result


def _host(snapshot: Mapping[str, Any], metrics: Mapping[str, Any]) -> Tree:
    host: Tree = dict(snapshot.get("system") or {})
    host.setdefault("uptime_seconds", metrics.get("uptime_seconds"))
    host.setdefault("boot_time", metrics.get("boot_time"))
    for key in ("process_count", "thread_count", "handle_count"):
        host[key] = metrics.get(key)
    return host


def _cpu(metrics: Mapping[str, Any]) -> Tree:
    cpu: Tree = dict(metrics.get("cpu") or {})
    cpu.setdefault("percent", metrics.get("cpu_percent"))
    return cpu


def _memory(metrics: Mapping[str, Any]) -> Tree:
    memory: Tree = dict(metrics.get("memory") or {})
    if not memory:
        memory = {
            "total_bytes": metrics.get("memory_total"),
            "used_bytes": metrics.get("memory_used"),
            "free_bytes": metrics.get("memory_free"),
            "percent": metrics.get("memory_percent"),
        }
    return memory


def _collection(snapshot: Mapping[str, Any], stats: Mapping[str, Any] | None) -> Tree:
    collection: Tree = {
        "collected_at": snapshot.get("collected_at"),
        "snapshot_id": snapshot.get("snapshot_id"),
        "protocol_version": snapshot.get("protocol_version"),
    }
    collection.update(snapshot.get("collection") or {})
    collection["sources"] = dict(collection.get("sources") or {})
    if stats is not None:
        collection.update({k: stats[k] for k in STATS_FIELDS if k in stats})
    return collection


def build_tree(snapshot: Mapping[str, Any], stats: Mapping[str, Any] | None = None) -> Tree:
    """The status tree of one snapshot; `stats` (collection statistics) go under `collection`."""
    metrics: Mapping[str, Any] = snapshot.get("metrics") or {}
    return {
        "host": _host(snapshot, metrics),
        "cpu": _cpu(metrics),
        "memory": _memory(metrics),
        "swap": dict(metrics.get("swap") or {}),
        "disk": _keyed(metrics.get("disks") or [], lambda d: disk_key(str(d.get("mountpoint")))),
        "disk_io": dict(metrics.get("disk_io") or {}),
        "network": _keyed(metrics.get("interfaces") or [], lambda i: i.get("name"), ("name",)),
        "network_total": dict(metrics.get("network") or {}),
        "sensors": _sensors(metrics.get("sensors")),
        "process": _watched(snapshot.get("watched_processes") or {}),
        "top_processes": _keyed(snapshot.get("processes") or [], lambda p: p.get("pid"), ("pid",)),
        "services": _keyed(
            snapshot.get("services") or [], lambda s: s.get("service_name"), ("service_name",)
        ),
        "gpu": _keyed(snapshot.get("gpus") or [], lambda g: g.get("index"), ("index",)),
        "containers": _keyed(snapshot.get("containers") or [], lambda c: c.get("name"), ("name",)),
        "collection": _collection(snapshot, stats),
        "agent": dict(snapshot.get("agent") or {}),
    }


def split_path(path: str) -> list[str]:
    """Path segments, ignoring empty ones ("/network//eth0/" -> ["network", "eth0"])."""
    return [segment for segment in path.split("/") if segment]


def _children(node: Any) -> list[str]:
    if isinstance(node, Mapping):
        return [str(k) for k in node]
    if isinstance(node, list):
        return [str(i) for i in range(len(node))]
    return []


def _walk(tree: Tree, segments: Sequence[str]) -> tuple[Any, int]:
    """Follow `segments` as far as they exist: (last node reached, number of segments used)."""
    node: Any = tree
    for depth, segment in enumerate(segments):
        if isinstance(node, Mapping) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return node, depth
    return node, len(segments)


def lookup(tree: Tree, segments: Sequence[str]) -> Any:
    """The subtree or scalar at `segments`; raises `StatusPathError` when absent.

    List items are addressed by their decimal index (`cpu/per_core_percent/0`).
    """
    node, used = _walk(tree, segments)
    if used < len(segments):
        raise StatusPathError("/".join(segments))
    return node


def explain_missing(tree: Tree, segments: Sequence[str], limit: int = 20) -> str:
    """A message for a path that does not exist: the path and what exists where it broke off."""
    node, used = _walk(tree, segments)
    path = "/".join(segments)
    parent = "/".join(segments[:used]) or "(root)"
    children = _children(node)
    if not children:
        return f"no such status path: {path!r} ({parent!r} is a value, not a subtree)"
    shown = ", ".join(children[:limit]) + (", ..." if len(children) > limit else "")
    return f"no such status path: {path!r}; {parent!r} has: {shown}"
