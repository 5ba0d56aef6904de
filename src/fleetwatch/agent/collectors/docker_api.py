"""A minimal Docker Engine API client: HTTP/1.1 GET over a unix socket, standard library only.

No Docker SDK and no `requests`: two endpoints (`/containers/json` and
`/containers/{id}/stats`) do not justify a dependency. Every failure (socket missing,
permission denied, daemon down, non-200 answer, bad JSON) raises `OSError`.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

DOCKER_TIMEOUT_SECONDS = 5.0


class DockerApiError(OSError):
    """The Docker daemon answered with an error or something that is not JSON."""


class UnixHTTPConnection(http.client.HTTPConnection):
    """`HTTPConnection` whose transport is an AF_UNIX stream socket."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class DockerClient:
    """GET JSON from the Engine API; one keep-alive connection per `session()` use."""

    def __init__(self, socket_path: str, timeout_seconds: float = DOCKER_TIMEOUT_SECONDS) -> None:
        self.socket_path = socket_path
        self.timeout_seconds = timeout_seconds
        self._connection: UnixHTTPConnection | None = None

    def get(self, path: str) -> Any:
        if self._connection is None:
            self._connection = UnixHTTPConnection(self.socket_path, self.timeout_seconds)
        try:
            self._connection.request("GET", path, headers={"Host": "docker"})
            response = self._connection.getresponse()
            body = response.read()
        except http.client.HTTPException as exc:
            self.close()
            raise DockerApiError(f"GET {path}: {exc!r}") from None
        except OSError:
            self.close()
            raise
        if response.status != 200:
            raise DockerApiError(f"GET {path}: HTTP {response.status}: {_message(body)}")
        try:
            return json.loads(body)
        except ValueError:
            raise DockerApiError(f"GET {path}: the answer is not JSON") from None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message", ""))[:200]
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")
