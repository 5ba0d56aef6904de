"""Remote commands on the agent (A13): what the hub asks, checked against the host's own
`commands` config key, run at most once, output streamed back, killed on timeout.

Safety, in order: no `commands` key = every command is refused; the program (`argv[0]`) must
match `allow`; `shell` scripts need `"shell": true`; as root, commands run as `user` (a root
agent without one refuses them); each runs in its own process group, so a timeout or a cancel
kills everything it started; output beyond `max_output_bytes` is dropped (counted, flagged).

At most once: an id is appended to the journal (`<state dir>/commands.journal`) before its
process starts, and an id already there is answered `duplicate`. Ids accepted by an earlier
agent process that has no `exit` line were cut short by a restart: the next `hello` lists them
as `interrupted` (and the hub never sends them again).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from fleetwatch.protocol.control import (
    CHUNK_BYTES,
    ControlError,
    check_env,
    command_allowed,
    encode,
)

log = logging.getLogger("fleetwatch.agent.commands")
#: journal lines kept when it is compacted (oldest dropped)
JOURNAL_KEEP = 1000


class Journal:
    """Append-only ids: `start <id>` when accepted, `end <id>` when reported."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: set[str] = set()
        self.open_ids: list[str] = []
        ended: set[str] = set()
        started: list[str] = []
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                kind, _, cid = line.partition(" ")
                if kind == "start":
                    started.append(cid)
                elif kind == "end":
                    ended.add(cid)
        self.seen = set(started)
        self.open_ids = [c for c in started if c not in ended]
        if len(started) > JOURNAL_KEEP:
            keep = started[-JOURNAL_KEEP:]
            self._rewrite([f"start {c}" for c in keep] + [f"end {c}" for c in keep if c in ended])

    def _rewrite(self, lines: list[str]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in lines))
        tmp.replace(self.path)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())

    def start(self, cid: str) -> bool:
        """Record `cid` as accepted; False when it was seen before (never run twice)."""
        if cid in self.seen:
            return False
        self._append(f"start {cid}")
        self.seen.add(cid)
        return True

    def end(self, cid: str) -> None:
        self._append(f"end {cid}")


class CommandRunner:
    """Runs the hub's `command` messages; `send` delivers frames on the control channel."""

    def __init__(
        self, policy: dict[str, Any] | None, journal: Journal, send: Callable[[str], None]
    ) -> None:
        self.policy = policy
        self.journal = journal
        self.send = send
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.cancelled: set[str] = set()
        self._lock = threading.Lock()
        #: reported in the first `hello` only
        self.interrupted = list(journal.open_ids)
        for cid in self.interrupted:
            journal.end(cid)

    def hello_fields(self) -> dict[str, Any]:
        policy = self.policy or {}
        with self._lock:
            running = sorted(self.running)
        interrupted, self.interrupted = self.interrupted, []
        return {
            "commands": {
                "enabled": self.policy is not None,
                "shell": bool(policy.get("shell")),
                "allow": list(policy.get("allow") or []),
            },
            "running": running,
            "interrupted": interrupted,
        }

    def _exit(
        self,
        cid: str,
        state: str,
        code: int | None = None,
        size: int = 0,
        truncated: bool = False,
        message: str = "",
    ) -> None:
        self.send(
            encode(
                "exit",
                id=cid,
                state=state,
                exit_code=code,
                output_bytes=size,
                truncated=truncated,
                message=message,
            )
        )

    def _refusal(self, message: dict[str, Any]) -> tuple[list[str], str] | str:
        """(argv, what) to run, or the reason it is refused."""
        policy = self.policy
        if policy is None:
            return "remote commands are off on this host (no `commands` in its agent config)"
        shell = message.get("shell")
        if shell is not None:
            if not policy["shell"] or not isinstance(shell, str):
                return "shell commands are not allowed on this host (`commands.shell` is false)"
            return ["/bin/sh", "-c", shell], "shell"
        argv = message.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            return "argv: expected a non-empty list of strings"
        if any("\x00" in a for a in argv):
            return "argv: must not contain NUL characters"
        if not command_allowed(argv[0], policy["allow"]):
            return f"{argv[0]!r} is not in this host's `commands.allow` list"
        return argv, "argv"

    def start(self, message: dict[str, Any]) -> None:
        cid = message.get("id")
        if not isinstance(cid, str) or not cid or len(cid) > 64:
            self.send(encode("error", message="command: id must be a string of 1-64 characters"))
            return
        decided = self._refusal(message)
        try:
            env = check_env(message.get("env"))
        except ControlError as exc:
            decided = str(exc)
        if isinstance(decided, str):
            log.warning("command %s refused: %s", cid, decided)
            self._exit(cid, "refused", message=decided)
            return
        if not self.journal.start(cid):
            self._exit(cid, "duplicate", message="this command id was already run here")
            return
        argv, _what = decided
        policy = self.policy or {}
        timeout = min(float(message.get("timeout_seconds") or 60), policy["max_timeout_seconds"])
        cap = min(
            int(message.get("max_output_bytes") or policy["max_output_bytes"]),
            policy["max_output_bytes"],
        )
        threading.Thread(
            target=self._run,
            args=(cid, argv, env, timeout, cap),
            name=f"command-{cid[:8]}",
            daemon=True,
        ).start()

    def _spawn(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        user = (self.policy or {}).get("user") or ""
        extra: dict[str, Any] = {}
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            if not user:
                raise PermissionError("the agent runs as root and `commands.user` is not set")
            import pwd

            entry = pwd.getpwnam(user)
            extra = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        elif user and hasattr(os, "getuid"):
            import pwd

            if pwd.getpwuid(os.getuid()).pw_name != user:
                raise PermissionError(f"cannot run as {user!r}: the agent is not root")
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **env},
            start_new_session=True,
            **extra,
        )

    def _run(
        self, cid: str, argv: list[str], env: dict[str, str], timeout: float, cap: int
    ) -> None:
        try:
            proc = self._spawn(argv, env)
        except (OSError, KeyError, ValueError) as exc:
            self.journal.end(cid)
            self._exit(cid, "failed", message=f"could not start {argv[0]!r}: {exc}")
            return
        with self._lock:
            self.running[cid] = proc
        counts = {"sent": 0, "total": 0}
        lock = threading.Lock()
        streams = ((proc.stdout, "stdout"), (proc.stderr, "stderr"))
        readers = [
            threading.Thread(target=self._pump, args=(cid, s, n, cap, counts, lock), daemon=True)
            for s, n in streams
        ]
        for r in readers:
            r.start()
        state = "exited"
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            state = "timeout"
            _kill_group(proc)
        for r in readers:
            r.join(5)
        with self._lock:
            self.running.pop(cid, None)
            if cid in self.cancelled:
                state = "cancelled"
                self.cancelled.discard(cid)
        self.journal.end(cid)
        code = proc.returncode
        message = f"killed after {timeout:g} s" if state == "timeout" else ""
        self._exit(cid, state, code, counts["total"], counts["total"] > counts["sent"], message)

    def _pump(
        self,
        cid: str,
        stream: IO[bytes] | None,
        name: str,
        cap: int,
        counts: dict[str, int],
        lock: threading.Lock,
    ) -> None:
        if stream is None:
            return
        while (
            chunk := stream.read1(CHUNK_BYTES)
            if hasattr(stream, "read1")
            else stream.read(CHUNK_BYTES)
        ):
            with lock:
                counts["total"] += len(chunk)
                room = cap - counts["sent"]
                if room <= 0:
                    continue
                part = chunk[:room]
                counts["sent"] += len(part)
            self.send(encode("output", id=cid, stream=name, data=part.decode(errors="replace")))

    def cancel(self, cid: str) -> None:
        with self._lock:
            proc = self.running.get(cid)
            if proc is not None:
                self.cancelled.add(cid)
        if proc is not None:
            _kill_group(proc)

    def stop(self) -> None:
        """Kill every running command (the agent is stopping)."""
        with self._lock:
            procs = list(self.running.values())
        for proc in procs:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # Windows: the process only
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + 5
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
