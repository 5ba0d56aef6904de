"""Channel kinds: config model and sender factory per kind, and row validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.alerts.channels.base import KindConfig, Sender, parse_config, validate_filters
from fleetwatch.hub.alerts.channels.console import ConsoleConfig, ConsoleSender
from fleetwatch.hub.alerts.channels.email import EmailConfig, EmailSender
from fleetwatch.hub.alerts.channels.file import FileConfig, FileSender
from fleetwatch.hub.alerts.channels.inapp import InappConfig, InappSender
from fleetwatch.hub.alerts.channels.slack import SlackConfig, SlackSender
from fleetwatch.hub.alerts.channels.webhook import WebhookConfig, WebhookSender
from fleetwatch.hub.mail.service import MailService
from fleetwatch.hub.store.database import Database

KINDS: dict[str, type[KindConfig]] = {
    "inapp": InappConfig,
    "email": EmailConfig,
    "webhook": WebhookConfig,
    "slack": SlackConfig,
    "file": FileConfig,
    "console": ConsoleConfig,
}
SECRET_KEYS = ("secret",)


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
    config = check_config(kind, orjson.loads(config_json))
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
