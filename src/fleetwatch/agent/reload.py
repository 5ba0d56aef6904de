"""Hot reload of the agent's config file (A9).

The daemon calls `poll()` every cycle (and every few seconds while it waits): a `stat` call
compares modification time, size and inode; only a changed file is read and validated. A valid
change is returned to be applied; an invalid edit keeps the running configuration and is
logged once (not every cycle) with the reason naming the key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetwatch.agent.config import load_config
from fleetwatch.errors import ConfigError

log = logging.getLogger("fleetwatch.agent")

Stamp = tuple[int, int, int] | None

#: Keys whose values never appear in the log.
SECRET_KEYS = frozenset({"api_key"})


def _stamp(path: Path | None) -> Stamp:
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def describe_changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    """`key: old -> new` for each changed key (secrets masked)."""
    parts = []
    for key in new:
        if old.get(key) != new.get(key):
            if key in SECRET_KEYS:
                parts.append(f"{key} changed")
            else:
                parts.append(f"{key}: {old.get(key)!r} -> {new.get(key)!r}")
    return ", ".join(parts)


class ConfigWatcher:
    """Tracks one config file; `current` is the configuration in force."""

    def __init__(
        self,
        path: Path | None,
        current: dict[str, Any],
        check: Callable[[dict[str, Any]], object] | None = None,
    ) -> None:
        self.path = path
        self.current = current
        self.check = check  # extra validation (raises ConfigError), e.g. the hub URL
        self._seen: Stamp = _stamp(path)
        self._complained: Stamp = None
        self.rejected_edits = 0

    @classmethod
    def open(
        cls, path: Path | None, check: Callable[[dict[str, Any]], object] | None = None
    ) -> ConfigWatcher:
        """Load the file (a broken file at start is a `ConfigError`) and start watching it."""
        stamp = _stamp(path)
        config = load_config(path)
        if check is not None:
            check(config)
        watcher = cls(path, config, check)
        watcher._seen = stamp
        return watcher

    def poll(self) -> dict[str, Any] | None:
        """The new configuration when the file changed validly since the last call, else None."""
        stamp = _stamp(self.path)
        if stamp == self._seen:
            return None
        self._seen = stamp
        if stamp is None:
            log.warning("config file %s is gone; keeping the running configuration", self.path)
            return None
        try:
            new = load_config(self.path, must_exist=True)
            if self.check is not None:
                self.check(new)
        except ConfigError as exc:
            self.rejected_edits += 1
            if self._complained != stamp:
                log.error("config edit ignored, keeping the running configuration: %s", exc)
                self._complained = stamp
            return None
        self._complained = None
        if new == self.current:
            return None
        changes = describe_changes(self.current, new)
        log.info("configuration reloaded from %s: %s", self.path, changes)
        self.current = new
        return new
