"""The few BER shapes an SNMP v2c agent reads and writes (RFC 3416 messages, X.690 BER).

Why not pysnmp's codec: decoding a GET and encoding its answer with pysnmp's `proto.api` and
pyasn1 costs ~330 us (measured: 3,000 messages/s on this machine), a tenth of what net-snmp's
`snmpd` answers; this module does the same in a few microseconds, so the responder keeps up
with `snmpd` (`bench/snmp.py`). It is strict: anything it does not understand raises
`BerError` and the message is dropped, as an agent must. `tests/unit/test_snmp_ber.py` checks
it against pysnmp's codec both ways.
"""

from __future__ import annotations

from dataclasses import dataclass

INTEGER, OCTET_STRING, NULL, OID, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
COUNTER32, GAUGE32, TIMETICKS, COUNTER64 = 0x41, 0x42, 0x43, 0x46
NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW = 0x80, 0x81, 0x82
GET, GET_NEXT, RESPONSE, SET, GET_BULK = 0xA0, 0xA1, 0xA2, 0xA3, 0xA5
#: error-status values the responder answers with
TOO_BIG, NOT_WRITABLE = 1, 17
V2C = 1  # the version field of an SNMPv2c message

Oid = tuple[int, ...]


class BerError(ValueError):
    """Not a message this agent reads."""


@dataclass(frozen=True, slots=True)
class Request:
    version: int
    community: bytes
    kind: int  # GET, GET_NEXT, GET_BULK, SET, ...
    request_id: int
    non_repeaters: int  # GET_BULK only (error-status in other PDUs)
    max_repetitions: int  # GET_BULK only (error-index in other PDUs)
    oids: tuple[Oid, ...]


def length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + length(len(content)) + content


def integer(value: int, tag: int = INTEGER) -> bytes:
    """A signed INTEGER (or, with an application tag, an unsigned one: Gauge32, ...)."""
    size = (value + (value < 0)).bit_length() // 8 + 1
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def unsigned(value: int, tag: int) -> bytes:
    if value < 0:
        raise ValueError("an unsigned SNMP value cannot be negative")
    return integer(value, tag)


def octets(value: bytes | str) -> bytes:
    return tlv(OCTET_STRING, value.encode() if isinstance(value, str) else value)


def oid(arcs: Oid) -> bytes:
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"not an OID: {arcs}")
    out = bytearray()
    for arc in (arcs[0] * 40 + arcs[1], *arcs[2:]):
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return tlv(OID, bytes(out))


def _head(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at `pos`."""
    if pos + 2 > end:
        raise BerError("truncated")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise BerError("bad length")
        size = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        size = first
    if pos + size > end:
        raise BerError("truncated")
    return tag, pos, pos + size


def _expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    got, start, stop = _head(data, pos, end)
    if got != tag:
        raise BerError(f"expected tag 0x{tag:02x}, got 0x{got:02x}")
    return start, stop


def _int(data: bytes, pos: int, end: int) -> tuple[int, int]:
    start, stop = _expect(data, pos, end, INTEGER)
    if not 1 <= stop - start <= 8:
        raise BerError("bad integer")
    return int.from_bytes(data[start:stop], "big", signed=True), stop


def _oid(data: bytes, start: int, stop: int) -> Oid:
    if start == stop or data[stop - 1] & 0x80:
        raise BerError("bad OID")
    arcs: list[int] = []
    value = 0
    for byte in data[start:stop]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = (first // 40, first % 40) if first < 80 else (2, first - 80)
    return (*head, *arcs[1:])


def decode(data: bytes) -> Request:
    """A whole SNMP message (v1 or v2c framing) -> its request; `BerError` when malformed."""
    start, end = _expect(data, 0, len(data), SEQUENCE)
    version, pos = _int(data, start, end)
    c_start, pos = _expect(data, pos, end, OCTET_STRING)
    community = data[c_start:pos]
    kind, pos, pdu_end = _head(data, pos, end)
    request_id, pos = _int(data, pos, pdu_end)
    first, pos = _int(data, pos, pdu_end)
    second, pos = _int(data, pos, pdu_end)
    pos, list_end = _expect(data, pos, pdu_end, SEQUENCE)
    oids = []
    while pos < list_end:
        vb_start, pos = _expect(data, pos, list_end, SEQUENCE)
        o_start, o_end = _expect(data, vb_start, pos, OID)
        oids.append(_oid(data, o_start, o_end))
        _head(data, o_end, pos)  # the value (NULL in requests): present and well formed
    return Request(version, community, kind, request_id, first, second, tuple(oids))


def response(request: Request, varbinds: bytes, error: int = 0, index: int = 0) -> bytes:
    """The Response-PDU message answering `request`; `varbinds`: encoded (OID, value) pairs."""
    pdu = integer(request.request_id) + integer(error) + integer(index) + tlv(SEQUENCE, varbinds)
    body = integer(request.version) + octets(request.community) + tlv(RESPONSE, pdu)
    return tlv(SEQUENCE, body)


def varbind(encoded_oid: bytes, encoded_value: bytes) -> bytes:
    return tlv(SEQUENCE, encoded_oid + encoded_value)
