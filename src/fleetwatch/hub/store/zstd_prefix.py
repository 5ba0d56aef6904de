"""zstd against a per-call prefix, on one compression context per thread.

`python-zstandard`'s `ZstdCompressor` binds its dictionary at construction and allocates a
fresh context each time (~14 us, then ~9 us more on the first frame), which was most of the
cost of packing a snapshot against its server's reference (~37 us per request, ~8 us of it
compressing). zstd itself can reuse one context and reference a different *prefix* for each
frame (`ZSTD_CCtx_refPrefix`: the reference's bytes as raw content, nothing built ahead): the
same frames decode with the reference as raw-content dictionary, which is how `codec.unpack`
reads them. Measured on the bench snapshot: ~12 us per request, blobs ~2 % larger than the
dictionary's (zstd picks its parameters for a prefix slightly differently).

The functions come from `python-zstandard`'s own CFFI backend (`zstandard.backend_cffi`, the
same libzstd build). Where it cannot load, `compress` returns None and callers use
`python-zstandard`'s regular API.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

_ffi: Any = None
_lib: Any = None
try:
    _backend: Any = importlib.import_module("zstandard.backend_cffi")
    _ffi, _lib = _backend.ffi, _backend.lib
except ImportError:  # pragma: no cover - cffi missing: callers fall back
    pass

_local = threading.local()


class _Context:
    """One thread's compression context and output buffer."""

    def __init__(self, level: int) -> None:
        self.cctx: Any = _ffi.gc(_lib.ZSTD_createCCtx(), _lib.ZSTD_freeCCtx)
        for parameter, value in (
            (_lib.ZSTD_c_compressionLevel, level),
            (_lib.ZSTD_c_checksumFlag, 0),
            (_lib.ZSTD_c_dictIDFlag, 0),
            (_lib.ZSTD_c_contentSizeFlag, 1),
        ):
            _check(_lib.ZSTD_CCtx_setParameter(self.cctx, parameter, value))
        self.level = level
        self.size = 0
        self.buffer: Any = None

    def compress(self, prefix: bytes, text: bytes) -> bytes:
        bound = _lib.ZSTD_compressBound(len(text))
        if bound > self.size:
            self.size = max(bound, 16384)
            self.buffer = _ffi.new("char[]", self.size)
        # zstd keeps only a pointer to the prefix, for the next frame: `held` keeps the buffer
        # alive (and in place) until that frame is made; a failed call leaves the context
        # clean for the next one (ZSTD_e_end resets the session)
        held = _ffi.from_buffer(prefix)
        _check(_lib.ZSTD_CCtx_refPrefix(self.cctx, held, len(prefix)))
        written = _check(_lib.ZSTD_compress2(self.cctx, self.buffer, self.size, text, len(text)))
        del held
        return bytes(_ffi.buffer(self.buffer, written))


def _check(code: int) -> int:
    if _lib.ZSTD_isError(code):
        raise RuntimeError(_ffi.string(_lib.ZSTD_getErrorName(code)).decode())
    return code


def available() -> bool:
    return _lib is not None


def compress(prefix: bytes, text: bytes, level: int) -> bytes | None:
    """A zstd frame of `text` at `level`, with `prefix` as raw-content dictionary; None where
    the CFFI backend is not available."""
    if _lib is None:
        return None
    context: _Context | None = getattr(_local, "context", None)
    try:
        if context is None or context.level != level:
            context = _local.context = _Context(level)
        return context.compress(prefix, text)
    except RuntimeError:  # never expected; the context is made again next time
        _local.context = None
        return None
