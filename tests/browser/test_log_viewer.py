"""The log viewer (issue 22.5) in Debian chromium against a real hub: lines shipped through
`POST /api/logs` show newest first on the Logs page, search filters and highlights, the level
filter hides routine lines, markup in a line stays text, a bad query says why, the live tail
brings new lines (not while paused), and the server page's Logs tab shows that server only."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from browsing import VIEWER_PASSWORD, login

from hubtest import RunningHub

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SHOTS = Path("/tmp/shots")
SCRIPT = "<script>alert(1)</script>"


def _register(base: str, hostname: str) -> tuple[str, dict[str, str]]:
    body = httpx.post(f"{base}/api/register", json={"hostname": hostname}, timeout=10).json()
    return body["server_id"], {"Authorization": f"Bearer {body['server_id']}:{body['api_key']}"}


def _ship(base: str, auth: dict[str, str], *lines: tuple[str, str]) -> None:
    now = time.time()
    batch = {
        "batch_id": uuid.uuid4().hex,
        "lines": [
            {
                "ts": now + i / 1000,
                "app": "shop",
                "source": "/var/log/shop.log",
                "level": level,
                "message": text,
            }
            for i, (level, text) in enumerate(lines)
        ],
    }
    r = httpx.post(f"{base}/api/logs", json=batch, headers=auth, timeout=10)
    assert r.status_code == 200, r.text


class Fleet:
    def __init__(self, base: str) -> None:
        self.tag = "t" + uuid.uuid4().hex[:10]
        suffix = self.tag[-4:]
        self.web, self.web_auth = _register(base, f"logs-web-{suffix}")
        self.db, self.db_auth = _register(base, f"logs-db-{suffix}")
        t = self.tag
        _ship(
            base,
            self.web_auth,
            ("info", f"{t} checkout started"),
            ("warning", f"{t} slow payment gateway"),
            ("error", f"{t} payment failed hard"),
            ("info", f"{t} rendered {SCRIPT} as text"),
        )
        _ship(base, self.db_auth, ("info", f"{t} vacuum finished"))


@pytest.fixture(scope="module")
def fleet(hub: tuple[RunningHub, str]) -> Fleet:
    return Fleet(hub[0].base_url)


def _lines(page: Any, tag: str) -> list[str]:
    texts: list[str] = page.locator(".fw-log-line").all_inner_texts()
    return [t for t in texts if tag in t]


def _wait_lines(page: Any, tag: str, count: int, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        shown = _lines(page, tag)
        if len(shown) == count:
            return shown
        assert time.monotonic() < deadline, (count, shown)
        page.wait_for_timeout(200)


def _search(page: Any, text: str) -> None:
    page.locator(".fw-log-search input").fill(text)


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / f"logs_{name}.png"), full_page=True)


def _light_shot(page: Any, name: str) -> None:
    """The same view in the light theme (the preference is put back after)."""
    theme = page.get_by_role("button").filter(has_text="contrast")
    theme.click()
    page.wait_for_selector("body.body--light")
    page.mouse.move(700, 900)  # no tooltip in the picture
    try:
        _shot(page, f"{name}_light")
    finally:
        theme.click()
        page.wait_for_selector("body.body--dark")
        page.wait_for_timeout(500)


def test_logs_page_filters_highlights_and_escapes(
    hub: tuple[RunningHub, str], fleet: Fleet, page: Any
) -> None:
    base, tag = hub[0].base_url, fleet.tag
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, base, "vera", VIEWER_PASSWORD)
    page.get_by_role("button").filter(has_text="menu").first.click()
    page.get_by_role("link", name="Logs", exact=True).click()
    page.wait_for_url("**/logs")
    assert page.locator("a.fw-log-rules-link[href='/logs/rules']").count() == 1
    page.wait_for_selector(".fw-log-viewer .fw-log-line")
    shown = _wait_lines(page, tag, 5)
    order = ["vacuum finished", "as text", "payment failed hard", "slow payment", "checkout"]
    assert [next(i for i, w in enumerate(order) if w in s) for s in shown] == [0, 1, 2, 3, 4]
    assert "logs-db-" in shown[0] and "logs-web-" in shown[1]  # the host, fleet-wide
    assert SCRIPT in shown[1]  # markup in a line is text
    assert page.locator(".fw-log-viewer script").count() == 0
    assert page.locator(".fw-log-line.fw-log-error .fw-log-badge").first.inner_text() == "ERROR"

    _search(page, f"{tag} payment")
    shown = _wait_lines(page, tag, 2)
    assert all("payment" in s for s in shown)
    marks = page.locator("mark.fw-log-hl").all_inner_texts()
    assert "payment" in marks and tag in marks, marks
    _search(page, f"{tag} pay*")
    _wait_lines(page, tag, 2)
    page.wait_for_function(  # a prefix term marks the start of the word only
        "[...document.querySelectorAll('mark.fw-log-hl')].some((m) => m.textContent === 'pay')"
    )
    _wait_lines(page, tag, 2)
    _shot(page, "search")

    _search(page, tag)
    _wait_lines(page, tag, 5)
    page.locator(".fw-log-level").click()
    page.get_by_role("option", name="Error +").click()
    shown = _wait_lines(page, tag, 1)
    assert "payment failed hard" in shown[0]
    assert page.locator(".fw-log-line.fw-log-info").count() == 0

    _search(page, '"unclosed')
    page.wait_for_selector(".fw-log-error", state="visible")
    assert "never closed" in page.locator(".fw-log-error").inner_text()
    assert page.locator(".fw-log-line").count() == 0
    _search(page, f"nomatch{tag}")
    page.get_by_text("No log lines match.").wait_for()
    assert page.locator(".fw-log-error").is_hidden()
    assert dialogs == []
    assert page.fleet_errors == []


def test_live_tail_and_pause(hub: tuple[RunningHub, str], fleet: Fleet, page: Any) -> None:
    base = hub[0].base_url
    tag = "live" + uuid.uuid4().hex[:8]
    login(page, base, "vera", VIEWER_PASSWORD)
    page.goto(f"{base}/logs")
    page.wait_for_selector(".fw-log-viewer .fw-log-line")
    _ship(base, fleet.web_auth, ("warning", f"{tag} first live line"))
    _wait_lines(page, tag, 1, timeout=5)
    page.locator(".fw-log-pause").click()
    page.get_by_role("button", name="Resume").wait_for()
    _ship(base, fleet.web_auth, ("info", f"{tag} second while paused"))
    page.get_by_text("1 new lines waiting").wait_for(timeout=5000)
    assert len(_lines(page, tag)) == 1
    page.locator(".fw-log-pause").click()
    shown = _wait_lines(page, tag, 2, timeout=5)
    assert "second while paused" in shown[0]  # newest on top
    assert page.get_by_text("new lines waiting").is_hidden()
    _shot(page, "page")
    _light_shot(page, "page")
    assert page.fleet_errors == []


def test_server_logs_tab_shows_that_server_only(
    hub: tuple[RunningHub, str], fleet: Fleet, page: Any
) -> None:
    base, tag = hub[0].base_url, fleet.tag
    login(page, base, "vera", VIEWER_PASSWORD)
    page.goto(f"{base}/server/{fleet.web}?tab=Logs")
    page.wait_for_selector(".fw-log-viewer .fw-log-line")
    shown = _wait_lines(page, tag, 4)
    assert not any("vacuum" in s for s in shown)
    assert page.locator(".fw-log-server").count() == 0  # one server: no server filter
    _shot(page, "server_tab")
    _light_shot(page, "server_tab")
    page.goto(f"{base}/server/{fleet.db}")
    page.get_by_role("tab", name="Logs").click()
    shown = _wait_lines(page, tag, 1)
    assert "vacuum finished" in shown[0]
    assert page.fleet_errors == []


def test_load_older_pages_by_id(hub: tuple[RunningHub, str], fleet: Fleet, page: Any) -> None:
    base = hub[0].base_url
    tag = "page" + uuid.uuid4().hex[:8]
    _ship(base, fleet.db_auth, *[("info", f"{tag} line {i:03d}") for i in range(130)])
    login(page, base, "vera", VIEWER_PASSWORD)
    page.goto(f"{base}/logs")
    page.wait_for_selector(".fw-log-viewer .fw-log-line")
    _search(page, tag)
    shown = _wait_lines(page, tag, 100)
    assert f"{tag} line 129" in shown[0] and f"{tag} line 030" in shown[-1]
    page.locator(".fw-log-more").click()
    shown = _wait_lines(page, tag, 130)
    assert f"{tag} line 000" in shown[-1]
    assert page.locator(".fw-log-more").is_hidden()
    assert page.fleet_errors == []
