"""Periodic export (H18): the export API's JSON or CSV, written to `<data_dir>/exports`.

Settings (`export_interval_hours`, 0 = off; `export_range_hours`; `export_keep_files`;
`export_format`; `export_gzip`) live with the other dashboard settings. The elected leader checks
once a minute whether the newest file is older than the interval, writes the next one as
`name.part` and renames it when complete (a crash never leaves a truncated export under a real
name), then deletes the oldest files beyond `export_keep_files`. Every run is audited as
`data.export` (actor `system` for the schedule, the user for "export now").
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
import time
from pathlib import Path
from typing import IO, Any

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services.audit import audit
from fleetwatch.hub.services.export import Export
from fleetwatch.hub.services.settings import DashboardSettings, get_settings

log = logging.getLogger("fleetwatch.hub.export")

#: how often the schedule looks at the settings and the newest file
CHECK_SECONDS = 60.0
#: names the hub writes (and the only names the API will serve)
NAME_RE = re.compile(r"^fleetwatch-export-\d{8}T\d{6}Z(-\d+)?\.(json|csv)(\.gz)?$")


def export_dir(ctx: HubContext) -> Path:
    return ctx.settings.data_dir / "exports"


def list_exports(folder: Path) -> list[dict[str, Any]]:
    """The export files, newest first: name, size, modification time."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and NAME_RE.match(p.name)]
    stats = [(p, p.stat()) for p in files]
    stats.sort(key=lambda item: (item[1].st_mtime, item[0].name), reverse=True)
    return [
        {"name": p.name, "size_bytes": st.st_size, "modified_at": round(st.st_mtime, 3)}
        for p, st in stats
    ]


def due(settings: DashboardSettings, folder: Path, now: float) -> bool:
    """Is a scheduled export due (on, and the newest file older than the interval)?"""
    if settings.export_interval_hours <= 0:
        return False
    files = list_exports(folder)
    if not files:
        return True
    return now - float(files[0]["modified_at"]) >= settings.export_interval_hours * 3600.0


def rotate(folder: Path, keep: int) -> list[str]:
    """Delete the oldest export files beyond `keep`; returns the names deleted."""
    gone = [f["name"] for f in list_exports(folder)[keep:]]
    for name in gone:
        (folder / name).unlink(missing_ok=True)
    return gone


def _free_name(folder: Path, base: str) -> Path:
    """`base`, or `stem-2.ext...` when two exports land in the same second."""
    target, n = folder / base, 1
    stem, _, ext = base.partition(".")
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}.{ext}"
    return target


def _open(path: Path, compressed: bool) -> IO[bytes] | gzip.GzipFile:
    if compressed:
        return gzip.GzipFile(path, "wb", compresslevel=6)
    return path.open("wb")


async def export_now(
    ctx: HubContext, actor: str, settings: DashboardSettings | None = None
) -> dict[str, Any]:
    """Write one export file now (then rotate); returns its name, size and what was deleted."""
    settings = settings or await get_settings(ctx, fresh=True)
    folder = export_dir(ctx)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    run = Export(ctx, float(settings.export_range_hours), "auto")
    await run.prepare()
    fmt = settings.export_format
    name = run.filename(fmt) + (".gz" if settings.export_gzip else "")
    target = _free_name(folder, name)
    partial = target.with_name(target.name + ".part")
    started = time.monotonic()
    chunks = run.json_chunks() if fmt == "json" else run.csv_chunks()
    try:
        fh = await asyncio.to_thread(_open, partial, settings.export_gzip)
        try:
            async for chunk in chunks:
                await asyncio.to_thread(fh.write, chunk)
        finally:
            await asyncio.to_thread(fh.close)
        await asyncio.to_thread(partial.replace, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    deleted = await asyncio.to_thread(rotate, folder, settings.export_keep_files)
    size = target.stat().st_size
    detail = {"file": target.name, "size_bytes": size, "range_hours": settings.export_range_hours}
    await audit(ctx, actor, "data.export", target.name, {**detail, "rotated": deleted})
    took = round((time.monotonic() - started) * 1000)
    return {**detail, "name": target.name, "deleted": deleted, "duration_ms": took}


async def run_periodic(ctx: HubContext, check_seconds: float = CHECK_SECONDS) -> None:
    """Check every `check_seconds`; export when due. Cancel the task to stop it."""
    while True:
        try:
            settings = await get_settings(ctx, fresh=True)
            if await asyncio.to_thread(due, settings, export_dir(ctx), time.time()):
                done = await export_now(ctx, "system", settings)
                log.info("export: wrote %s (%d bytes)", done["name"], done["size_bytes"])
        except asyncio.CancelledError:
            raise
        except Exception:  # the loop must survive one bad run (a full disk, say)
            log.exception("export: periodic export failed; retrying in %.0f s", check_seconds)
        await asyncio.sleep(check_seconds)
