"""Router: user accounts, API tokens and the audit log under `/api/dashboard` (H8).

Admins manage every account; any logged-in user sees itself and manages its own tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from fleetwatch.errors import UserError
from fleetwatch.hub.api.auth_dashboard import Admin, Ctx, Viewer
from fleetwatch.hub.api.bodies import StrictBody
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.api.params import DbId, Offset
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import audit, passwords, tokens, users

router = APIRouter(prefix="/api/dashboard", tags=["users"])

_STATUS = {
    "invalid": 422,
    "not_found": 404,
    "exists": 409,
    "last_admin": 409,
    "invalid_credentials": 401,
    "account_locked": 423,
    "invalid_token": 400,
}


def api_error(exc: UserError) -> ApiError:
    """A service's UserError as the API's error shape."""
    return ApiError(_STATUS.get(exc.code, 400), exc.code, exc.message, exc.field)


@contextmanager
def user_errors() -> Iterator[None]:
    """Answer a service's UserError raised in the block with the API's error shape."""
    try:
        yield
    except UserError as exc:
        raise api_error(exc) from None


class UserCreate(StrictBody):
    name: str = Field(max_length=64)
    role: Literal["viewer", "operator", "admin"]
    email: str | None = Field(default=None, max_length=255)
    #: omitted: a random password is generated and returned once
    password: str | None = Field(default=None, max_length=1024)


class UserPatch(StrictBody):
    role: Literal["viewer", "operator", "admin"] | None = None
    email: str | None = Field(default=None, max_length=255)


class PasswordSet(StrictBody):
    password: str = Field(max_length=1024)


class TokenCreate(StrictBody):
    label: str = Field(default="api token", max_length=128)


@router.get("/me", summary="Who am I: the calling user (session or API token)")
async def me(ctx: Ctx, who: Viewer) -> dict[str, Any]:
    if who.user_id is None:
        return {"user": {"name": who.name, "role": who.role}, "via": who.via}
    with user_errors():
        user = await users.get_user(ctx, who.name)
    return {"user": user.public(), "via": who.via}


@router.get("/users", summary="List users (admin)")
async def list_users(ctx: Ctx, _who: Admin) -> dict[str, Any]:
    return {"users": [u.public() for u in await users.list_users(ctx)]}


@router.post(
    "/users", summary="Create a user; without a password one is generated and returned once (admin)"
)
async def create_user(body: UserCreate, ctx: Ctx, who: Admin) -> dict[str, Any]:
    generated = body.password is None
    password = passwords.generate_password() if body.password is None else body.password
    with user_errors():
        user = await users.create_user(
            ctx, body.name, body.role, password, email=body.email, actor=who.name
        )
    out: dict[str, Any] = {"user": user.public()}
    if generated:
        out["password"] = password
    return out


@router.patch("/users/{name}", summary="Change a user's role or e-mail (admin)")
async def update_user(name: str, body: UserPatch, ctx: Ctx, who: Admin) -> dict[str, Any]:
    with user_errors():
        user = await users.update_user(
            ctx,
            name,
            actor=who.name,
            role=body.role,
            email=body.email,
            clear_email="email" in body.model_fields_set and not body.email,
        )
    return {"user": user.public()}


@router.delete("/users/{name}", summary="Delete a user with its sessions and tokens (admin)")
async def delete_user(name: str, ctx: Ctx, who: Admin) -> dict[str, Any]:
    if name == who.name:
        raise ApiError(409, "self", "you cannot delete your own account", "name")
    with user_errors():
        await users.delete_user(ctx, name, actor=who.name)
    return {"status": "ok", "user": name}


@router.post("/users/{name}/password", summary="Set a user's password; ends its sessions (admin)")
async def set_password(name: str, body: PasswordSet, ctx: Ctx, who: Admin) -> dict[str, Any]:
    with user_errors():
        await users.set_password(ctx, name, body.password, actor=who.name)
    return {"status": "ok", "user": name}


@router.post("/users/{name}/unlock", summary="Clear a lockout after failed logins (admin)")
async def unlock_user(name: str, ctx: Ctx, who: Admin) -> dict[str, Any]:
    with user_errors():
        await users.unlock_user(ctx, name, actor=who.name)
    return {"status": "ok", "user": name}


async def _token_list(ctx: HubContext, name: str | None) -> dict[str, Any]:
    with user_errors():
        return {"tokens": [t.public() for t in await tokens.list_tokens(ctx, name)]}


async def _token_create(ctx: HubContext, name: str, label: str, actor: str) -> dict[str, Any]:
    with user_errors():
        info, token = await tokens.create_token(ctx, name, label=label, actor=actor)
    return {"token": token, **info.public()}


@router.get("/me/tokens", summary="My API tokens (prefixes only)")
async def my_tokens(ctx: Ctx, who: Viewer) -> dict[str, Any]:
    return await _token_list(ctx, who.name)


@router.post(
    "/me/tokens", summary="Create an API token for myself; the token is shown only in this answer"
)
async def create_my_token(body: TokenCreate, ctx: Ctx, who: Viewer) -> dict[str, Any]:
    return await _token_create(ctx, who.name, body.label, who.name)


@router.delete("/me/tokens/{token_id}", summary="Revoke one of my API tokens")
async def revoke_my_token(token_id: DbId, ctx: Ctx, who: Viewer) -> dict[str, Any]:
    with user_errors():
        info = await tokens.revoke_token(ctx, token_id, actor=who.name, owner=who.name)
    return info.public()


@router.get("/users/{name}/tokens", summary="A user's API tokens (admin)")
async def user_tokens(name: str, ctx: Ctx, _who: Admin) -> dict[str, Any]:
    return await _token_list(ctx, name)


@router.post(
    "/users/{name}/tokens",
    summary="Create an API token for a user (admin); shown only in this answer",
)
async def create_user_token(name: str, body: TokenCreate, ctx: Ctx, who: Admin) -> dict[str, Any]:
    return await _token_create(ctx, name, body.label, who.name)


@router.delete("/tokens/{token_id}", summary="Revoke any API token (admin)")
async def revoke_token(token_id: DbId, ctx: Ctx, who: Admin) -> dict[str, Any]:
    with user_errors():
        info = await tokens.revoke_token(ctx, token_id, actor=who.name)
    return info.public()


@router.get("/audit", summary="The audit log, newest first, with filters (admin)")
async def audit_log(
    ctx: Ctx,
    _who: Admin,
    limit: int = Query(100, ge=1, le=1000),
    offset: Offset = 0,
    actor: str | None = Query(None, max_length=255),
    action: str | None = Query(None, max_length=64, description="prefix, e.g. `user.`"),
    q: str | None = Query(None, max_length=200, description="text in target/detail/action"),
) -> dict[str, Any]:
    entries, total = await audit.list_entries(
        ctx, limit=limit, offset=offset, actor=actor, action_prefix=action, text=q
    )
    return {"total": total, "entries": [asdict(e) for e in entries]}
