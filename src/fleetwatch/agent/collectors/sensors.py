"""A1: temperatures, fans and battery, where the OS exposes them (via psutil).

Sensors change slowly and reading hwmon costs ~0.2 ms, so readings are refreshed every 10 s.
Values outside physical bounds (some drivers report -273 or 65535 for "no sensor") are
dropped rather than sent. An empty result says why in `collection.sources["sensors"]`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

SENSORS_REFRESH_SECONDS = 10.0
_MIN_CELSIUS, _MAX_CELSIUS = -273.15, 1000.0


def _celsius(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, 1) if _MIN_CELSIUS <= value <= _MAX_CELSIUS else None


def read_sensors(psutil_module: Any) -> dict[str, Any]:
    """One reading: the `Sensors` model (temperatures, fans, battery)."""
    temperatures: list[dict[str, Any]] = []
    read_temps = getattr(psutil_module, "sensors_temperatures", None)
    for chip, entries in (read_temps() if read_temps else {}).items():
        for entry in entries:
            current = _celsius(entry.current)
            if current is None:
                continue
            temperatures.append(
                {
                    "chip": chip[:255],
                    "label": (entry.label or "")[:255],
                    "current_celsius": current,
                    "high_celsius": _celsius(entry.high),
                    "critical_celsius": _celsius(entry.critical),
                }
            )
    fans: list[dict[str, Any]] = []
    read_fans = getattr(psutil_module, "sensors_fans", None)
    for chip, entries in (read_fans() if read_fans else {}).items():
        for entry in entries:
            if entry.current is not None and entry.current >= 0:
                fans.append(
                    {"chip": chip[:255], "label": (entry.label or "")[:255], "rpm": entry.current}
                )
    read_battery = getattr(psutil_module, "sensors_battery", None)
    battery = read_battery() if read_battery else None
    return {
        "temperatures": temperatures[:1024],
        "fans": fans[:1024],
        "battery": _battery(battery) if battery is not None else None,
    }


def _battery(battery: Any) -> dict[str, Any]:
    seconds = battery.secsleft
    # psutil uses negative sentinels for "unlimited" (plugged in) and "unknown".
    return {
        "percent": round(min(100.0, max(0.0, float(battery.percent))), 1),
        "plugged": battery.power_plugged,
        "seconds_left": float(seconds)
        if isinstance(seconds, int | float) and seconds >= 0
        else None,
    }


class SensorCollector:
    """Cached sensor readings plus a source status for `collection.sources`."""

    def __init__(self, psutil_module: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.psutil = psutil_module
        self._clock = clock
        self._reading: dict[str, Any] | None = None
        self._status: dict[str, Any] = {"source": "none", "detail": "not read yet"}
        self._read_at: float | None = None

    def collect(self, warn: Callable[[str], None]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """(`sensors` or None when nothing is exposed, source status)."""
        now = self._clock()
        if self._read_at is not None and now - self._read_at < SENSORS_REFRESH_SECONDS:
            return self._reading, self._status
        self._read_at = now
        try:
            reading = read_sensors(self.psutil)
        except OSError as exc:
            warn(f"sensors: cannot read: {exc}")
            self._reading = None
            self._status = {"source": "none", "detail": f"unreadable: {exc}"}
            return self._reading, self._status
        if reading["temperatures"] or reading["fans"] or reading["battery"]:
            self._reading = reading
            self._status = {"source": "psutil", "detail": None}
        else:
            self._reading = None
            self._status = {
                "source": "none",
                "detail": "the OS exposes no temperature, fan or battery sensor",
            }
        return self._reading, self._status
