"""`create_app(settings)`: builds the whole hub; no module-level singletons."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

from fleetwatch import __version__
from fleetwatch.hub.api import errors, export, ingest, query
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.settings import HubSettings
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.migrate import upgrade

log = logging.getLogger("fleetwatch.hub")


def create_app(settings: HubSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(
            settings.resolved_database_url,
            max_batch=settings.writer_max_batch,
            max_delay_ms=settings.writer_max_delay_ms,
        )
        upgrade(db.engine)
        db.start()
        app.state.ctx = HubContext(settings=settings, db=db)
        try:
            yield
        finally:
            db.close()

    app = FastAPI(
        title="fleetwatch hub",
        version=__version__,
        default_response_class=ORJSONResponse,
        lifespan=lifespan,
    )
    errors.install_error_handlers(app)
    for router in (ingest.router, query.router, export.router):
        app.include_router(router)
    return app
