"""The agent's `logs` configuration section (log shipping, issue 22): keys, defaults, checks.

Plain Python so the agent can import it; `agent_config` calls `check_logs_config` for the
`logs` key. Never pushed from the hub: `paths` names files the agent reads and sends away.
"""

from __future__ import annotations

from typing import Any

from fleetwatch.errors import ConfigError

#: key → (default, kind, minimum, maximum)
_FIELDS: dict[str, tuple[Any, str, float | None, float | None]] = {
    "enabled": (True, "bool", None, None),
    "applog_dir": ("/tmp", "str", None, None),
    "paths": ([], "list[str]", None, None),
    "max_bytes_per_second": (262144, "int", 1024, 1 << 30),
    "batch_lines": (1000, "int", 1, 5000),
    "interval_seconds": (1.0, "float", 0.05, 60),
    "journal": (False, "bool", None, None),
}


def logs_defaults() -> dict[str, Any]:
    """A fresh copy of the section's defaults."""
    return {k: (list(v[0]) if isinstance(v[0], list) else v[0]) for k, v in _FIELDS.items()}


def _check_field(name: str, kind: str, low: float | None, high: float | None, value: Any) -> Any:
    where = f"logs.{name}"
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(where, f"must be true or false, got {value!r}")
        return value
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(where, f"must be a non-empty string, got {value!r}")
        return value.strip()
    if kind == "list[str]":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(where, f"must be a list of strings, got {value!r}")
        return [v.strip() for v in value if v.strip()]
    integer = kind == "int"
    if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
        raise ConfigError(where, f"must be a {'whole ' if integer else ''}number, got {value!r}")
    if value != value or (low is not None and value < low):
        raise ConfigError(where, f"must be at least {low:g}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(where, f"must be at most {high:g}, got {value!r}")
    return value if integer else float(value)


def check_logs_config(value: Any) -> dict[str, Any]:
    """Validate a `logs` object; missing keys take their defaults, unknown ones are errors."""
    if not isinstance(value, dict):
        raise ConfigError("logs", f"must be an object, got {value!r}")
    result = logs_defaults()
    for name, item in value.items():
        field = _FIELDS.get(name)
        if field is None:
            raise ConfigError(f"logs.{name}", "unknown key")
        result[name] = _check_field(name, field[1], field[2], field[3], item)
    return result
