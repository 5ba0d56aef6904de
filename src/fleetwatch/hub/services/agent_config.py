"""Remote agent configuration (A9): what a user pushes to an agent, and what the agent did.

Each push is one `agent_configs` row holding only the keys pushed (validated against the
agent's own schema, `protocol.agent_config.validate(raw, pushed=True)`: identity and hub
address can never be pushed). The *pending* configuration of a server is every unconfirmed
row merged oldest → newest (a later push of a key wins), identified by the newest row's id.
The agent polls it, applies it, and confirms with that id: every row up to it gets
`applied_at`. A change the agent refuses is also closed (it would be offered forever
otherwise) and the refusal, with the agent's reason, goes to the audit log, which the history
view reads back as `status: "rejected"`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from fleetwatch.hub.services.audit import record_audit
from fleetwatch.hub.services.servers import ServerNotFound
from fleetwatch.hub.store.tables import agent_configs, audit_log, servers
from fleetwatch.protocol.agent_config import validate

HISTORY_LIMIT = 50
REJECTED_ACTION = "agent_config.rejected"


def _require_server(conn: Connection, server_id: str) -> None:
    if conn.execute(select(servers.c.id).where(servers.c.id == server_id)).first() is None:
        raise ServerNotFound(server_id)


def push(conn: Connection, server_id: str, raw: dict[str, Any], actor: str) -> dict[str, Any]:
    """Record a push; raises `ConfigError` (naming the key) or `ServerNotFound`."""
    config = validate(raw, pushed=True)
    _require_server(conn, server_id)
    now = time.time()
    result = conn.execute(
        insert(agent_configs).values(
            server_id=server_id,
            config=json.dumps(config, sort_keys=True),
            created_at=now,
            created_by=actor[:255],
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    config_id = int(key[0])
    record_audit(conn, actor, "agent_config.push", server_id, {"config_id": config_id, **config})
    return {"config_id": config_id, "server_id": server_id, "config": config, "created_at": now}


def _unconfirmed(conn: Connection, server_id: str) -> list[Any]:
    c = agent_configs.c
    query = (
        select(c.id, c.config)
        .where(and_(c.server_id == server_id, c.applied_at.is_(None)))
        .order_by(c.id)
    )
    return list(conn.execute(query))


def pending(conn: Connection, server_id: str) -> dict[str, Any]:
    """The agent's answer: `{"has_update", "config", "config_id"}`."""
    rows = _unconfirmed(conn, server_id)
    if not rows:
        return {"has_update": False, "config": None, "config_id": None}
    merged: dict[str, Any] = {}
    for row in rows:
        merged.update(json.loads(row.config))
    return {"has_update": True, "config": merged, "config_id": int(rows[-1].id)}


def confirm(
    conn: Connection, server_id: str, config_id: int | None, applied: bool, error: str | None
) -> int:
    """Close every unconfirmed row up to `config_id` (all when None); returns how many."""
    c = agent_configs.c
    condition = and_(c.server_id == server_id, c.applied_at.is_(None))
    if config_id is not None:
        condition = and_(condition, c.id <= config_id)
    ids = [int(r.id) for r in conn.execute(select(c.id).where(condition))]
    if not ids:
        return 0
    conn.execute(update(agent_configs).where(c.id.in_(ids)).values(applied_at=time.time()))
    if not applied:
        detail = {"config_ids": ids, "error": (error or "no reason given")[:1000]}
        record_audit(conn, f"agent:{server_id}", REJECTED_ACTION, server_id, detail)
    return len(ids)


def _rejections(conn: Connection, server_id: str) -> dict[int, str]:
    a = audit_log.c
    query = select(a.detail).where(and_(a.action == REJECTED_ACTION, a.target == server_id))
    out: dict[int, str] = {}
    for (detail,) in conn.execute(query):
        try:
            data = json.loads(detail or "{}")
        except ValueError:
            continue
        for config_id in data.get("config_ids", []):
            out[int(config_id)] = str(data.get("error", ""))
    return out


def view(conn: Connection, server_id: str, limit: int = HISTORY_LIMIT) -> dict[str, Any]:
    """The dashboard's view: the pending change and the history (newest first)."""
    _require_server(conn, server_id)
    c = agent_configs.c
    rows = conn.execute(
        select(c.id, c.config, c.created_at, c.created_by, c.applied_at)
        .where(c.server_id == server_id)
        .order_by(c.id.desc())
        .limit(limit)
    ).all()
    rejected = _rejections(conn, server_id) if rows else {}
    history = []
    for row in rows:
        status = "pending" if row.applied_at is None else "applied"
        if row.id in rejected:
            status = "rejected"
        history.append(
            {
                "config_id": int(row.id),
                "config": json.loads(row.config),
                "created_at": row.created_at,
                "created_by": row.created_by,
                "confirmed_at": row.applied_at,
                "status": status,
                "error": rejected.get(row.id),
            }
        )
    answer = pending(conn, server_id)
    return {
        "server_id": server_id,
        "pending": {"config_id": answer["config_id"], "config": answer["config"]}
        if answer["has_update"]
        else None,
        "history": history,
    }
