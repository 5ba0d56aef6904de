"""Formatting helpers of `fleetwatch top`: human-readable sizes, rates, durations, bars, tables."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from fleetwatch.agent.top.alerts import CRITICAL, Threshold

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(value: float | None) -> str:
    """`1536` -> `1.5 KiB`; `None` -> `-`."""
    if value is None:
        return "-"
    size, unit = float(value), 0
    while abs(size) >= 1024 and unit < len(_UNITS) - 1:
        size, unit = size / 1024, unit + 1
    return f"{size:.0f} {_UNITS[unit]}" if unit == 0 else f"{size:.1f} {_UNITS[unit]}"


def human_rate(value: float | None) -> str:
    """Bytes per second, `-` before the second sample (no rate yet)."""
    return "-" if value is None else f"{human_bytes(value)}/s"


def human_duration(seconds: float | None) -> str:
    """`93784` -> `1d 02:03`."""
    if seconds is None:
        return "-"
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}:{minutes:02d}" if days else f"{hours:02d}:{minutes:02d}"


def fit(text: str, width: int) -> str:
    """`text` cut to `width` characters, the cut marked by "…" (long mountpoints, devices)."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def human_count(value: float | None) -> str:
    """A count in at most 4 characters: `9999`, `12k`, `4.6M`, `750M`, `7.0G`."""
    if value is None:
        return "-"
    number = float(value)
    if abs(number) < 10_000:
        return f"{number:.0f}"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(number) >= size:
            scaled = number / size
            return f"{scaled:.1f}{unit}" if abs(scaled) < 10 else f"{scaled:.0f}{unit}"
    return f"{number:.0f}"  # pragma: no cover - unreachable


def _style(percent: float, threshold: Threshold | None) -> str:
    level = threshold.level(percent) if threshold else None
    return {None: "green", CRITICAL: "bold red"}.get(level, "yellow")


def bar(percent: float | None, width: int = 20, threshold: Threshold | None = None) -> Text:
    """`[████░░░░] 42.0%`, coloured by the threshold level."""
    if percent is None:
        return Text("-")
    clamped = min(max(float(percent), 0.0), 100.0)
    filled = round(clamped / 100 * width)
    text = Text("[")
    text.append("█" * filled, style=_style(clamped, threshold))
    text.append("░" * (width - filled), style="dim")
    text.append(f"] {float(percent):5.1f}%")
    return text


def percent_text(percent: float | None, threshold: Threshold | None = None) -> Text:
    """`97.0%` coloured by the threshold level, for tables too narrow for a bar."""
    if percent is None:
        return Text("-")
    return Text(f"{float(percent):5.1f}%", style=_style(float(percent), threshold))


def section_table(title: str, *columns: str, right: Sequence[str] = ()) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        expand=False,
    )
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left", no_wrap=True)
    return table
