"""Settings → General → Periodic export (H18): the schedule, the files, "Export now".

The schedule is the `export_*` dashboard settings (services/export_schedule.py writes the
files); downloads go through `GET /api/dashboard/exports/{name}` with the session cookie.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import export_schedule
from fleetwatch.hub.services import settings as dash_settings
from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.ui.units import fmt_bytes

NUMBERS = {
    "export_interval_hours": "Every (hours; 0 = off)",
    "export_range_hours": "Each covers the last (hours)",
    "export_keep_files": "Files kept",
}


def _age(modified_at: float) -> str:
    minutes = max(0, int((time.time() - modified_at) // 60))
    if minutes < 90:
        return f"{minutes} min ago"
    return f"{minutes // 60} h ago" if minutes < 48 * 60 else f"{minutes // 1440} d ago"


async def export_card(ctx: HubContext, who: Principal) -> None:
    current = await dash_settings.get_settings(ctx, fresh=True)
    folder = export_schedule.export_dir(ctx)
    with ui.card().classes("fw-card p-4 w-full").mark("periodic-export"):
        ui.label("Periodic export").classes("font-semibold")
        ui.label(f"Written to {folder} by the hub; oldest files deleted first.").classes(
            "text-sm fw-muted"
        )
        inputs: dict[str, Any] = {}
        with ui.grid(columns=3).classes("w-full gap-2"):
            for key, label in NUMBERS.items():
                inputs[key] = (
                    ui.number(label, value=getattr(current, key), precision=0)
                    .props("dense outlined")
                    .mark(f"setting-{key}")
                )
        with ui.row().classes("items-center gap-4"):
            fmt = ui.toggle(["json", "csv"], value=current.export_format).mark("export-format")
            gz = ui.checkbox("gzip", value=current.export_gzip).mark("export-gzip")
        msg = ui.label("").classes("text-sm").mark("export-message")

        @ui.refreshable
        def files() -> None:
            listed = export_schedule.list_exports(folder)
            if not listed:
                ui.label("No export files yet.").classes("text-sm fw-muted")
            for f in listed[:20]:
                with ui.row().classes("items-center gap-3 text-sm").mark("export-file"):
                    ui.link(f["name"], f"/api/dashboard/exports/{f['name']}", new_tab=False)
                    ui.label(fmt_bytes(f["size_bytes"])).classes("fw-muted")
                    ui.label(_age(f["modified_at"])).classes("fw-muted")

        async def save() -> None:
            changes: dict[str, Any] = {
                k: int(v.value) for k, v in inputs.items() if v.value is not None
            }
            changes["export_format"] = fmt.value
            changes["export_gzip"] = bool(gz.value)
            try:
                await dash_settings.update_settings(ctx, changes, who.name)
            except ValidationError as exc:
                first = exc.errors()[0]
                msg.text = f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
                return
            hours = changes.get("export_interval_hours", 0)
            msg.text = f"Saved: every {hours} h." if hours else "Saved: periodic export is off."

        async def now() -> None:
            msg.text = "Exporting…"
            done = await export_schedule.export_now(ctx, who.name)
            msg.text = f"Wrote {done['name']} ({fmt_bytes(done['size_bytes'])})."
            await asyncio.sleep(0)
            files.refresh()

        with ui.row().classes("gap-2"):
            ui.button("Save", on_click=save).mark("export-save")
            ui.button("Export now", icon="save_alt", on_click=now).props("outline").mark(
                "export-now"
            )
        files()
