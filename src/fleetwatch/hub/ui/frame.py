"""The frame around every page: header (search, bell, theme toggle, user menu) and navigation.

Theme (dark/light) is a per-user preference stored with the account, so it follows the user
to any browser. Logging out calls the API from the browser, which clears the HttpOnly cookie.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from fleetwatch.hub.services import users
from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.ui.access import hub_ctx
from fleetwatch.hub.ui.feed import fleet_feed

STYLE = """
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  .body--dark { --fw-bg: #0b1120; --fw-card: #111827; --fw-border: #1f2937; --fw-muted: #94a3b8; }
  .body--light { --fw-bg: #f1f5f9; --fw-card: #ffffff; --fw-border: #e2e8f0; --fw-muted: #64748b; }
  body, .q-page-container { background: var(--fw-bg); }
  .fw-card { background: var(--fw-card); border: 1px solid var(--fw-border);
             border-radius: 12px; box-shadow: none; }
  .fw-muted { color: var(--fw-muted); }
  .fw-header { background: var(--fw-card) !important; border-bottom: 1px solid var(--fw-border);
               color: inherit; }
  .body--light .fw-header { color: #0f172a; }
  .fw-dot { width: 9px; height: 9px; border-radius: 50%; display: inline-block; }
  .fw-bar { height: 6px; border-radius: 3px; background: var(--fw-border); overflow: hidden; }
  .fw-bar > div { height: 100%; border-radius: 3px; }
  .fw-num { font-variant-numeric: tabular-nums; }
  .fw-sc { display: block; padding: 14px; width: 250px; color: inherit; text-decoration: none; }
  .fw-sb { display: flex; justify-content: space-between; align-items: flex-start; gap: 8px; }
  .fw-g { text-align: center; }
  .fw-g text { font-size: 15px; font-weight: 700; fill: currentColor; }
  .fw-ring { fill: none; stroke-width: 6; } .fw-track { stroke: var(--fw-border); }
  .fw-ft { font-size: 11px; margin-top: 8px; border-top: 1px solid var(--fw-border);
           padding-top: 6px; }
  .fw-ell { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; min-width: 0; }
  .fw-s10 { font-size: 10px; } .fw-s11 { font-size: 11px; } .fw-s12 { font-size: 12px; }
  .q-table__card { background: var(--fw-card) !important; color: inherit; }
  .fw-card .q-table__card { background: transparent !important; }
  ::-webkit-scrollbar { width: 8px; height: 8px; }
  ::-webkit-scrollbar-thumb { background: var(--fw-border); border-radius: 4px; }
</style>
"""

NAV: tuple[tuple[str, str, str, str], ...] = (
    ("Overview", "/", "dashboard", "viewer"),
    ("Alerts", "/alerts", "notifications_active", "viewer"),
    ("Alert rules", "/rules", "rule", "viewer"),
    ("Health", "/health", "favorite", "viewer"),
    ("Logs", "/logs", "article", "viewer"),
    ("Hub", "/hub", "monitor_heart", "viewer"),
    ("Settings", "/settings", "settings", "admin"),
    ("Users", "/users", "group", "admin"),
    ("Audit log", "/audit", "history", "admin"),
    ("My account", "/account", "person", "viewer"),
)

LOGOUT_JS = (
    "fetch('/api/session/logout', {method: 'POST', credentials: 'same-origin'})"
    ".then(() => { window.location.href = '/login'; })"
)


def bar(percent: float | None, color: str) -> None:
    """A thin usage bar (0-100 %)."""
    width = 0.0 if percent is None else max(0.0, min(100.0, percent))
    ui.html(f'<div class="fw-bar"><div style="width:{width:.1f}%;background:{color}"></div></div>')


async def frame(who: Principal, title: str) -> None:
    """Draw the header and navigation for a logged-in page."""
    ctx = hub_ctx()
    prefs = await users.get_preferences(ctx, who.name)
    ui.add_head_html(STYLE)
    dark = ui.dark_mode(value=bool(prefs.get("dark", True)))
    ui.page_title(f"{title} · fleetwatch")
    # the shared fleet view (no per-page read of the whole fleet just for the bell)
    summary: dict[str, Any] = (await fleet_feed(ctx).current(metrics=False)).data["summary"]

    async def toggle_theme() -> None:
        dark.value = not dark.value
        await users.set_preference(ctx, who.name, "dark", dark.value)

    def search(e: Any) -> None:
        ui.navigate.to(f"/?q={e.sender.value}")

    drawer = ui.left_drawer(value=False, bordered=True).props("width=220 overlay")
    with drawer.classes("fw-header"):
        for label, path, icon, role in NAV:
            if who.can(role):
                link = ui.link(target=path).classes("no-underline text-inherit w-full")
                with link, ui.row().classes("items-center gap-3 px-3 py-2"):
                    ui.icon(icon).classes("text-lg")
                    ui.label(label)
    with ui.header().classes("fw-header items-center px-4 py-2 gap-3"):
        ui.button(icon="menu", on_click=drawer.toggle).props("flat round dense").classes(
            "text-inherit"
        ).mark("nav-menu")
        home = ui.link(target="/").classes("no-underline text-inherit")
        with home, ui.row().classes("items-center gap-2 no-wrap"):
            ui.icon("shield").classes("text-2xl text-blue-500")
            with ui.column().classes("gap-0"):
                ui.label("fleetwatch").classes("text-lg font-bold leading-tight")
                ui.label("Infrastructure monitoring").classes("text-xs fw-muted gt-sm")
        ui.space()
        ui.input(placeholder="Search servers…").props(
            'dense outlined clearable debounce=300 input-class="text-inherit"'
        ).classes("w-56 gt-xs").on("keydown.enter", search).mark("header-search")
        with (
            ui.button(icon="notifications", on_click=lambda: ui.navigate.to("/alerts"))
            .props("flat round")
            .classes("text-inherit")
            .mark("bell")
        ):
            unread = int(summary.get("unread_notifications") or 0)
            if unread:
                ui.badge(str(unread), color="red").props("floating").mark("bell-count")
        ui.button(icon="contrast", on_click=toggle_theme).props("flat round").classes(
            "text-inherit"
        ).tooltip("Dark / light").mark("theme-toggle")
        with (
            ui.button(icon="account_circle")
            .props("flat round")
            .classes("text-inherit")
            .mark("user-menu"),
            ui.menu(),
        ):
            ui.menu_item(f"{who.name} ({who.role})").props("disable")
            ui.menu_item("My account", on_click=lambda: ui.navigate.to("/account"))
            ui.menu_item("Log out", on_click=lambda: ui.run_javascript(LOGOUT_JS)).mark("logout")


def page_heading(text: str, subtitle: str = "") -> None:
    with ui.column().classes("gap-0 mb-2"):
        ui.label(text).classes("text-xl font-bold")
        if subtitle:
            ui.label(subtitle).classes("text-sm fw-muted")


def forbidden(role: str) -> None:
    with ui.card().classes("fw-card p-6 mx-auto mt-10"):
        ui.icon("lock").classes("text-4xl text-amber-500")
        ui.label(f"This page needs the {role} role.").classes("text-lg")
        ui.link("Back to the overview", "/")
