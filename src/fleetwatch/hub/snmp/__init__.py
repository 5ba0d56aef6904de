"""H12: the hub's SNMP v2c responder (off by default; `fleetwatch hub --snmp-port PORT`).

It runs in the hub process, bound to the hub's own host (`settings.host`), with
`SO_REUSEPORT` so that every uvicorn worker of one hub can share the port (each answers from
the same database). `FLEETWATCH-MIB.txt` describes the OIDs (`fleetwatch snmp mib`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from importlib import resources

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.snmp.responder import Responder
from fleetwatch.hub.snmp.table import Table, build

KEY = "snmp.responder"


def mib_text() -> str:
    return resources.files(__package__).joinpath("FLEETWATCH-MIB.txt").read_text("utf-8")


def _hub_figures(ctx: HubContext) -> dict[str, float]:
    import psutil

    from fleetwatch.hub.stream.broker import broker_of

    me = ctx.extras.get("snmp.process")
    if me is None:
        me = ctx.extras["snmp.process"] = psutil.Process(os.getpid())
    with me.oneshot():
        cpu, rss = me.cpu_percent(interval=None), me.memory_info().rss
    nicegui = sys.modules.get("nicegui")
    dashboards = len(nicegui.Client.instances) if nicegui is not None else 0
    return {
        "uptime_seconds": time.time() - ctx.started_at,
        "cpu_percent": cpu,
        "rss_bytes": rss,
        "stream_clients": len(broker_of(ctx).clients),
        "dashboards": dashboards,
    }


async def snapshot_table(ctx: HubContext) -> Table:
    from fleetwatch.hub.services import dashboard, health

    overview = await dashboard.overview(ctx)
    figures = {
        **_hub_figures(ctx),
        "health_score": (await health.health(ctx, overview))["fleet"]["score"],
    }
    return build(overview, figures)


async def start_snmp(ctx: HubContext) -> Responder | None:
    """Bind the responder when `snmp_port` is set; it answers until `stop_snmp`."""
    settings = ctx.settings
    if not settings.snmp_port:
        return None
    responder = Responder(
        settings.snmp_community, await snapshot_table(ctx), lambda: snapshot_table(ctx),
        ctx.telemetry,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(
        lambda: responder, local_addr=(settings.host, settings.snmp_port), reuse_port=True
    )
    ctx.extras[KEY] = responder
    return responder


def stop_snmp(ctx: HubContext) -> None:
    responder: Responder | None = ctx.extras.pop(KEY, None)
    if responder is not None:
        responder.close()
