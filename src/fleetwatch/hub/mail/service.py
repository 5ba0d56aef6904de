"""The hub's mail service: settings and templates stored in the database, SMTP or Graph.

Other parts of the hub send mail through `ctx.extras["mail"]`:
`await mail.send_template("welcome", ["a@example.com"], {"username": ..., ...})`.
User accounts are not this module's business: whoever owns them sets
`mail.user_recipients = async () -> [Recipient, ...]` so that email channels with
`to_users` reach every user (only admins when `admin_only_alerts` is on).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select

from fleetwatch.errors import DeliveryError
from fleetwatch.hub.mail.config import MailConfig, parse_mail_config
from fleetwatch.hub.mail.graph import GraphMailer
from fleetwatch.hub.mail.mailer import Attachment, Email, check_smtp, send_smtp_async
from fleetwatch.hub.mail.templates import TemplateStore, validate_override
from fleetwatch.hub.secretbox import SecretBox, SecretUnreadable, is_sealed
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.tables_alerts import alert_settings, mail_token_cache

log = logging.getLogger("fleetwatch.hub.mail")
MASK = "********"
ALERT_TEMPLATES = frozenset({"server_alert", "maintenance"})


@dataclass(frozen=True)
class Recipient:
    email: str
    username: str = ""
    display_name: str = ""
    role: str = "viewer"


def read_setting(conn: Connection, key: str) -> Any:
    row = conn.execute(select(alert_settings.c.value).where(alert_settings.c.key == key)).first()
    return orjson.loads(row[0]) if row else None


def write_setting(conn: Connection, key: str, value: Any) -> None:
    text = orjson.dumps(value).decode()
    done = conn.execute(
        alert_settings.update().where(alert_settings.c.key == key).values(value=text)
    )
    if not done.rowcount:
        conn.execute(alert_settings.insert().values(key=key, value=text))


def _map_secrets(raw: Mapping[str, Any], fn: Callable[[str], str | None]) -> dict[str, Any]:
    """`raw` mail settings with `fn` applied to the password and the Graph client secret."""
    out = dict(raw)
    if out.get("password"):
        out["password"] = fn(out["password"]) or ""
    graph = out.get("graph")
    if isinstance(graph, dict) and graph.get("client_secret"):
        out["graph"] = {**graph, "client_secret": fn(graph["client_secret"])}
    return out


class MailService:
    """`box` encrypts the stored secrets (password, client secret, token cache); None stores
    them as given (tests and tools without a data dir)."""

    def __init__(self, db: Database, box: SecretBox | None = None) -> None:
        self.db = db
        self.box = box
        self.user_recipients: Callable[[], Awaitable[list[Recipient]]] | None = None
        self.sent = 0

    def _open(self, value: str) -> str | None:
        if self.box is None:
            return value
        try:
            return self.box.open(value)
        except SecretUnreadable:
            log.error("a stored mail secret cannot be decrypted (secret key changed?): "
                      "enter it again in the mail settings")  # fmt: skip
            return None

    def _seal(self, value: str) -> str | None:
        return value if self.box is None else self.box.seal(value)

    async def config(self) -> MailConfig:
        raw = await self.db.read(lambda c: read_setting(c, "mail"))
        return parse_mail_config(_map_secrets(raw or {}, self._open))

    async def seal_stored(self) -> bool:
        """Encrypt secrets stored before encryption existed (at start); True when it did."""
        if self.box is None:
            return False

        def job(conn: Connection) -> bool:
            raw = read_setting(conn, "mail") or {}
            sealed = _map_secrets(raw, self._seal)
            changed = sealed != raw
            if changed:
                write_setting(conn, "mail", sealed)
            tbl = mail_token_cache
            for account, cache in list(conn.execute(select(tbl.c.account, tbl.c.cache))):
                if cache and not is_sealed(cache):
                    upd = tbl.update().where(tbl.c.account == account)
                    conn.execute(upd.values(cache=self._seal(cache)))
                    changed = True
            return changed

        return await self.db.write(job)

    async def save_config(self, raw: Mapping[str, Any]) -> MailConfig:
        """Validate and store; masked secrets (`********`) keep their stored value."""
        current = (await self.config()).model_dump()
        data = dict(raw)
        if data.get("password") == MASK:
            data["password"] = current["password"]
        graph = data.get("graph")
        if isinstance(graph, dict) and graph.get("client_secret") == MASK:
            graph["client_secret"] = (current.get("graph") or {}).get("client_secret")
        config = parse_mail_config(data)
        stored = _map_secrets(config.model_dump(), self._seal)
        await self.db.write(lambda c: write_setting(c, "mail", stored))
        return config

    async def template_store(self) -> TemplateStore:
        overrides = await self.db.read(lambda c: read_setting(c, "mail_templates"))
        return TemplateStore(overrides or {})

    async def save_template(self, name: str, parts: Mapping[str, Any]) -> None:
        checked = validate_override(name, parts)

        def save(conn: Connection) -> None:
            current = read_setting(conn, "mail_templates") or {}
            current[name] = {**current.get(name, {}), **checked}
            write_setting(conn, "mail_templates", current)

        await self.db.write(save)

    def graph(self, config: MailConfig) -> GraphMailer:
        if config.graph is None:
            raise DeliveryError("Microsoft 365 is not configured")
        account = f"{config.graph.tenant}/{config.graph.client_id}"

        async def load() -> str | None:
            def q(conn: Connection) -> str | None:
                col = mail_token_cache.c
                row = conn.execute(select(col.cache).where(col.account == account)).first()
                return str(row[0]) if row else None

            return self._open(blob) if (blob := await self.db.read(q)) else None

        async def save(plain: str) -> None:
            blob = self._seal(plain)

            def w(conn: Connection) -> None:
                now = time.time()
                tbl = mail_token_cache
                upd = tbl.update().where(tbl.c.account == account)
                if not conn.execute(upd.values(cache=blob, updated_at=now)).rowcount:
                    conn.execute(tbl.insert().values(account=account, cache=blob, updated_at=now))

            await self.db.write(w)

        return GraphMailer(config.graph, load, save)

    async def send(self, email: Email, config: MailConfig | None = None) -> None:
        config = config or await self.config()
        if config.transport == "graph":
            await self.graph(config).send(config, email)
        else:
            await send_smtp_async(config, email)
        self.sent += 1

    async def test_connection(self) -> None:
        config = await self.config()
        if config.transport == "graph":
            await self.graph(config).access_token()
        else:
            await asyncio.to_thread(check_smtp, config)

    async def recipients(self, explicit: list[str], to_users: bool, alert: bool) -> list[Recipient]:
        config = await self.config()
        out = [Recipient(email=a) for a in explicit]
        if to_users and self.user_recipients is not None:
            users = await self.user_recipients()
            if alert and config.admin_only_alerts:
                users = [u for u in users if u.role == "admin"]
            out += users
        unique: dict[str, Recipient] = {}
        for r in out:
            unique.setdefault(r.email.lower(), r)
        return list(unique.values())

    async def send_template(
        self,
        name: str,
        to: list[str],
        context: Mapping[str, Any],
        attachments: list[Attachment] | None = None,
    ) -> bool:
        """Render and send; `False` when this template type is switched off."""
        config = await self.config()
        if not config.template_enabled(name):
            return False
        store = await self.template_store()
        ctx = {
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "base_url": config.base_url,
            **context,
        }
        rendered = store.render(name, ctx)
        email = Email(to, rendered.subject, rendered.text, rendered.html, attachments or [])
        await self.send(email, config)
        return True
