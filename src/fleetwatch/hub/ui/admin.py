"""Account pages: users admin (admin), my account (password, API tokens), audit log (admin)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fleetwatch.errors import UserError
from fleetwatch.hub.services import audit, passwords, sessions, tokens, users
from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.ui.access import hub_ctx, page_principal, to_login
from fleetwatch.hub.ui.frame import forbidden, frame, page_heading
from fleetwatch.hub.ui.units import fmt_ago, fmt_time

USER_COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Name", "field": "name", "sortable": True, "align": "left"},
    {"name": "role", "label": "Role", "field": "role", "sortable": True, "align": "left"},
    {"name": "email", "label": "E-mail", "field": "email", "align": "left"},
    {"name": "last", "label": "Last login", "field": "last", "align": "left"},
    {"name": "state", "label": "State", "field": "state", "align": "left"},
]
AUDIT_COLUMNS: list[dict[str, Any]] = [
    {"name": "time", "label": "Time", "field": "time", "align": "left"},
    {"name": "actor", "label": "Who", "field": "actor", "align": "left"},
    {"name": "action", "label": "Action", "field": "action", "align": "left"},
    {"name": "target", "label": "Target", "field": "target", "align": "left"},
    {"name": "detail", "label": "Detail", "field": "detail", "align": "left"},
    {"name": "ok", "label": "OK", "field": "ok"},
]


async def _guard(request: Request, role: str, title: str) -> Principal | RedirectResponse | None:
    who = await page_principal(request)
    if who is None:
        return to_login(request)
    await frame(who, title)
    if not who.can(role):
        forbidden(role)
        return None
    return who


async def _tokens_panel(who: Principal, owner: str) -> None:
    ctx = hub_ctx()

    @ui.refreshable
    async def token_list() -> None:
        for t in await tokens.list_tokens(ctx, owner):
            with ui.row().classes("w-full items-center gap-3 text-sm"):
                ui.label(f"{t.prefix}…").classes("font-mono")
                ui.label(t.label)
                ui.label(f"used {fmt_ago(t.last_used_at)}").classes("fw-muted")
                if t.revoked_at:
                    ui.badge("revoked", color="grey")
                else:
                    ui.button("Revoke", on_click=lambda t=t: revoke(t.id)).props("flat dense")

    async def revoke(token_id: int) -> None:
        await tokens.revoke_token(
            ctx, token_id, actor=who.name, owner=None if who.can("admin") else owner
        )
        token_list.refresh()

    async def create() -> None:
        _info, token = await tokens.create_token(
            ctx, owner, label=label.value or "api token", actor=who.name
        )
        shown.text = f"New token (copy it now, it is shown only once): {token}"
        token_list.refresh()

    with ui.row().classes("items-center gap-2"):
        label = ui.input("Label", value="api token").props("dense outlined")
        ui.button("Create token", on_click=create).mark("create-token")
    shown = ui.label("").classes("font-mono text-sm break-all").mark("new-token")
    await token_list()


def register() -> None:
    @ui.page("/users")
    async def users_page(request: Request) -> RedirectResponse | None:
        who = await _guard(request, "admin", "Users")
        if not isinstance(who, Principal):
            return who
        ctx = hub_ctx()
        with ui.column().classes("w-full max-w-screen-xl mx-auto p-4 gap-3"):
            page_heading(
                "Users",
                "Roles: viewer reads; operator acknowledges and edits servers;"
                " admin manages users, settings and deletes.",
            )

            @ui.refreshable
            async def table() -> None:
                rows = [
                    {
                        "name": u.name,
                        "role": u.role,
                        "email": u.email or "",
                        "last": fmt_ago(u.last_login_at),
                        "state": "locked" if u.locked else "ok",
                    }
                    for u in await users.list_users(ctx)
                ]
                t = (
                    ui.table(columns=USER_COLUMNS, rows=rows, row_key="name", selection="single")
                    .classes("w-full fw-card")
                    .mark("users-table")
                )
                with ui.row().classes("gap-2"):
                    for role in passwords.ROLES:
                        ui.button(f"Make {role}", on_click=lambda r=role: act(t, "role", r)).props(
                            "flat dense"
                        )
                    ui.button("Unlock", on_click=lambda: act(t, "unlock", "")).props("flat dense")
                    ui.button("Delete", color="red", on_click=lambda: act(t, "delete", "")).props(
                        "flat dense"
                    )

            async def act(t: Any, what: str, role: str) -> None:
                if not t.selected:
                    ui.notify("Select a user first")
                    return
                name = t.selected[0]["name"]
                try:
                    if what == "role":
                        await users.update_user(ctx, name, actor=who.name, role=role)
                    elif what == "unlock":
                        await users.unlock_user(ctx, name, actor=who.name)
                    elif name == who.name:
                        raise UserError("self", "you cannot delete your own account")
                    else:
                        await users.delete_user(ctx, name, actor=who.name)
                except UserError as exc:
                    ui.notify(exc.message, type="negative")
                    return
                table.refresh()

            await table()
            with ui.card().classes("fw-card p-4"):
                ui.label("Add a user").classes("font-semibold")
                with ui.row().classes("items-end gap-2"):
                    name = ui.input("Name").props("dense outlined").mark("new-user-name")
                    email = ui.input("E-mail (for welcome and reset mails)").props("dense outlined")
                    role = (
                        ui.select(list(passwords.ROLES), value="viewer", label="Role")
                        .props("dense outlined")
                        .classes("w-32")
                    )
                    result = ui.label("").classes("font-mono text-sm")

                    async def add() -> None:
                        password = passwords.generate_password()
                        try:
                            await users.create_user(
                                ctx,
                                name.value or "",
                                role.value,
                                password,
                                email=email.value or None,
                                actor=who.name,
                            )
                        except UserError as exc:
                            result.text = exc.message
                            return
                        result.text = f"Created {name.value}; password (shown once): {password}"
                        table.refresh()

                    ui.button("Add", on_click=add).mark("add-user")
        return None

    @ui.page("/account")
    async def account_page(request: Request) -> RedirectResponse | None:
        who = await _guard(request, "viewer", "My account")
        if not isinstance(who, Principal):
            return who
        ctx = hub_ctx()
        with ui.column().classes("w-full max-w-screen-md mx-auto p-4 gap-3"):
            page_heading(f"{who.name}", f"Role: {who.role}")
            with ui.card().classes("fw-card p-4 w-full"):
                ui.label("Change password").classes("font-semibold")
                current = ui.input("Current password", password=True).props("dense outlined")
                new = ui.input("New password", password=True).props("dense outlined")
                msg = ui.label("")

                async def change() -> None:
                    try:
                        await sessions.authenticate(ctx, who.name, current.value or "")
                        await users.set_password(ctx, who.name, new.value or "", actor=who.name)
                    except UserError as exc:
                        msg.text = exc.message
                        return
                    ui.navigate.to("/login")

                ui.button("Change password", on_click=change)
            with ui.card().classes("fw-card p-4 w-full"):
                ui.label("API tokens (Authorization: Bearer …)").classes("font-semibold")
                await _tokens_panel(who, who.name)
        return None

    @ui.page("/audit")
    async def audit_page(request: Request, q: str = "") -> RedirectResponse | None:
        who = await _guard(request, "admin", "Audit log")
        if not isinstance(who, Principal):
            return who
        ctx = hub_ctx()
        with ui.column().classes("w-full max-w-screen-2xl mx-auto p-4 gap-3"):
            page_heading("Audit log", "Every change, login and command, newest first")
            search = ui.input("Search", value=q).props("dense outlined clearable debounce=300")

            @ui.refreshable
            async def entries() -> None:
                found, total = await audit.list_entries(ctx, limit=500, text=search.value or None)
                ui.label(f"{total} entries").classes("text-xs fw-muted")
                rows = [
                    {
                        "id": e.id,
                        "time": fmt_time(e.ts),
                        "actor": e.actor,
                        "action": e.action,
                        "target": e.target or "",
                        "detail": (e.detail or "")[:160],
                        "ok": "✓" if e.success else "✗",
                    }
                    for e in found
                ]
                ui.table(
                    columns=AUDIT_COLUMNS, rows=rows, row_key="id", pagination={"rowsPerPage": 50}
                ).classes("w-full fw-card").props("dense").mark("audit-table")

            search.on_value_change(entries.refresh)
            await entries()
        _ = time
        return None
