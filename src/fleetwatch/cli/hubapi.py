"""What the CLI's hub-API commands share: the token, the URL check, one JSON call.

`fleetwatch export`, `cleanup` and `top --url` talk to a hub's dashboard API with a user's API
token; the token comes from `--token-file` or `$FLEETWATCH_TOKEN`, never the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from fleetwatch.errors import ConfigError, TransportError

TOKEN_HINT = " (give an API token: FLEETWATCH_TOKEN or --token-file; `fleetwatch user token`)"


def read_token(token_file: str | None) -> str:
    """The dashboard API token: `--token-file`, else `$FLEETWATCH_TOKEN` (never the command
    line, where other users could read it in the process list)."""
    if token_file:
        try:
            return Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError("--token-file", str(exc)) from None
    return os.environ.get("FLEETWATCH_TOKEN", "").strip()


def check_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ConfigError("--url", f"must start with http:// or https://, got {url!r}")
    return url.rstrip("/")


def http_failure(what: str, exc: urllib.error.HTTPError) -> TransportError:
    """A hub's 4xx/5xx as a one-line error (its message, and how to authenticate on 401)."""
    text = exc.read().decode("utf-8", "replace")[:500]
    hint = TOKEN_HINT if exc.code in (401, 403) else ""
    return TransportError(f"{what} failed: HTTP {exc.code}: {text}{hint}", exc.code)


def open_api(request: urllib.request.Request, what: str, timeout_seconds: float) -> Any:
    """`urlopen` with the CLI's errors (the caller closes the response)."""
    try:
        return urllib.request.urlopen(request, timeout=timeout_seconds)
    except urllib.error.HTTPError as exc:
        raise http_failure(what, exc) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransportError(f"cannot reach the hub: {reason}") from None


def call_json(
    method: str,
    url: str,
    token: str,
    what: str,
    timeout_seconds: float = 120.0,
    body: Any = None,
) -> dict[str, Any]:
    """One API request (with a JSON `body` when given) whose answer is a JSON object."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with open_api(request, what, timeout_seconds) as response:
        body = json.loads(response.read().decode("utf-8"))
    if not isinstance(body, dict):
        raise TransportError(f"{what}: the hub answered {type(body).__name__}, not an object")
    return body


def add_hub_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="hub URL")
    parser.add_argument(
        "--token-file",
        default=None,
        help="file holding a dashboard API token (default: $FLEETWATCH_TOKEN)",
    )
