"""The SNMP responder's own BER codec (`hub/snmp/ber.py`) checked against pysnmp's (the
reference implementation): pysnmp-encoded requests decode to the same fields, and the answers
pysnmp decodes carry the values the table holds; the MIB defines every OID the table serves."""

from __future__ import annotations

import re

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto.api import v2c

from fleetwatch.hub.snmp import ber, mib_text
from fleetwatch.hub.snmp.responder import answer
from fleetwatch.hub.snmp.table import BASE, build

HUB = {"health_score": 87.6, "uptime_seconds": 12.5, "cpu_percent": 3.25, "rss_bytes": 80 << 20,
       "stream_clients": 2, "dashboards": 1}  # fmt: skip


def overview(servers: int) -> dict[str, object]:
    rows = []
    for i in range(servers):
        rows.append({"id": f"id-{i}", "hostname": f"host-{i:03}",
                     "group_name": "g" if i % 2 else None, "created_at": 1000.0 + i,
                     "status": "online" if i % 3 else "offline",
                     "critical_alert_count": 1 if i == 4 else 0,
                     "metrics": {"cpu_percent": 10.0 + i, "memory_percent": 50.0,
                                 "disk_percent_max": 99.994}})  # fmt: skip
    return {"servers": rows}


def pysnmp_request(pdu_class: type, oids: list[tuple[int, ...]], community: str = "public",
                   **bulk: int) -> bytes:  # fmt: skip
    pdu = pdu_class()
    api = v2c.apiBulkPDU if bulk else v2c.apiPDU
    api.set_defaults(pdu)
    api.set_request_id(pdu, 123456789)
    if bulk:
        api.set_non_repeaters(pdu, bulk["non_repeaters"])
        api.set_max_repetitions(pdu, bulk["max_repetitions"])
    api.set_varbinds(pdu, [(o, v2c.null) for o in oids])
    msg = v2c.Message()
    v2c.apiMessage.set_defaults(msg)
    v2c.apiMessage.set_community(msg, community)
    v2c.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


def pysnmp_answer(data: bytes) -> tuple[int, int, list[tuple[str, object]]]:
    msg, rest = decoder.decode(data, asn1Spec=v2c.Message())
    assert rest == b""
    pdu = v2c.apiMessage.get_pdu(msg)
    assert v2c.apiPDU.get_request_id(pdu) == 123456789
    binds = [(str(o), v) for o, v in v2c.apiPDU.get_varbinds(pdu)]
    return int(v2c.apiPDU.get_error_status(pdu)), int(v2c.apiPDU.get_error_index(pdu)), binds


def test_requests_decode_like_pysnmp() -> None:
    oid = (1, 3, 6, 1, 4, 1, 12345, 4, 1, 2, 300, 2**31 - 1)
    got = ber.decode(pysnmp_request(v2c.GetRequestPDU, [oid, (1, 3, 6)], community="s3cr3t"))
    assert (got.version, got.community, got.kind) == (1, b"s3cr3t", ber.GET)
    assert got.request_id == 123456789 and got.oids == (oid, (1, 3, 6))
    bulk = ber.decode(pysnmp_request(v2c.GetBulkRequestPDU, [oid], non_repeaters=1,
                                     max_repetitions=40))  # fmt: skip
    assert (bulk.kind, bulk.non_repeaters, bulk.max_repetitions) == (ber.GET_BULK, 1, 40)


def test_answers_decode_with_pysnmp() -> None:
    table = build(overview(6), HUB)
    scalars = [
        (*BASE, 2, 1, 0),
        (*BASE, 2, 2, 0),
        (*BASE, 1, 4, 0),
        (*BASE, 4, 1, 2, 5),
        (*BASE, 7),
    ]
    status, _, binds = pysnmp_answer(answer(table, ber.decode(
        pysnmp_request(v2c.GetRequestPDU, scalars))) or b"")  # fmt: skip
    assert status == 0
    values = [v for _, v in binds]
    assert int(values[0]) == 6 and int(values[1]) == 4  # total, online
    assert int(values[2]) == 9999  # 99.994 % in hundredths
    assert bytes(values[3]) == b"host-004"
    assert values[4].tagSet == v2c.NoSuchObject.tagSet


def test_getnext_and_getbulk_walk_in_order_to_the_end() -> None:
    table = build(overview(300), HUB)
    seen: list[str] = []
    cursor = BASE
    while True:
        request = pysnmp_request(v2c.GetBulkRequestPDU, [cursor], non_repeaters=0,
                                 max_repetitions=50)  # fmt: skip
        _, _, binds = pysnmp_answer(answer(table, ber.decode(request)) or b"")
        for oid, value in binds:
            if value.tagSet == v2c.EndOfMibView.tagSet:
                break
            seen.append(oid)
        else:
            cursor = tuple(int(a) for a in binds[-1][0].split("."))
            continue
        break
    assert seen == [".".join(map(str, o)) for o in table.oids]
    assert len(seen) == 13 + 300 * 8
    last = pysnmp_request(v2c.GetNextRequestPDU, [table.oids[-1]])
    _, _, binds = pysnmp_answer(answer(table, ber.decode(last)) or b"")
    assert binds[0][1].tagSet == v2c.EndOfMibView.tagSet


def test_set_is_not_writable_and_other_pdus_get_no_answer() -> None:
    table = build(overview(1), HUB)
    status, index, _ = pysnmp_answer(answer(table, ber.decode(
        pysnmp_request(v2c.SetRequestPDU, [(*BASE, 2, 1, 0)]))) or b"")  # fmt: skip
    assert (status, index) == (17, 1)
    trap = pysnmp_request(v2c.SNMPv2TrapPDU, [(*BASE, 2, 1, 0)])
    assert answer(table, ber.decode(trap)) is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x30",
        b"\x30\x03\x02\x01",
        b"\x30\x84\xff\xff\xff\xff",
        b"\x04\x00",
        pysnmp_request(v2c.GetRequestPDU, [(1, 3, 6)])[:-1],
    ],
)
def test_malformed_messages_raise(data: bytes) -> None:
    with pytest.raises(ber.BerError):
        ber.decode(data)


def test_integers_decode_with_pyasn1() -> None:
    for value in (0, 1, 127, 128, 255, 256, -1, -128, -129, 2**31 - 1, -(2**31)):
        decoded, rest = decoder.decode(ber.integer(value), asn1Spec=v2c.Integer())
        assert (int(decoded), rest) == (value, b"")
        assert len(ber.integer(value)) <= len(encoder.encode(v2c.Integer(value)))  # minimal
    for value in (0, 127, 128, 2**32 - 1):
        assert ber.unsigned(value, ber.GAUGE32) == bytes(encoder.encode(v2c.Gauge32(value)))


def test_the_mib_defines_every_oid_the_table_serves() -> None:
    text = mib_text()
    parents = {"enterprises": (1, 3, 6, 1, 4, 1)}
    for name, parent, arc in re.findall(r"^(\w+)[ \t]+(?:OBJECT-TYPE|MODULE-IDENTITY|OBJECT "
                                        r"IDENTIFIER)[\s\S]*?::= \{ (\w+) (\d+) \}", text,
                                        re.MULTILINE):  # fmt: skip
        parents[name] = (*parents[parent], int(arc))
    defined = set(parents.values())
    for oid in build(overview(2), HUB).oids:
        column = oid[:-1]  # a scalar's .0 or a table row's index
        assert column in defined, oid
