"""Prometheus remote-write 1.0 bodies: a `prometheus.WriteRequest` protobuf, snappy-compressed.

The message is three nested types (prompb/types.proto, remote.proto):

    WriteRequest { repeated TimeSeries timeseries = 1; }
    TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    Label        { string name = 1; string value = 2; }
    Sample       { double value = 1; int64 timestamp = 2; }  // milliseconds

so it is written here directly (no protobuf runtime or generated code): each series' labels
are encoded once per server and metric (`labels`), and a sample is a few bytes appended.
`tests/unit/test_remote_write.py` decodes the output with a reference protobuf decoder.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import cramjam

_DOUBLE = struct.Struct("<d")


def varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1  # int64: negative numbers as their two's complement
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def labels(pairs: Mapping[str, str]) -> bytes:
    """The encoded `labels` of a TimeSeries: sorted by name, as the protocol requires
    (`__name__` sorts first among lower-case names)."""
    out = b""
    for name in sorted(pairs):
        out += _field(1, _field(1, name.encode()) + _field(2, pairs[name].encode()))
    return out


def timestamp(timestamp_ms: int) -> bytes:
    """A Sample's timestamp field: the same for every series of one snapshot."""
    return b"\x10" + varint(timestamp_ms)


def series_head(encoded_labels: bytes, timestamp_field: bytes) -> bytes:
    """Everything of a one-sample TimeSeries field before the sample's value: it depends only
    on the labels and the timestamp's length, so a writer keeps it per series."""
    sample_size = 1 + _DOUBLE.size + len(timestamp_field)
    body_size = len(encoded_labels) + 1 + len(varint(sample_size)) + sample_size
    return b"\x0a" + varint(body_size) + encoded_labels + b"\x12" + varint(sample_size) + b"\x09"


def series(head: bytes, value: float, timestamp_field: bytes) -> bytes:
    """One TimeSeries field of a WriteRequest with one sample (`series_head`, `timestamp`)."""
    return head + _DOUBLE.pack(value) + timestamp_field


def compress(write_request: bytes) -> bytes:
    """The HTTP body: snappy's block format (not the framed one), as remote-write expects."""
    return bytes(cramjam.snappy.compress_raw(write_request))
