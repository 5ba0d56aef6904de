"""Settings, Mail tab (H7): SMTP or Microsoft 365 (Graph) settings, per-type email toggles,
a connection test and a test email. Secrets are shown masked; saving the mask keeps them."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from fleetwatch.errors import DeliveryError, InvalidFieldError
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.mail.config import TEMPLATE_TYPES
from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.ui import alert_actions

PROVIDERS = ["auto", "gmail", "outlook", "office365", "yahoo", "custom"]
SECURITY = {"": "provider default", "starttls": "STARTTLS", "ssl": "SSL/TLS", "none": "none"}
TEXT_FIELDS = (
    ("from_address", "From address"),
    ("from_name", "From name"),
    ("base_url", "Dashboard URL used in mails"),
)
GRAPH_FIELDS = (
    ("client_id", "Application (client) id"),
    ("tenant", "Tenant (directory) id"),
    ("sender", "Sender mailbox (app-only)"),
)
TEMPLATE_LABELS = {
    "welcome": "Welcome (new account)",
    "password_reset": "Password reset link",
    "account_locked": "Account locked",
    "server_alert": "Server alerts",
    "maintenance": "Maintenance notices",
    "custom": "Custom / test mails",
}


def _form_values(
    fields: dict[str, Any], graph: dict[str, Any], toggles: dict[str, Any]
) -> dict[str, Any]:
    data: dict[str, Any] = {k: w.value for k, w in fields.items()}
    data["smtp_port"] = int(data["smtp_port"] or 0)
    data["timeout_seconds"] = float(data["timeout_seconds"] or 15)
    data["security"] = data["security"] or None
    data["templates_enabled"] = {k: bool(w.value) for k, w in toggles.items()}
    graph_values = {k: (w.value or "") for k, w in graph.items()}
    graph_values["client_secret"] = graph_values["client_secret"] or None
    data["graph"] = graph_values if graph_values["client_id"] or graph_values["tenant"] else None
    return data


async def mail_tab(ctx: HubContext, who: Principal) -> None:
    mail = alert_actions.mail_service(ctx)
    if mail is None:
        ui.label(alert_actions.NOT_RUNNING).classes("fw-muted")
        return
    current: dict[str, Any] = (await mail.config()).public()
    fields: dict[str, Any] = {}
    graph: dict[str, Any] = {}
    toggles: dict[str, Any] = {}
    with ui.card().classes("fw-card p-4 w-full"):
        with ui.row().classes("w-full items-center gap-4"):
            ui.label("Outgoing mail").classes("font-semibold")
            ui.space()
            fields["enabled"] = ui.switch("Enabled", value=current["enabled"]).mark("mail-enabled")
        with ui.grid().classes("w-full gap-2 grid-cols-1 sm:grid-cols-2"):
            fields["transport"] = ui.select(
                {"smtp": "SMTP", "graph": "Microsoft 365 (Graph)"},
                value=current["transport"],
                label="Transport",
            ).props("dense outlined")
            fields["provider"] = ui.select(
                PROVIDERS, value=current["provider"], label="Provider"
            ).props("dense outlined")
            fields["smtp_host"] = ui.input(
                "SMTP host (empty = provider preset)", value=current["smtp_host"]
            ).props("dense outlined")
            fields["smtp_port"] = ui.number(
                "SMTP port (0 = preset)", value=current["smtp_port"], min=0, max=65535
            ).props("dense outlined")
            fields["security"] = ui.select(
                SECURITY, value=current["security"] or "", label="Security"
            ).props("dense outlined")
            fields["username"] = ui.input("User name", value=current["username"]).props(
                "dense outlined"
            )
            fields["password"] = ui.input(
                "Password", value=current["password"], password=True, password_toggle_button=True
            ).props("dense outlined")
            for key, label in TEXT_FIELDS:
                fields[key] = ui.input(label, value=current[key]).props("dense outlined")
            fields["timeout_seconds"] = ui.number(
                "Timeout (s)", value=current["timeout_seconds"], min=1, max=300
            ).props("dense outlined")
        with ui.row().classes("gap-4"):
            fields["verify_tls"] = ui.switch("Verify TLS", value=current["verify_tls"])
            fields["admin_only_alerts"] = ui.switch(
                "Alert mails to admins only", value=current["admin_only_alerts"]
            )
        fields["ca_file"] = ui.input("Extra CA file (optional)", value=current["ca_file"] or "")
        fields["ca_file"].props("dense outlined").classes("w-full")
        with ui.expansion("Microsoft 365 (OAuth 2.0, Graph sendMail)").classes("w-full"):
            stored = current.get("graph") or {}
            with ui.grid().classes("w-full gap-2 grid-cols-1 sm:grid-cols-2"):
                for key, label in GRAPH_FIELDS:
                    graph[key] = ui.input(label, value=stored.get(key) or "").props(
                        "dense outlined"
                    )
                graph["client_secret"] = ui.input(
                    "Client secret (empty = delegated sign-in)",
                    value=stored.get("client_secret") or "",
                    password=True,
                ).props("dense outlined")
        ui.label("Emails sent, by type").classes("font-semibold mt-2")
        with ui.grid().classes("w-full gap-1 grid-cols-1 sm:grid-cols-2"):
            for name in TEMPLATE_TYPES:
                enabled = current["templates_enabled"].get(name, True)
                toggles[name] = ui.switch(TEMPLATE_LABELS.get(name, name), value=enabled).mark(
                    f"mail-template-{name}"
                )
        status = ui.label("").classes("text-sm").mark("mail-status")

        def show(text: str, ok: bool) -> None:
            status.text = text
            status.style(f"color:{'#22c55e' if ok else '#ef4444'}")

        async def save() -> bool:
            data = _form_values(fields, graph, toggles)
            data["ca_file"] = data["ca_file"] or None
            try:
                await alert_actions.save_mail(ctx, data, who.name)
            except (InvalidFieldError, DeliveryError) as exc:
                show(f"Not saved: {exc}", False)
                return False
            show("Saved.", True)
            return True

        async def test(to: str) -> None:
            if not await save():
                return
            show("Testing…", True)
            error = await alert_actions.test_mail(ctx, [to] if to else [])
            what = f"Test email sent to {to}." if to else "Connection and login OK."
            show(what if error is None else f"Test failed: {error}", error is None)

        with ui.row().classes("w-full items-end gap-2"):
            ui.button("Save", on_click=save).mark("mail-save")
            ui.button("Test connection", on_click=lambda: test("")).props("outline").mark(
                "mail-test"
            )
            to = ui.input("Send a test email to").props("dense outlined").mark("mail-test-to")
            ui.button("Send test", icon="send", on_click=lambda: test(to.value or "")).props(
                "outline"
            ).mark("mail-send-test")
