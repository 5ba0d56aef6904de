"""The sections only `fleetwatch top --detailed` shows: watched processes, services, sensors,
GPUs and containers. Each returns `None` when the snapshot has nothing for it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from rich.console import RenderableType
from rich.text import Text

from fleetwatch.agent.top.format import human_bytes, section_table


def watched(snapshot: Mapping[str, Any]) -> RenderableType | None:
    entries: Mapping[str, Any] = snapshot.get("watched_processes") or {}
    if not entries:
        return None
    out = section_table("Watched processes", "Name", "Alive", "PID", "CPU %", "RSS", "Affinity")
    for name, entry in entries.items():
        alive = Text("yes", style="green") if entry.get("alive") else Text("NO", style="bold red")
        instances = entry.get("instances") or []
        if not instances:
            out.add_row(str(name), alive, "-", "-", "-", "-")
        for inst in instances:
            affinity = inst.get("cpu_affinity")
            out.add_row(
                str(name),
                alive,
                str(inst.get("pid", "")),
                f"{inst.get('cpu_percent') or 0:.1f}",
                human_bytes(inst.get("memory_rss_bytes")),
                "-" if affinity is None else ",".join(str(c) for c in affinity),
            )
    return out


def services(snapshot: Mapping[str, Any]) -> RenderableType | None:
    items = snapshot.get("services") or []
    if not items:
        return None
    counts = Counter(str(s.get("status", "unknown")) for s in items)
    summary = ", ".join(f"{n} {status}" for status, n in counts.most_common())
    stopped = [str(s.get("service_name")) for s in items if s.get("status") != "running"]
    text = Text(f"Services: {summary}", style="bold")
    if stopped:
        shown = ", ".join(stopped[:12]) + (", ..." if len(stopped) > 12 else "")
        text.append(f"  not running: {shown}", style="yellow")
    return text


def sensors(metrics: Mapping[str, Any]) -> RenderableType | None:
    data: Mapping[str, Any] = metrics.get("sensors") or {}
    parts = [
        f"{t.get('label') or t.get('chip')} {t.get('current_celsius', 0):.0f}°C"
        for t in data.get("temperatures") or []
    ]
    parts += [
        f"{f.get('label') or f.get('chip')} {f.get('rpm', 0):.0f} rpm"
        for f in data.get("fans") or []
    ]
    battery = data.get("battery")
    if battery:
        parts.append(f"battery {battery.get('percent', 0):.0f}%")
    return Text("Sensors: " + "  ".join(parts)) if parts else None


def gpus(snapshot: Mapping[str, Any]) -> RenderableType | None:
    items = snapshot.get("gpus") or []
    if not items:
        return None
    out = section_table(
        "GPUs", "#", "Name", "Util %", "Memory", "Temp", "Power", right=("Util %", "Temp")
    )
    for gpu in items:
        util, temp = gpu.get("utilization_percent"), gpu.get("temperature_celsius")
        power = gpu.get("power_draw_watts")
        used, total = gpu.get("memory_used_bytes"), gpu.get("memory_total_bytes")
        memory = f"{human_bytes(used)} / {human_bytes(total)}"
        out.add_row(
            str(gpu.get("index", "")),
            str(gpu.get("name", "")),
            "-" if util is None else f"{util:.0f}",
            memory,
            "-" if temp is None else f"{temp:.0f}°C",
            "-" if power is None else f"{power:.0f} W",
        )
    return out


def containers(snapshot: Mapping[str, Any]) -> RenderableType | None:
    items = snapshot.get("containers") or []
    if not items:
        return None
    out = section_table("Containers", "Name", "Image", "State", "CPU %", "Memory", right=("CPU %",))
    for ctr in items:
        cpu = ctr.get("cpu_percent")
        out.add_row(
            str(ctr.get("name", "")),
            str(ctr.get("image", ""))[:30],
            str(ctr.get("state", "")),
            "-" if cpu is None else f"{cpu:.1f}",
            human_bytes(ctr.get("memory_used_bytes")),
        )
    return out
