"""Compact encoding of JSON documents stored in LargeBinary columns (`detail`, `latest`).

Interface: `pack(obj) -> bytes`, `unpack(data) -> obj`. The storage format may change (a
leading format byte says which); callers never look inside.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson

_ZLIB = b"z"


def pack(obj: Any) -> bytes:
    return _ZLIB + zlib.compress(orjson.dumps(obj), 6)


def unpack(data: bytes | None) -> Any:
    if not data:
        return None
    if data[:1] == _ZLIB:
        return orjson.loads(zlib.decompress(data[1:]))
    raise ValueError(f"unknown stored format {data[:1]!r}")
