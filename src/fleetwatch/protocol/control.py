"""The agent control channel (issue 21): JSON text frames on `GET /api/agent/ws`.

Plain Python (the agent imports it; no pydantic). Every message is an object with `"type"` and
`"v"` (`CONTROL_VERSION`); a peer answers a message of a newer major version it cannot read
with an `error` and keeps the connection.

hub → agent:
- `live` `{"live": {"seconds", "interval_seconds"}}`: post live samples at that interval for
  that long (live on demand, A6: the same value as the heartbeat answer's `"live"`);
- `config`: a configuration change waits: fetch it now (A7);
- `command` `{"id", "argv": [...] | "shell": "...", "timeout_seconds", "env", "max_output_bytes"}`;
- `cancel` `{"id"}`: kill that command's process group;
- `process` `{"id", "name", "action"}`: start, stop, restart or kill a managed process (A14);
- `input` `{"id", "name", "text"}`: a line for a managed process's stdin.

agent → hub:
- `hello` `{"agent_version", "commands": {"enabled", "shell", "allow"}, "running": [ids],
  "interrupted": [ids], "pending": [ids]}`: first message on every connection; `interrupted`
  lists commands a previous agent process accepted but never finished (they are never run
  again); `pending`: commands that ended while the channel was down (their `exit` follows);
- `output` `{"id", "stream": "stdout"|"stderr", "data"}`: a chunk of a command's output;
- `exit` `{"id", "state", "exit_code", "output_bytes", "truncated", "message"}`; `state` is one
  of `EXIT_STATES`.
- `process_state` `{"name", "state", "pid", "started_at", "restarts", "exit_code"}`: a managed
  process changed (`hello` carries them all as `processes`);
- `process_output` `{"name", "data"}`: lines it wrote (stdout and stderr together);
- `ack` `{"id", "ok", "message"}`: a `process` or `input` was done (or why not);
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
HUB_TYPES = frozenset({"live", "config", "command", "cancel", "process", "input", "error"})
AGENT_TYPES = frozenset(
    {"hello", "output", "exit", "process_state", "process_output", "ack", "error"}
)
PROCESS_ACTIONS = ("start", "stop", "restart", "kill")
RESTART_POLICIES = ("no", "on-failure", "always")
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


def _name(value: Any, field: str) -> str:
    ok = isinstance(value, str) and 0 < len(value) <= 64
    if not ok or not all(ch.isalnum() or ch in "._-" for ch in value):
        raise ConfigError(field, "must be 1-64 letters, digits, '.', '_' or '-'")
    return str(value)


def check_processes_config(value: Any) -> list[dict[str, Any]]:
    """The agent's `processes` key (A14): a list of `{"name", "argv", "cwd": "", "env": {},
    "restart": "on-failure", "autostart": true}`; names unique."""
    if not isinstance(value, list):
        raise ConfigError("processes", f"must be a list of objects, got {value!r}")
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, item in enumerate(value):
        where = f"processes[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(where, "must be an object")
        unknown = set(item) - {"name", "argv", "cwd", "env", "restart", "autostart"}
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]}", "unknown key")
        name = _name(item.get("name"), f"{where}.name")
        if name in names:
            raise ConfigError(f"{where}.name", f"{name!r} is used twice")
        names.add(name)
        argv = item.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise ConfigError(f"{where}.argv", "must be a non-empty list of strings")
        restart = item.get("restart", "on-failure")
        if restart not in RESTART_POLICIES:
            raise ConfigError(f"{where}.restart", f"must be one of {', '.join(RESTART_POLICIES)}")
        autostart = item.get("autostart", True)
        if not isinstance(autostart, bool):
            raise ConfigError(f"{where}.autostart", "must be true or false")
        cwd = item.get("cwd", "")
        if not isinstance(cwd, str):
            raise ConfigError(f"{where}.cwd", "must be a folder path")
        try:
            env = check_env(item.get("env"))
        except ControlError as exc:
            raise ConfigError(f"{where}.env", str(exc)) from None
        out.append(
            {
                "name": name,
                "argv": list(argv),
                "cwd": cwd,
                "env": env,
                "restart": restart,
                "autostart": autostart,
            }
        )
    return out
