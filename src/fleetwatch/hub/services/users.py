"""User accounts (H8): create, list, change, delete, the first admin, preferences.

Every change writes an audit row in the same transaction. Password hashing (argon2id) runs in
a worker thread, never in the writer or on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from fleetwatch.errors import UserError
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import audit, passwords
from fleetwatch.hub.services.user_mail import send_user_mail
from fleetwatch.hub.store.tables_users import (
    api_tokens,
    password_reset_tokens,
    user_sessions,
    users,
)

log = logging.getLogger("fleetwatch.hub.users")

FIRST_ADMIN_NAME = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a logged-in user (session) or an API token's owner."""

    name: str
    role: str
    user_id: int | None = None
    via: str = "session"  # session | token | loopback (an open `/metrics`)

    def can(self, role: str) -> bool:
        return passwords.role_allows(self.role, role)


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str | None
    role: str
    created_at: float
    last_login_at: float | None
    failed_logins: int
    locked_until: float | None

    @property
    def locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > time.time()

    def public(self) -> dict[str, Any]:
        """The JSON shape of a user on the API (never the hash)."""
        return {
            "name": self.name,
            "email": self.email,
            "role": self.role,
            "created_at": self.created_at,
            "last_login_at": self.last_login_at,
            "failed_logins": self.failed_logins,
            "locked_until": self.locked_until if self.locked else None,
        }


#: `ctx.extras` key of `tokens.resolve_token`'s cache (token hash -> principal, until when)
PRINCIPALS = "principals"


def forget_principals(ctx: HubContext) -> None:
    """A user or token changed here: cached token owners are looked up again at once."""
    cache = ctx.extras.get(PRINCIPALS)
    if cache is not None:
        cache.clear()


def user_from_row(row: Row[Any]) -> User:
    return User(
        id=row.id,
        name=row.name,
        email=row.email,
        role=row.role,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
        failed_logins=row.failed_logins or 0,
        locked_until=row.locked_until,
    )


def fetch_user(conn: Connection, name: str) -> Row[Any]:
    row = conn.execute(select(users).where(users.c.name == name)).first()
    if row is None:
        raise UserError("not_found", f"no user named {name!r}", "name")
    return row


def _admin_count(conn: Connection) -> int:
    count = conn.execute(select(func.count()).where(users.c.role == "admin")).scalar()
    return int(count or 0)


async def create_user(
    ctx: HubContext,
    name: str,
    role: str,
    password: str,
    *,
    email: str | None = None,
    actor: str = "system",
) -> User:
    """Create an account; sends the `welcome` mail when it has an address."""
    passwords.check_name(name)
    passwords.check_role(role)
    email = passwords.check_email(email)
    passwords.check_password(password)
    password_hash = await asyncio.to_thread(passwords.hash_password, password)

    def job(conn: Connection) -> User:
        if conn.execute(select(users.c.id).where(users.c.name == name)).first() is not None:
            raise UserError("exists", f"a user named {name!r} already exists", "name")
        now = time.time()
        conn.execute(
            insert(users).values(
                name=name,
                email=email,
                role=role,
                password_hash=password_hash,
                created_at=now,
                updated_at=now,
                failed_logins=0,
            )
        )
        audit.record(conn, actor, "user.create", name, {"role": role, "email": email})
        return user_from_row(fetch_user(conn, name))

    user = await ctx.db.write(job)
    await send_user_mail(ctx, "welcome", user.email, {"user_name": user.name, "role": user.role})
    return user


async def list_users(ctx: HubContext) -> list[User]:
    def query(conn: Connection) -> list[User]:
        rows = conn.execute(select(users).order_by(users.c.name)).all()
        return [user_from_row(r) for r in rows]

    return await ctx.db.read(query)


async def get_user(ctx: HubContext, name: str) -> User:
    return await ctx.db.read(lambda conn: user_from_row(fetch_user(conn, name)))


async def update_user(
    ctx: HubContext,
    name: str,
    *,
    actor: str,
    role: str | None = None,
    email: str | None = None,
    clear_email: bool = False,
) -> User:
    """Change role and/or e-mail. The last admin cannot be demoted."""
    if role is not None:
        passwords.check_role(role)
    email = passwords.check_email(email)

    def job(conn: Connection) -> User:
        row = fetch_user(conn, name)
        values: dict[str, Any] = {}
        if role is not None and role != row.role:
            if row.role == "admin" and _admin_count(conn) <= 1:
                raise UserError("last_admin", "the last admin cannot lose the admin role", "role")
            values["role"] = role
        if email is not None or clear_email:
            values["email"] = email
        if values:
            values["updated_at"] = time.time()
            conn.execute(update(users).where(users.c.id == row.id).values(**values))
            audit.record(conn, actor, "user.update", name, values)
        return user_from_row(fetch_user(conn, name))

    user = await ctx.db.write(job)
    forget_principals(ctx)
    return user


async def delete_user(ctx: HubContext, name: str, *, actor: str) -> None:
    """Delete an account with its sessions and tokens. The last admin cannot be deleted."""

    def job(conn: Connection) -> None:
        row = fetch_user(conn, name)
        if row.role == "admin" and _admin_count(conn) <= 1:
            raise UserError("last_admin", "the last admin cannot be deleted", "name")
        for table in (user_sessions, api_tokens, password_reset_tokens):
            conn.execute(delete(table).where(table.c.user_id == row.id))
        conn.execute(delete(users).where(users.c.id == row.id))
        audit.record(conn, actor, "user.delete", name)

    await ctx.db.write(job)
    forget_principals(ctx)


async def set_password(ctx: HubContext, name: str, password: str, *, actor: str) -> None:
    """Replace a password; ends all of the user's sessions and clears a lockout."""
    passwords.check_password(password)
    password_hash = await asyncio.to_thread(passwords.hash_password, password)

    def job(conn: Connection) -> None:
        row = fetch_user(conn, name)
        set_password_hash(conn, row.id, password_hash)
        audit.record(conn, actor, "user.password", name)

    await ctx.db.write(job)


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(
            password_hash=password_hash,
            updated_at=time.time(),
            failed_logins=0,
            locked_until=None,
        )
    )
    conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id))


async def unlock_user(ctx: HubContext, name: str, *, actor: str) -> None:
    def job(conn: Connection) -> None:
        row = fetch_user(conn, name)
        conn.execute(
            update(users).where(users.c.id == row.id).values(failed_logins=0, locked_until=None)
        )
        audit.record(conn, actor, "user.unlock", name)

    await ctx.db.write(job)


async def ensure_first_admin(ctx: HubContext) -> str | None:
    """At first start (no users at all) create `admin` with a random password.

    Returns that password exactly once (the caller prints it); None when users exist.
    Safe with several hubs starting together: the unique name lets only one win.
    """
    if await ctx.db.read(lambda conn: conn.execute(select(users.c.id).limit(1)).first()):
        return None
    password = passwords.generate_password()
    try:
        await create_user(ctx, FIRST_ADMIN_NAME, "admin", password, actor="system")
    except UserError:
        return None
    except Exception as exc:  # a concurrent replica inserted it first (unique violation)
        log.info("first admin not created here: %s", exc)
        return None
    # the password goes to the console only (see print_first_admin), never to log files
    log.warning("created the first admin account %r", FIRST_ADMIN_NAME)
    return password


async def get_preferences(ctx: HubContext, name: str) -> dict[str, Any]:
    def query(conn: Connection) -> dict[str, Any]:
        raw = conn.execute(select(users.c.preferences).where(users.c.name == name)).scalar()
        data = json.loads(raw) if raw else {}
        return data if isinstance(data, dict) else {}

    return await ctx.db.read(query)


async def set_preference(ctx: HubContext, name: str, key: str, value: Any) -> None:
    """Remember one dashboard preference (view mode, theme, ...) for this user."""

    def job(conn: Connection) -> None:
        raw = conn.execute(select(users.c.preferences).where(users.c.name == name)).scalar()
        data = json.loads(raw) if raw else {}
        data[key] = value
        conn.execute(update(users).where(users.c.name == name).values(preferences=json.dumps(data)))

    await ctx.db.write(job)


def first_admin_banner(password: str, url: str = "") -> str:
    """The text shown once on the console when the first admin was created."""
    where = f" at {url}" if url else ""
    return (
        f"fleetwatch: first start: log in{where} as {FIRST_ADMIN_NAME!r} with password "
        f"{password}\n"
        "fleetwatch: this password is shown only once; change it under Users or with "
        f"`fleetwatch user passwd {FIRST_ADMIN_NAME} --password-stdin`"
    )
