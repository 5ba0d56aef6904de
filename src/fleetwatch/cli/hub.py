"""`fleetwatch hub`: run the hub; `fleetwatch hub migrate`; `fleetwatch hub backup PATH`.

Settings: command line > `FLEETWATCH_*` environment > `--config FILE` (JSON) > defaults
(docs/configuration.md). Heavy imports happen inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleetwatch.hub.settings import HubSettings

_COMMON = (
    ("--data-dir", "data_dir", Path, "folder of the SQLite database (default ./data)"),
    ("--database-url", "database_url", str, "SQLAlchemy URL, e.g. postgresql://user@host/db"),
    ("--config", "config", Path, "JSON file of hub settings"),
)


def _add_common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    for flag, dest, kind, help_text in _COMMON:
        default = argparse.SUPPRESS if suppress else None
        parser.add_argument(flag, dest=dest, type=kind, default=default, help=help_text)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "hub", help="run the hub (API, storage, dashboard)", description=__doc__
    )
    parser.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default 8000)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default 1)")
    parser.add_argument(
        "--ingest-workers",
        type=int,
        default=None,
        help="processes serving agents' connections (default -1: one per core, at most 2)",
    )
    parser.add_argument(
        "--log-format",
        choices=("default", "detailed", "json"),
        default=None,
        help="log line format on stderr and in log files (json: one object per line)",
    )
    parser.add_argument(
        "--snmp-port", type=int, default=None, help="UDP port of the SNMP v2c responder (off)"
    )
    parser.add_argument(
        "--snmp-community", default=None, help="SNMP community to answer (default public)"
    )
    _add_common(parser, suppress=False)
    parser.set_defaults(func=_run)
    hub_sub = parser.add_subparsers(dest="hub_command", metavar="SUBCOMMAND")
    migrate = hub_sub.add_parser("migrate", help="bring the database schema up to date")
    _add_common(migrate, suppress=True)
    migrate.set_defaults(func=_migrate)
    backup = hub_sub.add_parser(
        "backup", help="consistent copy of the SQLite database (safe while the hub runs)"
    )
    backup.add_argument("path", type=Path, help="file to create, or a folder for a dated file")
    _add_common(backup, suppress=True)
    backup.set_defaults(func=_backup)


def _settings(args: argparse.Namespace) -> HubSettings:
    from fleetwatch.hub.settings import load_settings

    names = ("host", "port", "workers", "ingest_workers", "data_dir", "database_url",
             "snmp_port", "snmp_community", "log_format")  # fmt: skip
    overrides = {name: getattr(args, name, None) for name in names}
    return load_settings(overrides, config_file=getattr(args, "config", None))


def _run(args: argparse.Namespace) -> int:
    from fleetwatch.hub.logsetup.crash import early_crash_log

    settings = _settings(args)
    settings = replace(settings, data_dir=settings.data_dir.resolve())
    with early_crash_log(settings.data_dir):
        return _serve(settings)


def _serve(settings: HubSettings) -> int:
    import os

    import uvicorn

    from fleetwatch.hub.app import create_app, open_database
    from fleetwatch.hub.ingest.fasthttp import AgentProtocol
    from fleetwatch.hub.logsetup import log_config
    from fleetwatch.hub.secretbox import load_box
    from fleetwatch.hub.stream.wire import StreamProtocol

    process = "{pid}" if settings.workers > 1 else ""
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": log_config(settings, process),
        "access_log": settings.access_log,
        "server_header": False,
        "http": AgentProtocol,  # uvicorn's httptools protocol, agents' writes without ASGI
        "ws": StreamProtocol,  # uvicorn's WebSocket protocol, `/ws` frames without ASGI
    }
    ingest_workers = settings.resolved_ingest_workers
    if settings.workers == 1 and ingest_workers == 0:
        uvicorn.run(create_app(settings, dashboard=True), **common)
        return 0
    # Migrate and make the secret key once here, then hand the settings to the other
    # processes through the environment.
    open_database(settings).close()
    load_box(settings.secret_key, settings.data_dir)
    if settings.workers == 1:
        return _run_with_ingest_workers(settings, ingest_workers, common)
    os.environ.update(settings.as_environ())
    uvicorn.run(
        "fleetwatch.hub.app:app_from_environ", factory=True, workers=settings.workers, **common
    )
    return 0


def _run_with_ingest_workers(settings: HubSettings, count: int, common: dict[str, Any]) -> int:
    import uvicorn

    from fleetwatch.hub.app import create_app
    from fleetwatch.hub.dispatch.pool import IngestPool
    from fleetwatch.hub.dispatch.sniff import sniffer_class

    pool = IngestPool(count, settings.as_environ())
    pool.start()
    try:
        app = create_app(settings, dashboard=True, ingest_pool=pool)
        uvicorn.run(app, **{**common, "http": sniffer_class(pool, common["http"])})
    finally:
        pool.stop()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    import fleetwatch.hub.app  # noqa: F401  (registers every feature's tables)
    from fleetwatch.hub.store.engine import make_engine
    from fleetwatch.hub.store.migrate import upgrade

    settings = _settings(args)
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        print(f"database schema is current (revision {after})")
    else:
        print(f"database schema upgraded from {before or 'empty'} to revision {after}")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from fleetwatch.hub.store.backup import backup_sqlite, sqlite_path

    settings = _settings(args)
    result = backup_sqlite(sqlite_path(settings.resolved_database_url), args.path)
    print(
        f"backup written to {result.path}: {result.size_bytes} bytes, {result.servers} servers, "
        f"{result.snapshots} snapshots, {result.seconds:.2f} s",
        file=sys.stdout,
    )
    return 0
