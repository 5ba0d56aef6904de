"""Live updates in a real browser against the real hub process (fixtures in conftest.py):
a snapshot posted through the agent API shows up on an open overview without a reload, and
opening a server's performance monitor asks its agent to stream (live on demand, A6)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from browsing import CHROMIUM, login, shot

from factories import make_snapshot
from hubtest import RunningHub, start_hub

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningHub, str]]:
    """A hub of its own: the probes registered here must not join the demo fleet that the
    other browser tests count (conftest's session hub)."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian chromium (apt-get install -y chromium)")
    hub = start_hub(tmp_path_factory.mktemp("live"), None, FLEETWATCH_RATE_LIMIT_PER_MINUTE="0")
    try:
        found = re.search(r"with password (\S+)", hub.log())
        assert found, hub.log()
        yield hub, found.group(1)
    finally:
        hub.stop()


def _agent(base: str, hostname: str) -> tuple[str, dict[str, str]]:
    reg = httpx.post(f"{base}/api/register", json={"hostname": hostname}).json()
    return reg["server_id"], {"Authorization": f"Bearer {reg['server_id']}:{reg['api_key']}"}


def _post_snapshot(base: str, agent: dict[str, str], cpu: float) -> None:
    body = make_snapshot(
        snapshot_id=uuid.uuid4().hex,
        collected_at=datetime.now(UTC).isoformat(),
    )
    body["metrics"]["cpu_percent"] = cpu
    response = httpx.post(f"{base}/api/metrics", json=body, headers=agent)
    assert response.is_success, response.text


def _card_text(page: Any, server_id: str) -> str:
    text: str = page.locator(f'[data-card="{server_id}"]').inner_text()
    return text


def test_snapshot_is_pushed_to_an_open_overview(hub: tuple[RunningHub, str], page: Any) -> None:
    running, password = hub
    base = running.base_url
    server_id, agent = _agent(base, "push-probe")
    _post_snapshot(base, agent, 12.0)
    login(page, base, "admin", password)
    page.get_by_placeholder("Search hostname, name or IP").fill("push-probe")
    page.wait_for_function("document.querySelectorAll('.fw-server-card').length == 1")
    assert "12%" in _card_text(page, server_id)
    page.evaluate("window.__notReloaded = true")

    posted = time.monotonic()
    _post_snapshot(base, agent, 87.0)
    page.wait_for_function(
        "(id) => document.querySelector(`[data-card=\"${id}\"]`).innerText.includes('87%')",
        arg=server_id,
        timeout=8000,
    )
    seconds = time.monotonic() - posted
    assert page.evaluate("window.__notReloaded") is True  # pushed, not a reload
    assert "12%" not in _card_text(page, server_id)
    assert seconds < 8
    shot(page, "25-overview-live-update")

    # with the live switch off the page stays as it is
    page.locator('[role="switch"]').filter(has_text="Live").click()
    page.wait_for_timeout(500)
    _post_snapshot(base, agent, 33.0)
    page.wait_for_timeout(4000)
    assert "87%" in _card_text(page, server_id)
    page.locator('[role="switch"]').filter(has_text="Live").click()
    page.wait_for_function(
        "(id) => document.querySelector(`[data-card=\"${id}\"]`).innerText.includes('33%')",
        arg=server_id,
        timeout=8000,
    )
    assert page.fleet_errors == []


def test_live_tab_asks_the_agent_to_stream(hub: tuple[RunningHub, str], page: Any) -> None:
    running, password = hub
    base = running.base_url
    server_id, agent = _agent(base, "watch-probe")
    sample = {"cpu_percent": 20.0, "memory_percent": 40.0}

    def live_answer() -> dict[str, Any]:
        response = httpx.post(f"{base}/api/metrics/live", json=sample, headers=agent)
        assert response.is_success, response.text
        body: dict[str, Any] = response.json()
        return body

    login(page, base, "admin", password)
    page.goto(f"{base}/server/{server_id}")
    page.get_by_role("tab", name="Performance monitor").wait_for()
    page.wait_for_timeout(1000)
    assert "live" not in live_answer()  # nobody watches the live tab yet
    page.get_by_role("tab", name="Performance monitor").click()
    deadline = time.monotonic() + 10
    answer = live_answer()
    while "live" not in answer and time.monotonic() < deadline:
        page.wait_for_timeout(300)
        answer = live_answer()
    assert answer.get("live", {}).get("interval_seconds") == 1, answer
    assert answer["live"]["seconds"] > 60  # the agent is asked to stream for the next minute+
    page.get_by_text("samples in the last 5 min").wait_for()
    shot(page, "26-performance-monitor-watched")
    assert page.fleet_errors == []


def test_a_card_scrolled_into_view_shows_current_numbers(
    hub: tuple[RunningHub, str], page: Any
) -> None:
    running, password = hub
    base = running.base_url
    server_id, agent = _agent(base, "zz-scroll-probe")  # sorts last among the ungrouped
    _post_snapshot(base, agent, 12.0)
    page.set_viewport_size({"width": 420, "height": 700})  # one card per row
    login(page, base, "admin", password)
    card = page.locator(f'[data-card="{server_id}"]')
    assert not card.is_visible() or card.bounding_box()["y"] > 700  # below the fold
    assert "12%" in _card_text(page, server_id)
    page.wait_for_timeout(1500)  # the browser has reported what is on screen

    _post_snapshot(base, agent, 44.0)
    page.wait_for_timeout(4000)
    assert "12%" in _card_text(page, server_id)  # off screen: not kept live
    card.scroll_into_view_if_needed()
    page.wait_for_function(
        "(id) => document.querySelector(`[data-card=\"${id}\"]`).innerText.includes('44%')",
        arg=server_id,
        timeout=8000,
    )
    shot(page, "27-overview-scrolled-card")
    assert page.fleet_errors == []
