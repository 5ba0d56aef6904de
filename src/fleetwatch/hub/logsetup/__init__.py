"""H14: the hub's one logging setup, handed to `logging.config.dictConfig` (by uvicorn, in
every hub and ingest-worker process).

`log_config(settings, process)` maps component loggers onto files under `<data_dir>/logs`:

- `logs/hub.log`: everything at `log_level`;
- `logs/components/{ingest,stream,store,alerts,web}.log` and
  `logs/services/{retention,health,ecosystem}.log`: each component's records (`COMPONENTS`);
- `logs/debug/debug.log`: everything, only when `log_level` is `debug`;
- `logs/crash.log`: failures before logging was configured (`crash.py`).

Files rotate at `log_max_bytes`, keeping `log_backup_count`; `files.sweep` gzips them after
`log_compress_days` and deletes them after `log_delete_days`. An ingest worker's files carry
its tag (`hub.worker0.log`), so no two processes ever rotate one file. Every handler redacts
secrets (`formats.Redact`); `counters.LevelCounter` counts records by level for the health
score and `/metrics`. Formats: `default`, `detailed`, `json` (`--log-format json`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetwatch.hub.logsetup.formats import formatter
from fleetwatch.hub.settings import HubSettings

#: file (under `logs/`) → the loggers whose records it gets (their children included)
COMPONENTS: dict[str, tuple[str, ...]] = {
    "components/ingest": ("fleetwatch.hub.ingest", "fleetwatch.hub.dispatch"),
    "components/stream": ("fleetwatch.hub.stream",),
    "components/store": (
        "fleetwatch.hub.store",
        "fleetwatch.hub.bridge",
        "fleetwatch.hub.leader",
    ),
    "components/alerts": (
        "fleetwatch.hub.alerts",
        "fleetwatch.hub.notify",
        "fleetwatch.hub.mail",
    ),
    "components/web": (
        "fleetwatch.hub.api",
        "fleetwatch.hub.ui",
        "fleetwatch.hub.users",
        "fleetwatch.hub.secrets",
        "uvicorn.error",
    ),
    "services/retention": (
        "fleetwatch.hub.retention",
        "fleetwatch.hub.export",
        "fleetwatch.hub.logs",
    ),
    "services/health": ("fleetwatch.hub.health", "fleetwatch.hub.selfmon"),
    "services/ecosystem": ("fleetwatch.hub.snmp", "fleetwatch.hub.remote_write"),
}


def logs_dir(settings: HubSettings) -> Path:
    return settings.data_dir.resolve() / "logs"


def _file(path: Path, settings: HubSettings, level: str = "NOTSET") -> dict[str, Any]:
    return {
        "()": "fleetwatch.hub.logsetup.files.LogFile",
        "filename": str(path),
        "maxBytes": settings.log_max_bytes,
        "backupCount": settings.log_backup_count,
        "formatter": "main",
        "filters": ["redact"],
        "level": level,
    }


def log_config(settings: HubSettings, process: str = "") -> dict[str, Any]:
    """The dictConfig of one hub process; `process` tags its file names (`worker0`)."""
    level = settings.log_level.upper()
    suffix = f".{process}.log" if process else ".log"
    handlers: dict[str, Any] = {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "main",
            "stream": "ext://sys.stderr",
            "filters": ["redact"],
        },
        "count": {"class": "fleetwatch.hub.logsetup.counters.LevelCounter"},
    }
    loggers: dict[str, Any] = {}
    main = ["stderr", "count"]
    if settings.log_files:
        root = logs_dir(settings)
        handlers["all"] = _file(root / f"hub{suffix}", settings)
        main.append("all")
        if level == "DEBUG":
            handlers["debug"] = _file(root / "debug" / f"debug{suffix}", settings, "DEBUG")
            main.append("debug")
        for name, members in COMPONENTS.items():
            handler = name.replace("/", ".")
            handlers[handler] = _file(root / f"{name}{suffix}", settings)
            for member in members:
                loggers[member] = {"handlers": [handler], "propagate": True}
    access = settings.access_log
    web_file = ["all", "components.web"] if settings.log_files else []
    loggers.update({
        "fleetwatch": {"handlers": main, "level": level, "propagate": False},
        "uvicorn": {"handlers": main, "level": level, "propagate": False},
        "uvicorn.access": {"handlers": ["stderr", *web_file] if access else [],
                           "level": "INFO" if access else "WARNING", "propagate": False},
    })  # fmt: skip
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "fleetwatch.hub.logsetup.formats.Redact"}},
        "formatters": {"main": formatter(settings.log_format)},
        "handlers": handlers,
        "loggers": loggers,
    }
