"""The dashboard in headless Chromium (Debian's, via Playwright) against a real hub process
filled by `fleetwatch demo`. Every page is screenshotted into artifacts/screenshots/."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hubtest import RunningHub, start_hub

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
FLEETWATCH = [sys.executable, "-m", "fleetwatch.cli.main"]
VIEWER_PASSWORD = "viewer-password-1"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningHub, str]]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian chromium (apt-get install -y chromium)")
    hub = start_hub(tmp_path_factory.mktemp("hub"), None, FLEETWATCH_RATE_LIMIT_PER_MINUTE="0")
    try:
        found = re.search(r"with password (\S+)", hub.log())
        assert found, hub.log()
        demo = subprocess.run(
            [*FLEETWATCH, "demo", "--url", hub.base_url, "--count", "8", "--rounds", "3",
             "--live", "--live-ticks", "10", "--history-hours", "6"],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert demo.returncode == 0, demo.stderr
        add = subprocess.run(
            [*FLEETWATCH, "user", "add", "vera", "--role", "viewer", "--password-stdin",
             "--data-dir", str(hub.data_dir)],
            input=VIEWER_PASSWORD + "\n", capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert add.returncode == 0, add.stderr
        yield hub, found.group(1)
    finally:
        hub.stop()


@pytest.fixture
def page(hub: tuple[RunningHub, str]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.fleet_errors = []  # console errors and requests leaving loopback
        page.on("console", lambda m: m.type == "error" and page.fleet_errors.append(m.text))
        page.on("pageerror", lambda e: page.fleet_errors.append(str(e)))
        page.on("request", lambda r: r.url.startswith(("http://127.0.0.1", "data:", "blob:"))
                or page.fleet_errors.append("external request " + r.url))  # fmt: skip
        try:
            yield page
        finally:
            browser.close()


def login(page: Any, base: str, name: str, password: str) -> None:
    page.goto(base + "/")
    page.wait_for_url("**/login**")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector(".fw-server-card", timeout=20000)


def shot(page: Any, name: str) -> None:
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def echart_points(page: Any, selector: str) -> list[int]:
    """Number of points in each series of the ECharts instances matched by `selector`."""
    return page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel)).map((el) => {
            const chart = getElement(el.id.replace(/^c/, "")).chart;
            return chart.getOption().series.reduce((n, s) => n + (s.data || []).length, 0);
        })""",
        selector,
    )


def test_admin_walkthrough(hub: tuple[RunningHub, str], page: Any) -> None:
    running, password = hub
    base = running.base_url
    page.goto(base + "/")
    page.wait_for_url("**/login**")
    shot(page, "01-login")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("wrong user name or password").wait_for()
    # Chromium logs the expected 401 of that login as a console error; nothing else may be
    page.fleet_errors.clear()
    login(page, base, "admin", password)
    assert page.locator(".fw-server-card").count() == 8
    shot(page, "02-overview-grid")

    page.get_by_placeholder("Search hostname, name or IP").fill("db-")
    page.wait_for_function("document.querySelectorAll('.fw-server-card').length == 2")
    page.get_by_placeholder("Search hostname, name or IP").fill("")
    page.wait_for_function("document.querySelectorAll('.fw-server-card').length == 8")

    page.get_by_text("List", exact=True).click()
    page.wait_for_selector(".q-table tbody tr")
    assert page.locator(".q-table tbody tr").count() == 8
    shot(page, "03-overview-list")
    page.get_by_text("Map", exact=True).click()
    page.wait_for_selector(".fw-group-box")
    assert page.locator(".fw-group-box").count() == 5
    shot(page, "04-overview-map")
    page.reload()  # the view choice is remembered
    page.wait_for_selector(".fw-group-box")
    page.get_by_text("Grid", exact=True).click()
    page.wait_for_selector(".fw-server-card")

    page.locator(".fw-server-card").first.click()
    page.wait_for_url("**/server/**")
    page.get_by_text("Disks", exact=True).wait_for()
    shot(page, "05-server-overview")
    page.get_by_role("tab", name="Charts").click()
    page.wait_for_selector(".nicegui-echart canvas")
    page.wait_for_timeout(800)
    assert all(n > 0 for n in echart_points(page, ".q-tab-panel:not([hidden]) .nicegui-echart"))
    shot(page, "06-server-charts")
    page.get_by_role("tab", name="Processes").click()
    page.wait_for_selector(".q-tab-panel .q-table tbody tr")
    shot(page, "07-server-processes")

    # the live tab moves: a new live sample shows up without reloading
    server_url = page.url
    reg = httpx.post(f"{base}/api/register", json={"hostname": "live-probe"}).json()
    agent = {"Authorization": f"Bearer {reg['server_id']}:{reg['api_key']}"}
    sample = {"cpu_percent": 42.0, "memory_percent": 50.0, "cpu_per_core": [40.0, 44.0]}
    assert httpx.post(f"{base}/api/metrics/live", json=sample, headers=agent).is_success
    page.goto(f"{base}/server/{reg['server_id']}")
    page.get_by_role("tab", name="Performance monitor").click()
    page.get_by_text("1 samples in the last 5 min").wait_for()
    sample["cpu_percent"] = 77.0
    assert httpx.post(f"{base}/api/metrics/live", json=sample, headers=agent).is_success
    page.get_by_text("2 samples in the last 5 min").wait_for(timeout=15000)
    page.goto(server_url)
    page.get_by_role("tab", name="Performance monitor").click()
    page.get_by_text("Benchmark (min / avg / max)").wait_for()
    page.wait_for_timeout(1000)
    shot(page, "08-performance-monitor")

    page.goto(base + "/alerts")
    page.get_by_text("History (").wait_for()
    acks = page.get_by_role("button", name="Acknowledge")
    if acks.count():
        before = acks.count()
        acks.first.click()
        page.wait_for_function(
            f"document.querySelectorAll('button').length && "
            f"[...document.querySelectorAll('button')].filter(b => b.innerText.trim()"
            f".toLowerCase() == 'acknowledge').length == {before - 1}"
        )
    page.get_by_role("button", name="Mark all read").click()
    page.get_by_text("Unread notifications (0)").wait_for()
    shot(page, "09-alerts")

    for path, name, text in (
        ("/users", "10-users", "Add a user"),
        ("/audit", "11-audit", "Every change, login and command"),
        ("/settings", "12-settings", "Export and cleanup"),
        ("/account", "13-account", "API tokens"),
    ):
        page.goto(base + path)
        page.get_by_text(text).first.wait_for()
        shot(page, name)

    # dark / light, remembered across reloads
    page.goto(base + "/")
    page.wait_for_selector(".fw-server-card")
    assert "body--dark" in page.evaluate("document.body.className")
    page.locator("button:has(i:text('contrast'))").click()
    page.wait_for_function("document.body.classList.contains('body--light')")
    page.reload()
    page.wait_for_selector(".fw-server-card")
    assert "body--light" in page.evaluate("document.body.className")
    shot(page, "14-overview-light")
    page.locator("button:has(i:text('contrast'))").click()
    page.wait_for_function("document.body.classList.contains('body--dark')")

    page.set_viewport_size({"width": 768, "height": 1024})
    page.reload()
    page.wait_for_selector(".fw-server-card")
    shot(page, "15-tablet-768")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"horizontal overflow of {overflow}px at 768 px"

    page.locator("button:has(i:text('account_circle'))").click()
    page.get_by_text("Log out").click()
    page.wait_for_url("**/login**")
    page.goto(base + "/settings")
    page.wait_for_url("**/login**")
    assert page.fleet_errors == []


def test_viewer_cannot_edit_or_delete(hub: tuple[RunningHub, str], page: Any) -> None:
    running, _password = hub
    base = running.base_url
    login(page, base, "vera", VIEWER_PASSWORD)
    page.locator(".fw-server-card").first.click()
    page.get_by_text("Disks", exact=True).wait_for()
    assert page.get_by_role("button", name="Edit").count() == 0
    assert page.get_by_role("button", name="Delete").count() == 0
    shot(page, "16-viewer-server")
    page.goto(base + "/users")
    page.get_by_text("This page needs the admin role.").wait_for()
    shot(page, "17-viewer-forbidden")
    assert page.fleet_errors == []
    # the API refuses too, with the browser's own session cookie
    status = page.evaluate(
        "fetch(location.pathname.replace('/users', '') + '/api/dashboard/users')"
        ".then(r => r.status)"
    )
    assert status == 403
