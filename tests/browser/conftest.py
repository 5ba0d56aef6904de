"""One real hub process (filled by `fleetwatch demo`, plus a viewer account) for every browser
test in this folder, and a fresh Chromium page per test that records console errors and any
request leaving loopback."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from browsing import ARGS, CHROMIUM, FLEETWATCH, SHOTS, VIEWER_PASSWORD

from hubtest import RunningHub, start_hub


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningHub, str]]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian chromium (apt-get install -y chromium)")
    hub = start_hub(
        tmp_path_factory.mktemp("hub"),
        None,
        FLEETWATCH_RATE_LIMIT_PER_MINUTE="0",
        FLEETWATCH_SELFMON_INTERVAL_SECONDS="1",
        FLEETWATCH_HEALTH_INTERVAL_SECONDS="1",
    )  # the Hub page: a sample a second; the Health page: a score a second
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
