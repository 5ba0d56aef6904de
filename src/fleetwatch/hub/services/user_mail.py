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


def template_variables(template: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The account values plus what the mail templates show: `username`, `display_name` and
    a `message` line (for a reset, the link itself; the templates have no `reset_url`)."""
    name = str(variables.get("user_name") or "")
    if template == "password_reset":
        message = (
            f"Choose a new password here (the link works once, for"
            f" {variables.get('expires_minutes')} minutes): {variables.get('reset_url')}"
        )
    elif template == "account_locked":
        message = (
            f"It stays locked for {variables.get('locked_minutes')} minutes after"
            f" {variables.get('failed_logins')} failed sign-ins"
            f" (last from {variables.get('ip_address') or 'an unknown address'});"
            " an admin can unlock it sooner."
        )
    elif template == "welcome":
        message = f"Your role: {variables.get('role')}."
    else:
        message = ""
    return {"username": name, "display_name": name, "message": message, **variables}


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
        await mailer.send_template(template, [to], template_variables(template, variables))
    except Exception:  # SMTP trouble must not break logins or account changes
        log.exception("sending %s mail to %s failed", template, to)
        return False
    return True
