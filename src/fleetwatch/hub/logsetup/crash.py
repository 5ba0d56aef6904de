"""The early crash log (H14): failures before logging is configured still leave a trace.

`early_crash_log(data_dir)` wraps a hub process's start-up: an unexpected exception is
appended, with its traceback and the time, to `<data_dir>/logs/crash.log` by plain file I/O
(no `logging`, which may be what failed), then raised on; `faulthandler` writes a hard crash
(a segfault in a C extension) there too, for the process's whole life.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from fleetwatch.errors import FleetwatchError

_fault_file: IO[str] | None = None  # open for the process's life: faulthandler writes to its fd


def crash_path(data_dir: Path) -> Path:
    return data_dir / "logs" / "crash.log"


def write_crash(path: Path, exc: BaseException) -> None:
    """Append `exc` with its traceback to `path` (creating the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    text = "".join(traceback.format_exception(exc))
    with path.open("a", encoding="utf-8") as out:
        out.write(f"--- {stamp} pid {os.getpid()}: {' '.join(sys.argv)}\n{text}\n")


@contextmanager
def early_crash_log(data_dir: Path) -> Iterator[Path]:
    """Record unexpected start-up failures (not configuration errors or Ctrl-C) in crash.log."""
    global _fault_file
    path = crash_path(data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if _fault_file is None:
            _fault_file = path.open("a", encoding="utf-8")
            faulthandler.enable(_fault_file)
    except OSError:  # an unwritable data dir is reported by what opens the database
        pass
    try:
        yield path
    except (FleetwatchError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        with suppress(OSError):
            write_crash(path, exc)
        raise
