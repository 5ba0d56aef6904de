"""Email channel: the `server_alert` template to the listed recipients (and to the hub's users
when `to_users`; only admins when the mail setting `admin_only_alerts` is on)."""

from __future__ import annotations

import re

from pydantic import Field

from fleetwatch.errors import DeliveryError
from fleetwatch.hub.alerts.channels.base import KindConfig, display_level
from fleetwatch.hub.alerts.state import AlertEvent
from fleetwatch.hub.mail.service import MailService

_EMAIL = r"^[^@\s]+@[^@\s]+$"


class EmailConfig(KindConfig):
    recipients: list[str] = Field(default_factory=list, max_length=100)
    to_users: bool = False
    template: str = "server_alert"

    def model_post_init(self, _context: object) -> None:
        for i, address in enumerate(self.recipients):
            if not re.match(_EMAIL, address):
                raise ValueError(f"recipients[{i}]: not an email address: {address!r}")
        if not self.recipients and not self.to_users:
            raise ValueError("recipients: list at least one address (or set to_users)")


class EmailSender:
    def __init__(self, config: EmailConfig, mail: MailService) -> None:
        self.config = config
        self.mail = mail

    async def send(self, event: AlertEvent) -> None:
        a = event.alert
        recipients = await self.mail.recipients(self.config.recipients, self.config.to_users, True)
        if not recipients:
            raise DeliveryError("no recipients")
        level = display_level(event)
        message = str(a.get("message") or "")
        context = {
            "server_name": a.get("server_name") or a.get("server_id") or "",
            "message": message if event.kind != "resolved" else f"Resolved: {message}",
            "level": "RESOLVED" if level == "OK" else level,
            "subject_line": message[:120],
            "alert": a,
        }
        sent = await self.mail.send_template(
            self.config.template, [r.email for r in recipients], context
        )
        if not sent:
            raise DeliveryError(f"the {self.config.template} email type is switched off")

    async def aclose(self) -> None:
        return None
