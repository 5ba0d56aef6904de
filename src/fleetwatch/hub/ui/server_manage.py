"""Edit and delete a server from its page (operator edits, admin deletes; both audited)."""

from __future__ import annotations

import contextlib
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import servers
from fleetwatch.hub.services import settings as dash_settings
from fleetwatch.hub.services.users import Principal

THRESHOLD_FIELDS = (
    "cpu_warning",
    "cpu_critical",
    "memory_warning",
    "memory_critical",
    "disk_warning",
    "disk_critical",
    "swap_warning",
    "swap_critical",
)


def _edit_dialog(ctx: HubContext, who: Principal, detail: dict[str, Any]) -> ui.dialog:
    s = detail["server"]
    with ui.dialog() as dialog, ui.card().classes("fw-card p-4 w-[32rem] max-w-full"):
        ui.label(f"Edit {s['name']}").classes("text-lg font-bold")
        name = ui.input("Display name", value=s.get("display_name") or "").classes("w-full")
        group = ui.input("Group", value=s.get("group_name") or "").classes("w-full")
        notes = ui.textarea("Notes", value=s.get("notes") or "").classes("w-full")
        interval = ui.number(
            "Expected interval (seconds)", value=s.get("interval_seconds"), min=1, max=86400
        ).classes("w-full")
        overrides = s.get("threshold_overrides") or {}
        inputs: dict[str, Any] = {}
        with ui.grid(columns=2).classes("w-full gap-2"):
            for field in THRESHOLD_FIELDS:
                inputs[field] = ui.number(
                    field.replace("_", " ").capitalize() + " %",
                    value=overrides.get(field),
                    min=0,
                    max=100,
                    placeholder=f"default {s.get('thresholds', {}).get(field, '')}",
                )
        error = ui.label("").classes("text-red-500 text-sm")

        async def save() -> None:
            patch = {k: v.value for k, v in inputs.items() if v.value is not None}
            try:
                body = servers.ServerUpdate(
                    display_name=name.value or None,
                    group_name=group.value or None,
                    notes=notes.value or None,
                    interval_seconds=int(interval.value) if interval.value else None,
                    thresholds=patch or None,  # type: ignore[arg-type]
                )
            except ValidationError as exc:
                error.text = str(exc.errors()[0].get("msg"))
                return
            defaults = (await dash_settings.get_settings(ctx)).default_thresholds
            try:
                await ctx.db.write(
                    lambda conn: servers.apply_server_update(
                        conn, s["id"], body, defaults, who.name
                    )
                )
            except servers.InvalidField as exc:
                error.text = f"{exc.field}: {exc.message}"
                return
            except servers.ServerNotFound:
                error.text = "this server no longer exists"
                return
            dialog.close()
            ui.notify("Saved", type="positive")
            ui.navigate.reload()

        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat")
            ui.button("Save", on_click=save).mark("edit-save")
    return dialog


def _delete_dialog(ctx: HubContext, who: Principal, detail: dict[str, Any]) -> ui.dialog:
    s = detail["server"]
    with ui.dialog() as dialog, ui.card().classes("fw-card p-4"):
        ui.label(f"Delete {s['name']}?").classes("text-lg font-bold")
        ui.label("The server and all of its history are deleted. This cannot be undone.")

        async def confirm() -> None:
            with contextlib.suppress(servers.ServerNotFound):
                await ctx.db.write(lambda conn: servers.delete_server(conn, s["id"], who.name))
            servers.forget_server(ctx, s["id"])
            dialog.close()
            ui.notify(f"Deleted {s['name']}", type="warning")
            ui.navigate.to("/")

        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat")
            ui.button("Delete", color="red", on_click=confirm).mark("delete-confirm")
    return dialog


def buttons(ctx: HubContext, who: Principal, detail: dict[str, Any]) -> None:
    """Edit (operator) and Delete (admin) buttons; hidden for roles that may not use them."""
    if who.can("operator"):
        edit = _edit_dialog(ctx, who, detail)
        ui.button("Edit", icon="edit", on_click=edit.open).props("outline").mark("edit-server")
    if who.can("admin"):
        delete = _delete_dialog(ctx, who, detail)
        ui.button("Delete", icon="delete", color="red", on_click=delete.open).props("outline").mark(
            "delete-server"
        )
