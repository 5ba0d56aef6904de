"""An ingest worker process: `python -m fleetwatch.hub.dispatch.worker FD` (started by the hub).

FD is its end of the hub's socket pair (`pool.py`). Settings come from `FLEETWATCH_*` like
uvicorn workers'. The worker runs uvicorn's server without a listening socket: every connection
arrives from the hub as a socket plus the bytes the hub already read from it, and is served by
uvicorn's HTTP protocol (agents' writes answered without ASGI, `ingest/fasthttp.py`), primed with
those bytes. When the hub closes its end (it stops, or died), the worker stops taking
connections, finishes the requests it holds and exits.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType

import uvicorn
from fastapi import FastAPI

from fleetwatch.hub.alerts.relayfilter import WANTED
from fleetwatch.hub.dispatch.forward import COUNTS, REPLY, Forwarder, dump
from fleetwatch.hub.dispatch.pool import MAX_MESSAGE, READY, STOP
from fleetwatch.hub.dispatch.relay import Wanted
from fleetwatch.hub.ingest.writer import WRITER_KEY

log = logging.getLogger("fleetwatch.hub.dispatch")

#: how often a worker sends the hub what its `Telemetry` counted
COUNTS_SECONDS = 1.0


class _Primed(asyncio.Protocol):
    """Installs `inner` on the transport and replays the bytes the hub already read."""

    def __init__(self, inner: asyncio.Protocol, first: bytes) -> None:
        self._inner = inner
        self._first = first

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.set_protocol(self._inner)
        self._inner.connection_made(transport)
        if isinstance(self._inner, asyncio.Protocol):
            self._inner.data_received(self._first)


class WorkerServer(uvicorn.Server):
    """uvicorn's server, fed connections by the hub instead of a listening socket."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket, app: FastAPI) -> None:
        super().__init__(config)
        self._channel = channel
        self._app = app
        self._protocol: Callable[[], asyncio.Protocol] | None = None
        self._receiving = False
        self._wanted = Wanted()
        self._forwarder: Forwarder | None = None
        self._counting: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])
        config, loop = self.config, asyncio.get_running_loop()

        def protocol() -> asyncio.Protocol:
            made: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )
            return made

        self._protocol = protocol
        self._channel.setblocking(False)
        loop.add_reader(self._channel.fileno(), self._receive)
        self._receiving = True
        ctx = self._app.state.ctx
        self._forwarder = Forwarder(self._channel, ctx.db, self._wanted)
        ctx.extras[WRITER_KEY] = self._forwarder
        self._channel.send(READY)
        self._counting = loop.create_task(self._send_counts())

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Ctrl-C reaches the whole process group: the hub decides when its workers stop (it
        closes their channels). SIGTERM sent to a worker itself still stops it."""
        if sig == signal.SIGINT:
            return
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)  # requests in progress finish (the hub answers them)
        if self._counting is not None:
            self._counting.cancel()
        self._flush_counts()
        self._close_channel()

    async def _send_counts(self) -> None:
        while True:
            await asyncio.sleep(COUNTS_SECONDS)
            self._flush_counts()

    def _flush_counts(self) -> None:
        """Send the hub what was counted (kept for the next try if the channel is full)."""
        telemetry = self._app.state.ctx.telemetry
        delta = telemetry.take()
        if not delta or self._channel.fileno() < 0:
            return
        try:
            self._channel.send(COUNTS + dump(delta))
        except BlockingIOError:
            telemetry.merge(delta)
        except OSError as exc:
            log.debug("ingest worker: counts not sent (%s)", exc)

    def _stop_receiving(self) -> None:
        """Take no more connections (the channel stays open for the hub's answers)."""
        if not self._receiving:
            return
        self._receiving = False
        asyncio.get_running_loop().remove_reader(self._channel.fileno())

    def _close_channel(self) -> None:
        self._stop_receiving()
        self._channel.close()

    def _receive(self) -> None:
        while True:
            try:
                first, fds, _flags, _addr = socket.recv_fds(self._channel, MAX_MESSAGE, 1)
            except BlockingIOError:
                return
            except OSError:
                first, fds = b"", []
            if not first and not fds:  # the hub closed its end: stop
                if self._forwarder is not None:
                    self._forwarder.close()
                self._stop_receiving()
                self.should_exit = True
                return
            if not fds and first == STOP:  # finish what is held: keep reading the answers
                self.should_exit = True
            elif not fds and first.startswith(REPLY) and self._forwarder is not None:
                self._forwarder.on_reply(first)
            elif not fds and first.startswith(WANTED):
                self._wanted.update(first)
            for fd in fds:
                self._adopt(socket.socket(fileno=fd), first)

    def _adopt(self, sock: socket.socket, first: bytes) -> None:
        assert self._protocol is not None
        make = self._protocol
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        task = loop.create_task(loop.connect_accepted_socket(lambda: _Primed(make(), first), sock))
        task.add_done_callback(_closed_if_failed(sock))


def _closed_if_failed(sock: socket.socket) -> Callable[[asyncio.Task[object]], None]:
    def done(task: asyncio.Task[object]) -> None:
        if task.cancelled() or task.exception() is not None:
            log.debug("ingest worker: a handed connection could not be served: %r", task)
            sock.close()

    return done


def main(argv: list[str] | None = None) -> int:
    import os

    from fleetwatch.hub.app import create_app
    from fleetwatch.hub.ingest.fasthttp import AgentProtocol
    from fleetwatch.hub.logsetup import log_config
    from fleetwatch.hub.logsetup.crash import early_crash_log
    from fleetwatch.hub.settings import load_settings

    args = sys.argv[1:] if argv is None else argv
    channel = socket.socket(fileno=int(args[0]))
    settings = load_settings()
    tag = f"worker{os.environ.get('FLEETWATCH_INGEST_WORKER', os.getpid())}"
    with early_crash_log(settings.data_dir):
        app = create_app(settings, ingest_worker=True)
        config = uvicorn.Config(
            app,
            log_config=log_config(settings, tag),
            access_log=settings.access_log,
            server_header=False,
            timeout_graceful_shutdown=20,
            http=AgentProtocol,
        )
        WorkerServer(config, channel, app).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
