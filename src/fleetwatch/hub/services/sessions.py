"""Logins and sessions (H8): password check with lockout, signed session cookies.

The cookie holds a random session id signed with a hub secret (itsdangerous); the database
holds only the id's SHA-256, so logging out or changing a password ends a session at once and
a stolen database does not yield usable cookies. The signing secret is generated at first
start and kept in `hub_secrets`, shared by every hub replica.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection, delete, insert, select, update

from fleetwatch.errors import UserError
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import audit, passwords
from fleetwatch.hub.services.user_mail import send_user_mail
from fleetwatch.hub.services.users import Principal, User, user_from_row
from fleetwatch.hub.store.tables_users import hub_secrets, user_sessions, users

COOKIE_NAME = "fleetwatch_session"
SESSION_LIFETIME_SECONDS = 7 * 24 * 3600
LOCKOUT_AFTER_FAILURES = 5
LOCKOUT_SECONDS = 15 * 60
_SECRET_KEY = "session_secret"
_EXTRAS_SECRET = "session_secret"
_SALT = "fleetwatch-session"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def signing_secret(ctx: HubContext) -> str:
    """The cookie-signing secret, created on first use and shared through the database."""
    cached: str | None = ctx.extras.get(_EXTRAS_SECRET)
    if cached:
        return cached

    def job(conn: Connection) -> str:
        row = conn.execute(select(hub_secrets.c.value).where(hub_secrets.c.name == _SECRET_KEY))
        value = row.scalar()
        if value is None:
            value = secrets.token_urlsafe(48)
            conn.execute(
                insert(hub_secrets).values(name=_SECRET_KEY, value=value, created_at=time.time())
            )
        return str(value)

    secret = await ctx.db.write(job)
    ctx.extras[_EXTRAS_SECRET] = secret
    return secret


async def authenticate(ctx: HubContext, name: str, password: str, *, ip: str = "") -> User:
    """Check a password. 5 failures in a row lock the account for 15 minutes (with a mail)."""
    row = await ctx.db.read(
        lambda conn: conn.execute(select(users).where(users.c.name == name)).first()
    )
    now = time.time()
    if row is not None and row.locked_until is not None and row.locked_until > now:
        await audit.audit(ctx, name, "login.locked", name, {"ip": ip}, success=False)
        minutes = max(1, round((row.locked_until - now) / 60))
        raise UserError(
            "account_locked",
            f"account locked after {LOCKOUT_AFTER_FAILURES} failed logins; try again in"
            f" {minutes} min or ask an admin to unlock it",
        )
    ok = await asyncio.to_thread(
        passwords.verify_password, row.password_hash if row else None, password
    )
    if row is None:
        await audit.audit(ctx, name[:64], "login.failed", name[:64], {"ip": ip}, success=False)
        raise UserError("invalid_credentials", "wrong user name or password")
    if not ok:
        await _record_failure(ctx, user_from_row(row), ip)
        raise UserError("invalid_credentials", "wrong user name or password")

    def job(conn: Connection) -> None:
        conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(failed_logins=0, locked_until=None, last_login_at=time.time())
        )
        audit.record(conn, name, "login", name, {"ip": ip})

    await ctx.db.write(job)
    return user_from_row(row)


async def _record_failure(ctx: HubContext, user: User, ip: str) -> None:
    def job(conn: Connection) -> bool:
        # increment in SQL: concurrent failures must all count
        where = users.c.id == user.id
        conn.execute(update(users).where(where).values(failed_logins=users.c.failed_logins + 1))
        failures = conn.execute(select(users.c.failed_logins).where(where)).scalar() or 0
        locked = failures >= LOCKOUT_AFTER_FAILURES
        if locked:
            lock = {"failed_logins": 0, "locked_until": time.time() + LOCKOUT_SECONDS}
            conn.execute(update(users).where(where).values(**lock))
        audit.record(conn, user.name, "login.failed", user.name, {"ip": ip}, success=False)
        if locked:
            audit.record(conn, "system", "user.locked", user.name, {"ip": ip})
        return locked

    if await ctx.db.write(job):
        await send_user_mail(
            ctx,
            "account_locked",
            user.email,
            {
                "user_name": user.name,
                "ip_address": ip,
                "failed_logins": LOCKOUT_AFTER_FAILURES,
                "locked_minutes": LOCKOUT_SECONDS // 60,
            },
        )


async def create_session(ctx: HubContext, user: User, *, ip: str = "", user_agent: str = "") -> str:
    """Start a session; returns the signed cookie value."""
    session_id = secrets.token_urlsafe(32)
    now = time.time()

    def job(conn: Connection) -> None:
        conn.execute(delete(user_sessions).where(user_sessions.c.expires_at < now))
        conn.execute(
            insert(user_sessions).values(
                id_hash=digest(session_id),
                user_id=user.id,
                created_at=now,
                expires_at=now + SESSION_LIFETIME_SECONDS,
                last_seen_at=now,
                ip_address=ip[:64] or None,
                user_agent=user_agent[:255] or None,
            )
        )

    await ctx.db.write(job)
    serializer = URLSafeSerializer(await signing_secret(ctx), salt=_SALT)
    return serializer.dumps(session_id)


def _session_id(secret: str, cookie: str) -> str | None:
    try:
        value = URLSafeSerializer(secret, salt=_SALT).loads(cookie)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


async def resolve_session(ctx: HubContext, cookie: str) -> Principal | None:
    """The user behind a session cookie, or None (bad signature, ended or expired)."""
    session_id = _session_id(await signing_secret(ctx), cookie)
    if session_id is None:
        return None
    now = time.time()

    def query(conn: Connection) -> Principal | None:
        row = conn.execute(
            select(users.c.id, users.c.name, users.c.role)
            .join(user_sessions, user_sessions.c.user_id == users.c.id)
            .where(user_sessions.c.id_hash == digest(session_id))
            .where(user_sessions.c.expires_at > now)
        ).first()
        if row is None:
            return None
        return Principal(name=row.name, role=row.role, user_id=row.id, via="session")

    return await ctx.db.read(query)


async def end_session(ctx: HubContext, cookie: str) -> str | None:
    """Log out: delete the session; returns the user name it belonged to."""
    session_id = _session_id(await signing_secret(ctx), cookie)
    if session_id is None:
        return None

    def job(conn: Connection) -> str | None:
        name = conn.execute(
            select(users.c.name)
            .join(user_sessions, user_sessions.c.user_id == users.c.id)
            .where(user_sessions.c.id_hash == digest(session_id))
        ).scalar()
        conn.execute(delete(user_sessions).where(user_sessions.c.id_hash == digest(session_id)))
        if name is not None:
            audit.record(conn, name, "logout", name)
        return None if name is None else str(name)

    return await ctx.db.write(job)
