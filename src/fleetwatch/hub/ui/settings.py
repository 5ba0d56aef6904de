"""Global settings (admin), in tabs: General (stale threshold, refresh, retention, default
thresholds; export as JSON / CSV through the export API with the session cookie; cleanup now;
the periodic export, `settings_export.py`),
Mail (`settings_mail.py`), Channels (`settings_channels.py`), Maintenance
(`settings_maintenance.py`)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from pydantic import ValidationError

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import retention
from fleetwatch.hub.services import settings as dash_settings
from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.ui.access import hub_ctx, page_principal, to_login
from fleetwatch.hub.ui.frame import forbidden, frame, page_heading
from fleetwatch.hub.ui.settings_channels import channels_tab
from fleetwatch.hub.ui.settings_export import export_card
from fleetwatch.hub.ui.settings_mail import mail_tab
from fleetwatch.hub.ui.settings_maintenance import maintenance_tab

LABELS = {
    "stale_threshold_minutes": "Offline after (minutes without data)",
    "refresh_interval_seconds": "Dashboard refresh (seconds)",
    "raw_retention_hours": "Keep raw snapshots (hours)",
    "rollup_1m_retention_days": "Keep 1-minute rollups (days)",
    "rollup_1h_retention_days": "Keep 1-hour rollups (days)",
    "live_retention_minutes": "Keep live samples (minutes)",
    "audit_retention_days": "Keep audit log (days)",
}


TABS = ("General", "Mail", "Channels", "Maintenance")


def register() -> None:
    @ui.page("/settings")
    async def settings_page(request: Request, tab: str = "General") -> RedirectResponse | None:
        who = await page_principal(request)
        if who is None:
            return to_login(request)
        await frame(who, "Settings")
        if not who.can("admin"):
            forbidden("admin")
            return None
        ctx = hub_ctx()
        with ui.column().classes("w-full max-w-screen-md mx-auto p-4 gap-3"):
            page_heading("Settings", "Global settings; every change is audited")
            with ui.tabs().classes("w-full") as tabs:
                made = {name: ui.tab(name).mark(f"settings-tab-{name}") for name in TABS}
            chosen = made.get(tab, made["General"])
            panels = ui.tab_panels(tabs, value=chosen).classes("w-full bg-transparent")
            with panels:
                with ui.tab_panel(made["General"]).classes("gap-3 p-0 pt-2"):
                    await _general_tab(ctx, who)
                with ui.tab_panel(made["Mail"]).classes("gap-3 p-0 pt-2"):
                    await mail_tab(ctx, who)
                with ui.tab_panel(made["Channels"]).classes("gap-3 p-0 pt-2"):
                    await channels_tab(ctx, who)
                with ui.tab_panel(made["Maintenance"]).classes("gap-3 p-0 pt-2"):
                    await maintenance_tab(ctx, who)
        return None


async def _general_tab(ctx: HubContext, who: Principal) -> None:
    current = await dash_settings.get_settings(ctx, fresh=True)
    inputs: dict[str, Any] = {}
    with ui.card().classes("fw-card p-4 w-full"):
        ui.label("General and retention").classes("font-semibold")
        for key, label in LABELS.items():
            inputs[key] = (
                ui.number(label, value=getattr(current, key), precision=0)
                .props("dense outlined")
                .classes("w-full")
                .mark(f"setting-{key}")
            )
        ui.label("Default thresholds (%)").classes("font-semibold mt-2")
        th_inputs: dict[str, Any] = {}
        with ui.grid(columns=2).classes("w-full gap-2"):
            for key, value in current.default_thresholds.model_dump().items():
                th_inputs[key] = ui.number(key.replace("_", " "), value=value).props(
                    "dense outlined"
                )
        msg = ui.label("").classes("text-sm")

        async def save() -> None:
            changes: dict[str, Any] = {
                k: int(v.value) for k, v in inputs.items() if v.value is not None
            }
            changes["default_thresholds"] = {
                k: float(v.value) for k, v in th_inputs.items() if v.value is not None
            }
            try:
                dash_settings.merge_update(
                    await dash_settings.get_settings(ctx, fresh=True), changes
                )
                await dash_settings.update_settings(ctx, changes, who.name)
            except ValidationError as exc:
                first = exc.errors()[0]
                msg.text = f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
                return
            msg.text = "Saved."

        ui.button("Save", on_click=save).mark("settings-save")
    with ui.card().classes("fw-card p-4 w-full"):
        ui.label("Export and cleanup").classes("font-semibold")
        with ui.row().classes("gap-2"):
            for fmt in ("json", "csv"):
                ui.button(f"Export {fmt.upper()} (24 h)", icon="download").props(
                    f'outline href="/api/dashboard/export?format={fmt}&hours=24" download'
                ).mark(f"export-{fmt}")
            result = ui.label("")

            async def cleanup() -> None:
                done = await retention.cleanup(ctx, actor=who.name, orphans=True)
                result.text = f"Deleted {sum(done['deleted'].values())} rows past retention."

            ui.button("Clean up now", icon="cleaning_services", on_click=cleanup).props(
                "outline color=orange"
            ).mark("cleanup")
    await export_card(ctx, who)
