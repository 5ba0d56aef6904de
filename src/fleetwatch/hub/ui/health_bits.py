"""HTML pieces of the health score (issue 20, B3): the score pill of a band, and the "why"
bar that shows the score and, beside it, each factor as a segment as wide as the points it
cost (hover: the factor). Pure ASCII, every value escaped, like `cards.py`."""

from __future__ import annotations

from html import escape
from typing import Any

from fleetwatch.hub.ui.cards import ascii_html
from fleetwatch.hub.ui.units import CRITICAL, OK, WARNING

BAND_COLORS = {"healthy": OK, "warning": WARNING, "critical": CRITICAL}
#: lost points: slate shades (costliest first, darkest), so the kept score in its band's
#: colour stands out from what was lost
SEGMENT_COLORS = ("#64748b", "#94a3b8", "#475569", "#cbd5e1", "#334155", "#e2e8f0", "#1e293b")


def band_color(band: str) -> str:
    return BAND_COLORS.get(band, "#64748b")


def score_pill(score: float | None, band: str, title: str = "health score") -> str:
    """A small coloured pill: "84" on the band's colour."""
    if score is None:
        return ""
    return (
        f'<span class="fw-health" data-band="{escape(band)}" title="{escape(title)}: '
        f'{escape(band)}" style="background:{band_color(band)};color:#fff;border-radius:9px;'
        f'padding:0 7px;font-weight:700;font-size:11px">{score:.0f}</span>'
    )


def why_bar(score: float, band: str, explanation: list[dict[str, Any]]) -> str:
    """The score as a bar of 100: the kept points in the band's colour, then one segment per
    factor; below it, the factors with their points."""
    parts = [f'<div style="width:{max(score, 0):.1f}%;background:{band_color(band)}" '
             f'title="score {score:.0f}"></div>']  # fmt: skip
    rows = []
    for i, f in enumerate(explanation):
        color = SEGMENT_COLORS[i % len(SEGMENT_COLORS)]
        points = -float(f["points"])
        label = escape(str(f["factor"]))
        parts.append(
            f'<div data-factor="{label}" style="width:{points:.1f}%;background:{color};'
            f'border-left:1px solid var(--fw-bg, #0b1220)" title="{label}: {-points:g}"></div>'
        )
        rows.append(
            f'<div class="fw-sb fw-s12"><span><span class="fw-dot" style="background:{color}">'
            f'</span> {label}</span><span class="fw-num">{-points:g}</span></div>'
        )
    if not rows:
        rows.append('<div class="fw-muted fw-s12">Nothing costs points: all clear.</div>')
    return ascii_html(
        '<div class="fw-why">'
        '<div style="display:flex;height:14px;border-radius:7px;overflow:hidden;'
        f'background:var(--fw-border)">{"".join(parts)}</div>'
        f'<div style="margin-top:8px;display:grid;gap:3px">{"".join(rows)}</div></div>'
    )
