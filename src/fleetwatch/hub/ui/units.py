"""How numbers look on the dashboard: bytes, rates, durations, ages, threshold colours."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime

from fleetwatch.hub.services.settings import Thresholds

#: one meaning per colour everywhere: ok / warning / critical / unknown
OK = "#22c55e"
WARNING = "#f59e0b"
CRITICAL = "#ef4444"
UNKNOWN = "#64748b"
CPU_COLOR = "#10b981"
MEMORY_COLOR = "#3b82f6"
SWAP_COLOR = "#a855f7"
DISK_COLOR = "#8b5cf6"
NET_COLORS = ("#06b6d4", "#f97316")


#: the hub's built-in default thresholds; pages pass the effective (per-server) ones
DEFAULT_THRESHOLDS: dict[str, float] = Thresholds().model_dump()


def level_color(percent: float | None, warning: float, critical: float) -> str:
    if percent is None:
        return UNKNOWN
    if percent >= critical:
        return CRITICAL
    if percent >= warning:
        return WARNING
    return OK


def limits(family: str, thresholds: Mapping[str, float] | None) -> tuple[float, float]:
    """(warning, critical) percent of a family (cpu, memory, disk, swap): the server's
    effective thresholds (its overrides over the settings' defaults), else the defaults."""
    merged = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    return merged[f"{family}_warning"], merged[f"{family}_critical"]


def family_color(
    percent: float | None, family: str, thresholds: Mapping[str, float] | None, base: str
) -> str:
    """`base` below the warning threshold; amber / red past warning / critical."""
    warning, critical = limits(family, thresholds)
    if percent is None or percent < warning:
        return base
    return level_color(percent, warning, critical)


#: binary prefixes: sizes are divided by 1024, so they say KiB/MiB/GiB (as `free -h`, htop)
IEC_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def fmt_bytes(value: float | None) -> str:
    """`26.8e9` -> "25.0 GiB" (IEC, as the CLI's `top` and the agent's status page)."""
    if value is None:
        return "–"
    size = float(value)
    for unit in IEC_UNITS:
        if abs(size) < 1024 or unit == IEC_UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} {IEC_UNITS[-1]}"


def fmt_rate(value: float | None) -> str:
    return "–" if value is None else fmt_bytes(value) + "/s"


def fmt_percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(seconds)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def fmt_ago(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return "never"
    delta = max(0.0, (now or time.time()) - ts)
    if delta < 60:
        return f"{delta:.0f}s ago"
    if delta < 3600:
        return f"{delta / 60:.0f} min ago"
    if delta < 86400:
        return f"{delta / 3600:.1f} h ago"
    return f"{delta / 86400:.1f} d ago"


def fmt_time(ts: float | None) -> str:
    """The hub's local time with its zone ("2026-12-06 14:05:09 UTC"): a time without a
    zone is ambiguous to an operator in another one."""
    if ts is None:
        return "–"
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
