"""A1: host identity: hostname, IP addresses, OS, kernel, architecture, boot time, uptime.

Identity barely changes, so it is read every 60 s; uptime is recomputed on every call from
the (cached) boot time. `os_release` comes from `/etc/os-release` (`PRETTY_NAME`) on Linux,
whose path is a parameter so tests can point it at a fixture.
"""

from __future__ import annotations

import ipaddress
import platform
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

IDENTITY_REFRESH_SECONDS = 60.0


def read_os_release(path: Path) -> str:
    """`PRETTY_NAME` (or `NAME VERSION`) from an os-release file; "" when unreadable."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip("\"'")
    if fields.get("PRETTY_NAME"):
        return fields["PRETTY_NAME"]
    return " ".join(v for v in (fields.get("NAME"), fields.get("VERSION")) if v)


def os_release_name(os_release_path: Path) -> str:
    system = platform.system()
    if system == "Linux":
        return read_os_release(os_release_path)
    if system == "Darwin":
        return f"macOS {platform.mac_ver()[0]}".strip()
    if system == "Windows":
        return f"Windows {platform.release()} {platform.version()}".strip()
    return f"{system} {platform.release()}".strip()


def public_addresses(per_interface: dict[str, list[str]]) -> list[str]:
    """Every address except loopback and link-local, in interface order, without repeats."""
    result: list[str] = []
    for addresses in per_interface.values():
        for text in addresses:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                continue
            if address.is_loopback or address.is_link_local or text in result:
                continue
            result.append(text)
    return result[:256]


def iso_utc(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="seconds")


class SystemCollector:
    """The `system` object of a snapshot (`System` model)."""

    def __init__(
        self,
        psutil_module: Any,
        *,
        os_release_path: Path = Path("/etc/os-release"),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.psutil = psutil_module
        self.os_release_path = os_release_path
        self._clock = clock
        self._identity: dict[str, Any] | None = None
        self._identity_at = 0.0
        self._boot_time: float | None = None

    def boot_time(self) -> float:
        """Boot time as epoch seconds (read once: it only moves with clock adjustments)."""
        if self._boot_time is None:
            self._boot_time = float(self.psutil.boot_time())
        return self._boot_time

    def collect(self, addresses: dict[str, list[str]]) -> dict[str, Any]:
        now = self._clock()
        if self._identity is None or now - self._identity_at >= IDENTITY_REFRESH_SECONDS:
            self._identity_at = now
            self._identity = {
                "hostname": (socket.gethostname() or "unknown")[:255],
                "ip_addresses": public_addresses(addresses),
                "os": platform.system()[:255],
                "os_release": os_release_name(self.os_release_path)[:255],
                "kernel": platform.release()[:255],
                "arch": platform.machine()[:255],
            }
        boot = self.boot_time()
        return {
            **self._identity,
            "boot_time": iso_utc(boot),
            "uptime_seconds": round(max(0.0, time.time() - boot), 1),
        }
