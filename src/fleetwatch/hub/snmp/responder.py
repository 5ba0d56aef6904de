"""H12: the SNMP v2c responder. `answer` turns one request into its response from a `Table`;
`Responder` is the UDP endpoint (GET, GETNEXT, GETBULK; SET is refused with notWritable).

A message with another community gets no answer (as net-snmp does), and neither does an
SNMPv1 message, a malformed one, or a PDU an agent does not take (a trap, a response): each is
counted in `fleetwatch_hub_snmp_requests_total{outcome}`. Answers come from the table last
built; a request that finds it older than `refresh_seconds` waits while it is rebuilt (with
any others that arrive meanwhile), so numbers are never older than that, and a hub nobody
polls reads nothing for SNMP.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import cast

from fleetwatch.hub.snmp import ber
from fleetwatch.hub.snmp.table import Table
from fleetwatch.hub.telemetry import Telemetry

log = logging.getLogger("fleetwatch.hub.snmp")
#: an answer stays within one UDP datagram; GETBULK answers are cut short to fit
MAX_MESSAGE_BYTES = 65_000
#: GETBULK answers at most this many variable bindings
MAX_BULK_VARBINDS = 1_000
#: requests held while the table is rebuilt (more are dropped; the manager retries)
MAX_WAITING = 10_000
_NO_SUCH_OBJECT = bytes((ber.NO_SUCH_OBJECT, 0))
_END_OF_MIB = bytes((ber.END_OF_MIB_VIEW, 0))
_NULL = bytes((ber.NULL, 0))


def _next(table: Table, oid: ber.Oid) -> tuple[bytes, ber.Oid | None]:
    """(varbind, the OID it names or None past the end) of the OID after `oid`."""
    i = table.next(oid)
    if i is None:
        return ber.varbind(ber.oid(oid), _END_OF_MIB), None
    return ber.varbind(table.encoded[i], table.values[i]), table.oids[i]


def _bulk(table: Table, request: ber.Request) -> bytes:
    oids = request.oids
    fixed = min(max(request.non_repeaters, 0), len(oids))
    parts = [_next(table, o)[0] for o in oids[:fixed]]
    size = sum(map(len, parts))
    cursors: list[ber.Oid | None] = list(oids[fixed:])
    for _ in range(max(request.max_repetitions, 0) if cursors else 0):
        if all(c is None for c in cursors):
            break
        for j, cursor in enumerate(cursors):
            if cursor is None:  # RFC 3416 4.2.3: past the end, endOfMibView again
                last = oids[fixed + j]
                part = ber.varbind(ber.oid(last), _END_OF_MIB)
            else:
                part, cursors[j] = _next(table, cursor)
            if len(parts) >= MAX_BULK_VARBINDS or size + len(part) > MAX_MESSAGE_BYTES - 200:
                return b"".join(parts)
            parts.append(part)
            size += len(part)
    return b"".join(parts)


def answer(table: Table, request: ber.Request) -> bytes | None:
    """The response message, or None for a PDU an agent does not answer."""
    kind = request.kind
    if kind == ber.GET:
        parts = []
        for oid in request.oids:
            i = table.get(oid)
            value = _NO_SUCH_OBJECT if i is None else table.values[i]
            parts.append(ber.varbind(ber.oid(oid) if i is None else table.encoded[i], value))
        varbinds = b"".join(parts)
    elif kind == ber.GET_NEXT:
        varbinds = b"".join(_next(table, oid)[0] for oid in request.oids)
    elif kind == ber.GET_BULK:
        varbinds = _bulk(table, request)
    elif kind == ber.SET:
        echo = b"".join(ber.varbind(ber.oid(o), _NULL) for o in request.oids)
        return ber.response(request, echo, ber.NOT_WRITABLE, 1)
    else:
        return None
    reply = ber.response(request, varbinds)
    if len(reply) > MAX_MESSAGE_BYTES:
        return ber.response(request, b"", ber.TOO_BIG, 0)
    return reply


class Responder(asyncio.DatagramProtocol):
    def __init__(
        self,
        community: str,
        table: Table,
        rebuild: Callable[[], Awaitable[Table]],
        telemetry: Telemetry,
        refresh_seconds: float = 5.0,
    ) -> None:
        self.community = community.encode()
        self.table = table
        self.rebuild = rebuild
        self.telemetry = telemetry
        self.refresh_seconds = refresh_seconds
        self.transport: asyncio.DatagramTransport | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._waiting: list[tuple[ber.Request, tuple[str | int, ...]]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's is no subclass

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        count = self.telemetry.count
        try:
            request = ber.decode(data)
        except (ber.BerError, IndexError, ValueError):
            count("snmp", "malformed")
            return
        if request.version != ber.V2C:
            count("snmp", "unsupported")
            return
        if not hmac.compare_digest(request.community, self.community):
            count("snmp", "bad_community")
            return
        if time.monotonic() - self.table.built_at <= self.refresh_seconds:
            self._reply(request, addr)
        elif len(self._waiting) < MAX_WAITING:  # answered once the table is rebuilt
            self._waiting.append((request, addr))
            if self._refreshing is None or self._refreshing.done():
                self._refreshing = asyncio.get_running_loop().create_task(self._rebuild())

    def _reply(self, request: ber.Request, addr: tuple[str | int, ...]) -> None:
        try:
            reply = answer(self.table, request)
        except ValueError:  # an OID that cannot be encoded back (first arc > 2)
            reply = None
        if reply is None or self.transport is None:
            self.telemetry.count("snmp", "unsupported")
            return
        self.transport.sendto(reply, addr)
        self.telemetry.count("snmp", "answered")

    async def _rebuild(self) -> None:
        try:
            self.table = await self.rebuild()
        except Exception:  # a database hiccup: answer from the last table
            log.exception("SNMP table rebuild failed")
        waiting, self._waiting = self._waiting, []
        for request, addr in waiting:
            self._reply(request, addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self._refreshing is not None:
            self._refreshing.cancel()
