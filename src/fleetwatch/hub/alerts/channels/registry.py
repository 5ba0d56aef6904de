"""Channel kinds: config model and sender factory per kind, and row validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, select

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.alerts.channels.base import KindConfig, Sender, parse_config, validate_filters
from fleetwatch.hub.alerts.channels.console import ConsoleConfig, ConsoleSender
from fleetwatch.hub.alerts.channels.email import EmailConfig, EmailSender
from fleetwatch.hub.alerts.channels.file import FileConfig, FileSender
from fleetwatch.hub.alerts.channels.inapp import InappConfig, InappSender
from fleetwatch.hub.alerts.channels.slack import SlackConfig, SlackSender
from fleetwatch.hub.alerts.channels.webhook import WebhookConfig, WebhookSender
from fleetwatch.hub.mail.service import MailService
from fleetwatch.hub.secretbox import SecretBox, is_sealed
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.tables_alerts import channels

KINDS: dict[str, type[KindConfig]] = {
    "inapp": InappConfig,
    "email": EmailConfig,
    "webhook": WebhookConfig,
    "slack": SlackConfig,
    "file": FileConfig,
    "console": ConsoleConfig,
}
#: config keys holding secrets: masked in the API, encrypted at rest (`secretbox.py`)
SECRET_KEYS = ("secret",)


def seal_config(config_json: str, box: SecretBox | None) -> str:
    """A stored config with its secrets encrypted (unchanged without a box)."""
    out = orjson.loads(config_json)
    if box is None or not any(out.get(k) and not is_sealed(out[k]) for k in SECRET_KEYS):
        return config_json
    return orjson.dumps(
        {k: box.seal(v) if k in SECRET_KEYS else v for k, v in out.items()}
    ).decode()


def open_config(config_json: str, box: SecretBox | None) -> dict[str, Any]:
    """A stored config with its secrets decrypted; raises `SecretUnreadable` (a ValueError)."""
    out: dict[str, Any] = orjson.loads(config_json)
    if box is not None:
        for key in SECRET_KEYS:
            if out.get(key):
                out[key] = box.open(out[key])
    return out


def seal_stored(conn: Connection, box: SecretBox) -> int:
    """Encrypt channel secrets stored before encryption existed; how many channels changed."""
    changed = 0
    for row_id, config in list(conn.execute(select(channels.c.id, channels.c.config))):
        sealed = seal_config(config, box)
        if sealed != config:
            conn.execute(channels.update().where(channels.c.id == row_id).values(config=sealed))
            changed += 1
    return changed


def check_config(kind: str, raw: Any) -> KindConfig:
    if kind not in KINDS:
        raise InvalidFieldError("kind", f"expected one of {', '.join(KINDS)}")
    return parse_config(KINDS[kind], raw)


def validate_channel(data: Mapping[str, Any]) -> dict[str, Any]:
    """Checked column values for a channel row; `InvalidFieldError.field` names the bad one."""
    name = data.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 255:
        raise InvalidFieldError("name", "expected a name of 1-255 characters")
    kind = str(data.get("kind") or "")
    config = check_config(kind, data.get("config"))
    return {
        "name": name,
        "kind": kind,
        "config": config.model_dump_json(),
        **validate_filters(data),
    }


def build_sender(kind: str, config_json: str, db: Database, mail: MailService) -> Sender:
    """The sender of a stored channel (secrets decrypted with the mail service's box)."""
    config = check_config(kind, open_config(config_json, mail.box))
    if isinstance(config, WebhookConfig):
        return WebhookSender(config)
    if isinstance(config, SlackConfig):
        return SlackSender(config)
    if isinstance(config, FileConfig):
        return FileSender(config)
    if isinstance(config, ConsoleConfig):
        return ConsoleSender(config)
    if isinstance(config, EmailConfig):
        return EmailSender(config, mail)
    return InappSender(db)


def public_config(config_json: str) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(config_json)
    for key in SECRET_KEYS:
        if out.get(key):
            out[key] = "********"
    return out
