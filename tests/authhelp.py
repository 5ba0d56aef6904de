"""Credentials for tests that call `/api/dashboard/*` (every such endpoint needs a role).

    async with running_hub(create_app(HubSettings(data_dir=tmp_path))) as client:
        client.headers.update(await admin_headers(client))   # Authorization: Bearer fwu_...
        await client.get("/api/dashboard")

`token_for(client, role)` creates a user with that role through the real services and returns a
real API token, so tests exercise the same authentication path as production.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from fleetwatch.errors import UserError
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import tokens, users

_counter = itertools.count(1)
TEST_PASSWORD = "correct horse battery"
BASE_URL = "http://testserver"


def ctx_of(client: httpx.AsyncClient) -> HubContext:
    """The HubContext of the app behind a client made by `running_hub`."""
    ctx: HubContext = client._fleetwatch_app.state.ctx  # type: ignore[attr-defined]
    return ctx


async def ensure_user(ctx: HubContext, name: str, role: str, email: str | None = None) -> None:
    try:
        await users.get_user(ctx, name)
    except UserError:
        await users.create_user(ctx, name, role, TEST_PASSWORD, email=email, actor="tests")


async def token_for(ctx: HubContext, role: str = "admin", name: str | None = None) -> str:
    """Create a user with `role` (or reuse `name`) and return a fresh API token for it."""
    name = name or f"test-{role}-{next(_counter)}"
    await ensure_user(ctx, name, role)
    _info, token = await tokens.create_token(ctx, name, label="tests", actor="tests")
    return token


DASHBOARD_PATHS = ("/api/dashboard", "/api/log-rules")


def dashboard_auth(token: str) -> Callable[[httpx.Request], Awaitable[None]]:
    """An httpx request hook: `Authorization: Bearer <token>` on `/api/dashboard/*` and
    `/api/log-rules*` requests that carry no Authorization of their own (agent credentials
    elsewhere stay untouched)."""

    async def hook(request: httpx.Request) -> None:
        if request.url.path.startswith(DASHBOARD_PATHS) and "authorization" not in request.headers:
            request.headers["Authorization"] = f"Bearer {token}"

    return hook


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def admin_headers(client: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await token_for(ctx_of(client), "admin"))


@asynccontextmanager
async def running_hub(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give an in-process client (ASGI transport) for it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            client._fleetwatch_app = app  # type: ignore[attr-defined]
            yield client
