"""The agent control channel (issue 21): JSON text frames on `GET /api/agent/ws`.

Plain Python (the agent imports it; no pydantic). Every message is an object with `"type"` and
`"v"` (`CONTROL_VERSION`); a peer answers a message of a newer major version it cannot read
with an `error` and keeps the connection.

hub → agent:
- `live` `{"live": {"seconds", "interval_seconds"}}`: post live samples at that interval for
  that long (live on demand, A6: the same value as the heartbeat answer's `"live"`);
- `config`: a configuration change waits: fetch it now (A7);
- `command` `{"id", "argv": [...] | "shell": "...", "timeout_seconds", "env", "max_output_bytes"}`;
- `cancel` `{"id"}`: kill that command's process group.

agent → hub:
- `hello` `{"agent_version", "commands": {"enabled", "shell", "allow"}, "running": [ids],
  "interrupted": [ids], "pending": [ids]}`: first message on every connection; `interrupted`
  lists commands a previous agent process accepted but never finished (they are never run
  again); `pending`: commands that ended while the channel was down (their `exit` follows);
- `output` `{"id", "stream": "stdout"|"stderr", "data"}`: a chunk of a command's output;
- `exit` `{"id", "state", "exit_code", "output_bytes", "truncated", "message"}`; `state` is one
  of `EXIT_STATES`.
- `error` `{"message"}` (either way): a message the peer could not use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from fleetwatch.errors import ConfigError

CONTROL_VERSION = 1
PATH = "/api/agent/ws"
#: largest frame either side accepts
MAX_FRAME_BYTES = 1 << 20
#: output chunks the agent sends are at most this long (bytes of UTF-8)
CHUNK_BYTES = 16 * 1024
HUB_TYPES = frozenset({"live", "config", "command", "cancel", "error"})
AGENT_TYPES = frozenset({"hello", "output", "exit", "error"})
#: how a command ended: ran to its exit, killed after its timeout, cancelled, refused by the
#: agent (not allowed there), failed to start, already seen (never run twice), or cut short by
#: an agent restart
EXIT_STATES = frozenset(
    {"exited", "timeout", "cancelled", "refused", "failed", "duplicate", "interrupted"}
)


class ControlError(ValueError):
    """A frame that is not a control message this side can use."""


def encode(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, "v": CONTROL_VERSION, **fields}, separators=(",", ":"))


def decode(text: str | bytes, accepted: frozenset[str]) -> dict[str, Any]:
    """The message in `text`, checked for an object with a known `type` and a readable `v`."""
    if len(text) > MAX_FRAME_BYTES:
        raise ControlError(f"frame larger than {MAX_FRAME_BYTES} bytes")
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise ControlError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ControlError("a control message is a JSON object")
    kind = message.get("type")
    if kind not in accepted:
        raise ControlError(f"unknown message type {kind!r}")
    version = message.get("v")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ControlError("v: expected a positive integer")
    if version > CONTROL_VERSION:
        raise ControlError(f"v {version} is newer than this side reads ({CONTROL_VERSION})")
    return message


def command_allowed(argv0: str, allow: Sequence[str]) -> bool:
    """May a command whose program is `argv0` run under `allow`? An entry names a program
    (`uname`: `uname` or any path ending in `/uname`) or, ending in `/` or `*`, a prefix of
    the program's path (`/opt/app/`, `/usr/local/bin/app-*`)."""
    if not argv0 or "\x00" in argv0:
        return False
    for entry in allow:
        if entry.endswith(("/", "*")):
            if argv0.startswith(entry.rstrip("*")) and ".." not in argv0.split("/"):
                return True
        elif argv0 == entry or (os.path.basename(argv0) == entry and "/" in argv0):
            return True
    return False


def check_env(env: Any) -> dict[str, str]:
    """A command's extra environment: string names (no `=`, NUL) to string values."""
    if env is None:
        return {}
    if not isinstance(env, Mapping):
        raise ControlError("env: expected an object of strings")
    out: dict[str, str] = {}
    for name, value in env.items():
        if not isinstance(name, str) or not name or "=" in name or "\x00" in name:
            raise ControlError(f"env: invalid variable name {name!r}")
        if not isinstance(value, str) or "\x00" in value:
            raise ControlError(f"env: {name} must be a string without NUL")
        out[name] = value
    return out


#: the `commands` config key's fields and defaults
COMMANDS_DEFAULTS: dict[str, Any] = {
    "allow": [],
    "shell": False,
    "user": "",
    "max_output_bytes": 1 << 20,
    "max_timeout_seconds": 3600,
}


def check_commands_config(value: Any) -> dict[str, Any]:
    """The agent's `commands` key: `{"allow": [program or prefix, ...], "shell": false,
    "user": "", "max_output_bytes": 1048576, "max_timeout_seconds": 3600}`; its presence
    turns remote commands on (only the listed programs; `shell` allows `sh -c`). `user`: who
    commands run as when the agent runs as root (required then: never root by accident)."""
    if not isinstance(value, Mapping):
        raise ConfigError("commands", f"must be an object, got {value!r}")
    out = dict(COMMANDS_DEFAULTS)
    for name, item in value.items():
        if name not in COMMANDS_DEFAULTS:
            raise ConfigError(f"commands.{name}", "unknown key")
        if name == "allow":
            if not isinstance(item, list) or not all(isinstance(v, str) and v for v in item):
                raise ConfigError("commands.allow", "must be a list of program names or prefixes")
            out[name] = [v.strip() for v in item]
        elif name == "shell":
            if not isinstance(item, bool):
                raise ConfigError("commands.shell", "must be true or false")
            out[name] = item
        elif name == "user":
            if not isinstance(item, str):
                raise ConfigError("commands.user", "must be a user name")
            out[name] = item
        else:
            low, high = (1024, 64 << 20) if name == "max_output_bytes" else (1, 86400)
            if isinstance(item, bool) or not isinstance(item, int) or not low <= item <= high:
                raise ConfigError(f"commands.{name}", f"must be a whole number {low}-{high}")
            out[name] = item
    return out
