"""The hub's runtime context: everything `create_app` builds, passed explicitly (no globals)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from fleetwatch.hub.settings import HubSettings
from fleetwatch.hub.store.database import Database


@dataclass
class HubContext:
    settings: HubSettings
    db: Database
    started_at: float = field(default_factory=time.time)
    #: services attach their long-lived state here by name (rate limiters, caches, ...)
    extras: dict[str, Any] = field(default_factory=dict)


def get_ctx(request: Request) -> HubContext:
    """FastAPI dependency: the context of the app serving this request."""
    ctx: HubContext = request.app.state.ctx
    return ctx
