"""The audit log (H8): who changed what, when, and whether it worked.

Two ways in:
- `await audit(ctx, actor, action, target, detail)` from any service or router, after the fact;
- `record(conn, actor, action, target, detail)` inside a writer job, so that the change and its
  audit row commit together (or not at all).

`action` is a dotted verb (`user.create`, `server.delete`, `login.failed`); `detail` is a short
human-readable text or a JSON-able dict.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.store.tables import audit_log

MAX_DETAIL_CHARS = 4000


@dataclass(frozen=True)
class AuditEntry:
    id: int
    ts: float
    actor: str
    action: str
    target: str | None
    detail: str | None
    success: bool


def _detail_text(detail: str | dict[str, Any] | None) -> str | None:
    if detail is None:
        return None
    text = detail if isinstance(detail, str) else json.dumps(detail, default=str, sort_keys=True)
    return text[:MAX_DETAIL_CHARS]


def record(
    conn: Connection,
    actor: str,
    action: str,
    target: str | None = None,
    detail: str | dict[str, Any] | None = None,
    *,
    success: bool = True,
) -> None:
    """Insert one audit row on `conn` (inside the caller's transaction)."""
    conn.execute(
        insert(audit_log).values(
            ts=time.time(),
            actor=actor[:255],
            action=action[:64],
            target=None if target is None else target[:255],
            detail=_detail_text(detail),
            success=success,
        )
    )


async def audit(
    ctx: HubContext,
    actor: str,
    action: str,
    target: str | None = None,
    detail: str | dict[str, Any] | None = None,
    *,
    success: bool = True,
) -> None:
    """Write one audit row through the writer; returns after it committed."""

    def job(conn: Connection) -> None:
        record(conn, actor, action, target, detail, success=success)

    await ctx.db.write(job)


async def list_entries(
    ctx: HubContext,
    *,
    limit: int = 100,
    offset: int = 0,
    actor: str | None = None,
    action_prefix: str | None = None,
    text: str | None = None,
) -> tuple[list[AuditEntry], int]:
    """Newest first; returns (entries, total matching). `action_prefix` matches `user.` etc."""
    limit = max(1, min(limit, 1000))
    offset = max(0, offset)

    def query(conn: Connection) -> tuple[list[AuditEntry], int]:
        conds = []
        if actor:
            conds.append(audit_log.c.actor == actor)
        if action_prefix:
            conds.append(audit_log.c.action.startswith(action_prefix, autoescape=True))
        if text:
            like = f"%{text}%"
            conds.append(
                audit_log.c.target.ilike(like)
                | audit_log.c.detail.ilike(like)
                | audit_log.c.action.ilike(like)
            )
        total = conn.execute(select(func.count()).select_from(audit_log).where(*conds)).scalar()
        rows = conn.execute(
            select(audit_log)
            .where(*conds)
            .order_by(audit_log.c.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        entries = [
            AuditEntry(
                id=r.id,
                ts=r.ts,
                actor=r.actor,
                action=r.action,
                target=r.target,
                detail=r.detail,
                success=bool(r.success),
            )
            for r in rows
        ]
        return entries, int(total or 0)

    return await ctx.db.read(query)


#: the name other services import
record_audit = record
