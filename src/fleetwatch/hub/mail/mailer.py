"""SMTP transport: STARTTLS / SSL / none, login, HTML + text, attachments, several recipients,
and a connection test. Blocking smtplib calls run in a worker thread."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from fleetwatch.errors import DeliveryError
from fleetwatch.hub.mail.config import MailConfig


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Email:
    to: list[str]
    subject: str
    text: str
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)


def build_message(config: MailConfig, email: Email) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr((config.from_name, config.from_address or config.username))
    msg["To"] = ", ".join(email.to)
    msg["Subject"] = email.subject
    msg["Message-ID"] = make_msgid(domain="fleetwatch")
    msg.set_content(email.text)
    if email.html:
        msg.add_alternative(email.html, subtype="html")
    for att in email.attachments:
        maintype, _, subtype = att.mime_type.partition("/")
        msg.add_attachment(
            att.content, maintype=maintype, subtype=subtype or "octet-stream",
            filename=att.filename,
        )  # fmt: skip
    return msg


def tls_context(config: MailConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=config.ca_file)
    if not config.verify_tls:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _connect(config: MailConfig) -> smtplib.SMTP:
    cfg = config.resolved()
    if not cfg.smtp_host:
        raise DeliveryError("smtp_host is not set (and no provider preset applies)")
    if cfg.security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_seconds, context=tls_context(cfg)
        )
    else:
        smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_seconds)
    try:
        smtp.ehlo()
        if cfg.security == "starttls":
            smtp.starttls(context=tls_context(cfg))
            smtp.ehlo()
        if cfg.username:
            smtp.login(cfg.username, cfg.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _guard(action: str, config: MailConfig) -> DeliveryError:
    cfg = config.resolved()
    return DeliveryError(f"SMTP {action} via {cfg.smtp_host}:{cfg.smtp_port} ({cfg.security})")


def send_smtp(config: MailConfig, email: Email) -> None:
    if not email.to:
        raise DeliveryError("no recipients")
    try:
        smtp = _connect(config)
        try:
            smtp.send_message(build_message(config, email), to_addrs=email.to)
        finally:
            smtp.quit()
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{_guard('send', config)}: {exc}") from None


def check_smtp(config: MailConfig) -> None:
    """Connect, negotiate TLS, log in and say NOOP; raises `DeliveryError` with the reason."""
    try:
        smtp = _connect(config)
        try:
            smtp.noop()
        finally:
            smtp.quit()
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{_guard('test', config)}: {exc}") from None


async def send_smtp_async(config: MailConfig, email: Email) -> None:
    await asyncio.to_thread(send_smtp, config, email)
