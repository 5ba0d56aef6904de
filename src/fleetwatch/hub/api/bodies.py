"""Raw request bodies: bounded reading, gzip decoding, validation errors as API errors.

`read_body` refuses bodies over `max_bytes` (413) before reading them when `Content-Length`
says so, while reading otherwise, and again after gzip decoding, which is bounded too: a small
gzip bomb never inflates past `max_bytes + 1` in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from starlette.requests import Request

from fleetwatch.hub.api.errors import ApiError, field_path
from fleetwatch.protocol.models import NO_NUL, NUL_MESSAGE

_GZIP_WBITS = 16 + zlib.MAX_WBITS


class StrictBody(BaseModel):
    """A JSON request body: unknown keys refused, and no NUL in any string of any field
    (PostgreSQL refuses NUL in text, so it must be a 422 here, never a 500 later)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise PydanticCustomError("string_nul", NUL_MESSAGE)
        return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def _too_large(max_bytes: int, what: str = "request body") -> ApiError:
    return ApiError(413, "too_large", f"{what} is larger than the limit of {max_bytes} bytes")


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, gzip-decoded when `Content-Encoding: gzip`; 400/413/415 on misuse."""
    check_length(request.headers, max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return decode_body(b"".join(chunks), request.headers, max_bytes)


def check_length(headers: Mapping[str, str], max_bytes: int) -> None:
    """413 when `Content-Length` declares more than `max_bytes`; 400 when it is not a number."""
    declared = headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise _too_large(max_bytes)
        except ValueError:
            raise ApiError(400, "bad_request", "invalid Content-Length header") from None


def decode_body(body: bytes, headers: Mapping[str, str], max_bytes: int) -> bytes:
    """`body` (read whole, at most `max_bytes`) as its `Content-Encoding` says: itself, or
    gzip-decoded within `max_bytes`; 415 for any other encoding."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise ApiError(
            415,
            "unsupported_encoding",
            f"Content-Encoding {encoding!r} is not supported (use gzip)",
        )
    return gunzip_bounded(body, max_bytes)


def gunzip_bounded(body: bytes, max_bytes: int) -> bytes:
    decoder = zlib.decompressobj(_GZIP_WBITS)
    try:
        out = decoder.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise ApiError(400, "bad_gzip", f"the gzip body cannot be decoded: {exc}") from None
    if len(out) > max_bytes or decoder.unconsumed_tail:
        raise _too_large(max_bytes, "decompressed request body")
    if not decoder.eof:
        raise ApiError(400, "bad_gzip", "the gzip body is truncated")
    return out


def validation_error(exc: ValidationError, batch: bool = False) -> ApiError:
    """The first validation problem as an API error naming the field (and batch index)."""
    errors = exc.errors(include_url=False)
    first = errors[0] if errors else {"type": "invalid", "loc": (), "msg": "invalid body"}
    if first["type"] == "json_invalid":
        return ApiError(400, "malformed_json", f"malformed JSON: {first['msg']}")
    field = field_path(first["loc"])
    if not field:
        return ApiError(422, "invalid", f"the body must be a JSON object ({first['msg']})")
    context: Any = first.get("ctx")
    pattern = context.get("pattern") if isinstance(context, dict) else None
    nul = first["type"] == "string_pattern_mismatch" and pattern == NO_NUL
    message = f"{field}: {NUL_MESSAGE if nul else first['msg']}"
    loc = first["loc"]
    if batch and len(loc) >= 2 and loc[0] == "snapshots" and isinstance(loc[1], int):
        message = f"snapshot {loc[1]} of the batch is invalid (nothing was stored): {message}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problems)"
    return ApiError(422, "invalid", message, field)
