"""The log file handler and the files' upkeep: rotation by size, gzip after
`log_compress_days`, deletion after `log_delete_days` (H14).

`LogFile` rotates like `RotatingFileHandler` (`x.log` → `x.log.1` … `x.log.N`) and, like
`WatchedFileHandler`, reopens its file when it was moved or deleted underneath it, so `sweep`
may compress any file that has not been written to for days, an idle process's current one
included. Compressed files are named after their last write (`x.2026-12-01T101500.log.gz`),
so they never collide with the rotation's names.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import logging.handlers
import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("fleetwatch.hub.logs")


class LogFile(logging.handlers.RotatingFileHandler):
    """A size-rotated log file that reopens itself when the file was moved away."""

    def __init__(self, filename: str, maxBytes: int, backupCount: int) -> None:
        filename = filename.replace("{pid}", str(os.getpid()))  # `--workers N`: one file each
        Path(filename).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(filename, maxBytes=maxBytes, backupCount=backupCount, encoding="utf-8",
                         delay=True)  # fmt: skip
        self._identity: tuple[int, int] | None = None

    def _open(self):  # type: ignore[no-untyped-def]  # the base class's signature
        stream = super()._open()
        st = os.fstat(stream.fileno())
        self._identity = (st.st_dev, st.st_ino)
        return stream

    def emit(self, record: logging.LogRecord) -> None:
        if self.stream is not None and self._identity is not None:
            try:
                st = os.stat(self.baseFilename)
                moved = (st.st_dev, st.st_ino) != self._identity
            except FileNotFoundError:
                moved = True
            if moved:
                self.stream.close()
                self.stream = None  # reopened by the base emit
        super().emit(record)


@dataclass(frozen=True, slots=True)
class SweepResult:
    compressed: int
    deleted: int


def _gz_name(path: Path, mtime: float) -> Path:
    stamp = datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%dT%H%M%S")
    stem = path.name.split(".log")[0]
    target = path.with_name(f"{stem}.{stamp}.log.gz")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{stem}.{stamp}-{n}.log.gz")
    return target


def _compress(path: Path, mtime: float) -> None:
    target = _gz_name(path, mtime)
    partial = target.with_name(target.name + ".part")
    with path.open("rb") as src, gzip.open(partial, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.utime(partial, (mtime, mtime))  # the archive keeps the age of what it holds
    partial.rename(target)
    path.unlink()


def sweep(root: Path, compress_days: float, delete_days: float,
          now: float | None = None) -> SweepResult:  # fmt: skip
    """Gzip every log file under `root` unwritten for `compress_days`; delete every one (and
    every archive) older than `delete_days`. `now` is injectable for tests."""
    now = time.time() if now is None else now
    compressed = deleted = 0
    if not root.is_dir():
        return SweepResult(0, 0)
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.endswith(".part"):
            continue
        try:
            age_days = (now - path.stat().st_mtime) / 86400.0
            mtime = path.stat().st_mtime
            if age_days >= delete_days:
                path.unlink()
                deleted += 1
            elif age_days >= compress_days and ".log" in path.name and path.suffix != ".gz":
                _compress(path, mtime)
                compressed += 1
        except FileNotFoundError:  # another process swept it first
            continue
        except OSError as exc:
            log.warning("log upkeep: %s: %s", path, exc)
    return SweepResult(compressed, deleted)


#: how often a hub process looks after its log files
UPKEEP_SECONDS = 3600.0


async def run_upkeep(root: Path, compress_days: float, delete_days: float) -> None:
    """`sweep` now and every `UPKEEP_SECONDS` (in a thread). Cancel the task to stop it."""
    while True:
        try:
            done = await asyncio.to_thread(sweep, root, compress_days, delete_days)
            if done.compressed or done.deleted:
                log.info("log upkeep: %d files compressed, %d deleted", done.compressed,
                         done.deleted)  # fmt: skip
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("log upkeep failed; retrying in %.0f s", UPKEEP_SECONDS)
        await asyncio.sleep(UPKEEP_SECONDS)
