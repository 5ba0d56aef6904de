"""Loading the agent's configuration file (JSON, or TOML by extension).

The schema itself lives in `fleetwatch.protocol.agent_config` (shared with the hub).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from fleetwatch.errors import ConfigError, ConfigProblems
from fleetwatch.protocol.agent_config import validate


def default_config_path() -> Path:
    """Where the agent looks when no path is given.

    Linux/macOS: `$FLEETWATCH_AGENT_CONFIG`, else `/etc/fleetwatch/agent.json` when running as
    root, else `~/.config/fleetwatch/agent.json`. Windows: `%PROGRAMDATA%\\fleetwatch\\agent.json`.
    """
    env = os.environ.get("FLEETWATCH_AGENT_CONFIG")
    if env:
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", "C:\\ProgramData")) / "fleetwatch" / "agent.json"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/etc/fleetwatch/agent.json")
    return Path.home() / ".config" / "fleetwatch" / "agent.json"


def parse_text(text: str, path: Path) -> dict[str, Any]:
    """Parse file content; errors name the file and the position."""
    if path.suffix == ".toml":
        import tomllib

        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("", f"{path}: invalid TOML: {exc}") from None
    else:
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(
                "", f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
    if not isinstance(data, dict):
        raise ConfigError("", f"{path}: the top level must be an object")
    return data


def load_config(path: Path | None, *, must_exist: bool = False) -> dict[str, Any]:
    """Read and validate a config file; a missing optional file means all defaults."""
    if path is None:
        return validate({})
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if must_exist:
            raise ConfigError("", f"{path}: no such file") from None
        return validate({})
    except OSError as exc:
        raise ConfigError("", f"{path}: cannot read: {exc.strerror}") from None
    try:
        return validate(parse_text(text, path))
    except ConfigProblems as exc:  # all of them at once, naming the file
        raise ConfigProblems(exc.problems, str(path)) from None
