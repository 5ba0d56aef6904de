"""`create_app(settings)`: builds the whole hub; no module-level singletons.

`app_from_environ()` is the factory uvicorn workers import (`fleetwatch hub --workers N`): the
parent passes its settings down as `FLEETWATCH_*` variables.

Lifespan: every process opens the database and builds the alert runtime (the API uses it);
one elected leader (`leader.py`) runs the singleton jobs: the alert engine's loops and
retention. Shutdown runs in reverse: singleton jobs and background tasks stop first, the
database closes last, so no task reads or writes a closed database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from fleetwatch import __version__
from fleetwatch.hub import leader
from fleetwatch.hub.api import (
    agent_config,
    commands,
    errors,
    export,
    health,
    hub_status,
    query,
    session,
    users,
)
from fleetwatch.hub.api import alerts as alerts_api
from fleetwatch.hub.api import channels as channels_api
from fleetwatch.hub.api import log_rules as log_rules_api
from fleetwatch.hub.api import logs as logs_api
from fleetwatch.hub.api import maintenance as maintenance_api
from fleetwatch.hub.api import notifications as notifications_api
from fleetwatch.hub.api import processes as processes_api
from fleetwatch.hub.api import prometheus as prometheus_api
from fleetwatch.hub.api import schedules as schedules_api
from fleetwatch.hub.api.nul_guard import NulGuard
from fleetwatch.hub.api.responses import JSONResponse
from fleetwatch.hub.bridge import PgBridge, start_bridge
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.control import dispatch as control_dispatch
from fleetwatch.hub.control import endpoint as control_endpoint
from fleetwatch.hub.dispatch.store_server import StoreServer
from fleetwatch.hub.ingest import routes as ingest
from fleetwatch.hub.ingest.app import HubApp
from fleetwatch.hub.logsetup import files as log_files
from fleetwatch.hub.logsetup import logs_dir
from fleetwatch.hub.remote_write import RemoteWriteConfig
from fleetwatch.hub.remote_write.writer import REMOTE_WRITER_KEY, RemoteWriter
from fleetwatch.hub.services import alerts as alert_service
from fleetwatch.hub.services import (
    export_schedule,
    health_history,
    keys,
    logrules,
    retention,
    schedules,
    selfmon,
)
from fleetwatch.hub.services import users as user_accounts
from fleetwatch.hub.services.servers import DELETE_HOOKS_KEY
from fleetwatch.hub.settings import HubSettings, load_settings
from fleetwatch.hub.snmp import start_snmp, stop_snmp
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.migrate import upgrade
from fleetwatch.hub.stream import endpoint as stream_endpoint

if TYPE_CHECKING:
    from fleetwatch.hub.dispatch.pool import IngestPool

log = logging.getLogger("fleetwatch.hub")
#: the hub starts serving once its ingest workers are ready, or after this long
WORKERS_READY_SECONDS = 30.0
#: how long a stopping hub keeps committing its workers' writes while they finish
WORKERS_DRAIN_SECONDS = 25.0


def open_database(settings: HubSettings, *, checkpoints: bool = True) -> Database:
    """The database of these settings, schema upgraded (creates the SQLite folder).
    `checkpoints=False`: leave SQLite's WAL checkpoints to another process (the hub's)."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(
        settings.resolved_database_url,
        max_batch=settings.writer_max_batch,
        max_delay_ms=settings.writer_max_delay_ms,
        checkpoints=checkpoints,
    )
    try:
        upgrade(db.engine)
    except Exception:
        db.close()
        raise
    return db


def _settle_heap() -> None:
    """Tune the garbage collector for a long-running server, once it has started.

    The objects alive after start-up (modules, routes, NiceGUI, SQLAlchemy metadata: several
    hundred thousand) live as long as the process, yet every full collection walked them all,
    pausing ingest for tens of milliseconds (the p99 latency). `gc.freeze()` moves them out of
    the collector's way, and a larger first-generation threshold makes collections rarer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def create_app(
    settings: HubSettings,
    *,
    dashboard: bool = False,
    ingest_worker: bool = False,
    ingest_pool: IngestPool | None = None,
) -> FastAPI:
    """The hub app; `dashboard=True` also mounts the NiceGUI web UI (once per process).

    `ingest_worker=True`: the API of an ingest worker process (`dispatch/`): it never runs for
    leader, never creates the first admin, and answers dashboard pages with a redirect that
    closes the connection (the next one reaches the hub process). `ingest_pool`: the hub
    process's workers, whose relayed snapshots go onto this process's event bus.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(settings, checkpoints=not ingest_worker)
        db.start()
        ctx = HubContext(settings=settings, db=db)
        ctx.extras.setdefault(DELETE_HOOKS_KEY, []).append(
            functools.partial(keys.invalidate_server, ctx)
        )
        app.state.ctx = ctx
        singletons = _Singletons(ctx)
        lock = leader.lock_for(db)
        election: asyncio.Task[None] | None = None
        watching: asyncio.Task[None] | None = None
        upkeep: asyncio.Task[None] | None = None
        dispatching: asyncio.Task[None] | None = None
        bridge: PgBridge | None = None
        try:
            password = None if ingest_worker else await user_accounts.ensure_first_admin(ctx)
            if password is not None:  # shown once, on the console only (never in log files)
                url = f"http://{settings.host}:{settings.port}"
                print(user_accounts.first_admin_banner(password, url), file=sys.stderr, flush=True)
            await alert_service.start_alerts(ctx)
            bridge = None if ingest_worker else await start_bridge(ctx)
            if not ingest_worker:
                await start_snmp(ctx)
                dispatching = asyncio.create_task(control_dispatch.run(ctx), name="control")
                if settings.log_files:
                    upkeep = asyncio.create_task(
                        log_files.run_upkeep(
                            logs_dir(settings), settings.log_compress_days, settings.log_delete_days
                        ),
                        name="log-upkeep",
                    )
            watching = selfmon.start(ctx)  # every process watches itself (workers too)
            # The first try happens before serving, so a lone hub evaluates its first snapshot.
            leading = False if ingest_worker else await asyncio.to_thread(lock.try_acquire)
            if leading:
                await singletons.start()
            if not ingest_worker:
                election = asyncio.create_task(
                    leader.lead(lock, singletons.start, singletons.stop, leading=leading),
                    name="leader-election",
                )
            if ingest_pool is not None:
                runtime = ctx.extras[alert_service.RUNTIME_KEY]
                ingest_pool.attach(
                    runtime.engine.relay_filter, StoreServer(db, runtime.bus, ctx.telemetry)
                )
                if not await ingest_pool.wait_ready(WORKERS_READY_SECONDS):
                    log.warning("ingest workers not ready after %.0f s", WORKERS_READY_SECONDS)
            role = "ingest worker" if ingest_worker else "hub"
            log.info("%s ready: %s database, schema current, leader: %s", role, db.dialect, leading)
            if dashboard or ingest_worker:  # served processes (not in-process test apps)
                _settle_heap()
            yield
        finally:
            if ingest_pool is not None:
                if not await ingest_pool.drain(WORKERS_DRAIN_SECONDS):
                    log.warning("ingest workers still busy after %.0f s", WORKERS_DRAIN_SECONDS)
                ingest_pool.detach()
            if election is not None:
                election.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await election  # stops the singleton jobs, then releases the lock
            await singletons.stop()
            stop_snmp(ctx)
            for task in (watching, upkeep, dispatching):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if bridge is not None:
                await bridge.stop()
            lock.release()
            await alert_service.stop_alerts(ctx)
            db.close()

    app = HubApp(
        title="fleetwatch hub",
        version=__version__,
        default_response_class=JSONResponse,
        lifespan=lifespan,
    )
    errors.install_error_handlers(app)
    app.add_middleware(NulGuard)
    for alert_router in (alerts_api, channels_api, maintenance_api, notifications_api):
        app.include_router(alert_router.router)
    for router in (ingest.router, query.router, export.router, session.router, users.router):
        app.include_router(router)
    app.include_router(agent_config.router)
    app.include_router(prometheus_api.router)
    app.include_router(hub_status.router)
    app.include_router(health.router)
    app.include_router(commands.router)
    app.include_router(logs_api.router)
    app.include_router(log_rules_api.router)
    app.include_router(schedules_api.router)  # before processes: `.../{name}/{action}`
    app.include_router(processes_api.router)
    app.include_router(control_endpoint.router)
    app.include_router(stream_endpoint.router)
    _publish_wire_models(app)
    if ingest_worker:
        from fleetwatch.hub.dispatch.redirect import install_redirect

        install_redirect(app)
    if dashboard:
        from fleetwatch.hub.ui import mount_dashboard

        mount_dashboard(app)  # last: NiceGUI takes every path no router matched
    return app


class _Singletons:
    """The jobs only the elected leader runs: alert evaluation, retention, periodic export,
    the health-score history, scheduled messages, remote-write."""

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        runtime = self.ctx.extras.get(alert_service.RUNTIME_KEY)
        if runtime is not None:
            await runtime.engine.lead()
        if not self.tasks:
            self.tasks = [
                asyncio.create_task(retention.run_periodic(self.ctx), name="retention"),
                asyncio.create_task(export_schedule.run_periodic(self.ctx), name="export"),
                asyncio.create_task(health_history.run_periodic(self.ctx), name="health"),
                asyncio.create_task(schedules.run_periodic(self.ctx), name="schedules"),
                asyncio.create_task(logrules.run_periodic(self.ctx), name="log-rules"),
            ]
            remote = RemoteWriteConfig.of(self.ctx.settings)
            if remote is not None:
                writer = RemoteWriter(self.ctx, remote)
                self.ctx.extras[REMOTE_WRITER_KEY] = writer
                self.tasks.append(asyncio.create_task(writer.run(), name="remote-write"))

    async def stop(self) -> None:
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        runtime = self.ctx.extras.get(alert_service.RUNTIME_KEY)
        if runtime is not None:
            await runtime.engine.stop()


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
