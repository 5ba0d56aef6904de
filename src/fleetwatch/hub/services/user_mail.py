"""E-mails about accounts: `welcome`, `password_reset`, `account_locked` (H7/H8).

The account services call `send_user_mail(ctx, template, to, variables)`; it hands the message
to the mailer found in `ctx.extras["user_mailer"]` (anything with an async
`send_template(template, to, variables)`). A missing mailer or a failing SMTP server never
fails the account operation: the outcome is logged and returned.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from fleetwatch.hub.context import HubContext

log = logging.getLogger("fleetwatch.hub.users")

MAILER_KEY = "user_mailer"


class UserMailer(Protocol):
    async def send_template(
        self, template: str, to: list[str], variables: dict[str, Any]
    ) -> None: ...


def find_mailer(ctx: HubContext) -> UserMailer | None:
    mailer: UserMailer | None = ctx.extras.get(MAILER_KEY)
    return mailer


async def send_user_mail(
    ctx: HubContext, template: str, to: str | None, variables: dict[str, Any]
) -> bool:
    """Send one account e-mail; True when a mailer accepted it."""
    if not to:
        log.info("no e-mail address for %s mail to user %s", template, variables.get("user_name"))
        return False
    mailer = find_mailer(ctx)
    if mailer is None:
        log.info("no mailer configured; %s mail to %s not sent", template, to)
        return False
    try:
        await mailer.send_template(template, [to], variables)
    except Exception:  # SMTP trouble must not break logins or account changes
        log.exception("sending %s mail to %s failed", template, to)
        return False
    return True
