"""Stdin relay for managed processes (A14, seed 000's command queue).

`FifoStdin`: a named pipe `<dir>/<name>.stdin` made before the process starts. The agent keeps
it open for writing (so the process never sees end-of-file while the agent runs, and opening
it never blocks); the process reads it as its stdin; anything else on the host may write to
the pipe too. Where named pipes do not exist (Windows), `PipeStdin` is the process's own pipe.

`CommandFile`: the file-based queue beside either, `<dir>/<name>_commands.txt`: other tools
append `timestamp:command` lines; the agent polls every `POLL_SECONDS`, relays each new line
once (de-duplicated by its timestamp, the line's id), and truncates the file after
`TRUNCATE_AFTER` processed lines.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import IO, Any, Protocol

POLL_SECONDS = 0.1
TRUNCATE_AFTER = 100


class Stdin(Protocol):
    def child_stdin(self) -> Any: ...

    def attach(self, proc: subprocess.Popen[bytes]) -> None: ...

    def write(self, text: str) -> None: ...

    def close(self) -> None: ...


class FifoStdin:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not path.is_fifo():
            path.unlink()
        if not path.exists():
            os.mkfifo(path, 0o600)
        # read-write: opening never blocks, and the pipe always has a writer (no EOF for the
        # child); non-blocking writes: a process that stops reading fills the pipe (64 KiB)
        # and the next input fails with a clear error instead of hanging the agent
        self._fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        self._lock = threading.Lock()

    def child_stdin(self) -> int:
        """A blocking read end for the child (the caller closes its copy after the start)."""
        return os.open(self.path, os.O_RDONLY)

    def attach(self, proc: subprocess.Popen[bytes]) -> None:
        pass

    def write(self, text: str) -> None:
        data = (text if text.endswith("\n") else text + "\n").encode()
        with self._lock:
            try:
                written = os.write(self._fd, data)
            except BlockingIOError:
                raise BrokenPipeError("stdin is full: the process does not read it") from None
            if written < len(data):
                raise BrokenPipeError("stdin is full: the input was cut short")

    def close(self) -> None:
        os.close(self._fd)


class PipeStdin:
    def __init__(self) -> None:
        self._pipe: IO[bytes] | None = None
        self._lock = threading.Lock()

    def child_stdin(self) -> int:
        return subprocess.PIPE

    def attach(self, proc: subprocess.Popen[bytes]) -> None:
        self._pipe = proc.stdin

    def write(self, text: str) -> None:
        with self._lock:
            if self._pipe is None:
                raise BrokenPipeError("the process is not running")
            self._pipe.write((text if text.endswith("\n") else text + "\n").encode())
            self._pipe.flush()

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()


def make_stdin(folder: Path, name: str) -> Stdin:
    if hasattr(os, "mkfifo"):
        return FifoStdin(folder / f"{name}.stdin")
    return PipeStdin()


class CommandFile:
    """`<name>_commands.txt`: `timestamp:command` lines from other tools. The file stays small
    (truncated every `TRUNCATE_AFTER` relayed lines), so each poll reads it whole and relays
    the lines whose id it has not seen; a line still being written waits for its newline."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: dict[str, None] = {}  # insertion-ordered: the newest ids are kept
        self.processed = 0

    def _new(self, data: bytes) -> list[str]:
        out = []
        for raw in data.decode(errors="replace").splitlines():
            stamp, sep, command = raw.partition(":")
            if not sep or not stamp.strip() or stamp in self.seen:
                continue
            self.seen[stamp] = None
            out.append(command)
        return out

    def poll(self) -> list[str]:
        """The commands of lines not relayed before (oldest first)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        out = self._new(complete)
        self.processed += len(out)
        if self.processed >= TRUNCATE_AFTER:
            # move it aside, take what arrived meanwhile, put an unfinished line back
            aside = self.path.with_name(self.path.name + ".done")
            self.path.replace(aside)
            rest = aside.read_bytes()[len(complete) :]
            cut = rest.rfind(b"\n") + 1
            out += self._new(rest[:cut])
            if rest[cut:]:
                with self.path.open("ab") as f:
                    f.write(rest[cut:])
            aside.unlink()
            self.processed = 0
            self.seen = dict.fromkeys(list(self.seen)[-TRUNCATE_AFTER:])
        return out
