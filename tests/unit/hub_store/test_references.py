"""The in-process side of per-server compression references (no database needed)."""

from __future__ import annotations

import orjson
import pytest

from factories import make_snapshot
from fleetwatch.hub.store import codec, references


def _text(i: int, processes: int = 2) -> bytes:
    snap = make_snapshot(snapshot_id=f"t-{i}")
    snap["processes"] = [
        {"pid": n, "name": f"proc-{n}", "cpu_percent": (i + n) % 7} for n in range(processes)
    ]
    return orjson.dumps(snap)


def _reference(text: bytes, created: float = 0.0) -> references.Reference:
    return references.Reference(codec.reference_key(text), text, created)


def test_a_server_without_reference_is_packed_plainly_and_offers_its_text() -> None:
    refs = references.References()
    blobs, offer = refs.pack("a", [_text(1), _text(2)], now=10.0)
    assert [b[:1] for b in blobs] == [b"Z", b"Z"]
    assert offer == references.Offer(_text(2), renew=False)
    refs.adopt("a", _reference(_text(0)))
    blobs, offer = refs.pack("a", [_text(3), _text(4)], now=11.0)
    assert [b[:1] for b in blobs] == [b"S", b"S"] and offer is None
    assert [codec.unpack(b)["snapshot_id"] for b in blobs] == ["t-3", "t-4"]


def test_a_grown_snapshot_offers_a_new_reference_only_after_the_minimum_age() -> None:
    refs = references.References()
    refs.adopt("a", _reference(_text(0), created=0.0))
    refs.pack("a", [_text(1)], now=1.0)  # sets the baseline size
    big = _text(2, processes=60)
    _, offer = refs.pack("a", [big], now=references.RENEW_AFTER_SECONDS - 1)
    assert offer is None  # too young to renew
    _, offer = refs.pack("a", [_text(3), big], now=references.RENEW_AFTER_SECONDS + 1)
    assert offer == references.Offer(big, renew=True)


def test_the_least_recently_seen_server_is_dropped_beyond_capacity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(references, "CAPACITY", 2)
    refs = references.References()
    for name in ("a", "b"):
        refs.adopt(name, _reference(_text(0)))
    refs.pack("a", [_text(1)], now=1.0)  # "a" seen last: "b" goes first
    refs.adopt("c", _reference(_text(5)))
    assert refs.pack("b", [_text(1)], now=2.0)[1] is not None
    assert refs.pack("a", [_text(1)], now=2.0)[1] is None
