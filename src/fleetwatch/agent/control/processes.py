"""Managed processes (A14, seed 000's server manager): the agent starts, stops, restarts and
kills the programs of its `processes` config key, captures their output, relays lines to their
stdin, and reports every change to the hub over the control channel.

Each process runs in its own session (a stop or kill reaches what it started), with its stdin
relayed (`stdin.py`: a FIFO, or its own pipe on Windows, plus the `_commands.txt` queue), its
stdout and stderr together in a ring of the last `RING_LINES` lines and appended to
`<folder>/<name>.log`. `stop` sends SIGTERM and, after `STOP_GRACE_SECONDS`, SIGKILL; `kill`
sends SIGKILL at once. A process that exits on its own is restarted per its `restart` policy
(`on-failure`: a non-zero exit; `always`) after a backoff of 1 s doubling to 60 s, reset once
it stayed up for a minute; a stop or kill asked for is never restarted.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetwatch.agent.control.stdin import CommandFile, Stdin, make_stdin
from fleetwatch.protocol.control import encode

log = logging.getLogger("fleetwatch.agent.processes")
RING_LINES = 500
STOP_GRACE_SECONDS = 10.0
SUPERVISE_SECONDS = 0.1
BACKOFF_FIRST, BACKOFF_MAX, STABLE_SECONDS = 1.0, 60.0, 60.0


class Managed:
    def __init__(self, spec: dict[str, Any], folder: Path) -> None:
        self.spec = spec
        self.name: str = spec["name"]
        self.folder = folder
        self.proc: subprocess.Popen[bytes] | None = None
        self.state = "stopped"
        self.started_at: float | None = None
        self.restarts = 0
        self.exit_code: int | None = None
        self.wanted = False  # should it be running (restart on exit)?
        self.retry_at: float | None = None
        self.backoff = BACKOFF_FIRST
        self.ring: collections.deque[str] = collections.deque(maxlen=RING_LINES)
        self.stdin: Stdin = make_stdin(folder, self.name)
        self.queue = CommandFile(folder / f"{self.name}_commands.txt")

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "pid": self.proc.pid if self.proc and self.state == "running" else None,
            "started_at": self.started_at,
            "restarts": self.restarts,
            "exit_code": self.exit_code,
            "restart": self.spec["restart"],
        }


class ProcessManager:
    def __init__(
        self, specs: list[dict[str, Any]] | None, folder: Path, send: Callable[[str], None]
    ) -> None:
        self.folder = folder
        self.send = send
        self.lock = threading.RLock()
        self.items: dict[str, Managed] = {}
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self.configure(specs)

    def configure(self, specs: list[dict[str, Any]] | None) -> None:
        """Adopt a (re)loaded `processes` list: new names are added (and autostarted once
        running), removed names are stopped; changed specs apply at their next start."""
        specs = specs or []
        with self.lock:
            wanted = {s["name"]: s for s in specs}
            for name in [n for n in self.items if n not in wanted]:
                self._stop(self.items.pop(name), force=False)
            for name, spec in wanted.items():
                if name in self.items:
                    self.items[name].spec = spec
                else:
                    self.items[name] = Managed(spec, self.folder)
                    self.items[name].wanted = bool(spec["autostart"])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._supervise, name="processes", daemon=True)
        self._thread.start()

    def stop_all(self) -> None:
        self.stop_event.set()
        with self.lock:
            for item in self.items.values():
                item.wanted = False
                self._stop(item, force=False)

    def states(self) -> list[dict[str, Any]]:
        with self.lock:
            return [item.view() for item in self.items.values()]

    def _report(self, item: Managed) -> None:
        self.send(encode("process_state", **item.view()))

    # --- actions -------------------------------------------------------------------------

    def act(self, name: str, action: str) -> tuple[bool, str]:
        with self.lock:
            item = self.items.get(name)
            if item is None:
                return False, f"no managed process {name!r} on this host"
            if action == "start":
                if item.state == "running":
                    return (
                        False,
                        f"{name} is already running (pid {item.proc.pid if item.proc else '?'})",
                    )
                item.wanted, item.backoff = True, BACKOFF_FIRST
                return self._spawn(item)
            if action in ("stop", "kill"):
                item.wanted = False
                if item.state != "running":
                    return False, f"{name} is not running"
                self._stop(item, force=action == "kill")
                return True, f"{name} {'killed' if action == 'kill' else 'stopped'}"
            if action == "restart":
                item.wanted = True
                if item.state == "running":
                    self._stop(item, force=False)
                item.restarts += 1
                return self._spawn(item)
        return False, f"unknown action {action!r}"

    def input(self, name: str, text: str) -> tuple[bool, str]:
        with self.lock:
            item = self.items.get(name)
            if item is None:
                return False, f"no managed process {name!r} on this host"
            if item.state != "running":
                return False, f"{name} is not running: its stdin takes no input"
        try:
            item.stdin.write(text)
        except OSError as exc:
            return False, f"{name}: {exc}"
        return True, "delivered"

    # --- processes -----------------------------------------------------------------------

    def _spawn(self, item: Managed) -> tuple[bool, str]:
        spec = item.spec
        child_stdin = item.stdin.child_stdin()
        try:
            proc = subprocess.Popen(
                spec["argv"],
                stdin=child_stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=spec["cwd"] or None,
                env={**os.environ, **spec["env"]},
                start_new_session=True,
            )
        except OSError as exc:
            item.state, item.exit_code = "failed", None
            self._report(item)
            return False, f"could not start {item.name}: {exc}"
        finally:
            if isinstance(child_stdin, int) and child_stdin >= 0:
                os.close(child_stdin)
        item.stdin.attach(proc)
        item.proc, item.state, item.started_at, item.exit_code = proc, "running", time.time(), None
        item.retry_at = None
        threading.Thread(
            target=self._pump, args=(item, proc), daemon=True, name=f"out-{item.name}"
        ).start()
        log.info("managed process %s started (pid %d)", item.name, proc.pid)
        self._report(item)
        return True, f"{item.name} started (pid {proc.pid})"

    def _stop(self, item: Managed, force: bool) -> None:
        proc = item.proc
        if proc is None or proc.poll() is not None:
            return
        _signal(proc, signal.SIGKILL if force else signal.SIGTERM)
        try:
            proc.wait(0.0 if force else STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal(proc, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        self._exited(item, proc)

    def _exited(self, item: Managed, proc: subprocess.Popen[bytes]) -> None:
        if item.proc is not proc or item.state != "running":
            return
        code = proc.returncode
        item.exit_code = code
        item.state = "stopped" if not item.wanted else ("exited" if code == 0 else "crashed")
        log.info("managed process %s ended (exit code %s)", item.name, code)
        if item.wanted and self._restarts(item.spec["restart"], code):
            lived = time.time() - (item.started_at or time.time())
            item.backoff = BACKOFF_FIRST if lived >= STABLE_SECONDS else item.backoff
            item.retry_at = time.monotonic() + item.backoff
            item.backoff = min(BACKOFF_MAX, item.backoff * 2)
        else:
            item.wanted = False
        self._report(item)

    @staticmethod
    def _restarts(policy: str, code: int | None) -> bool:
        return policy == "always" or (policy == "on-failure" and code != 0)

    def _pump(self, item: Managed, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        log_path = self.folder / f"{item.name}.log"
        with log_path.open("ab") as out:
            for raw in iter(proc.stdout.readline, b""):
                out.write(raw)
                out.flush()
                line = raw.decode(errors="replace")
                with self.lock:
                    item.ring.append(line)
                self.send(encode("process_output", name=item.name, data=line))

    def _supervise(self) -> None:
        while not self.stop_event.wait(SUPERVISE_SECONDS):
            with self.lock:
                items = list(self.items.values())
            for item in items:
                with self.lock:
                    proc = item.proc
                    if item.state == "running" and proc is not None and proc.poll() is not None:
                        self._exited(item, proc)
                    due = item.retry_at is not None and time.monotonic() >= item.retry_at
                    first = item.wanted and item.state == "stopped" and item.proc is None
                    if item.wanted and (due or first) and not self.stop_event.is_set():
                        if due:
                            item.restarts += 1
                        self._spawn(item)
                running = item.state == "running"
                if running:
                    for command in item.queue.poll():
                        ok, why = self.input(item.name, command)
                        if not ok:
                            log.warning("command file of %s: %s", item.name, why)


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, sig)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
