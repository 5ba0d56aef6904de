"""Router: log in, log out, who am I, change or reset a password (H8).

`POST /api/session/login` sets the session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS).
Login and reset requests that carry an Origin header from another site are refused.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from fleetwatch.hub.api.auth_dashboard import Ctx, Viewer, principal_from_request, same_origin
from fleetwatch.hub.api.bodies import StrictBody
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.api.users import user_errors
from fleetwatch.hub.services import password_reset, sessions, users

router = APIRouter(tags=["session"])


class Login(StrictBody):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(max_length=1024)


class ResetRequest(StrictBody):
    name: str = Field(min_length=1, max_length=255, description="user name or e-mail address")


class ResetConfirm(StrictBody):
    token: str = Field(min_length=1, max_length=200)
    password: str = Field(max_length=1024)


class PasswordChange(StrictBody):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _refuse_cross_site(request: Request) -> None:
    if request.headers.get("origin") and not same_origin(request):
        raise ApiError(403, "csrf", "cross-site request refused")


@router.post("/api/session/login")
async def login(body: Login, request: Request, response: Response, ctx: Ctx) -> dict[str, Any]:
    _refuse_cross_site(request)
    ip = _client_ip(request)
    with user_errors():
        user = await sessions.authenticate(ctx, body.name, body.password, ip=ip)
    cookie = await sessions.create_session(
        ctx, user, ip=ip, user_agent=request.headers.get("user-agent", "")
    )
    response.set_cookie(
        sessions.COOKIE_NAME,
        cookie,
        max_age=sessions.SESSION_LIFETIME_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return {"user": user.public()}


@router.post("/api/session/logout", status_code=204)
async def logout(request: Request, ctx: Ctx) -> Response:
    _refuse_cross_site(request)
    cookie = request.cookies.get(sessions.COOKIE_NAME)
    if cookie:
        await sessions.end_session(ctx, cookie)
    response = Response(status_code=204)
    response.delete_cookie(sessions.COOKIE_NAME, path="/")
    return response


@router.get("/api/session")
async def current(request: Request) -> dict[str, Any]:
    principal = await principal_from_request(request)
    if principal is None:
        raise ApiError(401, "unauthenticated", "not logged in")
    return {"user": {"name": principal.name, "role": principal.role}, "via": principal.via}


@router.post("/api/session/password-reset", status_code=202)
async def request_reset(body: ResetRequest, request: Request, ctx: Ctx) -> dict[str, Any]:
    """Always 202: whether the account exists is not revealed."""
    _refuse_cross_site(request)
    with user_errors():
        await password_reset.request_reset(
            ctx, body.name, base_url=str(request.base_url), ip=_client_ip(request)
        )
    return {"status": "if the account exists and has an e-mail address, a reset link was sent"}


@router.post("/api/session/password-reset/confirm")
async def confirm_reset(body: ResetConfirm, request: Request, ctx: Ctx) -> dict[str, Any]:
    _refuse_cross_site(request)
    with user_errors():
        name = await password_reset.confirm_reset(ctx, body.token, body.password)
    return {"user": name, "status": "password changed; log in with the new password"}


@router.post(
    "/api/dashboard/me/password",
    summary="Change my password (needs the current one); ends my sessions",
)
async def change_password(
    body: PasswordChange,
    request: Request,
    ctx: Ctx,
    who: Viewer,
) -> JSONResponse:
    """Change your own password (needs the current one); ends your other sessions too."""
    with user_errors():
        await sessions.authenticate(ctx, who.name, body.current_password, ip=_client_ip(request))
        await users.set_password(ctx, who.name, body.new_password, actor=who.name)
    response = JSONResponse({"status": "password changed; log in again"})
    response.delete_cookie(sessions.COOKIE_NAME, path="/")
    return response
