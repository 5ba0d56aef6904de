"""The tiny logging library for user programs (issue 22, seed 003): standard library only.

    from fleetwatch import applog

    with applog.open(app="billing") as log:
        log.info("invoice 42 sent")

or, through `logging`: `logging.getLogger().addHandler(applog.Handler(app="billing"))`.

Each program writes its own file `<directory>/fleetwatch_log_<token>`; the directory is the
`directory` argument, else `$FLEETWATCH_APPLOG_DIR`, else `/tmp`, and the token is random
(`secrets.token_hex(8)`) unless given. The first line is a header, then one record a line:

    # fleetwatch-applog 1 {"pid": 123, "executable": "/usr/bin/python3", "user": "ann",
                           "started_at": 1733600000.123, "app": "billing"}
    2026-12-07T21:04:16.123Z INFO invoice 42 sent

Times are UTC with milliseconds; a newline inside a message is written as the two characters
`\\n` (and a backslash as `\\\\`), so one record is always one line. The file is opened for
append and line-buffered: every record reaches the file (and a tailing agent) at once. Writes
are serialised by a lock, so one `AppLog` may be shared by threads. The agent discovers these
files and ships them (docs/agent-daemon.md, "App logs").
"""

from __future__ import annotations

import builtins
import getpass
import json
import logging
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

HEADER_PREFIX = "# fleetwatch-applog 1 "
FILE_PREFIX = "fleetwatch_log_"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

__all__ = ["FILE_PREFIX", "HEADER_PREFIX", "AppLog", "Handler", "format_record", "open"]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, no LOGNAME
        return str(os.getuid()) if hasattr(os, "getuid") else ""


def format_time(unix_seconds: float) -> str:
    """ISO-8601 UTC with milliseconds and `Z`: `2026-12-07T21:04:16.123Z`."""
    whole = int(unix_seconds)
    millis = int((unix_seconds - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def escape(message: str) -> str:
    """One line: backslashes doubled, CR/LF written as `\\r` / `\\n`."""
    return message.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def format_record(level: str, message: str, unix_seconds: float | None = None) -> str:
    """One record line, newline included."""
    when = time.time() if unix_seconds is None else unix_seconds
    return f"{format_time(when)} {level.upper()} {escape(message)}\n"


def _resolve_directory(directory: str | Path | None) -> Path:
    if directory is not None:
        return Path(directory)
    return Path(os.environ.get("FLEETWATCH_APPLOG_DIR") or "/tmp")


class AppLog:
    """One program's log file; use `open()` to make one."""

    def __init__(self, path: Path, app: str | None) -> None:
        self.path = path
        self.app = app or Path(sys.argv[0] or sys.executable).stem or "app"
        self._lock = threading.Lock()
        # held open for the AppLog's life, closed by close()
        self._file = builtins.open(  # noqa: SIM115
            path, "a", encoding="utf-8", errors="replace", buffering=1
        )
        header = {
            "pid": os.getpid(),
            "executable": sys.executable,
            "user": _user(),
            "started_at": time.time(),
            "app": self.app,
        }
        if self._file.tell() == 0:
            self._file.write(HEADER_PREFIX + json.dumps(header, separators=(",", ":")) + "\n")

    def write(self, level: str, message: str, unix_seconds: float | None = None) -> None:
        """Append one record (level one of `LEVELS`, any case; time default now)."""
        line = format_record(level, str(message), unix_seconds)
        with self._lock:
            if not self._file.closed:
                self._file.write(line)

    def debug(self, message: str) -> None:
        self.write("DEBUG", message)

    def info(self, message: str) -> None:
        self.write("INFO", message)

    def warning(self, message: str) -> None:
        self.write("WARNING", message)

    def error(self, message: str) -> None:
        self.write("ERROR", message)

    def critical(self, message: str) -> None:
        self.write("CRITICAL", message)

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> AppLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open(  # the seed-003 name: applog.open(token)
    token: str | None = None, directory: str | Path | None = None, app: str | None = None
) -> AppLog:
    """Open (create or append to) `<directory>/fleetwatch_log_<token>`."""
    name = token or secrets.token_hex(8)
    if "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"applog token must not contain a path separator: {name!r}")
    folder = _resolve_directory(directory)
    return AppLog(folder / f"{FILE_PREFIX}{name}", app)


def _level_name(levelno: int) -> str:
    if levelno >= logging.CRITICAL:
        return "CRITICAL"
    if levelno >= logging.ERROR:
        return "ERROR"
    if levelno >= logging.WARNING:
        return "WARNING"
    if levelno >= logging.INFO:
        return "INFO"
    return "DEBUG"


class Handler(logging.Handler):
    """A `logging.Handler` writing the applog format (one file per handler)."""

    def __init__(
        self,
        token: str | None = None,
        directory: str | Path | None = None,
        app: str | None = None,
        level: int = logging.NOTSET,
    ) -> None:
        super().__init__(level)
        self.applog = open(token, directory, app)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.applog.write(_level_name(record.levelno), self.format(record), record.created)
        except Exception:  # logging's contract: never raise from emit
            self.handleError(record)

    def close(self) -> None:
        self.applog.close()
        super().close()
