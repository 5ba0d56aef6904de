"""`fleetwatch top --url URL --server NAME`: the terminal view of any server, through a hub (T2).

The same frame as the local view, drawn from what the hub stores: the server's latest snapshot
(`GET /api/dashboard/server/{id}`, with a one-point history to keep the answer small) and its
active alerts from the hub's alert engine (durations, overrides and maintenance included), in
place of the local threshold check. The statistics line shows the server's status on the hub
and the age of its latest snapshot instead of local collection statistics.

The server is named by id, hostname or display name (case-insensitive); the dashboard API needs
a token (`$FLEETWATCH_TOKEN` or `--token-file`, made with `fleetwatch user token NAME`).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fleetwatch.agent.top.alerts import CRITICAL, WARNING, LocalAlert
from fleetwatch.agent.top.format import human_duration
from fleetwatch.errors import ConfigError, TransportError


@dataclass(frozen=True)
class HubFrame:
    """What one refresh of the hub view shows."""

    snapshot: Mapping[str, Any]
    alerts: list[LocalAlert]
    footer: str


def hub_alerts(alerts: list[Mapping[str, Any]]) -> list[LocalAlert]:
    """The hub's active alerts of one server as the view's alert rows, critical first."""
    out = []
    for a in alerts:
        level = CRITICAL if str(a.get("level", "")).lower() == "critical" else WARNING
        value, limit = a.get("value"), a.get("threshold")
        out.append(
            LocalAlert(
                level,
                str(a.get("component") or a.get("metric") or "?"),
                float(value) if isinstance(value, int | float) else None,
                float(limit) if isinstance(limit, int | float) else None,
                str(a.get("message") or ""),
            )
        )
    out.sort(key=lambda alert: (alert.level != CRITICAL, alert.component))
    return out


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{human_duration(seconds)} ago"


class HubView:
    def __init__(self, url: str, server: str, token: str, timeout_seconds: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError("--url", f"must start with http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.server = server
        self.token = token
        self.timeout = timeout_seconds
        self.server_id: str | None = None

    def _get(self, path: str) -> Any:
        request = urllib.request.Request(self.url + path, headers={"Accept": "application/json"})
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            hint = ""
            if exc.code in (401, 403):
                hint = (
                    " (give a dashboard API token: FLEETWATCH_TOKEN or --token-file; "
                    "`fleetwatch user token NAME` makes one)"
                )
            body = exc.read().decode("utf-8", "replace")[:300]
            raise TransportError(
                f"the hub answered HTTP {exc.code}: {body}{hint}", exc.code
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransportError(f"cannot read {self.url}{path}: {reason}") from None

    def resolve(self) -> str:
        """The id of the server named `self.server` (id, hostname or display name)."""
        if self.server_id is None:
            servers = self._get("/api/dashboard").get("servers") or []
            wanted = self.server.casefold()
            matches = [
                s
                for s in servers
                if wanted
                in {str(s.get(k) or "").casefold() for k in ("id", "hostname", "display_name")}
            ]
            if len(matches) != 1:
                names = ", ".join(sorted(str(s.get("name")) for s in servers)[:20]) or "none"
                what = "no server" if not matches else f"{len(matches)} servers"
                raise ConfigError("--server", f"{what} named {self.server!r} (servers: {names})")
            self.server_id = str(matches[0]["id"])
        return self.server_id

    def frame(self) -> HubFrame:
        server_id = urllib.parse.quote(self.resolve(), safe="")
        detail = self._get(f"/api/dashboard/server/{server_id}?hours=1&metrics=cpu_percent")
        server: Mapping[str, Any] = detail.get("server") or {}
        snapshot = dict(detail.get("latest") or {})
        system = dict(snapshot.get("system") or {})
        system.setdefault("hostname", server.get("name") or server.get("hostname"))
        snapshot["system"] = system
        last = server.get("last_snapshot_at")
        age = "never" if last is None else _age(time.time() - float(last))
        # what matters first: at 80 columns a long hub URL is what gets cut
        footer = (
            f"{server.get('name', '?')} is {server.get('status', '?')}, "
            f"latest snapshot {age}  (hub {self.url})"
        )
        return HubFrame(snapshot, hub_alerts(detail.get("alerts") or []), footer)
