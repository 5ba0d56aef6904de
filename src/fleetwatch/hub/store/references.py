"""Per-server compression references: the `S` format of `store/codec.py`.

A server's snapshots repeat most of their text (process, service, disk and NIC names, totals),
so each is compressed against one of that server's own earlier snapshots, its *reference*,
stored once in `codec_refs` (itself compressed, ~1 KB). Measured on the bench fleet: ~590
bytes per snapshot instead of ~1,070 with the frozen dictionary alone.

Lifecycle:
- A server without a reference *in this process* (new, or the hub just started) gets its
  snapshots packed with the frozen dictionary (`Z`), and the write offers the snapshot's text.
  The writer, in the same transaction, `ensure`s a reference: the server's newest stored one,
  or the offered text stored as a new one. Only after the commit does ingest `adopt` it, so no
  row is ever packed against a reference that is not committed.
- Renewal: when a snapshot packed against the reference is more than `RENEW_RATIO` times the
  first one packed against it in this process, and the reference is older than
  `RENEW_AFTER_SECONDS`, that snapshot's text is offered as the server's new reference.
- References are immutable and go only with their server (`delete_server` removes every table's
  `server_id` rows): rows of every age can be read as long as the server exists.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, insert, select

from fleetwatch.hub.store import codec, tables

RENEW_RATIO = 1.6
RENEW_AFTER_SECONDS = 3600.0
#: servers whose reference a process keeps (~6 MiB per 1,000, measured); beyond, the least
#: recently seen is dropped and fetched again (one `Z` snapshot) when that server reports
CAPACITY = 20_000


@dataclass
class Reference:
    key: int
    text: bytes  # the reference: the JSON text of one of the server's snapshots
    created: float
    baseline: int = field(default=0)  # size of the first blob packed against it here


@dataclass(frozen=True)
class Offer:
    """The text a write offers as its server's reference; `renew`: even if one is stored."""

    text: bytes
    renew: bool


class References:
    """This process's reference per server (kept in `ctx.extras`)."""

    def __init__(self) -> None:
        self._by_server: OrderedDict[str, Reference] = OrderedDict()
        self._lock = threading.Lock()

    def pack(
        self, server_id: str, texts: list[bytes], now: float
    ) -> tuple[list[bytes], Offer | None]:
        """One request's texts (one server) encoded for storage, and what to offer the writer
        (None: nothing)."""
        with self._lock:
            ref = self._by_server.get(server_id)
            if ref is not None:
                self._by_server.move_to_end(server_id)
        if ref is None:
            return [codec.pack_json(text) for text in texts], Offer(texts[-1], renew=False)
        pack = codec.packer_for(ref.key, ref.text)
        blobs = [pack(text) for text in texts]
        with self._lock:
            if not ref.baseline:
                ref.baseline = len(blobs[0])
        largest = max(range(len(blobs)), key=lambda i: len(blobs[i]))
        grown = len(blobs[largest]) > RENEW_RATIO * ref.baseline
        if grown and now - ref.created > RENEW_AFTER_SECONDS:
            return blobs, Offer(texts[largest], renew=True)
        return blobs, None

    def adopt(self, server_id: str, ref: Reference) -> None:
        codec.remember_reference(ref.key, ref.text)
        with self._lock:
            current = self._by_server.get(server_id)
            if current is None or current.key != ref.key:
                self._by_server[server_id] = ref
            while len(self._by_server) > CAPACITY:
                self._by_server.popitem(last=False)

    def forget(self, server_id: str) -> None:
        with self._lock:
            self._by_server.pop(server_id, None)


def ensure(conn: Connection, server_id: str, offer: Offer, now: float) -> Reference:
    """Writer side: the server's newest stored reference, or `offer.text` stored as a new one
    (always when `offer.renew`)."""
    t = tables.codec_refs.c
    if not offer.renew:
        row = conn.execute(
            select(t.key, t.content, t.created)
            .where(t.server_id == server_id)
            .order_by(t.created.desc(), t.key)
            .limit(1)
        ).first()
        if row is not None:
            text = codec.unpack_text(row.content)
            return Reference(row.key, text, row.created)
    key = codec.reference_key(offer.text)
    if conn.execute(select(t.key).where(t.key == key)).first() is None:
        conn.execute(
            insert(tables.codec_refs).values(
                key=key, server_id=server_id, created=now, content=codec.pack_json(offer.text)
            )
        )
    return Reference(key, offer.text, now)


def source_for(engine: Engine) -> codec.Source:
    """What `codec.unpack` asks on a cache miss: a reference's text by key, from `engine`."""

    def load(key: int) -> bytes | None:
        with engine.connect() as conn:
            row = conn.execute(
                select(tables.codec_refs.c.content).where(tables.codec_refs.c.key == key)
            ).first()
        return None if row is None else codec.unpack_text(row.content)

    return load
