"""Log rules (issue 22, B8): the rules in a table; a rule opens in an editor with a dry run
over the stored lines ("would have matched 37 times in 24 h (3 alerts fired)") and the newest
matching lines. Everyone may read and dry-run; admins create, change and delete (as on the
API)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import logrules, logrules_dryrun
from fleetwatch.hub.services.logs import LEVELS
from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.ui import forms
from fleetwatch.hub.ui.access import hub_ctx, page_principal, to_login
from fleetwatch.hub.ui.frame import frame, page_heading
from fleetwatch.hub.ui.units import fmt_time

HOURS = {1: "last hour", 24: "last 24 h", 168: "last 7 days", 720: "last 30 days"}
ANY = "any"
COLUMNS: list[dict[str, Any]] = [
    {"name": k, "label": label, "field": k, "align": "left", "sortable": True}
    for k, label in (
        ("name", "Name"),
        ("match", "Matches"),
        ("applies", "Applies to"),
        ("alert", "Alert / cooldown"),
        ("state", "State"),
    )
]
SAMPLE_COLUMNS: list[dict[str, Any]] = [
    {"name": k, "label": k.title(), "field": k, "align": "left"}
    for k in ("time", "server", "app", "level", "message")
]


def _row(r: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    where = [names.get(r["server_id"], r["server_id"]) if r["server_id"] else "every server"]
    where += [f"app {r['app']}"] if r["app"] else []
    where += [f"{r['min_level']} and above"] if r["min_level"] else []
    case = ", case-sensitive" if r["case_sensitive"] else ""
    return {
        "id": r["id"],
        "name": r["name"],
        "match": f"{r['kind']}: {r['pattern']}{case}",
        "applies": " · ".join(where),
        "alert": f"{r['alert_level']} / {r['cooldown_seconds']:g} s",
        "state": "on" if r["enabled"] else "off",
    }


class _Editor:
    """The inputs of one rule, read back as the API's fields."""

    def __init__(self, rule: dict[str, Any], names: dict[str, str]) -> None:
        with ui.grid().classes("w-full gap-2 grid-cols-1 sm:grid-cols-2"):
            self.name = ui.input("Name", value=rule.get("name") or "").classes("fw-lr-name")
            self.kind = ui.select(
                {"text": "Text (contains)", "regex": "Regular expression"},
                value=rule.get("kind") or "text",
                label="Kind",
            )
            self.pattern = ui.input("Pattern", value=rule.get("pattern") or "")
            self.pattern.classes("fw-lr-pattern sm:col-span-2")
            self.case = ui.switch("Case-sensitive", value=bool(rule.get("case_sensitive")))
            self.enabled = ui.switch("Enabled", value=bool(rule.get("enabled", True)))
            servers = {ANY: "Every server", **names}
            self.server = ui.select(servers, value=rule.get("server_id") or ANY, label="Server")
            self.app = ui.input("App (empty: every app)", value=rule.get("app") or "")
            levels = {ANY: "Every level", **{k: f"{k} and above" for k in LEVELS}}
            self.level = ui.select(levels, value=rule.get("min_level") or ANY, label="Level")
            self.alert = ui.select(
                list(logrules.ALERT_LEVELS),
                value=rule.get("alert_level") or "WARNING",
                label="Alert level",
            )
            self.cooldown = ui.number(
                "Cooldown between notifications (s)", value=rule.get("cooldown_seconds", 300.0)
            )
        for element in (
            self.name,
            self.kind,
            self.pattern,
            self.server,
            self.app,
            self.level,
            self.alert,
            self.cooldown,
        ):
            element.props("dense outlined")

    def values(self) -> dict[str, Any]:
        cooldown = self.cooldown.value
        return {
            "name": self.name.value.strip() or None,
            "kind": self.kind.value,
            "pattern": self.pattern.value,
            "case_sensitive": bool(self.case.value),
            "enabled": bool(self.enabled.value),
            "server_id": None if self.server.value == ANY else self.server.value,
            "app": self.app.value.strip() or None,
            "min_level": None if self.level.value == ANY else self.level.value,
            "alert_level": self.alert.value,
            "cooldown_seconds": logrules.DEFAULT_COOLDOWN if cooldown is None else cooldown,
        }


async def _open(ctx: HubContext, who: Principal, rule: dict[str, Any] | None, done: Any) -> None:
    names = await logrules.server_names(ctx)
    with ui.dialog() as dialog, ui.card().classes("fw-card fw-lr-editor p-4 w-[48rem] max-w-full"):
        ui.label(f"Log rule: {rule['name']}" if rule else "New log rule").classes(
            "text-lg font-bold"
        )
        editor = _Editor(rule or {}, names)
        error = forms.error_label().classes("fw-lr-error")
        with ui.row().classes("w-full items-center gap-2"):
            hours = ui.select(HOURS, value=24, label="Dry run over").props("dense outlined")
            hours.classes("w-44")
            ui.button("Dry run", icon="history", on_click=lambda: dry_run()).props(
                "outline"
            ).classes("fw-lr-dry-run")
        summary = ui.label("").classes("text-sm font-semibold fw-lr-summary")
        samples = ui.table(columns=SAMPLE_COLUMNS, rows=[], row_key="id")
        samples.props("dense flat wrap-cells")
        samples.classes("w-full fw-lr-samples").set_visibility(False)

        async def dry_run() -> None:
            error.text = ""
            try:
                result = await logrules_dryrun.dry_run(
                    ctx, {**editor.values(), "hours": hours.value}
                )
            except InvalidFieldError as exc:
                error.text = str(exc)
                return
            per_server = ", ".join(f"{s['hostname']} {s['matches']}" for s in result["servers"])
            cut = " (only the newest lines were read)" if result["truncated"] else ""
            summary.text = f"This rule {result['summary']}{cut}" + (
                f" · {per_server}" if per_server else ""
            )
            samples.rows = [
                {
                    "id": s["id"],
                    "time": fmt_time(s["ts"]),
                    "server": names.get(s["server_id"], s["server_id"]),
                    "app": s["app"],
                    "level": s["level"],
                    "message": s["message"],
                }
                for s in result["samples"]
            ]
            samples.set_visibility(bool(samples.rows))
            samples.update()

        async def store() -> None:
            await logrules.save_rule(ctx, editor.values(), who.name, rule["id"] if rule else None)

        async def save() -> None:
            await forms.submit(dialog, error, store, done, "Log rule saved")

        async def delete() -> None:
            assert rule is not None
            await logrules.delete_rule(ctx, int(rule["id"]), who.name)
            dialog.close()
            done()

        with ui.row().classes("w-full justify-end gap-2"):
            if rule and who.can("admin"):
                ui.button("Delete", on_click=delete).props("flat color=red").classes("fw-lr-delete")
            ui.space()
            ui.button("Close", on_click=dialog.close).props("flat")
            if who.can("admin"):
                ui.button("Save", on_click=save).classes("fw-lr-save")
    dialog.open()


def register() -> None:
    @ui.page("/logs/rules")
    async def log_rules_page(request: Request) -> RedirectResponse | None:
        who = await page_principal(request)
        if who is None:
            return to_login(request)
        ctx = hub_ctx()
        await frame(who, "Log rules")
        with ui.column().classes("w-full max-w-screen-xl mx-auto p-4 gap-3"):
            with ui.row().classes("w-full items-center"):
                page_heading(
                    "Log rules",
                    "Lines that match a rule raise an alert; open a rule to dry-run it",
                )
                ui.space()
                ui.link("Log viewer", "/logs").classes("text-sm")
                if who.can("admin"):
                    ui.button(
                        "New log rule", icon="add", on_click=lambda: _open(ctx, who, None, refresh)
                    ).classes("fw-lr-new")

            @ui.refreshable
            async def table() -> None:
                found = {r["id"]: r for r in await logrules.list_rules(ctx)}
                names = await logrules.server_names(ctx)
                if not found:
                    ui.label("No log rules yet.").classes("fw-muted fw-lr-empty")
                    return
                t = ui.table(
                    columns=COLUMNS,
                    rows=[_row(r, names) for r in found.values()],
                    row_key="id",
                    pagination={"rowsPerPage": 50},
                )
                t.classes("w-full fw-card cursor-pointer fw-lr-table").props("dense")
                t.on("rowClick", lambda e: _open(ctx, who, found[e.args[1]["id"]], refresh))

            def refresh() -> None:
                table.refresh()

            await table()
        return None
