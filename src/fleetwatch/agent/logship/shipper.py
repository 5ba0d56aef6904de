"""The log shipper thread: followed files → `POST /api/logs`, exactly once, rate-bounded.

Every `logs.interval_seconds` the shipper discovers its files (`discovery.discover`) and, file
by file, reads the lines after the committed offset (at most `logs.batch_lines`, at most the
byte budget), sends them as one batch and, only after the hub's 200, moves the offset and
rewrites the state file. A file with more waiting is read again at once (still within the
budget), so a backlog drains at `logs.max_bytes_per_second` (a token bucket holding one
second's worth; bytes read from the files count, before parsing and gzip).

Exactly once: a batch's id is derived from (file key, inode, generation, start offset, end
offset), and the end offset is written to the state file (`pending_end`) *before* the batch is
sent. An agent that crashes between the hub's 200 and the state write therefore re-reads the
very same bytes after its restart and resends them under the same id, which the hub answers
with `"duplicate": true` and does not store again.

The durable buffer is the source files themselves, not the agent's SQLite buffer: the lines
are already on disk, copying them would double the writes, and a hub outage then costs only
the offsets (a file rotated away twice during an outage is the one thing lost; its rotated
predecessor is still finished first). Answers: network error or 5xx — retry the same batch
with exponential backoff (up to `MAX_BACKOFF_SECONDS`); 429 — wait the hub's Retry-After;
401 — wait (the sender re-registers); 400/413/422 — the batch can never be delivered: logged
and skipped so it does not block the file. On stop the shipper makes one last pass bounded by
`STOP_FLUSH_SECONDS`; anything left is sent after the next start.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetwatch.agent.hub_client import HubClient
from fleetwatch.agent.logship.discovery import discover, is_applog, read_app, wire_lines
from fleetwatch.agent.logship.journal import JournalFeed
from fleetwatch.agent.logship.state import FileState, StateFile
from fleetwatch.agent.logship.tailer import Chunk, TailedFile
from fleetwatch.errors import TransportError

log = logging.getLogger("fleetwatch.agent.logship")

STOP_FLUSH_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 600.0
#: bytes of file read into one batch at most (a batch stays far below the hub's size limit)
BATCH_MAX_BYTES = 1024 * 1024
REFUSED = frozenset({400, 413, 422})


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class TokenBucket:
    """`rate` bytes per second, holding at most one second's worth; may go negative."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.at = time.monotonic()

    def available(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return self.tokens

    def take(self, amount: int) -> None:
        self.available()
        self.tokens -= amount

    def wait_seconds(self) -> float:
        return max(0.0, -self.available() / self.rate) + 0.01


class LogShipper:
    """Runs in its own thread with its own hub connection (`client`)."""

    def __init__(
        self,
        client: HubClient,
        state_path: Path,
        config: Callable[[], dict[str, Any]],
        stop: threading.Event,
    ) -> None:
        self.client = client
        self.state = StateFile(state_path)
        self.config = config
        self.stop = stop
        self.tails: dict[str, TailedFile] = {}
        self.journal = JournalFeed(self.state)
        self.apps: dict[tuple[str, int], str] = {}
        self.bucket = TokenBucket(float(self.logs()["max_bytes_per_second"]))
        self.rng = random.Random()
        self.deadline: float | None = None  # set on stop: the last pass ends by then
        self.first_pass = True
        self.sent_lines_total = 0
        self.sent_batches_total = 0
        self.thread = threading.Thread(target=self._run, name="fleetwatch-logs", daemon=True)

    def logs(self) -> dict[str, Any]:
        section: dict[str, Any] = self.config()["logs"]
        return section

    def start(self) -> None:
        self.thread.start()

    def join(self, timeout: float) -> bool:
        """Wait for the thread after the stop flag was set; True when it finished."""
        if self.deadline is None:
            self.deadline = time.monotonic() + STOP_FLUSH_SECONDS
        self.thread.join(timeout)
        return not self.thread.is_alive()

    # --- the loop ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self.stop.is_set():
            logs = self.logs()
            try:
                if logs["enabled"]:
                    self.ship_pass()
            except Exception:  # the top of a daemon loop: log, pause, carry on
                log.exception("log shipping: unexpected error; retrying shortly")
                self.stop.wait(5.0)
            self.stop.wait(float(logs["interval_seconds"]))
        if self.deadline is None:
            self.deadline = time.monotonic() + STOP_FLUSH_SECONDS
        try:
            if self.logs()["enabled"]:
                self.ship_pass()
        except Exception:
            log.exception("log shipping: unexpected error during the final pass")
        for tail in self.tails.values():
            tail.close()

    def _time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def _out_of_time(self) -> bool:
        left = self._time_left()
        return left is not None and left <= 0.05

    def refresh(self) -> None:
        """Discover files: new ones get a tail, vanished ones are dropped once read."""
        logs = self.logs()
        exclude = {str(self.state.path.absolute())}
        keys = discover(logs["applog_dir"], logs["paths"], exclude)
        from_end = self.first_pass and not self.state.existed
        held = {(t.state.dev, t.state.ino) for t in self.tails.values() if t.state is not None}
        for key in [*keys, *self.state.files]:
            if key in self.tails:
                continue
            known = self.state.files.get(key)
            if known is None:
                identity = _identity(key)
                if identity in held:
                    continue  # another path's tail reads this very file now
                known = self._retired_state(identity)
            start_at_end = from_end and not is_applog(key)
            self.tails[key] = TailedFile(key, known, from_end=start_at_end)
        self.first_pass = False
        self.bucket.rate = float(logs["max_bytes_per_second"])

    def _retired_state(self, identity: tuple[int, int] | None) -> FileState | None:
        """A new path naming a file read up after a rotation: its end (a rotated
        `fleetwatch_log_x.1` matching the glob is not shipped twice)."""
        if identity is None:
            return None
        offset = self.state.retired.get(f"{identity[0]}:{identity[1]}")
        return None if offset is None else FileState(identity[0], identity[1], offset)

    def _collect_retired(self, tail: TailedFile) -> None:
        for dev, ino, offset in tail.retired:
            self.state.retired.pop(f"{dev}:{ino}", None)
            self.state.retired[f"{dev}:{ino}"] = offset
        tail.retired.clear()

    def ship_pass(self) -> None:
        """One pass over every file: send until each is read up, out of budget or stopping."""
        if not self.client.enrolled:
            return
        self.refresh()
        batch_lines = int(self.logs()["batch_lines"])
        for key, tail in list(self.tails.items()):
            while not self._out_of_time():
                if self.bucket.available() <= 0:
                    if self.deadline is not None:
                        return
                    self.stop.wait(self.bucket.wait_seconds())
                    if self.stop.is_set() and self.deadline is None:
                        return
                    continue
                budget = int(min(BATCH_MAX_BYTES, max(4096.0, self.bucket.available())))
                chunk = tail.read_chunk(batch_lines, budget)
                if tail.retired:
                    self._collect_retired(tail)
                if tail.state is not None:
                    self.state.files[key] = tail.state
                if chunk is None:
                    break
                self.bucket.take(chunk.end - chunk.start)
                if not self._deliver(tail, chunk):
                    return
                if len(chunk.lines) < batch_lines and chunk.end - chunk.start < budget:
                    break
            if tail.gone:
                tail.close()
                del self.tails[key]
                self.state.files.pop(key, None)
                self.state.save()
        if self.logs()["journal"]:
            self.journal.ship(batch_lines, self._send_journal, self._may_go)

    def _may_go(self) -> bool:
        return not self._out_of_time() and self.bucket.available() > 0

    def _send_journal(self, body: bytes, count: int) -> bool:
        self.bucket.take(len(body))
        return self._send(body, count)

    # --- one batch -------------------------------------------------------------------------

    def _app(self, chunk: Chunk) -> str:
        app = self.apps.get((chunk.key, chunk.ino))
        if app is None:
            app = self.apps[(chunk.key, chunk.ino)] = read_app(chunk.key)
        return app

    def _deliver(self, tail: TailedFile, chunk: Chunk) -> bool:
        """Send `chunk` until the hub took it (True) or the agent stops (False)."""
        lines = wire_lines(chunk, self._app(chunk), time.time())
        if lines:
            tail.mark_pending(chunk)
            self.state.save()
            body = json.dumps({"batch_id": chunk.batch_id, "lines": lines}).encode()
            if not self._send(body, len(lines)):
                return False
        tail.commit(chunk)
        self.state.save()
        return True

    def _send(self, body: bytes, count: int) -> bool:
        failures = 0
        while True:
            left = self._time_left()
            if left is not None and left <= 0.05:
                return False
            try:
                answer = self.client.send_logs(body, timeout_seconds=left)
            except TransportError as exc:
                if exc.status in REFUSED:
                    log.error("log shipping: the hub refused a batch of %d line(s): %s", count, exc)
                    return True
                failures += 1
                delay = self._delay(exc, failures)
                if failures == 1:
                    log.warning("log shipping: %s; retrying in %.1f s", exc, delay)
                if self.deadline is not None:  # stopping: keep trying until the deadline
                    time.sleep(min(delay, 0.1))
                elif self.stop.wait(delay):
                    return False
            if failures:
                log.info("log shipping: the hub takes log lines again")
            if not answer.get("duplicate"):
                self.sent_lines_total += count
            self.sent_batches_total += 1
            return True

    def _delay(self, exc: TransportError, failures: int) -> float:
        if exc.status == 429:
            return min(MAX_RETRY_AFTER_SECONDS, exc.retry_after_seconds or 1.0)
        base = 0.5 * 2.0 ** min(failures - 1, 10)
        return min(MAX_BACKOFF_SECONDS, base) * self.rng.uniform(0.5, 1.0)
