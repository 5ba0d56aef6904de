"""Compact encoding of JSON documents stored in LargeBinary columns (`detail`, `latest`).

Interface: `pack(obj) -> bytes`, `pack_json(text) -> bytes` (JSON already serialised, e.g. by
pydantic), `unpack(data) -> obj`. Callers never look inside; a leading format byte says how the
rest is encoded, so the format can change without a migration:

- `S` (written now for snapshots of a server that has a reference): 8-byte key (signed
  big-endian) of a *server reference* (`store/references.py`: one of that server's own earlier
  snapshots, stored in `codec_refs`), then zstd (level 1) of the JSON text with that reference as
  raw-content dictionary. A server's snapshots share most of their text (process, service, disk
  and NIC names, totals), so this halves the size (measured on the bench fleet: ~590 vs ~1,070
  bytes). The key is a hash of the reference, so a process-wide cache of references is right
  for every database; on a miss `unpack` asks the sources registered by open databases.
- `Z` (written for everything else) of the JSON text with the frozen dictionary
  `codec_dict_v1.bin` (the key names of every wire model plus common process, service and
  device names) as raw-content dictionary; no frame checksum, no dictionary id. Six times
  faster than `d` at a similar size (measured on a 5.3 KB seed-001-shaped snapshot: 20 us,
  ~1,040 bytes vs 120 us, ~950 bytes).
- `d`: raw deflate (level 6) of the orjson text with the same dictionary (still read).
- `z`: zlib of the orjson text (the first format; still read).

The dictionary file must never change once rows use it: a new dictionary is a new format byte.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from importlib import resources
from typing import Any

import orjson
import zstandard

from fleetwatch.hub.store import zstd_prefix

_ZLIB = b"z"
_DICT_V1 = b"d"
_ZSTD_V1 = b"Z"
_SERVER_REF = b"S"
_KEY = struct.Struct(">q")
_RAW_DEFLATE = -15  # wbits: no zlib header/checksum; the row is its own integrity unit

#: Loaded once at import: an immutable constant, not state.
_DICTIONARY_V1: bytes = (
    resources.files("fleetwatch.hub.store").joinpath("codec_dict_v1.bin").read_bytes()
)

#: zstd level: 3 is zstd's default; 6 saves ~10 % more at 2.5x the time.
LEVEL = 3

_ZSTD_DICT_V1 = zstandard.ZstdCompressionDict(
    _DICTIONARY_V1, dict_type=zstandard.DICT_TYPE_RAWCONTENT
)
_ZSTD_DICT_V1.precompute_compress(level=LEVEL)
#: zstd (de)compressors must not be shared between threads: one of each per thread.
_local = threading.local()

#: Primed once and only ever copied (the `d` format): `copy()` is thread-safe.
_PRIMED_DECOMPRESSOR = zlib.decompressobj(_RAW_DEFLATE, zdict=_DICTIONARY_V1)


def _compressor() -> zstandard.ZstdCompressor:
    found: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if found is None:
        found = _local.compressor = zstandard.ZstdCompressor(
            level=LEVEL, dict_data=_ZSTD_DICT_V1, write_checksum=False, write_dict_id=False
        )
    return found


def _decompressor() -> zstandard.ZstdDecompressor:
    found: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if found is None:
        found = _local.decompressor = zstandard.ZstdDecompressor(dict_data=_ZSTD_DICT_V1)
    return found


def pack(obj: Any) -> bytes:
    """Encode a JSON-compatible object (dicts, lists, str, numbers, bool, None)."""
    return pack_json(orjson.dumps(obj))


def pack_json(text: bytes) -> bytes:
    """Encode a document already serialised as JSON (UTF-8)."""
    return _ZSTD_V1 + _compressor().compress(text)


def reference_key(content: bytes) -> int:
    """The key of a reference: 64 bits of its BLAKE2b hash, as a signed integer (BIGINT)."""
    return int.from_bytes(hashlib.blake2b(content, digest_size=8).digest(), "big", signed=True)


def _as_dict(content: bytes) -> zstandard.ZstdCompressionDict:
    # Made per use, never cached: zstd keeps a ~25 KB decoding table on a dictionary object
    # once it decompressed with it, which for 1,000 cached references was 25 MiB of RSS.
    return zstandard.ZstdCompressionDict(content, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


#: zstd level against a server reference: 1 is as small as 3 there (~580 bytes), and faster
REFERENCE_LEVEL = 1


def packer_for(key: int, reference: bytes) -> Callable[[bytes], bytes]:
    """A function that encodes texts against one server reference (format `S`), in the
    calling thread. zstd references the reference as a prefix on the thread's one context
    (`zstd_prefix`); without that backend a compressor is made per call of `packer_for` and
    dropped after (its zstd context holds ~100 KB of tables, too much to keep per server; a
    batch, an agent's replay, shares one)."""
    prefix = _SERVER_REF + _KEY.pack(key)
    if zstd_prefix.available():

        def pack_prefixed(text: bytes) -> bytes:
            frame = zstd_prefix.compress(reference, text, REFERENCE_LEVEL)
            return prefix + (frame if frame is not None else _compress_with(reference, text))

        return pack_prefixed
    compressor = _reference_compressor(reference)

    def pack(text: bytes) -> bytes:
        return prefix + compressor.compress(text)

    return pack


def _reference_compressor(reference: bytes) -> zstandard.ZstdCompressor:
    return zstandard.ZstdCompressor(
        level=REFERENCE_LEVEL,
        dict_data=_as_dict(reference),
        write_checksum=False,
        write_dict_id=False,
    )


def _compress_with(reference: bytes, text: bytes) -> bytes:
    return _reference_compressor(reference).compress(text)


#: `source(key) -> reference content or None`; each open database registers one.
Source = Callable[[int], bytes | None]
_sources: list[Source] = []
#: recently used references' texts by key (content-addressed, so right for every database)
_references: OrderedDict[int, bytes] = OrderedDict()
_references_lock = threading.Lock()
CACHED_REFERENCES = 1024


def register_source(source: Source) -> None:
    with _references_lock:
        _sources.append(source)


def unregister_source(source: Source) -> None:
    with _references_lock:
        if source in _sources:
            _sources.remove(source)


def remember_reference(key: int, reference: bytes) -> None:
    with _references_lock:
        _references[key] = reference
        _references.move_to_end(key)
        while len(_references) > CACHED_REFERENCES:
            _references.popitem(last=False)


def _reference(key: int) -> bytes:
    with _references_lock:
        found = _references.get(key)
        if found is not None:
            _references.move_to_end(key)
            return found
        sources = list(_sources)
    for source in sources:
        content = source(key)
        if content is not None:
            remember_reference(key, content)
            return content
    raise ValueError(f"stored reference {key} not found")


def unpack_text(data: bytes) -> bytes:
    """The JSON text of what `pack_json` wrote (format `Z`)."""
    if data[:1] != _ZSTD_V1:
        raise ValueError(f"not a {_ZSTD_V1!r} document")
    return _decompressor().decompress(data[1:])


def unpack(data: bytes | None) -> Any:
    """Decode what `pack` produced (any format ever written); `None`/empty gives `None`."""
    if not data:
        return None
    fmt, body = data[:1], data[1:]
    if fmt == _SERVER_REF:
        (key,) = _KEY.unpack_from(body)
        against = zstandard.ZstdDecompressor(dict_data=_as_dict(_reference(key)))
        return orjson.loads(against.decompress(body[_KEY.size :]))
    if fmt == _ZSTD_V1:
        return orjson.loads(_decompressor().decompress(body))
    if fmt == _DICT_V1:
        decompressor = _PRIMED_DECOMPRESSOR.copy()
        return orjson.loads(decompressor.decompress(body) + decompressor.flush())
    if fmt == _ZLIB:
        return orjson.loads(zlib.decompress(body))
    raise ValueError(f"unknown stored format {fmt!r}")
