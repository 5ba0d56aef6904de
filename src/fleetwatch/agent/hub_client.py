"""The hub's agent-facing endpoints (seed-001 contract plus batches and remote config).

Every method raises `TransportError` on failure: `status` None when the hub could not be
reached, else the HTTP status (401 = key rejected, 413 = too large, 429 = slow down with
`retry_after_seconds`, 5xx = hub trouble).
"""

from __future__ import annotations

import json
import platform
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleetwatch import __version__
from fleetwatch.agent.transport import HubConnection, Response, check
from fleetwatch.errors import TransportError


@dataclass(frozen=True)
class Delivery:
    stored: int
    duplicates: int


@dataclass(frozen=True)
class PendingConfig:
    """Configuration the hub wants this agent to apply; `config_id` is echoed in the confirm."""

    config_id: int | None
    config: dict[str, Any]


def local_address(host: str) -> str | None:
    """The local IP address used to reach `host` (a UDP connect sends no packet)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((host, 9))
            address: str = sock.getsockname()[0]
            return address
    except OSError:
        return None


def registration_info(hub_host: str) -> dict[str, Any]:
    """The `POST /api/register` body for this machine."""
    uname = platform.uname()
    return {
        "hostname": socket.gethostname() or "unknown",
        "ip_address": local_address(hub_host),
        "os_info": f"{uname.system} {uname.release} {uname.machine}".strip(),
        "agent_version": __version__,
    }


class HubClient:
    """Agent → hub calls over one `HubConnection`, authenticated as `server_id:api_key`."""

    def __init__(
        self,
        conn: HubConnection,
        server_id: str = "",
        api_key: str = "",
        on_live_demand: Callable[[Any], None] | None = None,
    ) -> None:
        self._conn = conn
        self._next_conn: HubConnection | None = None
        self.server_id = server_id
        self.api_key = api_key
        #: called with the `"live"` value of a hub answer, when the hub sends one (live on demand)
        self.on_live_demand = on_live_demand

    def _answer(self, data: Any) -> None:
        if self.on_live_demand is not None and isinstance(data, dict) and "live" in data:
            self.on_live_demand(data["live"])

    @property
    def conn(self) -> HubConnection:
        """The connection for the next request (a replacement is adopted here, by the thread
        that uses the client, so a connection is never closed under a request in flight)."""
        nxt = self._next_conn
        if nxt is not None:
            self._next_conn = None
            old, self._conn = self._conn, nxt
            old.close()
        return self._conn

    def replace_connection(self, conn: HubConnection) -> None:
        """Use `conn` from the next request on (hub address or TLS setting changed)."""
        self._next_conn = conn

    def close(self) -> None:
        self.conn.close()

    @property
    def enrolled(self) -> bool:
        return bool(self.server_id and self.api_key)

    def _auth(self) -> str:
        return f"Bearer {self.server_id}:{self.api_key}"

    def register(self) -> tuple[str, str]:
        """`POST /api/register`; returns (server_id, api_key) and adopts them."""
        body = json.dumps(registration_info(self.conn.host)).encode()
        resp = check(self.conn.request("POST", "/api/register", body), "registration")
        data = resp.json()
        if not isinstance(data, dict):
            raise TransportError("registration: the hub's answer is not an object", resp.status)
        server_id, api_key = data.get("server_id"), data.get("api_key")
        if not isinstance(server_id, str) or not isinstance(api_key, str) or not server_id:
            raise TransportError("registration: the hub's answer lacks server_id/api_key")
        self.server_id, self.api_key = server_id, api_key
        return server_id, api_key

    def send_batch(self, bodies: list[bytes], timeout_seconds: float | None = None) -> Delivery:
        """`POST /api/metrics` with `{"snapshots": [...]}` built from ready JSON documents."""
        payload = b'{"snapshots":[' + b",".join(bodies) + b"]}"
        resp = self.conn.request(
            "POST",
            "/api/metrics",
            payload,
            authorization=self._auth(),
            timeout_seconds=timeout_seconds,
        )
        data = check(resp, f"sending {len(bodies)} snapshot(s)").json()
        self._answer(data)
        stored = data.get("stored", len(bodies)) if isinstance(data, dict) else len(bodies)
        duplicates = data.get("duplicates", 0) if isinstance(data, dict) else 0
        return Delivery(int(stored), int(duplicates))

    def send_logs(self, body: bytes, timeout_seconds: float | None = None) -> dict[str, Any]:
        """`POST /api/logs` with a ready `{"batch_id", "lines"}` JSON document (gzip above a
        few hundred bytes); returns the hub's `{"status", "stored", "duplicate"}`."""
        resp = self.conn.request(
            "POST", "/api/logs", body, authorization=self._auth(), timeout_seconds=timeout_seconds
        )
        data = check(resp, "sending log lines").json()
        return data if isinstance(data, dict) else {}

    def send_live(self, sample: dict[str, Any]) -> None:
        """`POST /api/metrics/live` (not buffered: a late live sample has no value)."""
        payload = json.dumps(sample, separators=(",", ":")).encode()
        resp = self.conn.request("POST", "/api/metrics/live", payload, authorization=self._auth())
        self._answer(_lenient_json(check(resp, "live sample")))

    def ping(self) -> None:
        """`POST /api/ping`: the heartbeat between cycles."""
        resp = self.conn.request("POST", "/api/ping", b"{}", authorization=self._auth())
        self._answer(_lenient_json(check(resp, "ping")))

    def probe(self, timeout_seconds: float) -> int:
        """`GET /api/ping` (no authentication, no body): the HTTP status of the hub's answer.

        The cheap "is the hub back?" question of a backing-off sender; raises `TransportError`
        only when no answer came (refused, timeout, TLS failure)."""
        return self.conn.request("GET", "/api/ping", timeout_seconds=timeout_seconds).status

    def fetch_config(self) -> PendingConfig | None:
        """`GET /api/config/{server_id}`: the pushed configuration, or None when nothing waits."""
        path = f"/api/config/{self.server_id}"
        resp = check(self.conn.request("GET", path, authorization=self._auth()), "config poll")
        data = resp.json()
        if not isinstance(data, dict) or not data.get("has_update"):
            return None
        config = data.get("config")
        if not isinstance(config, dict):
            raise TransportError("config poll: has_update without a config object", resp.status)
        config_id = data.get("config_id")
        return PendingConfig(config_id if isinstance(config_id, int) else None, config)

    def confirm_config(self, pending: PendingConfig, error: str | None = None) -> None:
        """`POST /api/config/{server_id}`: applied (error None) or rejected with the reason."""
        body = {"config_id": pending.config_id, "applied": error is None, "error": error}
        path = f"/api/config/{self.server_id}"
        payload = json.dumps(body).encode()
        check(self.conn.request("POST", path, payload, authorization=self._auth()), "config ack")


def _lenient_json(resp: Response) -> Any:
    """The body of an answer whose content is optional (a seed-001 hub may send anything)."""
    try:
        return resp.json()
    except TransportError:
        return None
