"""The agent's configuration schema: every key, its type, default, bounds and meaning.

Plain Python (no pydantic) so the agent can import it; the hub uses the same table to
validate configuration pushed to agents. `docs/configuration.md` documents every key here
(a test fails when one is missing).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fleetwatch.errors import ConfigError, ConfigProblems
from fleetwatch.protocol.logs_config import check_logs_config, logs_defaults


@dataclass(frozen=True)
class Key:
    """One configuration key. `kind`: str, int, float, bool, list[str], int?, commands?,
    processes?, logs."""

    name: str
    kind: str
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    pushable: bool = True  # may the hub change it remotely?


KEYS: tuple[Key, ...] = (
    # seed 001's table, same names and defaults (dashboard_url: see docs/configuration.md)
    Key("dashboard_url", "str", "http://localhost:8000", "Hub URL.", pushable=False),
    Key("server_id", "str", "", "Filled in by registration.", pushable=False),
    Key("api_key", "str", "", "Filled in by registration.", pushable=False),
    Key("collection_interval_minutes", "int", 10, "Full-snapshot interval.", 1, 1440),
    Key("top_processes_count", "int", 15, "Top N processes by CPU and by memory.", 0, 500),
    Key("monitored_services", "list[str]", [], "Services to report; empty = discover."),
    Key("auto_discover_services", "bool", True, "Discover services when the list is empty."),
    Key("live_enabled", "bool", False, "Send live samples (A6)."),
    Key("live_interval_seconds", "int", 10, "Live sample interval.", 1, 60),
    Key("live_retention_minutes", "int", 30, "How long the hub keeps live samples.", 1, 1440),
    Key("log_file", "str", "agent.log", "Log file; relative to the config file's folder."),
    Key("retry_attempts", "int", 3, "Attempts per send before buffering.", 0, 100),
    Key(
        "retry_delay_seconds",
        "float",
        10,
        "Base delay of the retry backoff (at most 5 s while snapshots wait).",
        0,
        3600,
    ),
    Key("verify_ssl", "bool", True, "Verify the hub's TLS certificate."),
    Key("offline_buffer_max", "int", 100, "Kept for seed-001 configs; see buffer_max_bytes.", 0),
    # fleetwatch additions
    Key(
        "collection_interval_seconds",
        "int?",
        None,
        "Full-snapshot interval in seconds; takes precedence over the minutes key.",
        1,
        86400,
    ),
    Key("buffer_max_bytes", "int", 64 * 1024 * 1024, "Durable buffer bound (oldest dropped).", 0),
    Key("buffer_file", "str", "agent-buffer.db", "Durable buffer; relative to config folder."),
    Key("log_max_bytes", "int", 5 * 1024 * 1024, "Rotate the log file at this size.", 1024),
    Key("log_backup_count", "int", 3, "Rotated log files kept.", 0, 100),
    Key("watched_processes", "list[str]", [], "Process names / command-line parts (A2)."),
    Key("watched_paths", "list[str]", [], "Extra paths whose filesystem usage is reported."),
    Key("watched_interfaces", "list[str]", [], "Interfaces reported; empty = all."),
    Key("sensors_enabled", "bool", True, "Collect temperatures, fans and battery."),
    Key("gpu_enabled", "bool", True, "Collect NVIDIA GPUs (NVML, then nvidia-smi)."),
    Key("containers_enabled", "bool", True, "Collect Docker containers."),
    Key("docker_socket", "str", "/var/run/docker.sock", "Docker Engine API unix socket."),
    Key("status_listen", "str", "", "host:port of the local status endpoint (A11); empty = off."),
    Key("budget_cpu_percent", "float", 2.0, "Own CPU budget, % of one core (B2).", 0.1, 100),
    Key("budget_rss_mb", "float", 64.0, "Own memory budget in MiB (B2).", 8, 4096),
    Key(
        "commands",
        "commands?",
        None,
        "Remote commands (A13): {allow, shell, user, max_output_bytes}; absent = off.",
        pushable=False,
    ),
    Key(
        "processes",
        "processes?",
        None,
        "Managed processes (A14): [{name, argv, cwd, env, restart, autostart}].",
        pushable=False,
    ),
    Key(
        "logs",
        "logs",
        logs_defaults(),
        "Log shipping (issue 22): {enabled, applog_dir, paths, max_bytes_per_second, "
        "batch_lines, interval_seconds, journal}.",
        pushable=False,
    ),
)

KEYS_BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}


def defaults() -> dict[str, Any]:
    """A fresh dict of every key's default."""
    return {k.name: copy.deepcopy(k.default) for k in KEYS}


def _check_number(key: Key, value: Any) -> float | int:
    if key.kind.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key.name, f"must be a whole number, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ConfigError(key.name, f"must be a number, got {value!r}")
    if key.minimum is not None and value < key.minimum:
        raise ConfigError(key.name, f"must be at least {key.minimum:g}, got {value!r}")
    if key.maximum is not None and value > key.maximum:
        raise ConfigError(key.name, f"must be at most {key.maximum:g}, got {value!r}")
    return value  # type: ignore[no-any-return]


def check_value(key: Key, value: Any) -> Any:
    """Validate one value; raises `ConfigError` naming the key."""
    if key.kind in ("int?", "commands?", "processes?") and value is None:
        return None
    if key.kind == "processes?":
        from fleetwatch.protocol.control import check_processes_config

        return check_processes_config(value)
    if key.kind == "commands?":
        from fleetwatch.protocol.control import check_commands_config

        return check_commands_config(value)
    if key.kind == "logs":
        return check_logs_config(value)
    if key.kind in ("int", "int?", "float"):
        return _check_number(key, value)
    if key.kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(key.name, f"must be true or false, got {value!r}")
        return value
    if key.kind == "str":
        if not isinstance(value, str):
            raise ConfigError(key.name, f"must be a string, got {value!r}")
        return value
    if key.kind == "list[str]":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(key.name, f"must be a list of strings, got {value!r}")
        return [v.strip() for v in value if v.strip()]
    raise AssertionError(f"unknown kind {key.kind}")


def validate(raw: Mapping[str, Any], *, pushed: bool = False) -> dict[str, Any]:
    """Merge `raw` over the defaults and validate every key.

    Unknown keys are an error (a typo must not be silently ignored). With `pushed=True`
    (configuration sent by the hub) only pushable keys are accepted and no defaults are
    added: the result holds exactly the keys given. Every problem is reported at once: one
    raises its `ConfigError`, several raise a `ConfigProblems` listing each.
    """
    result: dict[str, Any] = {} if pushed else defaults()
    problems: list[ConfigError] = []
    for name, value in raw.items():
        key = KEYS_BY_NAME.get(name)
        try:
            if key is None:
                raise ConfigError(name, "unknown key")
            if pushed and not key.pushable:
                raise ConfigError(name, "cannot be changed remotely")
            result[name] = check_value(key, value)
        except ConfigError as exc:
            problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigProblems(problems)
    return result


def interval_seconds(config: Mapping[str, Any]) -> int:
    """The effective full-snapshot interval: the seconds key wins over the minutes key."""
    seconds = config.get("collection_interval_seconds")
    if seconds:
        return int(seconds)
    return int(config.get("collection_interval_minutes", 10)) * 60
