"""The web dashboard (H9): NiceGUI pages mounted on the hub's FastAPI app.

NiceGUI keeps its pages and its app in process-wide state, so the dashboard can be mounted on
one hub app per process: `mount_dashboard(app)` is called by `create_app(settings,
dashboard=True)` in the hub process, never in the in-process API tests. Pages read everything
through hub services, authenticate with the same session cookie as the API, and check roles
before every action (the API checks them again).
"""

from __future__ import annotations

from fastapi import FastAPI

_mounted: list[FastAPI] = []


def mount_dashboard(app: FastAPI) -> None:
    """Register the pages and mount NiceGUI at `/` (after every API router)."""
    if _mounted:
        raise RuntimeError("the dashboard is already mounted on another app in this process")
    from nicegui import app as nicegui_app
    from nicegui import ui

    from fleetwatch.hub.ui import (
        access,
        admin,
        alerts,
        health,
        hub,
        log_rules,
        login,
        logs,
        notfound,
        overview,
        rules,
        server,
        settings,
    )

    access.bind(nicegui_app, app)
    notfound.install(nicegui_app)
    pages = (login, overview, server, admin, settings, alerts, rules, health, logs, log_rules, hub)
    for module in pages:
        module.register()
    ui.run_with(
        app,
        title="fleetwatch",
        favicon=access.FAVICON,
        dark=None,
        show_welcome_message=False,
        reconnect_timeout=10.0,
    )
    _mounted.append(app)
