"""Remote-write pieces without a TSDB: the bounded queue drops its oldest batches, settings
refuse what cannot work, and the protobuf bytes are the ones the protocol defines."""

from __future__ import annotations

import struct

import cramjam
import pytest

from fleetwatch.errors import ConfigError
from fleetwatch.hub.remote_write import RemoteWriteConfig
from fleetwatch.hub.remote_write import protobuf as pb
from fleetwatch.hub.remote_write.writer import Batch, Queue
from fleetwatch.hub.settings import load_settings


def test_a_full_queue_drops_the_oldest_batches_and_keeps_the_newest() -> None:
    queue = Queue(limit=100)
    assert queue.push(Batch(b"a" * 40, 4, 10)) == []
    assert queue.push(Batch(b"b" * 40, 4, 20)) == []
    dropped = queue.push(Batch(b"c" * 40, 4, 30))
    assert [b.last_id for b in dropped] == [10]
    assert [b.last_id for b in queue.batches] == [20, 30] and queue.size == 80
    # one batch larger than the limit is still kept (it is the newest data)
    assert [b.last_id for b in queue.push(Batch(b"d" * 500, 50, 40))] == [20, 30]
    assert queue.pop().last_id == 40 and queue.size == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [("remote_write_url", "vm:8428/api/v1/write"), ("remote_write_batch_samples", "5"),
     ("remote_write_queue_bytes", "1000"), ("remote_write_max_backoff_seconds", "0")],
)  # fmt: skip
def test_settings_refuse_what_cannot_work(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(environ={f"FLEETWATCH_{name.upper()}": value})


def test_off_unless_a_url_is_set() -> None:
    assert RemoteWriteConfig.of(load_settings(environ={})) is None
    config = RemoteWriteConfig.of(load_settings(environ={
        "FLEETWATCH_REMOTE_WRITE_URL": "https://vm.example/api/v1/write",
        "FLEETWATCH_REMOTE_WRITE_BEARER_TOKEN": "t0k"}))  # fmt: skip
    assert config is not None and config.bearer_token == "t0k"


def test_a_series_is_the_protobuf_the_protocol_defines() -> None:
    labels = pb.labels({"job": "x", "__name__": "up"})
    # Label{name=1, value=2} fields, `__name__` first
    assert labels == b"\x0a\x0e\x0a\x08__name__\x12\x02up" + b"\x0a\x08\x0a\x03job\x12\x01x"
    stamp = pb.timestamp(1_700_000_000_123)
    one = pb.series(pb.series_head(labels, stamp), 0.5, stamp)
    sample = b"\x09" + struct.pack("<d", 0.5) + stamp
    body = b"\x12" + bytes([len(sample)]) + sample
    assert one == b"\x0a" + bytes([len(labels) + len(body)]) + labels + body
    assert pb.varint(300) == b"\xac\x02" and pb.varint(-1) == b"\xff" * 9 + b"\x01"
    assert bytes(cramjam.snappy.decompress_raw(pb.compress(one * 3))) == one * 3
