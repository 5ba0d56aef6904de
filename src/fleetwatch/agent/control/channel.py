"""The agent's control channel (issue 21.1): one outbound WebSocket to `GET /api/agent/ws`,
authenticated with the agent's key, kept open by one thread.

It reconnects after a failure with jittered exponential backoff (1 s doubling to 60 s; a hub
that answers 401 is retried at the slowest pace), sends `hello` first on every connection, and
hands the hub's messages on: `live` to the live sampler (instant live on demand), `config` to a
config poll now (instead of at the next heartbeat), `command` / `cancel` to the command runner.
The heartbeat over HTTP stays: the hub still works with agents without the channel, and the
agent keeps reporting while the channel is down. Frames that could not be sent (results,
acks, output) wait for the next connection, so they are never lost to a reconnect.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import random
import threading
from collections.abc import Callable
from typing import Any

from fleetwatch import __version__
from fleetwatch.agent.control.commands import CommandRunner
from fleetwatch.agent.control.processes import ProcessManager
from fleetwatch.agent.control.ws import HandshakeError, WebSocket
from fleetwatch.agent.http11 import ConnectionClosed
from fleetwatch.agent.transport import HubConnection
from fleetwatch.protocol.control import HUB_TYPES, MAX_FRAME_BYTES, PATH, ControlError, decode
from fleetwatch.protocol.control import encode as encode_message

log = logging.getLogger("fleetwatch.agent.control")
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0
#: the hub is asked to prove it is there this often (a WebSocket ping; dead peers are noticed)
PING_SECONDS = 30.0
#: frames kept while the channel is down
PENDING_MAX = 5000


class ControlChannel:
    def __init__(
        self,
        conn: Callable[[], HubConnection],
        auth: Callable[[], str | None],
        runner: CommandRunner,
        on_live: Callable[[Any], None],
        on_config: Callable[[], None],
        processes: ProcessManager | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.conn = conn
        self.auth = auth
        self.runner = runner
        self.on_live = on_live
        self.on_config = on_config
        self.rng = rng or random.Random()
        self.stop_event = threading.Event()
        self.connected = threading.Event()
        self.connections = 0
        self._ws: WebSocket | None = None
        self._pending: collections.deque[str] = collections.deque(maxlen=PENDING_MAX)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        runner.send = self.send
        self.processes = processes
        if processes is not None:
            processes.send = self.send

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        ws = self._ws
        if ws is not None:
            ws.close()
        self.runner.stop()
        if self._thread is not None:
            self._thread.join(5)

    def send(self, text: str) -> None:
        """Send a frame now; without a connection it waits for the next one (at most
        `PENDING_MAX` frames, oldest dropped): results, acks and output are never lost to a
        short outage."""
        ws = self._ws
        try:
            if ws is None:
                raise ConnectionClosed("not connected")
            ws.send_text(text)
        except OSError:
            with self._lock:
                self._pending.append(text)

    def _connect(self) -> WebSocket:
        hub = self.conn()
        token = self.auth()
        if not token:
            raise HandshakeError("not enrolled yet", 401)
        tls = hub._tls_context if hub.scheme == "https" else None
        port = hub.port or (443 if hub.scheme == "https" else 80)
        headers = {
            "Authorization": f"Bearer {token}",
            "User-Agent": f"fleetwatch-agent/{__version__}",
        }
        return WebSocket.connect(
            hub.host,
            port,
            hub.prefix + PATH,
            headers,
            timeout=hub.timeout_seconds,
            tls=tls,
            max_message_bytes=MAX_FRAME_BYTES,
        )

    def _run(self) -> None:
        failures = 0
        while not self.stop_event.is_set():
            if not self.auth():  # not enrolled yet: the sender registers; look again soon
                self.stop_event.wait(1.0)
                continue
            try:
                ws = self._connect()
            except (OSError, ValueError) as exc:
                failures += 1
                status = getattr(exc, "status", 0)
                wait = (
                    BACKOFF_MAX
                    if status in (401, 403)
                    else min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** min(failures - 1, 10))
                )
                wait *= 0.5 + self.rng.random()  # jitter: agents never reconnect in step
                log.debug("control channel: %s; again in %.1f s", exc, wait)
                self.stop_event.wait(wait)
                continue
            failures = 0
            self.connections += 1
            self._serve(ws)

    def _serve(self, ws: WebSocket) -> None:
        self._ws = ws
        try:
            with self._lock:
                pending = list(self._pending)
                self._pending.clear()
            ids = [json.loads(t)["id"] for t in pending if t.startswith('{"type":"exit"')]
            states = self.processes.states() if self.processes is not None else []
            hello = encode_message(
                "hello",
                agent_version=__version__,
                pending=ids,
                processes=states,
                **self.runner.hello_fields(),
            )
            ws.send_text(hello)
            for text in pending:
                ws.send_text(text)
            self.connected.set()
            log.info("control channel connected")
            while not self.stop_event.is_set():
                try:
                    frame = ws.recv(PING_SECONDS)
                except TimeoutError:
                    ws.send(0x9, b"")  # ping: a dead connection fails the next read or send
                    frame = ws.recv(PING_SECONDS)
                self._handle(frame)
        except (OSError, ValueError) as exc:
            if not self.stop_event.is_set():
                log.info("control channel lost: %s", exc)
        finally:
            self.connected.clear()
            self._ws = None
            ws.close()

    def _process_request(self, message: dict[str, Any]) -> None:
        name, rid = str(message.get("name") or ""), str(message.get("id") or "")
        if self.processes is None:
            ok, why = False, "this host manages no processes (no `processes` in its agent config)"
        elif message["type"] == "input":
            text = message.get("text")
            if not isinstance(text, str) or "\x00" in text:
                ok, why = False, "input: text must be a string without NUL"
            else:
                ok, why = self.processes.input(name, text)
        else:
            ok, why = self.processes.act(name, str(message.get("action")))
        self.send(encode_message("ack", id=rid, ok=ok, message=why))

    def _handle(self, frame: str | bytes) -> None:
        try:
            message = decode(frame, HUB_TYPES)
        except ControlError as exc:
            self.send(encode_message("error", message=str(exc)))
            return
        kind = message["type"]
        if kind == "live":
            self.on_live(message.get("live"))
        elif kind == "config":
            self.on_config()
        elif kind == "command":
            self.runner.start(message)
        elif kind == "cancel":
            self.runner.cancel(str(message.get("id")))
        elif kind == "input" and hasattr(os, "mkfifo"):
            self._process_request(message)  # a non-blocking write to the FIFO: done here
        elif kind == "process":  # a stop may take seconds: off the read loop
            threading.Thread(target=self._process_request, args=(message,), daemon=True).start()
        elif kind == "error":
            log.warning("the hub could not use a control message: %s", message.get("message"))
