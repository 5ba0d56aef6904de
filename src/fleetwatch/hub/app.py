"""`create_app(settings)`: builds the whole hub; no module-level singletons.

`app_from_environ()` is the factory uvicorn workers import (`fleetwatch hub --workers N`): the
parent passes its settings down as `FLEETWATCH_*` variables.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from fleetwatch import __version__
from fleetwatch.hub.api import agent_config, errors, export, ingest, query, session, users
from fleetwatch.hub.api import alerts as alerts_api
from fleetwatch.hub.api import channels as channels_api
from fleetwatch.hub.api import maintenance as maintenance_api
from fleetwatch.hub.api import notifications as notifications_api
from fleetwatch.hub.api.responses import JSONResponse
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import alerts as alert_service
from fleetwatch.hub.services import keys
from fleetwatch.hub.services import users as user_accounts
from fleetwatch.hub.services.servers import DELETE_HOOKS_KEY
from fleetwatch.hub.settings import HubSettings, load_settings
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.migrate import upgrade

log = logging.getLogger("fleetwatch.hub")


def open_database(settings: HubSettings) -> Database:
    """The database of these settings, schema upgraded (creates the SQLite folder)."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(
        settings.resolved_database_url,
        max_batch=settings.writer_max_batch,
        max_delay_ms=settings.writer_max_delay_ms,
    )
    try:
        upgrade(db.engine)
    except Exception:
        db.close()
        raise
    return db


def create_app(settings: HubSettings, *, dashboard: bool = False) -> FastAPI:
    """The hub app; `dashboard=True` also mounts the NiceGUI web UI (once per process)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(settings)
        db.start()
        ctx = HubContext(settings=settings, db=db)
        ctx.extras.setdefault(DELETE_HOOKS_KEY, []).append(
            functools.partial(keys.invalidate_server, ctx)
        )
        app.state.ctx = ctx
        password = await user_accounts.ensure_first_admin(ctx)
        if password is not None:  # shown once, on the console only (never in log files)
            url = f"http://{settings.host}:{settings.port}"
            print(user_accounts.first_admin_banner(password, url), file=sys.stderr, flush=True)
        await alert_service.start_alerts(ctx)
        log.info("hub ready: %s database, schema current", db.dialect)
        try:
            yield
        finally:
            await alert_service.stop_alerts(ctx)
            db.close()

    app = FastAPI(
        title="fleetwatch hub",
        version=__version__,
        default_response_class=JSONResponse,
        lifespan=lifespan,
    )
    errors.install_error_handlers(app)
    for alert_router in (alerts_api, channels_api, maintenance_api, notifications_api):
        app.include_router(alert_router.router)
    for router in (ingest.router, query.router, export.router, session.router, users.router):
        app.include_router(router)
    app.include_router(agent_config.router)
    _publish_wire_models(app)
    if dashboard:
        from fleetwatch.hub.ui import mount_dashboard

        mount_dashboard(app)  # last: NiceGUI takes every path no router matched
    return app


def _publish_wire_models(app: FastAPI) -> None:
    """Add the ingest bodies (validated by hand, not by FastAPI) to the OpenAPI document."""
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = default_openapi()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, model_schema in ingest.openapi_schemas().items():
                components.setdefault(name, model_schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_environ() -> FastAPI:
    """Uvicorn factory for worker processes: settings from `FLEETWATCH_*` only."""
    return create_app(load_settings(), dashboard=True)
