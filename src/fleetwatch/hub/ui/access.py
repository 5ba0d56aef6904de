"""Who is looking at a page, and the hub context behind it.

NiceGUI serves pages from its own (process-wide) app mounted inside the hub's app, so the hub
app is remembered on NiceGUI's `app.state` when mounting; pages find the `HubContext` there.
A page without a valid session cookie redirects to `/login?next=...`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import sessions
from fleetwatch.hub.services.users import Principal

FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
    '<path fill="#3b82f6" d="M12 2 4 5v6c0 5 3.4 9.7 8 11 4.6-1.3 8-6 8-11V5z"/></svg>'
)
_state: dict[str, Any] = {}


def bind(nicegui_app: Any, hub_app: FastAPI) -> None:
    nicegui_app.state.fleetwatch_hub = hub_app
    _state["nicegui"] = nicegui_app


def hub_ctx() -> HubContext:
    hub_app: FastAPI = _state["nicegui"].state.fleetwatch_hub
    ctx: HubContext = hub_app.state.ctx
    return ctx


async def page_principal(request: Request) -> Principal | None:
    cookie = request.cookies.get(sessions.COOKIE_NAME)
    if not cookie:
        return None
    return await sessions.resolve_session(hub_ctx(), cookie)


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
