"""The log viewer (issue 22.5): stored lines newest first with filters (server, app, minimum
level, full-text search, time range), "Load older" paging by id, and a live tail that polls
the store every second for lines above the newest one shown and puts them on top. Paused, it
only counts what is waiting. Each batch of lines is one escaped HTML block
(`logs_render.py`); a search the store cannot run shows its message instead of lines.

`log_viewer(ctx, who, None)` is the fleet-wide viewer (the Logs page); with a server id it
shows that server's lines (the server page's Logs tab) without the server and host columns.
"""

from __future__ import annotations

import re
import time
from typing import Any

from nicegui import ui

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import logs, logsearch
from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.ui import logs_render
from fleetwatch.hub.ui.feed import fleet_feed

PAGE = 100
TAIL_SECONDS = 1.0
#: lines kept on screen; the oldest batches go first (and "Load older" brings them back)
MAX_SHOWN = 2000
ALL = "*"
RANGES = {900: "Last 15 min", 3600: "Last 1 h", 86400: "Last 24 h", 604800: "Last 7 d", 0: "All"}
LEVEL_OPTIONS = {ALL: "Any level", **{name: f"{name.title()} +" for name in logs.LEVELS}}


class LogViewer:
    """One viewer's state and elements (built by `log_viewer`)."""

    def __init__(self, ctx: HubContext, server_id: str | None) -> None:
        self.ctx = ctx
        self.fixed = server_id
        self.server = server_id or ALL
        self.app, self.level, self.q, self.seconds = ALL, ALL, "", 3600
        self.pattern: re.Pattern[str] | None = None
        self.newest = 0
        self.next_before: int | None = None
        self.paused = False
        self.failed = False
        self.generation = 0
        self.blocks: list[tuple[ui.html, int, int]] = []  # (element, lines, oldest id)

    def query(self, **page: int | None) -> logs.LogQuery:
        return logs.LogQuery(
            server_id=None if self.server == ALL else self.server,
            app=None if self.app == ALL else self.app,
            level=None if self.level == ALL else self.level,
            q=self.q or None,
            since=time.time() - self.seconds if self.seconds else None,
            limit=PAGE,
            **page,
        )

    def _block(self, rows: list[dict[str, Any]], top: bool) -> None:
        content = logs_render.block_html(rows, self.pattern, self.fixed is None)
        with self.lines:
            element = ui.html(content, sanitize=False).classes("w-full")
        entry = (element, len(rows), int(rows[-1]["id"]))
        if top:
            element.move(target_index=0)
            self.blocks.insert(0, entry)
        else:
            self.blocks.append(entry)
        self.empty.set_visibility(False)

    def _trim(self) -> None:
        while len(self.blocks) > 1 and sum(n for _e, n, _o in self.blocks) > MAX_SHOWN:
            element, _n, _oldest = self.blocks.pop()
            element.delete()
            self.next_before = self.blocks[-1][2]
        self.more.set_visibility(self.next_before is not None)

    def _fail(self, message: str) -> None:
        self.failed = True
        self.error.set_text(message)
        self.error.set_visibility(True)
        self.lines.clear()
        self.blocks.clear()
        self.empty.set_visibility(False)
        self.more.set_visibility(False)

    async def reload(self) -> None:
        """Show the newest page for the current filters."""
        self.generation += 1
        generation = self.generation
        self.failed = False
        self.error.set_visibility(False)
        try:
            self.pattern = logs_render.highlighter(logsearch.parse(self.q)) if self.q else None
            latest = await self.ctx.db.read(logs.latest_id)
            found = await logs.search(self.ctx, self.query())
        except logsearch.QueryError as exc:
            self._fail(str(exc))
            return
        if generation != self.generation:  # the filters changed while this one ran
            return
        self.generation += 1  # a tail or page asked for before this one is stale now
        self.lines.clear()
        self.blocks.clear()
        rows = found["logs"]
        self.newest = max(latest, int(rows[0]["id"]) if rows else 0)
        self.next_before = found["next_before"]
        self.waiting.set_visibility(False)
        self.empty.set_visibility(not rows)
        if rows:
            self._block(rows, top=False)
        self._trim()

    async def older(self) -> None:
        if self.next_before is None or self.failed:
            return
        generation = self.generation
        found = await logs.search(self.ctx, self.query(before=self.next_before))
        if generation != self.generation:
            return
        if found["logs"]:
            self._block(found["logs"], top=False)
        self.next_before = found["next_before"]
        self.more.set_visibility(self.next_before is not None)

    async def tail(self) -> None:
        """The live tail's step: the lines above the newest shown (counted while paused)."""
        if self.failed:
            return
        generation, newest = self.generation, self.newest
        found = await logs.search(self.ctx, self.query(after=newest))
        if generation != self.generation or newest != self.newest:  # another step was first
            return
        rows = found["logs"]
        if self.paused:
            more = "+" if found["next_before"] is not None else ""
            self.waiting.set_text(f"{len(rows)}{more} new lines waiting")
            self.waiting.set_visibility(bool(rows))
            return
        if found["next_before"] is not None:  # more arrived than one page: start again
            await self.reload()
        elif rows:
            self._block(rows, top=True)
            self.newest = int(rows[0]["id"])
            self._trim()

    async def toggle_pause(self) -> None:
        self.paused = not self.paused
        self.pause.props(f"icon={'play_arrow' if self.paused else 'pause'}")
        self.pause.set_text("Resume" if self.paused else "Pause")
        if not self.paused:
            self.waiting.set_visibility(False)
            await self.tail()

    async def changed(self, name: str, value: Any) -> None:
        setattr(self, name, value if value is not None else ALL)
        await self.reload()

    async def build(self, servers: dict[str, str], apps: list[str]) -> None:
        with ui.column().classes("fw-log-viewer w-full gap-2"):
            ui.html(logs_render.STYLE, sanitize=False).classes("hidden")
            with ui.row().classes("w-full items-center gap-2"):
                if self.fixed is None:
                    ui.select(
                        {ALL: "All servers", **servers},
                        value=ALL,
                        on_change=lambda e: self.changed("server", e.value),
                    ).props("dense outlined options-dense").classes("fw-log-server w-44")
                ui.select(
                    {ALL: "All apps", **{a: a for a in apps}},
                    value=ALL,
                    on_change=lambda e: self.changed("app", e.value),
                ).props("dense outlined options-dense").classes("fw-log-app-filter w-40")
                ui.select(
                    LEVEL_OPTIONS, value=ALL, on_change=lambda e: self.changed("level", e.value)
                ).props("dense outlined options-dense").classes("fw-log-level w-36")
                ui.input(
                    placeholder='Search: words, "a phrase", prefix*',
                    on_change=lambda e: self.changed("q", (e.value or "").strip()),
                ).props("dense outlined clearable debounce=400").classes("fw-log-search w-80")
                ui.select(
                    RANGES, value=self.seconds, on_change=lambda e: self.changed("seconds", e.value)
                ).props("dense outlined options-dense").classes("fw-log-range w-36")
                ui.space()
                self.waiting = ui.label().classes("fw-log-waiting text-sm text-amber-500")
                self.pause = (
                    ui.button("Pause", icon="pause", on_click=self.toggle_pause)
                    .props("outline dense no-caps")
                    .classes("fw-log-pause px-2")
                )
            self.error = ui.label().classes("fw-log-error text-sm text-red-500")
            with ui.card().classes("fw-card w-full p-0 gap-0 overflow-hidden"):
                self.lines = ui.column().classes("fw-log-lines w-full gap-0")
                self.empty = ui.label("No log lines match.").classes("fw-log-empty fw-muted p-4")
            self.more = (
                ui.button("Load older", icon="expand_more", on_click=self.older)
                .props("flat dense no-caps")
                .classes("fw-log-more self-center")
            )
        self.waiting.set_visibility(False)
        self.error.set_visibility(False)
        await self.reload()
        self.timer = ui.timer(TAIL_SECONDS, self.tail)

    async def show(self, shown: bool) -> None:
        """Poll only while the viewer is on screen (a server page's tab)."""
        self.timer.active = shown
        if shown and not self.paused:
            await self.tail()


async def log_viewer(ctx: HubContext, who: Principal, server_id: str | None) -> LogViewer:
    """Draw a log viewer: fleet-wide (`server_id` None) or one server's."""
    assert who.can("viewer")
    servers: dict[str, str] = {}
    if server_id is None:
        view = (await fleet_feed(ctx).current(metrics=False)).data["servers"]
        servers = {s["id"]: s["name"] for s in sorted(view, key=lambda s: s["name"])}
    viewer = LogViewer(ctx, server_id)
    await viewer.build(servers, await logs.apps(ctx, server_id))
    return viewer
