"""Agent API keys: creation, storage as SHA-256, verification with a short in-memory cache.

A key is `fwk_` + 43 url-safe characters (256 random bits), shown once at registration and
stored only as its SHA-256 hex digest (plus the first characters, for display). A random 256-bit
secret needs no slow password hash: SHA-256 is irreversible for it and cheap enough to check on
every request. Agents authenticate with `Authorization: Bearer <server_id>:<api_key>`.

Verified credentials are remembered for `key_cache_seconds`, keyed by the SHA-256 of the whole
bearer value, so the hot ingest path does no database read. Whoever deletes a server (or
replaces its key) must call `invalidate_server(ctx, server_id)`; other hub processes forget it
within `key_cache_seconds`, and the ingest writer refuses data for a server that no longer
exists in any case.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.store.tables import servers

KEY_PREFIX = "fwk_"
DISPLAY_PREFIX_CHARS = 12  # "fwk_" + 8: enough to tell keys apart on screen
_CACHE_NAME = "agent_key_cache"
_CACHE_MAX = 100_000


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def display_prefix(api_key: str) -> str:
    return api_key[:DISPLAY_PREFIX_CHARS]


@dataclass
class KeyCache:
    """bearer digest -> (server_id, expiry on the monotonic clock)."""

    ttl_seconds: float
    entries: dict[bytes, tuple[str, float]] = field(default_factory=dict)

    def get(self, digest: bytes) -> str | None:
        entry = self.entries.get(digest)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            del self.entries[digest]
            return None
        return entry[0]

    def put(self, digest: bytes, server_id: str) -> None:
        if self.ttl_seconds <= 0:
            return
        if len(self.entries) >= _CACHE_MAX:
            self.entries.clear()  # crude but bounded; refills from the database
        self.entries[digest] = (server_id, time.monotonic() + self.ttl_seconds)

    def forget_server(self, server_id: str) -> None:
        for digest in [d for d, (sid, _) in self.entries.items() if sid == server_id]:
            del self.entries[digest]


def key_cache(ctx: HubContext) -> KeyCache:
    cache = ctx.extras.get(_CACHE_NAME)
    if cache is None:
        cache = ctx.extras[_CACHE_NAME] = KeyCache(ctx.settings.key_cache_seconds)
    assert isinstance(cache, KeyCache)
    return cache


def invalidate_server(ctx: HubContext, server_id: str) -> None:
    """Forget cached credentials of `server_id` (call after deleting it or replacing its key)."""
    key_cache(ctx).forget_server(server_id)


def split_bearer(authorization: str | None) -> tuple[str, str] | None:
    """`Bearer <server_id>:<api_key>` -> (server_id, api_key); None when malformed."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    server_id, sep, api_key = token.strip().partition(":")
    if not sep or not server_id or not api_key or len(server_id) > 64 or len(api_key) > 256:
        return None
    return server_id, api_key


def cached_server(ctx: HubContext, authorization: str) -> str | None:
    """The server these credentials were recently verified for, without touching the database."""
    return key_cache(ctx).get(hashlib.sha256(authorization.encode("utf-8")).digest())


async def verify(ctx: HubContext, authorization: str) -> str | None:
    """The server id the `Authorization` value proves, or None (unknown server or wrong key)."""
    parts = split_bearer(authorization)
    if parts is None:
        return None
    server_id, api_key = parts

    def lookup(conn: Connection) -> str | None:
        row = conn.execute(select(servers.c.key_hash).where(servers.c.id == server_id)).first()
        return None if row is None else str(row[0])

    stored = await ctx.db.read(lookup)
    # compare digests in constant time; hash even when the server is unknown (same timing)
    offered = hash_key(api_key)
    if not hmac.compare_digest(offered, stored or "0" * 64) or stored is None:
        return None
    key_cache(ctx).put(hashlib.sha256(authorization.encode("utf-8")).digest(), server_id)
    return server_id
