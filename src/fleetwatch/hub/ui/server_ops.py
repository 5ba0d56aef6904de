"""The server page's Operations tab (issue 21.5), operators and admins only: the command
console (a command line, its output streaming in, the last commands), the managed processes
with their buttons and a live console with an input line, and the schedules.

Everything goes through the same services as the API (`services/commands.py`,
`processes.py`, `schedules.py`), so the checks, the audit log and the answers are the same;
a refusal is shown as the API's message. The output areas are polled every `POLL_SECONDS`
while the tab is open.
"""

from __future__ import annotations

import shlex
import time
from typing import Any

from nicegui import ui

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.errors import ApiError
from fleetwatch.hub.services import commands, processes, schedules
from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.ui.units import CRITICAL, OK, UNKNOWN, WARNING, fmt_ago, fmt_duration

POLL_SECONDS = 0.5
STATE_COLORS = {
    "running": OK,
    "exited": UNKNOWN,
    "stopped": UNKNOWN,
    "crashed": CRITICAL,
    "failed": CRITICAL,
}


async def _command_card(ctx: HubContext, who: Principal, server_id: str) -> None:
    status = await commands.control_status(ctx, server_id)
    hello = status.get("hello") or {}
    policy = hello.get("commands") or {}
    with ui.card().classes("fw-card p-3 w-full gap-2"):
        with ui.row().classes("w-full items-center"):
            ui.label("Command console").classes("font-bold")
            ui.space()
            if not status["connected"]:
                text, color = "agent not connected", WARNING
            elif not policy.get("enabled"):
                text, color = "remote commands off on this host", UNKNOWN
            else:
                text, color = f"allowed: {', '.join(policy.get('allow') or []) or 'none'}", OK
            ui.badge(text).style(f"background:{color}").classes("fw-ops-policy")
        with ui.row().classes("w-full items-center gap-2 flex-nowrap"):
            line = (
                ui.input(placeholder="uname -a")
                .props("dense outlined")
                .classes("flex-1 font-mono fw-ops-command")
            )
            run = ui.button("Run", icon="play_arrow").props("no-caps")
        out = ui.log(max_lines=1000).classes("w-full h-56 font-mono text-xs fw-ops-output")
        state = ui.label("").classes("text-xs fw-muted fw-ops-state")
        follow: dict[str, Any] = {"id": None, "after": 0}

        async def start() -> None:
            try:
                argv = shlex.split(line.value or "")
            except ValueError as exc:
                ui.notify(f"cannot read the command line: {exc}", type="warning")
                return
            if not argv:
                return
            try:
                made = await commands.create(ctx, who.name, server_id, argv, None, 60.0, {})
            except ApiError as exc:
                ui.notify(exc.message, type="negative", multi_line=True)
                return
            out.push(f"$ {shlex.join(argv)}")
            follow.update(id=made["id"], after=0)
            state.set_text("running...")

        async def poll() -> None:
            if follow["id"] is None:
                return
            item = await commands.get(ctx, follow["id"], follow["after"])
            for chunk in item["chunks"]:
                for text in chunk["data"].splitlines():
                    out.push(text)
            follow["after"] = item["next_after"]
            if item["done"]:
                code = item["exit_code"]
                state.set_text(
                    f"{item['state']}"
                    + (f", exit code {code}" if code is not None else "")
                    + (f": {item['message']}" if item["message"] else "")
                )
                follow["id"] = None

        run.on_click(start)
        line.on("keydown.enter", start)
        ui.timer(POLL_SECONDS, poll)


def _process_row(
    ctx: HubContext, who: Principal, server_id: str, item: dict[str, Any], pick: Any
) -> None:
    color = STATE_COLORS.get(item["state"], UNKNOWN)
    with ui.row().classes("w-full items-center gap-3 text-sm fw-ops-process"):
        ui.html(f'<span class="fw-dot" style="background:{color}"></span>')
        ui.label(item["name"]).classes("font-bold min-w-32")
        ui.label(item["state"]).classes("min-w-20")
        ui.label(f"pid {item['pid']}" if item.get("pid") else "–").classes("min-w-20 fw-muted")
        uptime = item.get("uptime_seconds")
        ui.label(f"up {fmt_duration(uptime)}" if uptime else "").classes("min-w-24 fw-muted")
        ui.label(f"{item.get('restarts', 0)} restarts").classes("min-w-24 fw-muted")
        code = item.get("exit_code")
        ui.label("" if code is None else f"last exit {code}").classes("min-w-24 fw-muted")
        ui.space()
        for action, icon in (
            ("start", "play_arrow"),
            ("stop", "stop"),
            ("restart", "restart_alt"),
            ("kill", "dangerous"),
        ):

            async def act(a: str = action) -> None:
                try:
                    done = await processes.request(ctx, who.name, server_id, item["name"], a)
                except ApiError as exc:
                    ui.notify(exc.message, type="negative")
                    return
                ok = done["state"] == "done"
                ui.notify(done["message"] or done["state"], type="positive" if ok else "warning")

            ui.button(icon=icon, on_click=act).props(f"flat dense round title={action}")
        ui.button("Console", on_click=lambda: pick(item["name"])).props("flat dense no-caps")


async def _processes_card(ctx: HubContext, who: Principal, server_id: str) -> None:
    listed = await processes.list_processes(ctx, server_id)
    with ui.card().classes("fw-card p-3 w-full gap-2"):
        ui.label("Managed processes").classes("font-bold")
        if not listed["processes"]:
            ui.label("None: this host's agent config has no `processes`.").classes(
                "fw-muted text-sm"
            )
            return
        rows = ui.column().classes("w-full gap-1")
        chosen: dict[str, Any] = {"name": listed["processes"][0]["name"], "after": 0}
        title = ui.label("").classes("font-bold mt-2")
        console = ui.log(max_lines=500).classes("w-full h-64 font-mono text-xs fw-ops-console")
        with ui.row().classes("w-full items-center gap-2 flex-nowrap"):
            line = (
                ui.input(placeholder="a line for its stdin")
                .props("dense outlined")
                .classes("flex-1 font-mono fw-ops-stdin")
            )
            send = ui.button("Send", icon="send").props("no-caps")

        def pick(name: str) -> None:
            chosen.update(name=name, after=0)
            console.clear()
            title.set_text(f"{name}: console")

        async def draw() -> None:
            current = await processes.list_processes(ctx, server_id)
            rows.clear()
            with rows:
                for item in current["processes"]:
                    _process_row(ctx, who, server_id, item, pick)

        async def deliver() -> None:
            text = line.value or ""
            try:
                done = await processes.request(
                    ctx, who.name, server_id, chosen["name"], "input", text
                )
            except ApiError as exc:
                ui.notify(exc.message, type="negative")
                return
            if done["state"] == "done":
                line.set_value("")
            else:
                ui.notify(done["message"] or done["state"], type="warning")

        async def poll() -> None:
            try:
                got = await processes.process_detail(
                    ctx, server_id, chosen["name"], chosen["after"]
                )
            except ApiError:
                return
            for entry in got["lines"]:
                console.push(entry["data"].rstrip("\n"))
            chosen["after"] = got["next_after"]

        pick(chosen["name"])
        await draw()
        send.on_click(deliver)
        line.on("keydown.enter", deliver)
        ui.timer(POLL_SECONDS, poll)
        ui.timer(5.0, draw)


async def _schedules_card(ctx: HubContext, who: Principal, server_id: str) -> None:
    with ui.card().classes("fw-card p-3 w-full gap-1"):
        ui.label("Schedules").classes("font-bold")
        box = ui.column().classes("w-full gap-1 fw-ops-schedules")

        async def draw() -> None:
            items = await schedules.for_server(ctx, server_id)
            box.clear()
            with box:
                if not items:
                    ui.label(
                        "None (POST /api/servers/{id}/schedules, docs/remote-operations.md)"
                    ).classes("fw-muted text-sm")
                for s in items[:30]:
                    with ui.row().classes("w-full items-center gap-3 text-sm"):
                        when = s["next_run"] or s["last_run"]
                        ui.label(s["label"]).classes("min-w-64")
                        ui.label(s["cron"] or "once").classes("fw-muted min-w-24")
                        ui.label(s["state"]).classes("min-w-20")
                        ago = (
                            ""
                            if when is None
                            else (
                                f"in {fmt_duration(when - time.time())}"
                                if when > time.time()
                                else fmt_ago(when)
                            )
                        )
                        ui.label(ago).classes("fw-muted min-w-24")
                        ui.label(s["last_result"] or "").classes("fw-muted text-xs")
                        if s["state"] == "active":

                            async def cancel(sid: str = s["id"]) -> None:
                                await schedules.cancel(ctx, who.name, sid)
                                await draw()

                            ui.button("Cancel", on_click=cancel).props("flat dense no-caps")

        await draw()
        ui.timer(5.0, draw)


async def operations_tab(ctx: HubContext, who: Principal, server_id: str) -> None:
    await _command_card(ctx, who, server_id)
    await _processes_card(ctx, who, server_id)
    await _schedules_card(ctx, who, server_id)
