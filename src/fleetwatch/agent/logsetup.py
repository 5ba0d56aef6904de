"""The agent's logging: stderr plus a rotating log file (A10).

`log_file` is relative to the config file's folder (an empty value turns the file off);
it rotates at `log_max_bytes` keeping `log_backup_count` old files. A hot reload that changes
any of the three swaps the file handler without losing a line.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: The logger every agent module logs under.
AGENT_LOGGER = "fleetwatch"


def resolve_path(value: str, base_dir: Path) -> Path:
    """A path from the config: absolute as given, relative to the config file's folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


class AgentLogging:
    """Owns the handlers on the `fleetwatch` logger for one daemon run."""

    def __init__(self, base_dir: Path, *, to_stderr: bool = True, level: int = logging.INFO):
        self.base_dir = base_dir
        self.logger = logging.getLogger(AGENT_LOGGER)
        self.logger.setLevel(level)
        self.logger.propagate = False
        self._formatter = logging.Formatter(FORMAT)
        self._stderr: logging.Handler | None = None
        if to_stderr:
            self._stderr = logging.StreamHandler(sys.stderr)
            self._stderr.setFormatter(self._formatter)
            self.logger.addHandler(self._stderr)
        self._file: logging.Handler | None = None
        self._file_settings: tuple[str, int, int] | None = None

    def apply(self, config: dict[str, Any]) -> None:
        """(Re)configure the rotating file from `log_file`, `log_max_bytes`, `log_backup_count`."""
        settings = (
            str(config.get("log_file") or ""),
            int(config["log_max_bytes"]),
            int(config["log_backup_count"]),
        )
        if settings == self._file_settings:
            return
        old = self._file
        new: logging.Handler | None = None
        if settings[0]:
            path = resolve_path(settings[0], self.base_dir)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                new = logging.handlers.RotatingFileHandler(
                    path, maxBytes=settings[1], backupCount=settings[2], encoding="utf-8"
                )
            except OSError as exc:
                self.logger.error("cannot open log file %s: %s; logging to stderr only", path, exc)
            else:
                new.setFormatter(self._formatter)
                self.logger.addHandler(new)
        if old is not None:
            self.logger.removeHandler(old)
            old.close()
        self._file = new
        self._file_settings = settings

    def close(self) -> None:
        for handler in (self._file, self._stderr):
            if handler is not None:
                self.logger.removeHandler(handler)
                handler.close()
        self._file = self._stderr = None
        self._file_settings = None
