"""Shared bounds of request parameters and JSON bodies, checked before any handler runs.

Every integer a route takes (path ids, `offset`, ids in bodies) must fit a signed 64-bit
column: SQLite raises `OverflowError` and PostgreSQL refuses anything larger, which used to
surface as a 500. Strings must not hold NUL (PostgreSQL refuses it in text and jsonb). Numbers
in free-form bodies are kept to the same 64-bit range. All of these answer 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Path, Query
from pydantic import AfterValidator

#: the largest value of a signed 64-bit column (SQLite INTEGER, PostgreSQL BIGINT)
INT64_MAX = 2**63 - 1
#: floats in a free-form body stay strictly inside +-2**63 (as ints do)
NUMBER_MAX = float(2**63)

#: a row id in a path (`/alert-rules/{rule_id}`, ...): 1 .. 2**63-1, else 422
DbId = Annotated[int, Path(ge=1, le=INT64_MAX, description="Row id (1 .. 2^63-1).")]
#: rows to skip in a list: 0 .. 2**63-1, else 422
Offset = Annotated[int, Query(ge=0, le=INT64_MAX, description="Rows to skip (0 .. 2^63-1).")]


def problem(value: Any, where: str = "") -> str | None:
    """What is wrong with `value` (a decoded JSON body), or None: a string (key or value)
    holding NUL, or a number beyond +-2**63-1; the answer names the path of the value."""
    name = where or "value"
    if isinstance(value, str):
        return f"{name}: must not contain NUL (\\u0000) characters" if "\x00" in value else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        ok = -INT64_MAX - 1 <= value <= INT64_MAX
        return None if ok else f"{name}: number out of range (beyond +-2^63-1)"
    if isinstance(value, float):
        ok = -NUMBER_MAX <= value < NUMBER_MAX
        return None if ok else f"{name}: number out of range (beyond +-2^63-1)"
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            found = problem(key, f"{where or 'body'} key {key!r}") or problem(item, path)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = problem(item, f"{where}[{index}]")
            if found:
                return found
    return None


def _object(value: dict[str, Any]) -> dict[str, Any]:
    found = problem(value)
    if found:
        raise ValueError(found)
    return value


#: a free-form JSON object body (rules, channels, windows, ...), checked by `problem`
JsonObject = Annotated[dict[str, Any], AfterValidator(_object), Body()]
