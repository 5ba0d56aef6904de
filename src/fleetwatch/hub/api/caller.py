"""`Caller`: what the agent routes read of a request, whichever protocol parsed it.

Starlette's `Request` is one; the lean HTTP protocol's `RawCaller` (`ingest/fasthttp.py`), built
from headers uvicorn's parser already collected, is the other, so authentication, rate
limits and body decoding are one code for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from starlette.datastructures import Address


class Caller(Protocol):
    @property
    def headers(self) -> Mapping[str, str]: ...  # names in lower case

    @property
    def client(self) -> Address | None: ...


@dataclass(frozen=True, slots=True)
class RawCaller:
    headers: Mapping[str, str]
    client: Address | None


def header_map(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """uvicorn's (lower-case name, value) pairs as a mapping; the first of repeated names
    wins, as in Starlette's `Headers.get`."""
    out: dict[str, str] = {}
    for name, value in raw:
        out.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return out
