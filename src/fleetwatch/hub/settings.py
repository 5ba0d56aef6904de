"""Hub process settings: command line > environment (`FLEETWATCH_*`) > config file > defaults.

These are the settings of the hub *process*. The settings a user edits on the dashboard
(stale threshold, retention, ...) live in the database (`services/settings.py`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from fleetwatch.errors import ConfigError

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("default", "detailed", "json")
#: the most ingest workers `ingest_workers = -1` starts (measured: `bench/ingest.py`)
AUTO_INGEST_WORKERS = 2


@dataclass(frozen=True)
class HubSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = field(default_factory=lambda: Path("./data"))
    #: SQLAlchemy URL; empty = SQLite at <data_dir>/fleetwatch.db
    database_url: str = ""
    #: requests per minute: per client IP on registration and failing requests, per server key
    #: on authenticated ingest; 0 disables.
    rate_limit_per_minute: int = 120
    max_body_bytes: int = 10 * 1024 * 1024
    #: group commit: the writer waits at most this long to gather a batch
    writer_max_delay_ms: float = 2.0
    writer_max_batch: int = 500
    log_level: str = "info"
    #: stderr and file log lines: `default`, `detailed` (process, thread, source line) or
    #: `json` (one object per line, for containers)
    log_format: str = "default"
    #: log files under `<data_dir>/logs` (H14, `hub/logsetup/`); off = stderr only
    log_files: bool = True
    #: a log file rotates at this size, keeping this many rotated files
    log_max_bytes: int = 10 * 1024 * 1024
    log_backup_count: int = 3
    #: rotated log files are gzipped after this many days and deleted after that many
    log_compress_days: float = 7.0
    log_delete_days: float = 30.0
    #: trust X-Forwarded-For from these proxy addresses (comma separated)
    trusted_proxies: str = ""
    #: uvicorn worker processes (each with its own writer; SQLite serialises their commits)
    workers: int = 1
    #: processes that serve agents' connections (`hub/dispatch/`); -1 = one per CPU core, at
    #: most 2 (none on a single core); 0 = the hub process serves everything itself
    ingest_workers: int = -1
    #: log every HTTP request (uvicorn access log)
    access_log: bool = False
    #: how long a verified agent key is trusted from memory before the database is asked again
    key_cache_seconds: float = 60.0
    #: Fernet key for secrets stored in the database (`secretbox.py`); empty = the key file
    #: `<data_dir>/secret.key`, created on first use
    secret_key: str = ""
    #: a snapshot's `collected_at` may be at most this far ahead of the hub's clock (older ones:
    #: within raw retention); beyond, the request is refused with 422
    max_clock_skew_seconds: float = 86_400.0
    #: WebSocket stream (`/ws`): client frames larger than this get a `frame_too_large` error
    stream_max_frame_bytes: int = 65_536
    #: messages waiting per stream client; a queue full for `stream_slow_seconds` drops it
    stream_queue_max: int = 4096
    stream_slow_seconds: float = 5.0
    #: stream clients connected at once (more are refused with close code 1013)
    stream_max_clients: int = 5_000
    #: `GET /metrics` without a token for requests from this machine (not through a proxy)
    metrics_open_on_loopback: bool = False
    #: UDP port of the SNMP v2c responder (H12) on `host`; 0 = off
    snmp_port: int = 0
    #: the community SNMP managers must send (others get no answer)
    snmp_community: str = "public"
    #: Prometheus remote-write endpoint for every stored sample (`hub/remote_write/`); empty = off
    remote_write_url: str = ""
    #: HTTP basic auth (with a username) or a bearer token for the remote-write endpoint
    remote_write_username: str = ""
    remote_write_password: str = ""
    remote_write_bearer_token: str = ""
    #: samples per remote-write request, and bytes of requests waiting while the TSDB is away
    remote_write_batch_samples: int = 5000
    remote_write_queue_bytes: int = 32 << 20
    #: failed sends are retried after 0.5 s, doubling up to this
    remote_write_max_backoff_seconds: float = 30.0
    remote_write_timeout_seconds: float = 10.0
    #: self-monitoring (H15): sample the hub process this often; warn when its memory rose
    #: steadily over this many minutes by at least this many MiB per hour
    selfmon_interval_seconds: float = 60.0
    selfmon_trend_minutes: float = 60.0
    selfmon_rise_mib_per_hour: float = 10.0
    #: the leader records every health score this often (issue 20); hourly rows are kept
    #: this many days (a day of 1-minute rows always)
    health_interval_seconds: float = 60.0
    health_history_days: int = 30
    #: the log store (issue 22): lines a host may ship per minute (beyond: 429), and how long
    #: and how much is kept (the oldest lines go first)
    logs_lines_per_minute: int = 600_000
    logs_retention_days: int = 14
    logs_max_bytes: int = 2 << 30

    def __post_init__(self) -> None:
        checks = (
            (
                "health_interval_seconds",
                0.05 <= self.health_interval_seconds <= 3600,
                "must be 0.05-3600",
            ),
            ("health_history_days", 1 <= self.health_history_days <= 3650, "must be 1-3650"),
            ("logs_lines_per_minute", self.logs_lines_per_minute >= 0, "must be >= 0"),
            ("logs_retention_days", 1 <= self.logs_retention_days <= 3650, "must be 1-3650"),
            ("logs_max_bytes", self.logs_max_bytes >= 1 << 20, "must be >= 1048576"),
            (
                "log_format",
                self.log_format in LOG_FORMATS,
                f"must be one of {', '.join(LOG_FORMATS)}",
            ),
            ("log_max_bytes", self.log_max_bytes >= 64 * 1024, "must be >= 65536"),
            ("log_backup_count", 0 <= self.log_backup_count <= 100, "must be 0-100"),
            ("log_compress_days", self.log_compress_days > 0, "must be > 0"),
            (
                "log_delete_days",
                self.log_delete_days >= self.log_compress_days,
                "must be >= log_compress_days",
            ),
            ("port", 0 <= self.port <= 65535, "must be 0-65535"),
            (
                "selfmon_interval_seconds",
                0.05 <= self.selfmon_interval_seconds <= 3600,
                "must be 0.05-3600",
            ),
            (
                "selfmon_trend_minutes",
                0.01 <= self.selfmon_trend_minutes <= 1440,
                "must be 0.01-1440",
            ),
            ("selfmon_rise_mib_per_hour", self.selfmon_rise_mib_per_hour > 0, "must be > 0"),
            ("snmp_port", 0 <= self.snmp_port <= 65535, "must be 0 (off) or 1-65535"),
            ("snmp_community", 0 < len(self.snmp_community) <= 255, "must be 1-255 characters"),
            (
                "remote_write_url",
                not self.remote_write_url
                or self.remote_write_url.startswith(("http://", "https://")),
                "must be an http:// or https:// URL",
            ),
            (
                "remote_write_batch_samples",
                11 <= self.remote_write_batch_samples <= 1_000_000,
                "must be 11-1000000",
            ),
            (
                "remote_write_queue_bytes",
                self.remote_write_queue_bytes >= 1 << 16,
                "must be >= 65536",
            ),
            (
                "remote_write_max_backoff_seconds",
                0.5 <= self.remote_write_max_backoff_seconds <= 3600,
                "must be 0.5-3600",
            ),
            (
                "remote_write_timeout_seconds",
                0.1 <= self.remote_write_timeout_seconds <= 600,
                "must be 0.1-600",
            ),
            ("rate_limit_per_minute", self.rate_limit_per_minute >= 0, "must be >= 0"),
            ("max_body_bytes", self.max_body_bytes >= 1024, "must be >= 1024"),
            ("writer_max_delay_ms", 0 <= self.writer_max_delay_ms <= 1000, "must be 0-1000"),
            ("writer_max_batch", 1 <= self.writer_max_batch <= 10000, "must be 1-10000"),
            ("workers", 1 <= self.workers <= 64, "must be 1-64"),
            ("ingest_workers", -1 <= self.ingest_workers <= 64, "must be -1 (auto) or 0-64"),
            ("key_cache_seconds", self.key_cache_seconds >= 0, "must be >= 0"),
            (
                "stream_max_frame_bytes",
                128 <= self.stream_max_frame_bytes <= 16 << 20,
                "must be 128-16777216",
            ),
            ("stream_queue_max", 1 <= self.stream_queue_max <= 100_000, "must be 1-100000"),
            ("stream_slow_seconds", 0.1 <= self.stream_slow_seconds <= 3600, "must be 0.1-3600"),
            ("stream_max_clients", 1 <= self.stream_max_clients <= 100_000, "must be 1-100000"),
            ("log_level", self.log_level in LOG_LEVELS, f"must be one of {', '.join(LOG_LEVELS)}"),
        )
        for name, ok, message in checks:
            if not ok:
                raise ConfigError(name, message)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'fleetwatch.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def resolved_ingest_workers(self) -> int:
        """Ingest workers to start: none with uvicorn `workers` (they share the socket)."""
        if self.workers > 1:
            return 0
        if self.ingest_workers >= 0:
            return self.ingest_workers
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        return 0 if cores < 2 else min(cores, AUTO_INGEST_WORKERS)

    def as_environ(self) -> dict[str, str]:
        """These settings as `FLEETWATCH_*` variables (how worker processes receive them)."""
        return {f"FLEETWATCH_{f.name.upper()}": str(getattr(self, f.name)) for f in fields(self)}


def _coerce(name: str, value: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                text = value.strip().lower()
                if text not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                    raise ValueError(text)
                return text in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, Path):
            return Path(value)
    except (TypeError, ValueError):
        raise ConfigError(name, f"invalid value {value!r}") from None
    return str(value)


def load_settings(
    overrides: dict[str, Any] | None = None,
    config_file: Path | None = None,
    environ: dict[str, str] | None = None,
) -> HubSettings:
    """Build settings from a JSON config file, `FLEETWATCH_<NAME>` variables and overrides."""
    env = os.environ if environ is None else environ
    base = HubSettings()
    values: dict[str, Any] = {}
    known = {f.name for f in fields(HubSettings)}
    path = config_file or (Path(env["FLEETWATCH_CONFIG"]) if env.get("FLEETWATCH_CONFIG") else None)
    if path is not None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError("", f"{path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError("", f"{path}: the top level must be an object")
        for name, value in data.items():
            if name not in known:
                raise ConfigError(name, "unknown hub setting")
            values[name] = value
    for name in known:
        env_value = env.get(f"FLEETWATCH_{name.upper()}")
        if env_value is not None:
            values[name] = env_value
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
    coerced = {n: _coerce(n, v, getattr(base, n)) for n, v in values.items()}
    return replace(base, **coerced)
