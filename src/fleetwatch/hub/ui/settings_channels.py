"""Settings, Channels tab (H6): the notification channels with their statistics; create,
edit, enable/disable, test (sent now, filters bypassed) and delete. Admin only."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import alert_config
from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.ui import alert_actions, forms
from fleetwatch.hub.ui.forms import Field
from fleetwatch.hub.ui.units import CRITICAL, OK, fmt_ago

KINDS = ("webhook", "slack", "email", "file", "console", "inapp")
CONFIG_FIELDS: dict[str, tuple[Field, ...]] = {
    "webhook": (
        Field("url", "URL"),
        Field("secret", "HMAC secret (optional)", "secret"),
        Field("headers", 'Headers (JSON, e.g. {"X-Token": "abc"})', "json"),
        Field("timeout_seconds", "Timeout (s)", "number"),
        Field("verify_tls", "Verify TLS", "bool"),
    ),
    "slack": (
        Field("webhook_url", "Slack incoming-webhook URL"),
        Field("channel", "Channel (optional)"),
        Field("username", "User name"),
    ),
    "email": (
        Field("recipients", "Recipients (comma separated)", "list"),
        Field("to_users", "Also the hub's users", "bool"),
    ),
    "file": (
        Field("path", "File path"),
        Field("format", "Format", "choice", ("text", "json")),
        Field("backup_count", "Rotated files kept", "int"),
    ),
    "console": (
        Field("stream", "Stream", "choice", ("stderr", "stdout")),
        Field("color", "Colour", "bool"),
    ),
    "inapp": (),
}
FILTER_FIELDS = (
    Field("min_level", "Minimum level", "choice", ("WARNING", "CRITICAL", "INFO")),
    Field("components", "Components (comma separated, empty = all)", "list"),
    Field("send_resolved", "Also when resolved", "bool"),
    Field("enabled", "Enabled", "bool"),
)
WINDOW_FIELDS = (
    Field("start", "Only from (HH:MM, empty = always)"),
    Field("end", "until (HH:MM)"),
    Field("timezone", "Time zone (IANA, e.g. Europe/Paris)"),
)


def _destination(ch: dict[str, Any]) -> str:
    config = ch.get("config") or {}
    if ch["kind"] == "email":
        to = ", ".join(config.get("recipients") or [])
        return to + (" + hub users" if config.get("to_users") else "")
    key = {"webhook": "url", "slack": "webhook_url", "file": "path", "console": "stream"}
    return str(config.get(key.get(ch["kind"], ""), "") or "")


def _stats_text(stats: dict[str, Any] | None) -> str:
    s = stats or {}
    text = f"{s.get('handled_total') or 0} sent · {s.get('errors_total') or 0} errors"
    if s.get("last_success_at"):
        text += f" · last sent {fmt_ago(s['last_success_at'])}"
    if s.get("last_error"):
        text += f" · last error {fmt_ago(s.get('last_error_at'))}: {str(s['last_error'])[:120]}"
    return text


async def _editor(
    ctx: HubContext, who: Principal, channel: dict[str, Any] | None, done: Any
) -> None:
    """The create / edit dialog; `done()` refreshes the list after a save."""
    current = channel or {
        "kind": "webhook",
        "config": {},
        "min_level": "WARNING",
        "send_resolved": True,
        "enabled": True,
    }
    state: dict[str, Any] = {"kind": current["kind"], "config": {}}
    with ui.dialog() as dialog, ui.card().classes("fw-card p-4 w-[36rem] max-w-full"):
        ui.label("Edit channel" if channel else "New channel").classes("text-lg font-bold")
        name = ui.input("Name", value=current.get("name") or "").props("dense outlined")
        name.classes("w-full").mark("channel-name")
        kind = ui.select(list(KINDS), value=state["kind"], label="Kind").props("dense outlined")
        kind.classes("w-full").mark("channel-kind")
        if channel:
            kind.disable()

        @ui.refreshable
        def config_inputs() -> None:
            state["config"] = {}
            stored = current["config"] if state["kind"] == current["kind"] else {}
            for f in CONFIG_FIELDS[state["kind"]]:
                state["config"][f.key] = forms.widget(f, stored.get(f.key), f"channel-{f.key}")
                state["config"][f.key].classes("w-full")

        def set_kind(e: Any) -> None:
            state["kind"] = e.value
            config_inputs.refresh()

        kind.on_value_change(set_kind)
        config_inputs()
        ui.label("Filters").classes("font-semibold mt-2")
        filters = {
            f.key: forms.widget(f, current.get(f.key), f"channel-{f.key}") for f in FILTER_FIELDS
        }
        window_now = current.get("time_window") or {}
        with ui.row().classes("w-full gap-2 no-wrap"):
            window = {
                f.key: forms.widget(f, window_now.get(f.key), f"channel-tw-{f.key}")
                for f in WINDOW_FIELDS
            }
        error = forms.error_label()

        async def store() -> None:
            config = forms.values(CONFIG_FIELDS[state["kind"]], state["config"])
            data: dict[str, Any] = {"name": name.value, "kind": state["kind"], "config": config}
            data.update(forms.values(FILTER_FIELDS, filters))
            data.setdefault("components", None)
            tw = forms.values(WINDOW_FIELDS, window)
            data["time_window"] = tw or None
            await alert_config.save_channel(ctx, data, who.name, channel["id"] if channel else None)

        async def save() -> None:
            await forms.submit(dialog, error, store, done, "Channel saved")

        forms.cancel_save_row(dialog, save, "channel-save")
    dialog.open()


async def channels_tab(ctx: HubContext, who: Principal) -> None:
    @ui.refreshable
    async def channel_list() -> None:
        for ch in await alert_config.list_channels(ctx):
            card = ui.card().classes("fw-card p-3 w-full").mark("channel-row")
            with card, ui.row().classes("w-full items-center gap-3"):
                ui.switch(
                    value=bool(ch["enabled"]),
                    on_change=lambda e, ch=ch: set_enabled(ch["id"], bool(e.value)),
                ).tooltip("Enabled").mark(f"channel-enabled-{ch['name']}")
                with ui.column().classes("gap-0 flex-1 min-w-0"):
                    with ui.row().classes("items-center gap-2"):
                        ui.label(ch["name"]).classes("font-semibold")
                        ui.badge(ch["kind"]).props("outline")
                        ui.label(f"≥ {ch['min_level']}").classes("text-xs fw-muted")
                        ui.label(_destination(ch)).classes("text-xs fw-muted font-mono break-all")
                    ui.label(_stats_text(ch.get("stats"))).classes("text-xs fw-muted break-all")
                ui.button("Test", on_click=lambda ch=ch: test(ch)).props("flat dense").mark(
                    f"channel-test-{ch['name']}"
                )
                ui.button("Edit", on_click=lambda ch=ch: _editor(ctx, who, ch, refresh)).props(
                    "flat dense"
                )
                ui.button(icon="delete", on_click=lambda ch=ch: remove(ch)).props(
                    "flat dense color=red"
                ).tooltip("Delete")

    def refresh() -> None:
        channel_list.refresh()

    async def set_enabled(channel_id: int, enabled: bool) -> None:
        await alert_config.save_channel(ctx, {"enabled": enabled}, who.name, channel_id)
        ui.notify("Enabled" if enabled else "Disabled")

    async def test(ch: dict[str, Any]) -> None:
        error = await alert_actions.test_channel(ctx, int(ch["id"]), who.name)
        if error is None:
            result.text = f"Test sent on {ch['name']}."
        else:
            result.text = f"Test on {ch['name']} failed: {error}"
        result.style(f"color:{OK if error is None else CRITICAL}")
        refresh()

    async def remove(ch: dict[str, Any]) -> None:
        await alert_config.delete_channel(ctx, int(ch["id"]), who.name)
        ui.notify(f"Deleted {ch['name']}")
        refresh()

    with ui.row().classes("w-full items-center"):
        ui.label("Where alerts are sent; each channel has its own filters and queue.").classes(
            "text-sm fw-muted"
        )
        ui.space()
        ui.button(
            "Add channel", icon="add", on_click=lambda: _editor(ctx, who, None, refresh)
        ).mark("channel-add")
    result = ui.label("").classes("text-sm").mark("channel-result")
    await channel_list()
