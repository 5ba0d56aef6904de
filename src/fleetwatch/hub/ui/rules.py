"""Alert rules (B4): the rules in a table; a rule opens in an editor with a dry run over the
stored history ("this rule would have fired 14 times in the last 7 days"). Everyone may read
and dry-run; admins create, change and delete (as on the API)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.alerts.metrics import METRICS
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import alert_config
from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.ui import alert_actions, forms
from fleetwatch.hub.ui.access import hub_ctx, page_principal, to_login
from fleetwatch.hub.ui.forms import Field
from fleetwatch.hub.ui.frame import frame, page_heading
from fleetwatch.hub.ui.units import fmt_time


def _metric_label(name: str) -> str:
    m = METRICS[name]
    unit = f" [{m.unit.strip()}]" if m.unit.strip() else ""
    below = " (fires below)" if m.comparison == "<" else ""
    return f"{m.label[:1].upper()}{m.label[1:]} · {name}{unit}{below}"


FIELDS = (
    Field("name", "Name"),
    Field("metric", "Metric", "choice", tuple(METRICS), tuple(map(_metric_label, METRICS))),
    Field("scope", "Applies to", "choice", ("global", "group", "server")),
    Field("scope_value", "Group name or server id (for group / server rules)"),
    Field("target", "Target pattern (mount, GPU, process, service; e.g. /var*)"),
    Field("warning", "Warning threshold", "number"),
    Field("critical", "Critical threshold", "number"),
    Field("duration_seconds", "For at least (s)", "number"),
    Field("hysteresis", "Hysteresis on clear", "number"),
    Field("cooldown_seconds", "Cooldown between notifications (s)", "number"),
    Field("repeat_seconds", "Repeat while firing (s, 0 = off)", "number"),
    Field("enabled", "Enabled", "bool"),
)
HOURS = {24: "last 24 h", 168: "last 7 days", 720: "last 30 days"}
COLUMNS: list[dict[str, Any]] = [
    {"name": k, "label": label, "field": k, "align": "left", "sortable": True}
    for k, label in (
        ("name", "Name"),
        ("metric", "Metric"),
        ("applies", "Applies to"),
        ("target", "Target"),
        ("levels", "Warning / critical"),
        ("timing", "For / cooldown"),
        ("state", "State"),
    )
]
EVENT_COLUMNS: list[dict[str, Any]] = [
    {"name": k, "label": k.title(), "field": k, "align": "left"}
    for k in ("time", "server", "target", "kind", "level", "value")
]


def _unit(metric: str) -> str:
    spec = METRICS.get(metric)
    return f"{spec.comparison} {spec.unit}".strip() if spec else ""


def _row(r: dict[str, Any]) -> dict[str, Any]:
    def num(v: Any) -> str:
        return "–" if v is None else f"{v:g}"

    return {
        "id": r["id"],
        "name": r["name"],
        "metric": r["metric"],
        "applies": r["scope"] + (f" {r['scope_value']}" if r.get("scope_value") else ""),
        "target": r.get("target") or "all",
        "levels": f"{num(r['warning'])} / {num(r['critical'])} ({_unit(r['metric'])})",
        "timing": f"{num(r['duration_seconds'])} s / {num(r['cooldown_seconds'])} s",
        "state": ("on" if r["enabled"] else "off") + (" · built-in" if r.get("builtin") else ""),
    }


async def _editor(ctx: HubContext, who: Principal, rule: dict[str, Any] | None, done: Any) -> None:
    current = rule or {"metric": "cpu_percent", "scope": "global", "enabled": True,
                       "cooldown_seconds": 300.0}  # fmt: skip
    with ui.dialog() as dialog, ui.card().classes("fw-card p-4 w-[44rem] max-w-full"):
        ui.label(f"Rule: {rule['name']}" if rule else "New rule").classes("text-lg font-bold")
        elements: dict[str, Any] = {}
        with ui.grid().classes("w-full gap-2 grid-cols-1 sm:grid-cols-2"):
            for f in FIELDS:
                elements[f.key] = forms.widget(f, current.get(f.key), f"rule-{f.key}")
        error = forms.error_label()
        with ui.row().classes("w-full items-center gap-2"):
            hours = ui.select(HOURS, value=168, label="Replay over").props("dense outlined")
            ui.button("Dry run", icon="history", on_click=lambda: dry_run()).props("outline").mark(
                "rule-dry-run"
            )
        summary = ui.label("").classes("text-sm font-semibold").mark("dry-run-result")
        events = ui.table(
            columns=EVENT_COLUMNS, rows=[], row_key="i", pagination={"rowsPerPage": 8}
        ).props("dense flat")
        events.classes("w-full").set_visibility(False)

        async def dry_run() -> None:
            error.text = ""
            try:
                data = forms.values(FIELDS, elements)
                result = await alert_actions.dry_run(ctx, data, float(hours.value))
            except InvalidFieldError as exc:
                error.text = str(exc)
                return
            summary.text = alert_actions.dry_run_summary(result, float(hours.value))
            events.rows = [
                {"i": i, "time": fmt_time(e["at"]), "server": e["server_name"],
                 "target": e.get("target") or "", "kind": e["kind"], "level": e["level"],
                 "value": f"{e['value']:.1f}" if e.get("value") is not None else ""}
                for i, e in enumerate(result["events"][:50])
            ]  # fmt: skip
            events.set_visibility(bool(events.rows))
            events.update()

        async def store() -> None:
            data = forms.values(FIELDS, elements)
            for key in ("warning", "critical", "target", "scope_value"):
                data.setdefault(key, None)
            await alert_config.save_rule(ctx, data, who.name, rule["id"] if rule else None)

        async def save() -> None:
            await forms.submit(dialog, error, store, done, "Rule saved")

        async def delete() -> None:
            assert rule is not None
            await alert_config.delete_rule(ctx, int(rule["id"]), who.name)
            dialog.close()
            done()

        with ui.row().classes("w-full justify-end gap-2"):
            if rule and who.can("admin"):
                ui.button("Delete", on_click=delete).props("flat color=red")
            ui.space()
            ui.button("Close", on_click=dialog.close).props("flat")
            if who.can("admin"):
                ui.button("Save", on_click=save).mark("rule-save")
    dialog.open()


def register() -> None:
    @ui.page("/rules")
    async def rules_page(request: Request) -> RedirectResponse | None:
        who = await page_principal(request)
        if who is None:
            return to_login(request)
        ctx = hub_ctx()
        await frame(who, "Alert rules")
        with ui.column().classes("w-full max-w-screen-xl mx-auto p-4 gap-3"):
            with ui.row().classes("w-full items-center"):
                page_heading(
                    "Alert rules",
                    "Open a rule to change it or to replay it over the stored history",
                )
                ui.space()
                if who.can("admin"):
                    ui.button(
                        "New rule", icon="add", on_click=lambda: _editor(ctx, who, None, refresh)
                    ).mark("rule-new")

            @ui.refreshable
            async def table() -> None:
                found = {r["id"]: r for r in await alert_config.list_rules(ctx)}
                t = ui.table(
                    columns=COLUMNS,
                    rows=[_row(r) for r in found.values()],
                    row_key="id",
                    pagination={"rowsPerPage": 50},
                )
                t.classes("w-full fw-card cursor-pointer").props("dense").mark("rules-table")
                t.on("rowClick", lambda e: _editor(ctx, who, found[e.args[1]["id"]], refresh))

            def refresh() -> None:
                table.refresh()

            await table()
        return None
