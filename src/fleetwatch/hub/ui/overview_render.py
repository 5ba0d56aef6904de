"""What the overview draws from a shared `FleetView`, memoised on the view (or on the change)
per filter, so that every open page with the same filters holds the same strings and lists.

The grid shows at most `GRID_LIMIT` cards; the map every server (one row each); the list a
row dict per server. A live update sends one `fwPatch(kind, {server id: html})` call per page
with the cards or rows that changed and that the page shows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson

from fleetwatch.hub.ui import cards
from fleetwatch.hub.ui.feed import Change, FleetFeed, FleetView, Item
from fleetwatch.hub.ui.units import fmt_ago

#: the grid shows at most this many cards (the list view pages through any number)
GRID_LIMIT = 150
#: defines `fwPatch` in the page (replace the elements marked with a server id) and tells the
#: hub which cards / map rows are on screen (`fw_visible`, none while the tab is hidden), so
#: that only those are kept live; elements added later (patches, re-draws) are observed too
PATCH_JS = """<script>
(() => {
  const SEL = "[data-card],[data-row]";
  const seen = new Set();
  let timer = null;
  const report = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const ids = document.hidden ? [] : [...seen].filter((el) => el.isConnected)
        .map((el) => el.dataset.card || el.dataset.row);
      emitEvent("fw_visible", ids);
    }, 250);
  };
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (e.isIntersecting) seen.add(e.target); else seen.delete(e.target);
    }
    report();
  });
  const watch = (node) => {
    if (node.nodeType !== 1) return;
    if (node.matches(SEL)) io.observe(node);
    node.querySelectorAll(SEL).forEach((el) => io.observe(el));
  };
  new MutationObserver((changes) => {
    for (const c of changes) {
      c.addedNodes.forEach(watch);
      c.removedNodes.forEach((n) => { if (n.nodeType === 1 && seen.delete(n)) report(); });
    }
  }).observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener("visibilitychange", report);
  window.fwPatch = (kind, parts) => {
    for (const [id, html] of Object.entries(parts)) {
      const el = document.querySelector(`[data-${kind}="${CSS.escape(id)}"]`);
      if (el) el.outerHTML = html;
    }
  };
})();
</script>"""


@dataclass(frozen=True)
class Filters:
    q: str
    group: str
    status: str


@dataclass(frozen=True)
class Rendered:
    """One filtered render of a view: `parts` are HTML blocks (grid: one, map: one per group)
    or, for the list, `rows`; `ids` the servers it shows."""

    parts: tuple[str, ...]
    rows: list[dict[str, Any]]
    ids: frozenset[str]
    shown: int
    total: int


def matches(server: Item, f: Filters) -> bool:
    """Search by hostname, display name or IP; filter by group and status."""
    if f.group != "all" and (server.get("group_name") or "Ungrouped") != f.group:
        return False
    if f.status != "all" and server.get("status") != f.status:
        return False
    if not f.q:
        return True
    needle = f.q.lower()
    hay = (server.get("hostname"), server.get("display_name"), server.get("ip_address"))
    return any(needle in (h or "").lower() for h in hay)


def list_row(s: Item) -> dict[str, Any]:
    m = s.get("metrics") or {}

    def r(v: Any) -> float | None:
        return None if v is None else round(float(v), 1)

    return {
        "id": s["id"],
        "status": s["status"],
        "name": s["name"],
        "group": s.get("group_name") or "",
        "ip": s.get("ip_address") or "",
        "cpu": r(m.get("cpu_percent")),
        "memory": r(m.get("memory_percent")),
        "disk": r(m.get("disk_percent_max")),
        "alerts": s.get("alert_count") or 0,
        "seen": fmt_ago(s.get("last_seen")),
    }


def _by_group(shown: list[Item]) -> tuple[dict[str, list[Item]], dict[str, str]]:
    by_group: dict[str, list[Item]] = defaultdict(list)
    colors: dict[str, str] = {}
    for s in shown:
        g = s.get("group_name") or "Ungrouped"
        by_group[g].append(s)
        colors[g] = s.get("group_color") or "#64748b"
    return by_group, colors


def _render(feed: FleetFeed, view: FleetView, mode: str, f: Filters) -> Rendered:
    servers: list[Item] = view.data["servers"]
    shown = [s for s in servers if matches(s, f)]
    total = len(servers)
    if mode == "list":
        rows = [list_row(s) for s in shown]
        return Rendered((), rows, frozenset(s["id"] for s in shown), len(shown), total)
    by_group, colors = _by_group(shown)
    if mode == "map":
        boxes = tuple(
            cards.group_box(
                g,
                colors[g],
                [feed.map_row(s) for s in by_group[g]],
                sum(1 for s in by_group[g] if s["status"] == "online"),
            )
            for g in sorted(by_group)
        )
        return Rendered(boxes, [], frozenset(s["id"] for s in shown), len(shown), total)
    budget, blocks, ids = GRID_LIMIT, [], set[str]()
    for g in sorted(by_group):
        if budget <= 0:
            break
        members = by_group[g][:budget]
        budget -= len(members)
        ids.update(s["id"] for s in members)
        blocks.append(
            cards.group_grid(g, colors[g], len(by_group[g]), [feed.card(s) for s in members])
        )
    # small groups sit side by side; a big group takes the full width and wraps
    grid = (
        '<div style="display:flex;flex-wrap:wrap;gap:16px 28px;align-items:flex-start">'
        + "".join(blocks)
        + "</div>"
    )
    return Rendered((grid,), [], frozenset(ids), len(shown), total)


def render(feed: FleetFeed, view: FleetView, mode: str, f: Filters) -> Rendered:
    """The view drawn in `mode` (grid, list, map) with filters `f`, shared by every page."""
    key = ("render", mode, f)
    found: Rendered | None = view.memo.get(key)
    if found is None:
        found = view.memo[key] = _render(feed, view, mode, f)
    return found


def patch_call(feed: FleetFeed, view: FleetView, mode: str, ids: frozenset[str]) -> str:
    """The `fwPatch` call that replaces the cards (grid) or map rows of `ids` with `view`'s."""
    kind, draw = ("card", feed.card) if mode == "grid" else ("row", feed.map_row)
    parts = {i: draw(view.by_id[i]) for i in sorted(ids) if i in view.by_id}
    return f"fwPatch('{kind}',{orjson.dumps(parts).decode()})"


def patch(feed: FleetFeed, change: Change, mode: str, ids: frozenset[str]) -> str | None:
    """The `fwPatch` call for a page in `mode` showing `ids` (None: nothing it shows changed).
    Pages showing the same servers share one string."""
    hit = change.changed & ids
    if not hit:
        return None
    key = ("patch", mode, ids)
    code: str | None = change.memo.get(key)
    if code is None:
        code = change.memo[key] = patch_call(feed, change.view, mode, frozenset(hit))
    return code
