"""Frames packed against a per-call prefix on one context per thread (`store/zstd_prefix.py`)
decode with that reference as raw-content dictionary, whatever the thread or the previous call."""

from __future__ import annotations

import os
import threading

import orjson
import pytest
import zstandard

from factories import make_snapshot
from fleetwatch.hub.store import codec, zstd_prefix

pytestmark = pytest.mark.skipif(
    not zstd_prefix.available(), reason="zstandard's CFFI backend is not importable"
)


def _text(i: int, processes: int = 3) -> bytes:
    snap = make_snapshot(snapshot_id=f"p-{i}")
    snap["processes"] = [{"pid": n, "name": f"proc-{n}-{i % 3}"} for n in range(processes)]
    return orjson.dumps(snap)


def _decode(frame: bytes, reference: bytes) -> bytes:
    as_dict = zstandard.ZstdCompressionDict(reference, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdDecompressor(dict_data=as_dict).decompress(frame)


def test_each_frame_decodes_with_its_own_reference_only() -> None:
    first, second = _text(0), b'{"entirely": "other", "text": [1, 2, 3]}' * 40
    a = zstd_prefix.compress(first, _text(1), level=1)
    b = zstd_prefix.compress(second, _text(2), level=1)  # same context, another prefix
    assert a is not None and b is not None
    assert _decode(a, first) == _text(1)
    assert _decode(b, second) == _text(2)
    assert len(a) < len(b)  # the first one did use its reference: it shares most of its text
    with pytest.raises(zstandard.ZstdError):
        _decode(a, b"")  # needs the reference


def test_texts_larger_than_the_buffer_and_incompressible_ones_round_trip() -> None:
    reference = _text(0)
    big = _text(5, processes=2000)
    noise = os.urandom(40_000)
    for text in (big, noise, b"", _text(6)):
        frame = zstd_prefix.compress(reference, text, level=1)
        assert frame is not None and _decode(frame, reference) == text


def test_threads_keep_contexts_of_their_own() -> None:
    references = [_text(100 + t) for t in range(4)]
    failures: list[str] = []

    def work(t: int) -> None:
        for i in range(200):
            text = _text(i)
            frame = zstd_prefix.compress(references[t], text, level=1)
            if frame is None or _decode(frame, references[t]) != text:
                failures.append(f"thread {t}, text {i}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_the_codec_reads_what_the_packer_writes() -> None:
    reference = _text(0)
    key = codec.reference_key(reference)
    codec.remember_reference(key, reference)
    blob = codec.packer_for(key, reference)(_text(9))
    assert blob[:1] == b"S"
    assert codec.unpack(blob) == orjson.loads(_text(9))
