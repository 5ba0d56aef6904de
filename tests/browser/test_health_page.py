"""The Health page (issue 20.4) in Debian chromium: the fleet's score with its "why" bar, the
24-hour chart filling as the leader records, the groups and the worst servers with their
explanations; the score on each overview card and the server page's "why" breakdown."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from browsing import VIEWER_PASSWORD, echart_points, login, shot

from hubtest import RunningHub, admin_token

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _api(hub: RunningHub, path: str) -> Any:
    auth = {"Authorization": f"Bearer {admin_token(hub)}"}
    return httpx.get(f"{hub.base_url}{path}", headers=auth, timeout=10).json()


def test_health_page_explains_the_fleet_score(hub: tuple[RunningHub, str], page: Any) -> None:
    running, _password = hub
    scores = _api(running, "/api/health")
    login(page, running.base_url, "vera", VIEWER_PASSWORD)
    page.get_by_role("button").filter(has_text="menu").first.click()
    page.get_by_role("link", name="Health", exact=True).click()
    page.wait_for_url("**/health")
    page.wait_for_selector("text=Worst servers")
    shown = page.locator(".fw-health-score").inner_text()
    text = page.inner_text("body")
    fleet = scores["fleet"]
    assert re.search(rf"\b{fleet['score']:.0f}\b", shown), (shown, fleet)
    assert fleet["band"].title() in text
    for factor in fleet["explanation"][:3]:  # the fleet's costliest factors, listed
        assert factor["factor"] in text, (factor, text[:800])
    worst = [s for s in scores["servers"] if s["explanation"]]
    if worst:  # the demo fleet has busy servers: the worst is linked with its own factors
        assert worst[0]["name"] in text
        assert page.locator(f"a[href='/server/{worst[0]['id']}']").count() >= 1
    segments = page.locator(".fw-why [data-factor]").count()
    assert segments >= len(fleet["explanation"])
    deadline = time.monotonic() + 20
    while sum(echart_points(page, ".echart, [_echarts_instance_]")) < 2:
        assert time.monotonic() < deadline, "the 24 h chart never drew the recorded minutes"
        page.wait_for_timeout(500)
    shot(page, "health")
    assert page.fleet_errors == []


def test_cards_carry_the_score_and_the_server_page_says_why(
    hub: tuple[RunningHub, str], page: Any
) -> None:
    running, _password = hub
    scores = {s["id"]: s for s in _api(running, "/api/health")["servers"]}
    login(page, running.base_url, "vera", VIEWER_PASSWORD)
    page.wait_for_selector("[data-card]")
    pills = page.locator("[data-card] .fw-health")
    assert pills.count() >= 1
    card_id = page.locator("[data-card]").first.get_attribute("data-card")
    pill = page.locator(f"[data-card='{card_id}'] .fw-health").first
    assert pill.get_attribute("data-band") in ("healthy", "warning", "critical")
    assert abs(float(pill.inner_text()) - scores[card_id]["score"]) <= 10  # live numbers move
    worst = min(scores.values(), key=lambda s: s["score"])
    page.goto(f"{running.base_url}/server/{worst['id']}")
    page.wait_for_selector(".fw-server-health")
    box = page.locator(".fw-server-health").inner_text()
    assert "Health" in box and ("all clear" in box or worst["explanation"])
    for factor in worst["explanation"][:2]:
        assert factor["factor"].split(" ")[0] in box
    shot(page, "server-health")
    assert page.fleet_errors == []
