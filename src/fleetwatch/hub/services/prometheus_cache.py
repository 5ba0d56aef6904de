"""The fleet part of `/metrics`, fast: each server's series encoded once per snapshot.

`prometheus_client`'s encoders cost ~10 us per sample, and a fleet of 1,000 servers is ~44,000
samples: encoding them all on every scrape took most of a second. So each server's families
are encoded by `prometheus_client` itself (a one-server registry, the text or the OpenMetrics
encoder) when its latest snapshot changes, split into per-family sample lines, and kept; a
scrape writes each family's HELP/TYPE lines once and joins the servers' cached lines under it,
which is the same text the encoder would have written for all servers at once. Nothing here
formats a sample itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from fleetwatch.hub.store import codec
from fleetwatch.protocol.prometheus import emit_snapshot

Encoder = Callable[[CollectorRegistry], bytes]
EOF_LINE = b"# EOF\n"  # OpenMetrics' last line: written once, at the very end


class Families:
    """A `protocol.prometheus.Sink` that gathers samples into `prometheus_client` metric
    families; `base` labels go on every sample; a repeated series keeps its first value."""

    def __init__(self, base: dict[str, str] | None = None) -> None:
        self.families: dict[str, Metric] = {}
        self.base: dict[str, str] = base or {}
        self._seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    def add(
        self,
        name: str,
        kind: str,
        help_text: str,
        value: object,
        labels: Mapping[str, object] | None = None,
    ) -> None:
        if value is None or not isinstance(value, int | float):
            return
        merged = dict(self.base)
        for k, v in (labels or {}).items():
            merged[k] = "" if v is None else str(v)
        key = (name, tuple(merged.items()))
        if key in self._seen:
            return
        self._seen.add(key)
        family = self.families.get(name)
        if family is None:
            if kind == "counter":  # the family is named without `_total`, its sample with it
                family = Metric(name.removesuffix("_total"), help_text, "counter")
            else:
                family = Metric(name, help_text, "gauge")
            self.families[name] = family
        family.add_sample(name, merged, float(value))


class Static:
    """A collector of families built before the scrape is encoded."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def encode(families: list[Metric], encoder: Encoder) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Static(families))
    return encoder(registry)


def split(text: bytes) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Encoded families -> (family -> its HELP/TYPE/UNIT lines, family -> its sample lines)."""
    heads: dict[str, bytes] = {}
    lines: dict[str, list[bytes]] = {}
    name = ""
    for line in text.splitlines(keepends=True):
        if line.startswith(b"# HELP "):
            name = line[7:].split(b" ", 1)[0].decode()
            heads[name] = line
            lines[name] = []
        elif line.startswith(b"# "):
            if line != EOF_LINE:
                heads[name] += line
        else:
            lines[name].append(line)
    return heads, {k: b"".join(v) for k, v in lines.items()}


def server_families(
    server_id: str, hostname: str, group: str, latest: bytes | None
) -> list[Metric]:
    """One online server's families from its latest snapshot (none when unreadable)."""
    try:
        snapshot = codec.unpack(latest) if latest is not None else None
    except (ValueError, TypeError):
        snapshot = None
    if not isinstance(snapshot, dict):
        return []
    sink = Families({"server_id": server_id, "hostname": hostname, "group": group})
    emit_snapshot(sink, snapshot, fleet=True)
    return list(sink.families.values())


CacheKey = tuple[float | None, str, str]  # last snapshot time, hostname, group


class SeriesCache:
    """Per encoder: each server's encoded sample lines per family, until its key changes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # scrapes build in threads: one at a time
        self._heads: dict[Encoder, dict[str, bytes]] = {}
        self._servers: dict[Encoder, dict[str, tuple[CacheKey, dict[str, bytes]]]] = {}

    def stale(self, encoder: Encoder, keys: Mapping[str, CacheKey]) -> list[str]:
        cached = self._servers.get(encoder, {})
        return [sid for sid, key in keys.items() if sid not in cached or cached[sid][0] != key]

    def put(self, encoder: Encoder, server_id: str, key: CacheKey, families: list[Metric]) -> None:
        heads, lines = split(encode(families, encoder)) if families else ({}, {})
        known = self._heads.setdefault(encoder, {})
        for name, head in heads.items():
            known.setdefault(name, head)
        self._servers.setdefault(encoder, {})[server_id] = (key, lines)

    def text(self, encoder: Encoder, keys: Mapping[str, CacheKey]) -> bytes:
        """Every family of the servers in `keys` (all cached), each once, in a stable order;
        servers that are not in `keys` any more are forgotten."""
        cached = self._servers.get(encoder, {})
        for gone in [sid for sid in cached if sid not in keys]:
            del cached[gone]
        out: list[bytes] = []
        for name, head in self._heads.get(encoder, {}).items():
            blocks = [cached[sid][1].get(name, b"") for sid in keys]
            if any(blocks):
                out.append(head)
                out.extend(blocks)
        return b"".join(out)
