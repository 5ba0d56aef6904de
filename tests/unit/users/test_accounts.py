"""H8 services: argon2id hashes, first admin, lockout window, sessions end on password change."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import select, update

from authhelp import TEST_PASSWORD, ensure_user
from fleetwatch.errors import UserError
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import passwords, sessions, users
from fleetwatch.hub.settings import HubSettings
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.migrate import upgrade
from fleetwatch.hub.store.tables_users import users as users_table
from hubtest import postgres_schema

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def ctx(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[HubContext]:
    """The account services on a real SQLite file, and on a throwaway PostgreSQL schema."""
    with ExitStack() as stack:
        url = ""
        if request.param == "postgres":
            url = stack.enter_context(postgres_schema(request.getfixturevalue("postgres_url")))
        settings = HubSettings(data_dir=tmp_path, database_url=url)
        db = Database(settings.resolved_database_url)
        upgrade(db.engine)
        db.start()
        try:
            yield HubContext(settings=settings, db=db)
        finally:
            db.close()


def test_passwords_are_argon2id_and_verify() -> None:
    digest = passwords.hash_password("a long enough password")
    assert digest.startswith("$argon2id$")
    assert passwords.verify_password(digest, "a long enough password")
    assert not passwords.verify_password(digest, "a long enough passworD")
    assert not passwords.verify_password(None, "anything")
    assert not passwords.verify_password("not a hash", "anything")


def test_role_order() -> None:
    assert passwords.role_allows("admin", "operator")
    assert passwords.role_allows("operator", "viewer")
    assert not passwords.role_allows("viewer", "operator")
    assert not passwords.role_allows("root", "viewer")


async def test_first_admin_once(ctx: HubContext) -> None:
    password = await users.ensure_first_admin(ctx)
    assert password is not None and len(password) >= 12
    assert await users.ensure_first_admin(ctx) is None  # second start: nothing printed
    admin = await sessions.authenticate(ctx, users.FIRST_ADMIN_NAME, password)
    assert admin.role == "admin"
    banner = users.first_admin_banner(password, "http://127.0.0.1:8000")
    assert password in banner and "http://127.0.0.1:8000" in banner


async def test_lock_expires_after_fifteen_minutes(ctx: HubContext) -> None:
    await ensure_user(ctx, "henry", "viewer")
    for _ in range(sessions.LOCKOUT_AFTER_FAILURES):
        with pytest.raises(UserError) as err:
            await sessions.authenticate(ctx, "henry", "wrong-password")
        assert err.value.code == "invalid_credentials"
    with pytest.raises(UserError) as err:
        await sessions.authenticate(ctx, "henry", TEST_PASSWORD)
    assert err.value.code == "account_locked"
    locked_until = await ctx.db.read(
        lambda c: c.execute(
            select(users_table.c.locked_until).where(users_table.c.name == "henry")
        ).scalar()
    )
    assert locked_until is not None
    assert 14 * 60 < locked_until - time.time() <= 15 * 60

    def expire(conn: object) -> None:
        conn.execute(  # type: ignore[attr-defined]
            update(users_table).where(users_table.c.name == "henry").values(locked_until=1.0)
        )

    await ctx.db.write(expire)  # type: ignore[arg-type]
    assert (await sessions.authenticate(ctx, "henry", TEST_PASSWORD)).name == "henry"


async def test_four_failures_then_success_resets_the_count(ctx: HubContext) -> None:
    await ensure_user(ctx, "ivy", "viewer")
    for _ in range(4):
        with pytest.raises(UserError):
            await sessions.authenticate(ctx, "ivy", "wrong-password")
    await sessions.authenticate(ctx, "ivy", TEST_PASSWORD)
    for _ in range(4):
        with pytest.raises(UserError):
            await sessions.authenticate(ctx, "ivy", "wrong-password")
    assert (await sessions.authenticate(ctx, "ivy", TEST_PASSWORD)).name == "ivy"


async def test_password_change_ends_sessions(ctx: HubContext) -> None:
    await ensure_user(ctx, "jack", "operator")
    user = await sessions.authenticate(ctx, "jack", TEST_PASSWORD)
    cookie = await sessions.create_session(ctx, user)
    assert (await sessions.resolve_session(ctx, cookie)) is not None
    # a forged signature: one character changed well inside it (the last character of a
    # base64 signature carries unused bits, so changing it may decode to the same bytes)
    flipped = "A" if cookie[-10] != "A" else "B"
    assert await sessions.resolve_session(ctx, cookie[:-10] + flipped + cookie[-9:]) is None
    await users.set_password(ctx, "jack", "another long password", actor="tests")
    assert await sessions.resolve_session(ctx, cookie) is None


async def test_preferences_are_remembered(ctx: HubContext) -> None:
    await ensure_user(ctx, "kim", "viewer")
    await users.set_preference(ctx, "kim", "view", "list")
    await users.set_preference(ctx, "kim", "dark", False)
    assert await users.get_preferences(ctx, "kim") == {"view": "list", "dark": False}


def test_account_mails_render_name_and_reset_link() -> None:
    from fleetwatch.hub.mail.templates import TemplateStore
    from fleetwatch.hub.services.user_mail import template_variables

    store = TemplateStore()
    link = "http://127.0.0.1:8000/login?reset=1&token=abc123"
    reset = store.render(
        "password_reset",
        template_variables(
            "password_reset", {"user_name": "frank", "reset_url": link, "expires_minutes": 60}
        ),
    )
    assert link in reset.text and "frank" in reset.text
    locked = store.render(
        "account_locked",
        template_variables(
            "account_locked",
            {"user_name": "carol", "ip_address": "10.0.0.9", "failed_logins": 5,
             "locked_minutes": 15},
        ),
    )  # fmt: skip
    assert locked.subject == "fleetwatch account carol locked"
    assert "15 minutes" in locked.text and "10.0.0.9" in locked.text
    welcome = store.render("welcome", template_variables("welcome", {"user_name": "dana"}))
    assert "dana" in welcome.subject
