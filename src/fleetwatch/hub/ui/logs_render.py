"""The log viewer's HTML (issue 22.5): one block of escaped lines per batch, with the search
terms highlighted. Every piece of a stored line goes through `html.escape` here, so a line
that carries markup (`<script>…`) is shown as text: the block is given to `ui.html` as is.

Highlights follow `logsearch.parse`: each term matches case-insensitively as whole words (a
phrase's words with anything between them that is not a letter or digit, as the full-text
index tokenizes them); a prefix term (`pay*`) marks the start of every word it begins.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from fleetwatch.hub.services.logsearch import Term

_WORD = re.compile(r"\w+")

LEVEL_COLORS = {
    "debug": "#64748b",
    "info": "#0ea5e9",
    "warning": "#f59e0b",
    "error": "#ef4444",
    "critical": "#a21caf",
}

STYLE = """
<style>
  .fw-log-lines { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
                  font-size: 12.5px; line-height: 1.45; }
  .fw-log-line { display: grid; gap: 10px; align-items: baseline; padding: 3px 8px;
                 border-bottom: 1px solid var(--fw-border);
                 grid-template-columns: 118px 130px 110px 72px minmax(0, 1fr); }
  .fw-log-line.fw-log-one { grid-template-columns: 118px 110px 72px minmax(0, 1fr); }
  .fw-log-line:hover { background: rgba(148, 163, 184, 0.08); }
  .fw-log-line > span { min-width: 0; }
  .fw-log-ts, .fw-log-host, .fw-log-app { color: var(--fw-muted); white-space: nowrap;
                                         overflow: hidden; text-overflow: ellipsis; }
  .fw-log-host { color: inherit; font-weight: 600; }
  .fw-log-badge { display: inline-block; text-align: center; border-radius: 4px; color: #fff;
                  font-size: 10.5px; font-weight: 700; padding: 0 4px; letter-spacing: .03em;
                  font-family: system-ui, sans-serif; }
  .fw-log-msg { white-space: pre-wrap; overflow-wrap: anywhere; }
  .fw-log-line.fw-log-error .fw-log-msg, .fw-log-line.fw-log-critical .fw-log-msg {
    color: #f87171; }
  .body--light .fw-log-line.fw-log-error .fw-log-msg,
  .body--light .fw-log-line.fw-log-critical .fw-log-msg { color: #b91c1c; }
  @media (max-width: 700px) {
    .fw-log-line, .fw-log-line.fw-log-one { grid-template-columns: auto auto auto 1fr; }
    .fw-log-msg { grid-column: 1 / -1; }
  }
  mark.fw-log-hl { background: #facc15; color: #111827; border-radius: 2px; padding: 0 1px; }
</style>
"""


def _e(text: str) -> str:
    return html.escape(text)


def highlighter(terms: Iterable[Term]) -> re.Pattern[str] | None:
    """One case-insensitive pattern matching every term (None: nothing to highlight)."""
    parts: list[str] = []
    for t in terms:
        words = _WORD.findall(t.text)
        if not words:
            continue
        body = r"\W+".join(re.escape(w) for w in words)
        parts.append(r"(?<!\w)" + body + ("" if t.prefix else r"(?!\w)"))
    if not parts:
        return None
    parts.sort(key=len, reverse=True)  # the longest first where two start at one place
    return re.compile("|".join(parts), re.IGNORECASE)


def marked(text: str, pattern: re.Pattern[str] | None) -> str:
    """`text` escaped, each match of `pattern` in `<mark class="fw-log-hl">`."""
    if pattern is None:
        return html.escape(text)
    out: list[str] = []
    at = 0
    for m in pattern.finditer(text):
        if m.end() == m.start():
            continue
        out.append(html.escape(text[at : m.start()]))
        out.append(f'<mark class="fw-log-hl">{html.escape(m.group(0))}</mark>')
        at = m.end()
    out.append(html.escape(text[at:]))
    return "".join(out)


def short_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%m-%d %H:%M:%S")


def full_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S.%f %Z")


def line_html(row: Mapping[str, Any], pattern: re.Pattern[str] | None, fleet: bool) -> str:
    level = str(row.get("level") or "info")
    color = LEVEL_COLORS.get(level, "#64748b")
    ts = float(row.get("ts") or 0.0)
    host = str(row.get("hostname") or row.get("server_id") or "?")
    app = str(row.get("app") or "")
    source = str(row.get("source") or "")
    message = marked(str(row.get("message") or ""), pattern)
    cells = [f'<span class="fw-log-ts fw-num" title="{full_time(ts)}">{short_time(ts)}</span>']
    if fleet:
        cells.append(f'<span class="fw-log-host" title="{_e(host)}">{_e(host)}</span>')
    cells.append(f'<span class="fw-log-app" title="{_e(source)}">{_e(app)}</span>')
    cells.append(
        f'<span><span class="fw-log-badge" style="background:{color}">'
        f"{_e(level.upper())}</span></span>"
    )
    cells.append(f'<span class="fw-log-msg">{message}</span>')
    kind = "" if fleet else " fw-log-one"
    return (
        f'<div class="fw-log-line fw-log-{_e(level)}{kind}" '
        f'data-id="{int(row["id"])}">' + "".join(cells) + "</div>"
    )


def block_html(
    rows: Iterable[Mapping[str, Any]], pattern: re.Pattern[str] | None, fleet: bool
) -> str:
    """One batch of lines (newest first, as given) as one HTML block."""
    return "".join(line_html(r, pattern, fleet) for r in rows)
