"""Password reset by e-mailed token (H8).

`request_reset` never says whether the account exists (no user enumeration); the mail carries a
link with a random single-use token valid for one hour, stored only as its SHA-256.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from urllib.parse import quote

from sqlalchemy import Connection, delete, insert, or_, select, update

from fleetwatch.errors import UserError
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import audit, passwords
from fleetwatch.hub.services.sessions import digest
from fleetwatch.hub.services.user_mail import send_user_mail
from fleetwatch.hub.services.users import set_password_hash
from fleetwatch.hub.store.tables_users import password_reset_tokens, users

RESET_TOKEN_LIFETIME_SECONDS = 3600


async def request_reset(
    ctx: HubContext, name_or_email: str, *, base_url: str, ip: str = ""
) -> str | None:
    """Mail a reset link to the account named (or with that address). Returns the token
    (for the caller's tests and the CLI), or None when no account with an address matched."""
    key = name_or_email.strip()
    if not key:
        raise UserError("invalid", "give a user name or an e-mail address", "name")

    def lookup(conn: Connection) -> tuple[int, str, str | None] | None:
        row = conn.execute(
            select(users.c.id, users.c.name, users.c.email).where(
                or_(users.c.name == key, users.c.email == key)
            )
        ).first()
        return None if row is None else (row.id, row.name, row.email)

    found = await ctx.db.read(lookup)
    if found is None or not found[2]:
        await audit.audit(
            ctx, "anonymous", "password.reset_request", key[:64], {"ip": ip}, success=False
        )
        return None
    user_id, name, email = found
    token = secrets.token_urlsafe(32)
    now = time.time()

    def job(conn: Connection) -> None:
        conn.execute(delete(password_reset_tokens).where(password_reset_tokens.c.expires_at < now))
        conn.execute(
            insert(password_reset_tokens).values(
                token_hash=digest(token),
                user_id=user_id,
                created_at=now,
                expires_at=now + RESET_TOKEN_LIFETIME_SECONDS,
            )
        )
        audit.record(conn, "anonymous", "password.reset_request", name, {"ip": ip})

    await ctx.db.write(job)
    link = f"{base_url.rstrip('/')}/reset-password?token={quote(token)}"
    await send_user_mail(
        ctx,
        "password_reset",
        email,
        {
            "user_name": name,
            "reset_url": link,
            "expires_minutes": RESET_TOKEN_LIFETIME_SECONDS // 60,
        },
    )
    return token


async def confirm_reset(ctx: HubContext, token: str, new_password: str) -> str:
    """Set a new password with a reset token; returns the user name. Ends the user's sessions."""
    passwords.check_password(new_password)
    password_hash = await asyncio.to_thread(passwords.hash_password, new_password)
    now = time.time()

    def job(conn: Connection) -> str:
        row = conn.execute(
            select(password_reset_tokens.c.user_id, users.c.name)
            .join(users, users.c.id == password_reset_tokens.c.user_id)
            .where(password_reset_tokens.c.token_hash == digest(token))
            .where(password_reset_tokens.c.used_at.is_(None))
            .where(password_reset_tokens.c.expires_at > now)
        ).first()
        if row is None:
            raise UserError("invalid_token", "this reset link is invalid, used or expired", "token")
        conn.execute(
            update(password_reset_tokens)
            .where(password_reset_tokens.c.token_hash == digest(token))
            .values(used_at=now)
        )
        set_password_hash(conn, row.user_id, password_hash)
        audit.record(conn, row.name, "password.reset", row.name)
        return str(row.name)

    return await ctx.db.write(job)
