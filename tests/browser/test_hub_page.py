"""The Hub page (H15) in Debian chromium: the hub process's own figures, the memory trend's
verdict and charts that grow with each sample; reachable from the navigation by a viewer."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from browsing import VIEWER_PASSWORD, echart_points, login, shot

from hubtest import RunningHub, admin_token

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_hub_page_shows_the_hub_watching_itself(hub: tuple[RunningHub, str], page: Any) -> None:
    running, _password = hub
    login(page, running.base_url, "vera", VIEWER_PASSWORD)
    page.get_by_role("button").filter(has_text="menu").first.click()  # the navigation drawer
    page.get_by_role("link", name="Hub", exact=True).click()
    page.wait_for_url("**/hub")
    page.wait_for_selector("text=Memory (RSS)")
    text = page.inner_text("body")
    rss = re.search(r"Memory \(RSS\)\s+([\d.]+) (MiB|GiB)", text)
    assert rss and float(rss.group(1)) > 20, text[:400]
    assert re.search(r"Threads\s+\d+", text) and re.search(r"Open files\s+\d+", text)
    assert "Watching: a trend needs 1h 0m of samples" in text  # the window is an hour

    def points() -> int:
        return sum(echart_points(page, ".echart, [_echarts_instance_]"))

    deadline = time.monotonic() + 15
    while (first := points()) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(250)  # the charts draw after the page
    assert first >= 2
    while (later := points()) <= first and time.monotonic() < deadline + 10:
        page.wait_for_timeout(250)  # a sample a second in this hub: the page refreshes
    assert later > first
    assert page.locator(".fw-card").count() >= 10  # 8 figures, 2 charts
    shot(page, "hub")
    assert page.fleet_errors == []


def test_hub_status_api_matches_the_process(hub: tuple[RunningHub, str]) -> None:
    running, _password = hub
    with httpx.Client(base_url=running.base_url) as http:
        assert http.get("/api/dashboard/hub").status_code == 401
        auth = {"Authorization": f"Bearer {admin_token(running)}"}
        view = http.get("/api/dashboard/hub", headers=auth).json()
    assert view["pid"] == running.process.pid
    assert len(view["samples"]) >= 2 and view["interval_seconds"] == 1.0
    assert view["current"]["rss_bytes"] > 20 << 20 and view["current"]["threads"] >= 2
    assert view["trend"]["rising"] is False
