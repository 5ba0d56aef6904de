"""Built-in default rules (seed values) and validation of rule fields (API input, DB rows)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.alerts.metrics import METRICS
from fleetwatch.hub.alerts.rules import SCOPE_RANK, Rule

DEFAULT_COOLDOWN_SECONDS = 300.0

#: (name, metric, warning, critical, enabled). Seeds 001/004: memory 80/90, disk 85/95,
#: disk free 1 GiB, CPU 85/95. The forecast, interface-error and health-score rules ship
#: disabled (quiet by default; a new install shows them ready to switch on).
DEFAULT_RULES: tuple[tuple[str, str, float | None, float | None, bool], ...] = (
    ("CPU usage", "cpu_percent", 85.0, 95.0, True),
    ("Memory usage", "memory_percent", 80.0, 90.0, True),
    ("Swap usage", "swap_percent", 80.0, 95.0, True),
    ("Load per core", "load_per_core", 2.0, 4.0, True),
    ("Disk usage", "disk_percent", 85.0, 95.0, True),
    ("Disk free space", "disk_free_gb", 1.0, None, True),
    ("GPU temperature", "gpu_temperature_celsius", 80.0, 90.0, True),
    ("Server offline", "offline", None, 900.0, True),
    ("Watched process down", "process_down", None, 1.0, True),
    ("Service stopped", "service_stopped", 1.0, None, True),
    ("Disk full forecast", "disk_full_days", 3.0, 1.0, False),
    ("Interface errors", "interface_errors_per_sec", 1.0, 10.0, False),
    ("Low health score", "health_score", 70.0, 50.0, False),
)


class RuleError(InvalidFieldError):
    """An invalid field (see `InvalidFieldError`)."""


def _number(data: Mapping[str, Any], name: str, minimum: float = 0.0) -> float | None:
    raw = data.get(name)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise RuleError(name, "expected a finite number")
    if raw < minimum:
        raise RuleError(name, f"must be >= {minimum:g}")
    return float(raw)


def validate_rule(data: Mapping[str, Any]) -> dict[str, Any]:
    """Checked column values for `alert_rules`; `RuleError.field` names the bad field."""
    metric = data.get("metric")
    if metric not in METRICS:
        raise RuleError("metric", f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
    name = data.get("name") or METRICS[metric].label
    if not isinstance(name, str) or len(name) > 255:
        raise RuleError("name", "expected a string of at most 255 characters")
    scope = data.get("scope") or "global"
    if scope not in SCOPE_RANK:
        raise RuleError("scope", f"expected one of {', '.join(SCOPE_RANK)}")
    scope_value = data.get("scope_value")
    if scope != "global" and not (isinstance(scope_value, str) and scope_value):
        raise RuleError("scope_value", f"a {scope} rule needs the {scope} it applies to")
    target = data.get("target")
    if target is not None and not (isinstance(target, str) and 0 < len(target) <= 255):
        raise RuleError("target", "expected a non-empty pattern (fnmatch), e.g. /var*")
    if target is not None and not METRICS[metric].per_target:
        raise RuleError("target", f"{metric} has no targets")
    warning = _number(data, "warning", -math.inf)
    critical = _number(data, "critical", -math.inf)
    if warning is None and critical is None:
        raise RuleError("warning", "set a warning or a critical threshold (or both)")
    if warning is not None and critical is not None:
        above = METRICS[metric].comparison == ">"
        if (above and critical < warning) or (not above and critical > warning):
            side = "above" if above else "below"
            raise RuleError("critical", f"must be at or {side} the warning threshold")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError("enabled", "expected true or false")
    return {
        "name": name,
        "metric": metric,
        "scope": scope,
        "scope_value": scope_value if scope != "global" else None,
        "target": target,
        "warning": warning,
        "critical": critical,
        "duration_seconds": _number(data, "duration_seconds") or 0.0,
        "hysteresis": _number(data, "hysteresis") or 0.0,
        "cooldown_seconds": _cooldown(data),
        "repeat_seconds": _number(data, "repeat_seconds") or 0.0,
        "enabled": enabled,
    }


def _cooldown(data: Mapping[str, Any]) -> float:
    value = _number(data, "cooldown_seconds")
    return DEFAULT_COOLDOWN_SECONDS if value is None else value


def rule_from_row(m: Mapping[str, Any]) -> Rule:
    return Rule(
        id=int(m["id"]),
        name=str(m["name"]),
        metric=str(m["metric"]),
        warning=m["warning"],
        critical=m["critical"],
        scope=str(m["scope"]),
        scope_value=m["scope_value"],
        target=m["target"],
        duration_seconds=float(m["duration_seconds"] or 0.0),
        hysteresis=float(m["hysteresis"] or 0.0),
        cooldown_seconds=float(m["cooldown_seconds"] or 0.0),
        repeat_seconds=float(m["repeat_seconds"] or 0.0),
        enabled=bool(m["enabled"]),
        builtin=bool(m.get("builtin", False)),
    )


def rule_json(m: Mapping[str, Any]) -> dict[str, Any]:
    """A rule as the API shows it."""
    out = {k: m[k] for k in m}
    out["component"] = METRICS[str(m["metric"])].component if m["metric"] in METRICS else None
    out["comparison"] = METRICS[str(m["metric"])].comparison if m["metric"] in METRICS else None
    return out
