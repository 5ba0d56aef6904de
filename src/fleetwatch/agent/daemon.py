"""The agent daemon (`fleetwatch agent run`): collect → durable buffer → hub.

Threads, not asyncio: the work is a few blocking calls per cycle (psutil, SQLite, one HTTP
request), and three mostly-sleeping threads cost less than an event loop plus executors.

* the daemon (main) thread runs the cycles: hot reload (A9), budget decision (B2), collection,
  append to the durable buffer; between cycles it sleeps, checking the config file every few
  seconds so an interval change applies without waiting out a long interval;
* the sender thread (`delivery.Sender`) registers, replays the buffer, sends the heartbeat and
  polls for pushed configuration (A7, A8);
* the live thread (`live.LiveSampler`) posts live samples when `live_enabled` (A6);
* the control thread (`control.channel.ControlChannel`) keeps the WebSocket to the hub open:
  instant live on demand and config pushes, remote commands (A13; issue 21);
* the log shipper thread (`logship.shipper.LogShipper`) follows applog files and configured
  paths and posts their new lines to `/api/logs` (issue 22), flushing for 1 s on stop.

SIGINT/SIGTERM (A10) set the stop flag: the cycle in progress finishes, the sender finishes its
in-flight send and flushes what it can, and the agent logs "stopped after N cycles" and exits 0
within `STOP_GRACE_SECONDS` + a little; anything undelivered stays in the buffer file.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from fleetwatch import __version__
from fleetwatch.agent.budget import BudgetGovernor
from fleetwatch.agent.buffer import DurableBuffer
from fleetwatch.agent.control.channel import ControlChannel
from fleetwatch.agent.control.commands import CommandRunner, Journal
from fleetwatch.agent.control.processes import ProcessManager
from fleetwatch.agent.delivery import Sender
from fleetwatch.agent.enrol import save_identity
from fleetwatch.agent.hub_client import HubClient
from fleetwatch.agent.live import LiveSampler
from fleetwatch.agent.logsetup import AgentLogging, resolve_path
from fleetwatch.agent.logship.shipper import LogShipper
from fleetwatch.agent.reload import ConfigWatcher
from fleetwatch.agent.remote_config import RemoteConfig
from fleetwatch.agent.state import RuntimeState
from fleetwatch.agent.status.link import StatusLink
from fleetwatch.agent.transport import HubConnection
from fleetwatch.protocol.agent_config import interval_seconds

log = logging.getLogger("fleetwatch.agent")

STOP_GRACE_SECONDS = 3.5
#: While waiting for the next cycle, the config file is checked this often.
RELOAD_CHECK_SECONDS = 2.0
FIRST_CYCLE_DELAY_SECONDS = 1.0
#: the log shipper's offsets (issue 22), beside the config file
LOGSHIP_STATE_FILE = "logship-state.json"
#: the shipper flushes for 1 s on stop; a request in flight may take a little longer
LOGSHIP_JOIN_SECONDS = 1.5


class Collector(Protocol):
    """What the daemon needs from `fleetwatch.agent.snapshot.SnapshotCollector`."""

    def collect(self) -> dict[str, Any]: ...

    def collect_live(self) -> dict[str, Any]: ...

    def reconfigure(self, config: dict[str, Any]) -> None: ...


CollectorFactory = Callable[[dict[str, Any]], Collector]


def default_collector_factory(config: dict[str, Any]) -> Collector:
    from fleetwatch.agent.snapshot import SnapshotCollector

    collector: Collector = SnapshotCollector(config)
    return collector


def set_process_scan(collector: Collector, enabled: bool) -> None:
    """B2 hook: tell the collector whether this cycle scans processes."""
    if hasattr(collector, "scan_processes"):
        collector.scan_processes = enabled


class AgentDaemon:
    def __init__(
        self,
        config_path: Path,
        *,
        collector_factory: CollectorFactory = default_collector_factory,
        to_stderr: bool = True,
    ) -> None:
        self.config_path = config_path
        self.base_dir = config_path.parent
        # ConfigError on a broken file or hub URL (at start: exit 2; on a reload: edit ignored)
        self.watcher = ConfigWatcher.open(config_path, check=self._connection)
        config = self.watcher.current
        self.state = RuntimeState(config=config, config_path=config_path)
        ident = (config["server_id"], config["api_key"])
        self.client = HubClient(self._connection(config), *ident, self._live_demand)
        self.live_client = HubClient(self._connection(config), *ident, self._live_demand)
        self.logs_client = HubClient(self._connection(config), *ident)
        self.logging = AgentLogging(self.base_dir, to_stderr=to_stderr)
        self.logging.apply(config)
        self.buffer = DurableBuffer(
            resolve_path(config["buffer_file"], self.base_dir), config["buffer_max_bytes"]
        )
        self.collector = collector_factory(config)
        self.sender = Sender(
            self.buffer, self.client, self.state, RemoteConfig(config_path), self._enrolled
        )
        self.live = LiveSampler(
            lambda: collector_factory(self.state.config), self.live_client, self.state
        )
        self.logship = LogShipper(
            self.logs_client,
            self.base_dir / LOGSHIP_STATE_FILE,
            lambda: self.state.config,
            self.state.stop,
        )
        self.governor = BudgetGovernor()
        self.status = StatusLink()
        runner = CommandRunner(
            config.get("commands"),
            Journal(self.base_dir / "commands.journal"),
            send=lambda _text: None,
        )
        self.processes = ProcessManager(
            config.get("processes"), self.base_dir / "processes", send=lambda _text: None
        )
        self.control = ControlChannel(
            lambda: self.client.conn,
            self._control_auth,
            runner,
            self._live_demand,
            self.sender.poll_config_now,
            self.processes,
        )

    def _control_auth(self) -> str | None:
        client = self.client
        return f"{client.server_id}:{client.api_key}" if client.enrolled else None

    def _live_demand(self, live: Any) -> None:
        """A hub answer said whether somebody watches this host (live on demand)."""
        if self.state.set_live_demand(live):
            log.info("the hub asks for live samples: somebody is watching this host")
            self.live.notify()

    @staticmethod
    def _connection(config: dict[str, Any]) -> HubConnection:
        return HubConnection(config["dashboard_url"], verify_ssl=config["verify_ssl"])

    # --- lifecycle -----------------------------------------------------------------------

    def request_stop(self, reason: str = "stop requested") -> None:
        if self.state.stop.is_set():
            return
        log.info("%s: finishing the current cycle and delivery", reason)
        self.state.stop_deadline = time.monotonic() + STOP_GRACE_SECONDS
        self.state.stop.set()
        self.sender.wake()
        self.live.notify()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.request_stop(f"received {signal.Signals(signum).name}")

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), self._on_signal)

    def run(self) -> int:
        """Run until stopped; returns the exit code (0)."""
        self._install_signals()
        config = self.state.config
        log.info(
            "fleetwatch agent %s started (pid %d): config %s, hub %s, every %d s, "
            "%d snapshot(s) waiting in the buffer",
            __version__,
            os.getpid(),
            self.config_path,
            config["dashboard_url"],
            interval_seconds(config),
            len(self.buffer),
        )
        self.sender.start()
        self.live.start()
        self.logship.start()
        self.control.start()
        self.processes.start()
        try:
            self._loop()
        finally:
            self._shutdown()
        return 0

    def _loop(self) -> None:
        # counter baselines now, the first snapshot a moment later: its CPU % and rates then
        # describe the last second, not the time since boot
        prime = getattr(self.collector, "prime", None)
        if callable(prime):
            prime()
        first_delay = min(FIRST_CYCLE_DELAY_SECONDS, interval_seconds(self.state.config))
        next_at = time.monotonic() + first_delay
        last_start: float | None = None
        while not self.state.stop.is_set():
            now = time.monotonic()
            if now < next_at:
                self.state.stop.wait(min(next_at - now, RELOAD_CHECK_SECONDS))
                if self._reload() and last_start is not None:
                    next_at = last_start + interval_seconds(self.state.config)
                continue
            last_start = now
            try:
                self._cycle()
            except Exception:  # the top of a daemon loop: log and keep going
                log.exception("cycle %d failed", self.state.cycles + 1)
            interval = interval_seconds(self.state.config)
            next_at += interval
            if time.monotonic() - next_at >= interval:  # far behind: skip ticks, never burst
                next_at = time.monotonic() + interval

    def _shutdown(self) -> None:
        self.request_stop()
        deadline = self.state.stop_deadline  # one grace for every thread, not one each

        def left(cap: float = STOP_GRACE_SECONDS) -> float:
            return min(cap, max(0.05, deadline - time.monotonic()))

        finished = self.sender.join(left())
        self.live.join(left(0.5))
        if self.logship.join(left(LOGSHIP_JOIN_SECONDS)):
            self.logs_client.close()
        self.processes.stop_all()
        self.control.stop()
        self.status.stop()
        waiting = len(self.buffer)
        if finished:  # else a request is still in flight: the process exit closes everything
            self.buffer.close()
            self.client.close()
        if not self.live.thread.is_alive():
            self.live_client.close()
        log.info(
            "stopped after %d cycles (%d snapshot(s) delivered this run, %d kept in the buffer)",
            self.state.cycles,
            self.sender.delivered_total,
            waiting,
        )
        self.logging.close()

    # --- one cycle -----------------------------------------------------------------------

    def _cycle(self) -> None:
        self._reload()
        config = self.state.config
        started = time.perf_counter()
        scan = self.governor.decide(config["budget_cpu_percent"], config["budget_rss_mb"])
        set_process_scan(self.collector, scan)
        snapshot = self.collector.collect()
        snapshot.setdefault("snapshot_id", uuid.uuid4().hex)
        snapshot.setdefault("collected_at", datetime.now(UTC).isoformat())
        snapshot["agent"] = {**(snapshot.get("agent") or {}), **self.governor.report()}
        body = json.dumps(snapshot, separators=(",", ":")).encode()
        dropped = self.buffer.append(str(snapshot["snapshot_id"]), body)
        if dropped:
            log.warning(
                "buffer full (%d bytes): dropped the %d oldest snapshot(s), %d dropped in total",
                self.buffer.max_bytes,
                dropped,
                self.buffer.dropped_total,
            )
        self.state.cycles += 1
        self.sender.wake()
        self.status.publish(snapshot, config.get("status_listen", ""), self.collector)
        log.debug(
            "cycle %d: snapshot %s (%d bytes) buffered in %.1f ms; %d waiting",
            self.state.cycles,
            snapshot["snapshot_id"],
            len(body),
            (time.perf_counter() - started) * 1000,
            len(self.buffer),
        )

    # --- configuration -------------------------------------------------------------------

    def _reload(self) -> bool:
        """Apply a changed config file; True when something changed."""
        old = self.state.config
        new = self.watcher.poll()
        if new is None:
            return False
        self.state.config = new
        self.logging.apply(new)
        if new["buffer_max_bytes"] != old["buffer_max_bytes"]:
            dropped = self.buffer.set_max_bytes(new["buffer_max_bytes"])
            if dropped:
                log.warning("buffer_max_bytes lowered: dropped the %d oldest snapshot(s)", dropped)
        if new["buffer_file"] != old["buffer_file"]:
            log.warning("buffer_file changes take effect when the agent restarts")
        if (new["dashboard_url"], new["verify_ssl"]) != (old["dashboard_url"], old["verify_ssl"]):
            self.client.replace_connection(self._connection(new))
            self.live_client.replace_connection(self._connection(new))
            self.logs_client.replace_connection(self._connection(new))
        ident = (new["server_id"], new["api_key"])
        if ident != (self.client.server_id, self.client.api_key):
            for client in (self.client, self.live_client, self.logs_client):
                client.server_id, client.api_key = ident
            self.sender.need_register = not self.client.enrolled
        self.collector.reconfigure(new)
        self.live.source_reconfigure(new)
        if new.get("processes") != old.get("processes"):
            self.processes.configure(new.get("processes"))
        if new.get("commands") != old.get("commands"):
            self.control.runner.policy = new.get("commands")
            log.info("remote commands: %s", "on" if new.get("commands") else "off")
        self.live.notify()
        self.sender.wake()
        return True

    def _enrolled(self, server_id: str, api_key: str) -> None:
        """Called by the sender after a registration: share and persist the identity."""
        self.live_client.server_id, self.live_client.api_key = server_id, api_key
        self.logs_client.server_id, self.logs_client.api_key = server_id, api_key
        save_identity(self.config_path, server_id, api_key, self.state.config["dashboard_url"])
        self.live.notify()


def run_agent(config_path: Path) -> int:
    """`fleetwatch agent run`: build the daemon and run it until a signal stops it."""
    daemon = AgentDaemon(config_path)
    code = daemon.run()
    sys.stderr.flush()
    return code
