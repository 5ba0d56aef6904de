"""The sender thread (A8): durable buffer → hub, oldest first, exactly once.

The collection loop only appends to the buffer and wakes the sender; the sender registers when
the agent has no identity, replays the buffer in `{"snapshots": [...]}` batches and deletes
entries only after the hub's 200. Between cycles it sends the heartbeat and polls for pushed
configuration. Hub answers:

* 401 — the key was rejected: log it and register again (immediately the first time, with
  backoff when it keeps happening);
* 413 / 400 / 422 — the batch is refused: split it; a single refused snapshot is dropped with
  an error line (it could never be delivered and must not block the rest);
* 429 — wait for Retry-After;
* 5xx, refused, timeout, TLS failure, anything else — exponential backoff with jitter, capped
  at a few seconds while snapshots wait, with a `GET /api/ping` probe about once per interval
  so a hub that is back gets the buffer at once (`retry.RetryClock`); the buffer keeps
  everything meanwhile.

A backlog longer than one batch is sent oldest first, batch after batch; once draining it has
taken longer than one collection interval, each batch also carries the newest snapshot taken
since the drain began, so a long replay does not hold fresh data back. On stop, the sender
makes one last delivery attempt bounded by the stop deadline, even while it backs off (not
while the hub's Retry-After runs).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from fleetwatch.agent.buffer import DurableBuffer, Entry
from fleetwatch.agent.hub_client import HubClient
from fleetwatch.agent.remote_config import RemoteConfig
from fleetwatch.agent.retry import RetryClock, backoff_seconds
from fleetwatch.agent.state import RuntimeState
from fleetwatch.errors import TransportError
from fleetwatch.protocol.agent_config import interval_seconds

log = logging.getLogger("fleetwatch.agent.delivery")

BATCH_MAX_SNAPSHOTS = 200
BATCH_MAX_BYTES = 2 * 1024 * 1024  # JSON bytes before gzip
MAX_RETRY_AFTER_SECONDS = 3600.0
#: between deliveries, whatever the snapshot interval: the heartbeat's answer also says whether
#: somebody watches this host on the hub (live on demand), which should start within seconds
HEARTBEAT_SECONDS = 30.0
MIN_CONFIG_POLL_SECONDS = 10.0
#: After a 413 the batch size stays below the refused size for this long.
CEILING_SECONDS = 600.0
#: HTTP statuses that refuse the content itself: split the batch, drop a lone snapshot.
REFUSED_CONTENT = frozenset({400, 413, 422})
#: the last attempt on stop needs at least this much time before the stop deadline
MIN_FINAL_ATTEMPT_SECONDS = 0.2


class Sender:
    """Owns the hub connection of the delivery path; runs in its own thread."""

    def __init__(
        self,
        buffer: DurableBuffer,
        client: HubClient,
        state: RuntimeState,
        remote: RemoteConfig,
        on_enrolled: Callable[[str, str], None],
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.buffer = buffer
        self.client = client
        self.state = state
        self.remote = remote
        self.on_enrolled = on_enrolled
        self.rng = rng or random.Random()
        self.wake_event = threading.Event()
        self.need_register = not client.enrolled
        self.retry = RetryClock(self.rng)
        self.rejections = 0
        self.batch_limit = BATCH_MAX_SNAPSHOTS
        self.batch_ceiling = BATCH_MAX_SNAPSHOTS  # lowered by 413s, restored after a while
        self.ceiling_until = 0.0
        #: a drain of more than one batch: when it started, the newest id it found, the
        #: highest id delivered (entries above both were collected during the drain)
        self.draining_since: float | None = None
        self.fresh_after = 0
        self.delivered_up_to = 0
        self.last_contact = time.monotonic()
        self.last_poll = -MIN_CONFIG_POLL_SECONDS
        self.polled_cycle = -1
        #: the hub said (control channel) that a configuration change waits
        self.config_asked = False
        self.delivered_total = 0
        self.duplicates_total = 0
        self.refused_total = 0
        self.thread = threading.Thread(target=self._run, name="fleetwatch-sender", daemon=True)

    # --- control (called from the daemon thread) ---------------------------------------

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        self.wake_event.set()

    def join(self, timeout: float) -> bool:
        """Wait for the thread (after `state.stop` is set); True when it finished."""
        self.wake_event.set()
        self.thread.join(timeout)
        return not self.thread.is_alive()

    # --- the loop ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self.state.stop.is_set():
            try:
                self._step()
            except Exception:  # the top of a daemon loop: log, pause, carry on
                log.exception("sender: unexpected error; retrying shortly")
                self.state.stop.wait(5.0)
        try:
            self._final_flush()
        except Exception:
            log.exception("sender: unexpected error during the final flush")

    def _step(self) -> None:
        now = time.monotonic()
        if self.retry.waiting(now):
            self.draining_since = None  # waiting is not draining
            if self.retry.probe_due(now):
                self.retry.probe(self.client)
            else:  # backoff: only a stop interrupts
                self.state.stop.wait(self.retry.wake_at() - now)
            return
        if self.need_register:
            self._register()
            return
        entries = self._next_batch(now)
        if entries:
            self._deliver(entries)
            return
        if self.config_asked:
            self.config_asked = False
            self._poll_config()
            return
        poll_due = now - self.last_poll >= MIN_CONFIG_POLL_SECONDS
        if poll_due and self.polled_cycle != self.state.cycles:
            self._poll_config()
            return
        heartbeat = HEARTBEAT_SECONDS
        if now - self.last_contact >= heartbeat:
            self._ping()
            return
        self.wake_event.wait(max(0.05, self.last_contact + heartbeat - now))
        self.wake_event.clear()

    def _next_batch(self, now: float) -> list[Entry]:
        """The oldest entries; in a drain that has lasted an interval, plus the newest snapshot
        taken during the drain."""
        if len(self.buffer) <= self.batch_limit:
            self.draining_since = None
            return self.buffer.peek(self.batch_limit, BATCH_MAX_BYTES)
        if self.draining_since is None:
            self.draining_since = now
            self.fresh_after = self.buffer.newest_id()  # what is newer was taken meanwhile
        if now - self.draining_since < interval_seconds(self.state.config):
            return self.buffer.peek(self.batch_limit, BATCH_MAX_BYTES)
        newest_after = max(self.fresh_after, self.delivered_up_to)
        return self.buffer.peek(self.batch_limit, BATCH_MAX_BYTES, newest_after=newest_after)

    def _final_flush(self) -> None:
        """On stop: deliver what is buffered, within the stop deadline. A backoff does not
        prevent this last attempt (the hub may be back); the hub's Retry-After does."""
        if self.need_register or (self.retry.throttled and self.retry.waiting(time.monotonic())):
            return  # the buffer keeps everything for the next start
        while True:
            remaining = self.state.stop_deadline - time.monotonic()
            if remaining < MIN_FINAL_ATTEMPT_SECONDS:
                return
            entries = self.buffer.peek(self.batch_limit, BATCH_MAX_BYTES)
            if not entries or not self._deliver(entries, remaining):
                return

    # --- outcomes ------------------------------------------------------------------------

    def _contact(self) -> None:
        self.last_contact = time.monotonic()
        if self.retry.failures:
            log.info(
                "the hub answers again; %d snapshot(s) waiting in the buffer", len(self.buffer)
            )
        self.retry.succeeded()

    def _deliver(self, entries: list[Entry], timeout_seconds: float | None = None) -> bool:
        try:
            result = self.client.send_batch([e.body for e in entries], timeout_seconds)
        except TransportError as exc:
            self._delivery_failed(exc, entries)
            return False
        self.buffer.delete([e.id for e in entries])
        self.delivered_up_to = max(self.delivered_up_to, entries[-1].id)
        self._contact()
        self.rejections = 0
        self.delivered_total += result.stored
        self.duplicates_total += result.duplicates
        if time.monotonic() > self.ceiling_until:
            self.batch_ceiling = BATCH_MAX_SNAPSHOTS
        self.batch_limit = min(self.batch_ceiling, self.batch_limit * 2)
        return True

    def _delivery_failed(self, exc: TransportError, entries: list[Entry]) -> None:
        if exc.status == 401:
            self._key_rejected(exc)
        elif exc.status in REFUSED_CONTENT:
            if len(entries) > 1:
                self.batch_limit = max(1, len(entries) // 2)
                self.batch_ceiling = max(1, len(entries) - 1)
                self.ceiling_until = time.monotonic() + CEILING_SECONDS
                log.warning("%s; splitting into batches of %d", exc, self.batch_limit)
            else:
                self.buffer.delete([entries[0].id])
                self.refused_total += 1
                log.error(
                    "snapshot %s dropped, the hub refuses it: %s", entries[0].snapshot_id, exc
                )
        elif exc.status == 429:
            self._throttled(exc)
        else:
            self._failed(exc, f"{len(self.buffer)} snapshot(s) kept in the buffer")

    def _failed(self, exc: TransportError, consequence: str) -> None:
        if self.state.stop.is_set():  # the last attempt on stop
            log.warning("%s; %s until the next start", exc, consequence)
            return
        interval = interval_seconds(self.state.config)
        delay = self.retry.failed(self._retry_delay(), len(self.buffer) > 0, interval)
        log.warning("%s; %s; retry %d in %.1f s", exc, consequence, self.retry.failures, delay)

    def _throttled(self, exc: TransportError) -> None:
        delay = exc.retry_after_seconds
        if delay is None:
            delay = backoff_seconds(self.retry.failures + 1, self._retry_delay(), self.rng)
        delay = min(MAX_RETRY_AFTER_SECONDS, delay)
        self.retry.hold(delay, throttled=True)
        log.warning("the hub asks to slow down (429): waiting %.1f s as told", delay)

    def _key_rejected(self, exc: TransportError) -> None:
        self.rejections += 1
        log.warning(
            "the hub rejected this agent's key for server %s (%s): registering again",
            self.client.server_id,
            exc,
        )
        self.need_register = True
        if self.rejections > 1:
            self.retry.hold(backoff_seconds(self.rejections - 1, self._retry_delay(), self.rng))

    def _retry_delay(self) -> float:
        return float(self.state.config["retry_delay_seconds"])

    # --- registration, heartbeat, remote configuration ----------------------------------

    def _register(self) -> None:
        try:
            server_id, api_key = self.client.register()
        except TransportError as exc:
            if exc.status == 429:
                self._throttled(exc)
            else:
                self._failed(exc, "registration postponed")
            return
        self.need_register = False
        self._contact()
        self.on_enrolled(server_id, api_key)

    def _ping(self) -> None:
        try:
            self.client.ping()
        except TransportError as exc:
            self.last_contact = time.monotonic()  # next heartbeat in one period, no backoff
            if exc.status == 401:
                self._key_rejected(exc)
            else:
                log.warning("heartbeat failed: %s", exc)
            return
        self._contact()

    def poll_config_now(self) -> None:
        """Fetch the pushed configuration on the next step (the hub said one waits)."""
        self.config_asked = True
        self.wake()

    def _poll_config(self) -> None:
        self.polled_cycle = self.state.cycles
        self.last_poll = time.monotonic()
        try:
            self.remote.poll(self.client)
        except TransportError as exc:
            if exc.status == 401:
                self._key_rejected(exc)
            else:
                log.debug("config poll failed: %s", exc)
