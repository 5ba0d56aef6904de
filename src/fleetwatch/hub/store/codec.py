"""Compact encoding of JSON documents stored in LargeBinary columns (`detail`, `latest`).

Interface: `pack(obj) -> bytes`, `pack_json(text) -> bytes` (JSON already serialised, e.g. by
pydantic), `unpack(data) -> obj`. Callers never look inside; a leading format byte says how the
rest is encoded, so the format can change without a migration:

- `Z` (written now): zstd level 3 of the JSON text with the frozen dictionary
  `codec_dict_v1.bin` (the key names of every wire model plus common process, service and
  device names) as raw-content dictionary; no frame checksum, no dictionary id. Six times
  faster than `d` at a similar size (measured on a 5.3 KB seed-001-shaped snapshot: 20 us,
  ~1,040 bytes vs 120 us, ~950 bytes).
- `d`: raw deflate (level 6) of the orjson text with the same dictionary (still read).
- `z`: zlib of the orjson text (the first format; still read).

The dictionary file must never change once rows use it: a new dictionary is a new format byte.
"""

from __future__ import annotations

import threading
import zlib
from importlib import resources
from typing import Any

import orjson
import zstandard

_ZLIB = b"z"
_DICT_V1 = b"d"
_ZSTD_V1 = b"Z"
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


def unpack(data: bytes | None) -> Any:
    """Decode what `pack` produced (any format ever written); `None`/empty gives `None`."""
    if not data:
        return None
    fmt, body = data[:1], data[1:]
    if fmt == _ZSTD_V1:
        return orjson.loads(_decompressor().decompress(body))
    if fmt == _DICT_V1:
        decompressor = _PRIMED_DECOMPRESSOR.copy()
        return orjson.loads(decompressor.decompress(body) + decompressor.flush())
    if fmt == _ZLIB:
        return orjson.loads(zlib.decompress(body))
    raise ValueError(f"unknown stored format {fmt!r}")
