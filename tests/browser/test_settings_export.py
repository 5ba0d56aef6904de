"""Settings → Periodic export in Debian chromium against the real hub: the schedule is saved,
"Export now" writes a file that is listed and downloads as the gzipped JSON export (H18)."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from browsing import login, shot

from hubtest import RunningHub

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_periodic_export_card(hub: tuple[RunningHub, str], page: Any) -> None:
    running, password = hub
    base = running.base_url
    login(page, base, "admin", password)
    page.goto(base + "/settings")
    card = page.locator(".q-card", has_text="Periodic export")
    card.wait_for()
    card.get_by_label("Every (hours; 0 = off)").fill("12")
    card.get_by_label("Files kept").fill("3")
    card.get_by_role("button", name="Save").click()
    card.get_by_text("Saved: every 12 h.").wait_for()
    settings = page.request.get(base + "/api/dashboard/settings").json()
    assert settings["export_interval_hours"] == 12 and settings["export_keep_files"] == 3

    card.get_by_role("button", name="Export now").click()
    card.get_by_text("Wrote fleetwatch-export-").wait_for(timeout=30000)
    link = card.locator("a", has_text=".json.gz").first
    link.wait_for()
    name = link.inner_text()
    body = page.request.get(base + f"/api/dashboard/exports/{name}").body()
    data = json.loads(gzip.decompress(body))
    assert len(data["servers"]) >= 8  # the demo fleet (other tests of the session add some)
    shot(page, "28-settings-periodic-export")
    assert page.fleet_errors == []
