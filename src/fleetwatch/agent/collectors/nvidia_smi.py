"""Parsing `nvidia-smi -q -x` XML into `Gpu` rows (the fallback when NVML is unavailable).

Values arrive as text with units (`16384 MiB`, `37 %`, `45 C`, `70.25 W`) or `N/A`.
Element names moved between driver generations (`power_readings` → `gpu_power_readings`,
`power_limit` → `current_power_limit`), so each field tries the known spellings in order.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

_UNIT_BYTES = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


def _number(text: str | None) -> float | None:
    """The leading number of `"70.25 W"`; None for `N/A`, `[N/A]`, empty or garbage."""
    if not text:
        return None
    head = text.strip().split()
    try:
        return float(head[0]) if head else None
    except ValueError:
        return None


def _bytes(text: str | None) -> int | None:
    value = _number(text)
    if value is None or text is None:
        return None
    parts = text.split()
    unit = parts[1] if len(parts) > 1 else "MiB"  # nvidia-smi reports framebuffer in MiB
    return int(value * _UNIT_BYTES.get(unit, 1024**2))


def _first(gpu: ElementTree.Element, *paths: str) -> str | None:
    for path in paths:
        node = gpu.find(path)
        if node is not None and node.text and _number(node.text) is not None:
            return node.text
    return None


def parse_nvidia_smi_xml(text: str) -> list[dict[str, Any]]:
    """Every `<gpu>` of an `nvidia_smi_log` document; raises ValueError on malformed XML."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise ValueError(f"unreadable nvidia-smi XML: {exc}") from None
    driver = (root.findtext("driver_version") or "").strip() or None
    rows: list[dict[str, Any]] = []
    for position, gpu in enumerate(root.findall("gpu")):
        minor = _number(gpu.findtext("minor_number"))
        utilization = _number(gpu.findtext("utilization/gpu_util"))
        temperature = _number(gpu.findtext("temperature/gpu_temp"))
        power = _number(
            _first(
                gpu,
                "gpu_power_readings/power_draw",
                "gpu_power_readings/instant_power_draw",
                "gpu_power_readings/average_power_draw",
                "power_readings/power_draw",
            )
        )
        limit = _number(
            _first(
                gpu,
                "gpu_power_readings/current_power_limit",
                "gpu_power_readings/enforced_power_limit",
                "power_readings/power_limit",
                "power_readings/enforced_power_limit",
            )
        )
        rows.append(
            {
                "index": int(minor) if minor is not None and minor >= 0 else position,
                "name": (gpu.findtext("product_name") or "NVIDIA GPU").strip()[:255],
                "uuid": (gpu.findtext("uuid") or "").strip()[:255] or None,
                "driver_version": driver,
                "memory_total_bytes": _bytes(gpu.findtext("fb_memory_usage/total")),
                "memory_used_bytes": _bytes(gpu.findtext("fb_memory_usage/used")),
                "memory_free_bytes": _bytes(gpu.findtext("fb_memory_usage/free")),
                "utilization_percent": min(100.0, max(0.0, utilization))
                if utilization is not None
                else None,
                "temperature_celsius": temperature,
                "power_draw_watts": power if power is None or power >= 0 else None,
                "power_limit_watts": limit if limit is None or limit >= 0 else None,
            }
        )
    return rows
