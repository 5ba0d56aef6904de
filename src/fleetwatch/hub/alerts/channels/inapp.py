"""In-app channel: a row in `notifications` (the dashboard's bell, seed 001)."""

from __future__ import annotations

import time

from sqlalchemy import Connection

from fleetwatch.hub.alerts.channels.base import KindConfig, display_level, title
from fleetwatch.hub.alerts.state import AlertEvent
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.tables_alerts import notifications

_INSERT = notifications.insert()


class InappConfig(KindConfig):
    pass


class InappSender:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def send(self, event: AlertEvent) -> None:
        a = event.alert
        level = display_level(event)
        values = {
            "ts": time.time(),
            "alert_id": a.get("id"),
            "server_id": a.get("server_id"),
            "level": "INFO" if level == "OK" else level,
            "title": title(event)[:255],
            "message": str(a.get("message") or ""),
            "read": False,
        }

        def insert(conn: Connection) -> None:
            conn.execute(_INSERT, values)  # one statement object: compiled once

        await self.db.write(insert)

    async def aclose(self) -> None:
        return None
