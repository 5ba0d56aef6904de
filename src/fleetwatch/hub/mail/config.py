"""Mail settings (stored by the hub in `alert_settings["mail"]`), with presets applied."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.mail.presets import PRESETS, detect_provider

TEMPLATE_TYPES = ("welcome", "password_reset", "account_locked", "server_alert", "maintenance",
                  "custom")  # fmt: skip
GRAPH_SCOPE_APP = "https://graph.microsoft.com/.default"
GRAPH_SCOPE_USER = "Mail.Send"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class GraphConfig(_Strict):
    """Microsoft 365 through OAuth 2.0 (MSAL) and Graph `sendMail`.

    With `client_secret` the hub uses the client-credentials grant and sends as `sender`;
    without it, a delegated sign-in (device code, once) and the cached refresh token.
    """

    client_id: str = Field(min_length=1, max_length=255)
    tenant: str = Field(min_length=1, max_length=255)
    client_secret: str | None = None
    sender: str = ""  # user principal name; required with a client secret
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    ca_file: str | None = None  # extra CA bundle (tests, TLS-inspecting proxies)


class MailConfig(_Strict):
    enabled: bool = False
    transport: Literal["smtp", "graph"] = "smtp"
    provider: Literal["auto", "gmail", "outlook", "office365", "yahoo", "custom"] = "auto"
    smtp_host: str = ""
    smtp_port: int = Field(default=0, ge=0, le=65535)  # 0 = the preset's port
    security: Literal["starttls", "ssl", "none"] | None = None  # None = the preset's
    username: str = ""
    password: str = ""
    from_address: str = ""
    from_name: str = "fleetwatch"
    timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    verify_tls: bool = True
    ca_file: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    templates_enabled: dict[str, bool] = Field(default_factory=dict)
    admin_only_alerts: bool = False
    graph: GraphConfig | None = None

    def resolved(self) -> MailConfig:
        """A copy with provider preset values filled in where not set explicitly."""
        provider: str = self.provider
        if provider == "auto":
            provider = detect_provider(self.from_address or self.username)
        preset = PRESETS.get(provider)
        return self.model_copy(
            update={
                "provider": provider,
                "smtp_host": self.smtp_host or (preset.host if preset else ""),
                "smtp_port": self.smtp_port or (preset.port if preset else 587),
                "security": self.security or (preset.security if preset else "starttls"),
            }
        )

    def template_enabled(self, name: str) -> bool:
        return self.templates_enabled.get(name, True)

    def public(self) -> dict[str, object]:
        """For the API: secrets masked."""
        out = self.model_dump()
        if out["password"]:
            out["password"] = "********"
        if out.get("graph") and out["graph"].get("client_secret"):
            out["graph"]["client_secret"] = "********"
        return out


def parse_mail_config(raw: object) -> MailConfig:
    try:
        config = MailConfig.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "mail"
        raise InvalidFieldError(field, str(first["msg"])) from None
    unknown = sorted(set(config.templates_enabled) - set(TEMPLATE_TYPES))
    if unknown:
        raise InvalidFieldError("templates_enabled", f"unknown template {unknown[0]!r}")
    if config.transport == "graph" and config.graph is None:
        raise InvalidFieldError("graph", "the graph transport needs client_id and tenant")
    if config.graph and config.graph.client_secret and not config.graph.sender:
        raise InvalidFieldError("graph.sender", "app-only sending needs the sender mailbox")
    return config
