"""HTML fragments for the overview: server cards, group boxes, gauges, bars.

Hundreds of servers would mean thousands of NiceGUI elements; each group renders as one HTML
element instead (every value escaped), which keeps the page light and fast to update. Every
card carries `data-card="<server id>"` and every map row `data-row="<server id>"`, so a live
update replaces just that card or row in the browser. Fragments are pure ASCII (other
characters become character references): Python stores an all-ASCII string in one byte per
character instead of two, and the overview keeps these strings for every open page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

from fleetwatch.hub.ui.units import (
    CPU_COLOR,
    DISK_COLOR,
    MEMORY_COLOR,
    OK,
    UNKNOWN,
    family_color,
    fmt_bytes,
    fmt_duration,
    fmt_percent,
)

if TYPE_CHECKING:
    from fleetwatch.hub.services.settings import HealthSettings

Limits = Mapping[str, float] | None


def status_dot(status: str) -> str:
    color = OK if status == "online" else UNKNOWN
    return f'<span class="fw-dot" style="background:{color}"></span>'


def gauge(percent: float | None, label: str, color: str, sub: str = "", size: int = 76) -> str:
    """A ring gauge (SVG) with the value in the middle, drawn in `color` (callers pass the
    threshold colour). No data: an empty ring and "–" (no round cap drawn as a dot).
    Compact markup (classes from the frame's style): the overview sends 150 of them."""
    r = size / 2 - 6
    circumference = 2 * math.pi * r
    value = 0.0 if percent is None else max(0.0, min(100.0, percent))
    c = size / 2
    arc = ""
    if value > 0:
        dash = max(circumference * value / 100, 0.5)
        cap = ' stroke-linecap="round"' if value >= 3 else ""
        arc = (
            f'<circle class="fw-ring" cx="{c:g}" cy="{c:g}" r="{r:g}" stroke="{color}"{cap} '
            f'stroke-dasharray="{dash:.1f} {circumference:.1f}" '
            f'transform="rotate(-90 {c:g} {c:g})"/>'
        )
    return (
        f'<div class="fw-g" style="width:{size + 30}px">'
        f'<svg width="{size}" height="{size}">'
        f'<circle class="fw-ring fw-track" cx="{c:g}" cy="{c:g}" r="{r:g}"/>{arc}'
        f'<text x="50%" y="54%" text-anchor="middle">{fmt_percent(percent)}</text></svg>'
        f'<div class="fw-s12">{escape(label)}</div>'
        f'<div class="fw-muted fw-s10">{escape(sub)}</div></div>'
    )


def bar(percent: float | None, color: str) -> str:
    width = 0.0 if percent is None else max(0.0, min(100.0, percent))
    return f'<div class="fw-bar"><div style="width:{width:.1f}%;background:{color}"></div></div>'


def _disk_rows(disks: list[dict[str, Any]], thresholds: Limits, limit: int = 3) -> str:
    out = []
    for d in disks[:limit]:
        pct = d.get("percent")
        out.append(
            '<div class="fw-s11" style="margin-top:6px"><div class="fw-sb">'
            f'<span class="fw-ell">{escape(str(d.get("mountpoint") or "?"))}</span>'
            f'<span class="fw-muted">{fmt_bytes(d.get("free"))} free</span></div>'
            f"{bar(pct, family_color(pct, 'disk', thresholds, DISK_COLOR))}</div>"
        )
    return "".join(out)


def ascii_html(html: str) -> str:
    """`html` with every non-ASCII character as a numeric character reference."""
    return html if html.isascii() else html.encode("ascii", "xmlcharrefreplace").decode("ascii")


def server_card(s: dict[str, Any], weights: HealthSettings | None = None) -> str:
    """The grid card; with `weights`, the server's health score as a pill (issue 20)."""
    m = s.get("metrics") or {}
    limits = s.get("thresholds")
    cpu, mem = m.get("cpu_percent"), m.get("memory_percent")
    os_info = str(s.get("os_info") or "")
    mem_sub = ""
    if m.get("memory_used") is not None and m.get("memory_total"):
        mem_sub = f"{fmt_bytes(m['memory_used'])} / {fmt_bytes(m['memory_total'])}"
    alerts = s.get("alert_count") or 0
    alert_html = f'<span style="color:#ef4444">⚠ {alerts}</span>' if alerts else ""
    if weights is not None:
        alert_html += " " + _health_pill(s, weights)
    return ascii_html(
        f'<a href="/server/{escape(s["id"])}" data-card="{escape(s["id"])}" '
        'class="fw-card fw-server-card fw-sc">'
        '<div class="fw-sb">'
        f'<div class="fw-ell"><div class="fw-ell" style="font-weight:700">{escape(s["name"])}</div>'
        f'<div class="fw-muted fw-s11">{escape(s.get("ip_address") or "")}</div>'
        "</div>"
        f'<div class="fw-s11" style="white-space:nowrap">{status_dot(s["status"])} '
        f"{escape(s['status'].title())} {alert_html}</div></div>"
        '<div style="display:flex;justify-content:space-around;margin-top:8px">'
        f"{gauge(cpu, 'CPU', family_color(cpu, 'cpu', limits, CPU_COLOR))}"
        f"{gauge(mem, 'Memory', family_color(mem, 'memory', limits, MEMORY_COLOR), mem_sub)}"
        f"</div>{_disk_rows(s.get('disks') or [], limits)}"
        '<div class="fw-muted fw-sb fw-ft">'
        f'<span style="white-space:nowrap">up {fmt_duration(m.get("uptime_seconds"))}</span>'
        f'<span title="{escape(os_info)}" class="fw-ell">{escape(os_info)}</span></div></a>'
    )


def _health_pill(s: dict[str, Any], weights: HealthSettings) -> str:
    from fleetwatch.hub.services.health import band, score_of, server_factors
    from fleetwatch.hub.ui.health_bits import score_pill

    factors = server_factors(s, weights)
    score = score_of(factors)
    why = "; ".join(f"{f['factor']} {f['points']:g}" for f in factors) or "nothing costs points"
    return score_pill(score, band(score, weights), f"health score ({why})")


def group_grid(name: str, color: str, total: int, member_cards: list[str]) -> str:
    """The grid view of one group: its name and count, then its server cards, wrapping."""
    return ascii_html(
        '<div class="fw-group-grid" style="max-width:100%">'
        '<div style="display:flex;align-items:center;gap:8px;margin:4px 0 8px">'
        f'<span class="fw-dot" style="background:{escape(color)}"></span>'
        f'<span class="fw-muted" style="font-weight:600">{escape(name)} ({total})</span></div>'
        '<div style="display:flex;flex-wrap:wrap;gap:12px">'
        + "".join(member_cards)
        + "</div></div>"
    )


def map_row(s: dict[str, Any]) -> str:
    """One server in a map group box: status dot, name, IP and a CPU bar."""
    cpu = (s.get("metrics") or {}).get("cpu_percent")
    cpu_color = family_color(cpu, "cpu", s.get("thresholds"), CPU_COLOR)
    return ascii_html(
        f'<a href="/server/{escape(s["id"])}" data-row="{escape(s["id"])}" '
        f'data-server="{escape(s["name"])}" '
        'style="display:flex;align-items:center;gap:8px;padding:6px 8px;margin-top:6px;'
        "border-radius:8px;background:rgba(127,127,127,.08);color:inherit;"
        'text-decoration:none">'
        f"{status_dot(s['status'])}"
        f'<div style="flex:1;min-width:0"><div style="font-size:12px;white-space:nowrap;'
        f'overflow:hidden;text-overflow:ellipsis">{escape(s["name"])}</div>'
        f'<div class="fw-muted" style="font-size:10px">{escape(s.get("ip_address") or "")}'
        "</div></div>"
        f'<span class="fw-num" style="font-size:11px;width:34px;text-align:right">'
        f"{fmt_percent(cpu)}</span>"
        f'<div style="width:50px">{bar(cpu, cpu_color)}'
        "</div></a>"
    )


def group_box(name: str, color: str, rows: list[str], online: int) -> str:
    """The map view: one box per group with its servers' rows (`map_row`)."""
    c = escape(color)
    return ascii_html(
        f'<div class="fw-group-box" style="border:1px solid {c};border-radius:12px;padding:12px;'
        f'background:linear-gradient(135deg,{c}26,transparent)">'
        '<div style="display:flex;justify-content:space-between">'
        f'<span style="font-weight:600">{escape(name)}</span>'
        f'<span class="fw-muted" style="font-size:12px">{online}/{len(rows)} online</span>'
        f"</div>{''.join(rows)}</div>"
    )
