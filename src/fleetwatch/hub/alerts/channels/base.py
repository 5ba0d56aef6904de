"""What every channel shares: the `Sender` contract, per-channel filters, alert formatting.

A channel row holds a kind, a kind-specific `config` (validated by the kind's pydantic model),
and filters: minimum level, components, an optional daily/weekly time window in an IANA zone
(across midnight allowed), `send_resolved`, and `enabled`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.alerts.metrics import COMPONENTS
from fleetwatch.hub.alerts.rules import LEVEL_RANK
from fleetwatch.hub.alerts.state import AlertEvent
from fleetwatch.hub.alerts.timewindow import TimeWindow

LEVEL_COLORS = {"INFO": "#2f81f7", "WARNING": "#d29922", "CRITICAL": "#f85149", "OK": "#3fb950"}
LEVEL_EMOJI = {
    "INFO": ":information_source:",
    "WARNING": ":warning:",
    "CRITICAL": ":rotating_light:",
    "OK": ":white_check_mark:",
}


class Sender(Protocol):
    async def send(self, event: AlertEvent) -> None:
        """Deliver one event; raise `DeliveryError` (or any OSError/HTTP error) on failure."""

    async def aclose(self) -> None: ...


class KindConfig(BaseModel):
    """Base of the per-kind config models: unknown keys are an error (typos are caught)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def parse_config(model: type[KindConfig], raw: Any) -> KindConfig:
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        msg = str(first["msg"]).removeprefix("Value error, ")
        if not path and ": " in msg:  # model-level checks say "field: problem"
            path, _, msg = msg.partition(": ")
        raise InvalidFieldError(f"config.{path}" if path else "config", msg) from None


def display_level(event: AlertEvent) -> str:
    return "OK" if event.kind == "resolved" else event.level


def title(event: AlertEvent) -> str:
    a = event.alert
    prefix = {"resolved": "RESOLVED", "test": "TEST"}.get(event.kind, event.level)
    return f"[{prefix}] {a.get('server_name') or a.get('server_id') or 'fleetwatch'}"


def text_line(event: AlertEvent) -> str:
    """One line for files, consoles and chat fallbacks."""
    a = event.alert
    return f"{a.get('timestamp')} {title(event)} {a.get('component')}: {a.get('message')}"


def payload(event: AlertEvent) -> dict[str, Any]:
    """The JSON document webhooks receive (and the file channel's `json` format)."""
    return {"event": event.kind, "alert": event.alert}


@dataclass(frozen=True)
class ChannelFilter:
    min_level: str = "WARNING"
    components: frozenset[str] | None = None
    window: TimeWindow | None = None
    send_resolved: bool = True
    enabled: bool = True

    def accepts(self, event: AlertEvent, now: float) -> bool:
        if not self.enabled:
            return False
        if event.kind == "test":
            return True
        if event.kind == "resolved" and not self.send_resolved:
            return False
        if LEVEL_RANK.get(event.level, 0) < LEVEL_RANK.get(self.min_level, 0):
            return False
        if self.components is not None and event.component not in self.components:
            return False
        return self.window is None or self.window.contains(now)


def validate_filters(data: Mapping[str, Any]) -> dict[str, Any]:
    """Checked filter columns of a channel row (JSON text for lists/objects)."""
    min_level = data.get("min_level") or "WARNING"
    if min_level not in LEVEL_RANK:
        raise InvalidFieldError("min_level", f"expected one of {', '.join(LEVEL_RANK)}")
    components = data.get("components")
    if components is not None:
        if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
            raise InvalidFieldError("components", "expected a list of component names")
        unknown = sorted(set(components) - COMPONENTS)
        if unknown:
            known = ", ".join(sorted(COMPONENTS))
            raise InvalidFieldError("components", f"unknown {unknown[0]!r}; known: {known}")
    window = data.get("time_window")
    if window is not None:
        if not isinstance(window, dict):
            raise InvalidFieldError("time_window", "expected {start, end, timezone, weekdays}")
        names = tuple(f"time_window.{n}" for n in ("start", "end", "timezone", "weekdays"))
        TimeWindow.parse(
            str(window.get("start", "")),
            str(window.get("end", "")),
            str(window.get("timezone") or "UTC"),
            window.get("weekdays"),
            names=(names[0], names[1], names[2], names[3]),
        )
    for flag in ("enabled", "send_resolved"):
        if not isinstance(data.get(flag, True), bool):
            raise InvalidFieldError(flag, "expected true or false")
    return {
        "min_level": min_level,
        "components": orjson.dumps(components).decode() if components is not None else None,
        "time_window": orjson.dumps(window).decode() if window is not None else None,
        "enabled": data.get("enabled", True),
        "send_resolved": data.get("send_resolved", True),
    }


def filter_from_row(m: Mapping[str, Any]) -> ChannelFilter:
    components = orjson.loads(m["components"]) if m["components"] else None
    window = orjson.loads(m["time_window"]) if m["time_window"] else None
    return ChannelFilter(
        min_level=str(m["min_level"]),
        components=frozenset(components) if components is not None else None,
        window=TimeWindow.parse(
            window["start"], window["end"], window.get("timezone") or "UTC", window.get("weekdays")
        )
        if window
        else None,
        send_resolved=bool(m["send_resolved"]),
        enabled=bool(m["enabled"]),
    )
