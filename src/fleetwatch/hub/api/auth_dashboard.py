"""Access to `/api/dashboard/*`.

Until user accounts land ([DASHBOARD] issue) every request is allowed; routers already declare
the role they need with `Depends(require_role("viewer" | "operator" | "admin"))` so that
enforcement is a change here only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request


@dataclass(frozen=True)
class Principal:
    name: str
    role: str


ROLES = ("viewer", "operator", "admin")


def require_role(role: str) -> Callable[[Request], Principal]:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def dependency(request: Request) -> Principal:
        return Principal(name="anonymous", role="admin")

    return dependency
