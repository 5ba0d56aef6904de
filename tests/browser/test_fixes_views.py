"""Issue 26 in the browser: notifications say what happened and link to the alert (26.5),
history charts span the window asked for (26.4), IEC size labels (26.3) and the agent's own
footprint on the server page (B2)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from browsing import login, shot

from factories import make_snapshot
from hubtest import RunningHub

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: "2026-12-06 14:05:09 UTC" (or a numeric zone such as +0100)
ZONED_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ([A-Z]{2,5}|[+-]\d{2,4})$")


def _x_span_hours(page: Any) -> list[float]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.q-tab-panel:not([hidden]) .nicegui-echart'))
            .map((el) => { const x = getElement(el.id.replace(/^c/, '')).chart.getOption().xAxis[0];
                           return (x.max - x.min) / 3600000; })"""
    )


def test_notifications_say_what_and_when_and_link_to_the_alert(
    hub: tuple[RunningHub, str], page: Any
) -> None:
    running, password = hub
    login(page, running.base_url, "admin", password)
    page.goto(running.base_url + "/alerts")
    # a fresh server whose first snapshot is over the critical CPU threshold fires an alert
    base = running.base_url
    reg = httpx.post(f"{base}/api/register", json={"hostname": "notify-probe"}).json()
    agent = {"Authorization": f"Bearer {reg['server_id']}:{reg['api_key']}"}
    now = datetime.now(UTC).isoformat()
    hot = make_snapshot(collected_at=now, metrics={"cpu_percent": 99.0, "cpu": {"percent": 99.0}})
    assert httpx.post(f"{base}/api/metrics", json=hot, headers=agent).is_success
    notes = page.locator(".fw-notification").filter(has_text="notify-probe")
    for _ in range(20):
        page.goto(base + "/alerts")
        page.get_by_text("Unread notifications").first.wait_for()
        if notes.count():
            break
        page.wait_for_timeout(500)
    first = notes.filter(has=page.get_by_role("link", name="View alert")).first
    message = first.locator(".fw-note-message").inner_text().strip()
    assert message, "a notification shows the alert's message, not only its title"
    when = first.locator(".fw-note-time").inner_text().strip()
    assert ZONED_TIME.match(when), when
    shot(page, "26-notifications")
    first.get_by_role("link", name="View alert").click()
    page.wait_for_url("**/alerts?alert=*")
    detail = page.locator(".fw-alert-detail")
    detail.get_by_text("Fired", exact=True).wait_for()
    assert message in detail.inner_text()  # the alert the notification was about
    shot(page, "26-alert-detail")
    page.goto(running.base_url + "/alerts?alert=99999999999")
    page.get_by_text("No alert '99999999999'").wait_for()
    assert not page.fleet_errors, page.fleet_errors


def test_server_page_units_window_and_agent_footprint(
    hub: tuple[RunningHub, str], page: Any
) -> None:
    running, password = hub
    login(page, running.base_url, "admin", password)
    page.locator(".fw-server-card").filter(has_text="db-01").first.click()
    page.wait_for_url("**/server/**")
    page.get_by_text("Disks", exact=True).wait_for()
    body = page.locator("body").inner_text()
    assert " GiB" in body and " GB" not in body and " MB" not in body
    footprint = page.get_by_text("Agent footprint").locator("xpath=..").inner_text()
    assert re.search(r"\d+\.\d% CPU · [\d.]+ MiB · (within budget|over budget)", footprint)
    shot(page, "26-server-footprint")
    server_url = page.url.split("?")[0]
    for hours in (24, 168):
        page.goto(f"{server_url}?hours={hours}&tab=Charts")
        page.wait_for_selector(".q-tab-panel:not([hidden]) .nicegui-echart canvas")
        page.wait_for_timeout(600)
        spans = _x_span_hours(page)
        assert len(spans) == 4 and all(abs(s - hours) < 0.01 for s in spans), spans
    shot(page, "26-server-charts-7d")
    page.goto(f"{server_url}?tab=Processes")
    page.wait_for_selector(".q-tab-panel .q-table thead th")
    headers = page.locator(".q-tab-panel:not([hidden]) .q-table thead th").all_inner_texts()
    assert any(h.replace("arrow_upward", "").strip() == "MiB" for h in headers), headers
    assert not page.fleet_errors, page.fleet_errors
