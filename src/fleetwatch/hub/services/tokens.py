"""Per-user API tokens for `/api/dashboard/*` (H8): `Authorization: Bearer fwu_...`.

256 random bits, prefixed `fwu_`, shown once, stored as SHA-256 (fast to check on every
request; argon2 is for low-entropy passwords). A token acts with its owner's current role and
stops working when revoked or when the owner is deleted.

`resolve_token` keeps each answer for `CACHE_SECONDS` (a database read was a third of the
hub's CPU per request under API load). A revoke, delete or role change made through this
process takes effect at once; one made elsewhere (the CLI, another replica) within
`CACHE_SECONDS`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from fleetwatch.errors import UserError
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import audit
from fleetwatch.hub.services.sessions import digest
from fleetwatch.hub.services.users import PRINCIPALS, Principal, fetch_user, forget_principals
from fleetwatch.hub.store.tables_users import api_tokens, users

TOKEN_PREFIX = "fwu_"
#: how stale `last_used_at` may get before a request refreshes it (saves a write per request)
LAST_USED_RESOLUTION_SECONDS = 60.0
CACHE_SECONDS = 2.0
CACHE_MAX = 4096


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user_name: str
    label: str
    prefix: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user_name,
            "label": self.label,
            "prefix": self.prefix,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "revoked": self.revoked_at is not None,
        }


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user_name=row.name,
        label=row.label,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _select() -> Any:
    return select(
        api_tokens.c.id,
        users.c.name,
        api_tokens.c.label,
        api_tokens.c.prefix,
        api_tokens.c.created_at,
        api_tokens.c.last_used_at,
        api_tokens.c.revoked_at,
    ).join(users, users.c.id == api_tokens.c.user_id)


async def create_token(
    ctx: HubContext, user_name: str, *, label: str = "", actor: str
) -> tuple[TokenInfo, str]:
    """A new token for `user_name`; returns (info, the token itself — shown only now)."""
    label = (label or "api token").strip()[:128]
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)

    def job(conn: Connection) -> TokenInfo:
        user = fetch_user(conn, user_name)
        result = conn.execute(
            insert(api_tokens).values(
                user_id=user.id,
                label=label,
                prefix=token[:12],
                token_hash=digest(token),
                created_at=time.time(),
            )
        )
        token_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        audit.record(conn, actor, "token.create", user_name, {"id": token_id, "label": label})
        return _info(conn.execute(_select().where(api_tokens.c.id == token_id)).one())

    return await ctx.db.write(job), token


async def list_tokens(ctx: HubContext, user_name: str | None = None) -> list[TokenInfo]:
    """Tokens of one user (or of everyone), newest first, revoked ones included."""

    def query(conn: Connection) -> list[TokenInfo]:
        stmt = _select().order_by(api_tokens.c.id.desc())
        if user_name is not None:
            fetch_user(conn, user_name)
            stmt = stmt.where(users.c.name == user_name)
        return [_info(r) for r in conn.execute(stmt).all()]

    return await ctx.db.read(query)


async def revoke_token(
    ctx: HubContext, token_id: int, *, actor: str, owner: str | None = None
) -> TokenInfo:
    """Revoke a token; with `owner`, only a token of that user (for self-service)."""

    def job(conn: Connection) -> TokenInfo:
        stmt = _select().where(api_tokens.c.id == token_id)
        if owner is not None:
            stmt = stmt.where(users.c.name == owner)
        row = conn.execute(stmt).first()
        if row is None:
            raise UserError("not_found", f"no API token with id {token_id}", "id")
        if row.revoked_at is None:
            conn.execute(
                update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=time.time())
            )
            audit.record(conn, actor, "token.revoke", row.name, {"id": token_id})
        return _info(conn.execute(_select().where(api_tokens.c.id == token_id)).one())

    info: TokenInfo = await ctx.db.write(job)
    forget_principals(ctx)
    return info


async def resolve_token(ctx: HubContext, token: str) -> Principal | None:
    """The owner of a live token, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    token_hash = digest(token)
    cache: dict[str, tuple[Principal, float]] = ctx.extras.setdefault(PRINCIPALS, {})
    hit = cache.get(token_hash)
    if hit is not None and hit[1] > time.monotonic():
        return hit[0]

    def query(conn: Connection) -> Any:
        return conn.execute(
            select(api_tokens.c.id, api_tokens.c.last_used_at, users.c.id.label("uid"))
            .add_columns(users.c.name, users.c.role)
            .join(users, users.c.id == api_tokens.c.user_id)
            .where(api_tokens.c.token_hash == token_hash)
            .where(api_tokens.c.revoked_at.is_(None))
        ).first()

    row = await ctx.db.read(query)
    if row is None:
        return None
    now = time.time()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION_SECONDS:

        def touch(conn: Connection) -> None:
            conn.execute(
                update(api_tokens).where(api_tokens.c.id == row.id).values(last_used_at=now)
            )

        await ctx.db.write(touch)
    principal = Principal(name=row.name, role=row.role, user_id=row.uid, via="token")
    if len(cache) >= CACHE_MAX:
        cache.clear()
    cache[token_hash] = (principal, time.monotonic() + CACHE_SECONDS)
    return principal
