"""The server page's Operations tab (issue 21.5) in Debian chromium, on its own hub with one
real agent that allows `echo` and manages the echo console: a command typed in the console
runs and its output appears; a line typed into the managed process's console reaches its stdin
and its answer appears; a viewer has no Operations tab."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsing import ARGS, CHROMIUM, SHOTS, shot

from agent_runtime_support import AgentProcess, wait_for
from controlhelp import RUN_AS, start_agent, user_token
from hubtest import RunningHub, start_hub

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
CONSOLE = Path(__file__).parents[1] / "fixtures" / "echo_console.py"


@pytest.fixture
def ops_hub(tmp_path: Path) -> Iterator[tuple[RunningHub, str, str]]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian chromium")
    hub = start_hub(tmp_path / "hub", None, FLEETWATCH_RATE_LIMIT_PER_MINUTE="0")
    agent: AgentProcess | None = None
    try:
        found = re.search(r"with password (\S+)", hub.log())
        assert found, hub.log()
        spec = {"name": "console", "argv": [sys.executable, str(CONSOLE)]}
        agent, server_id = start_agent(
            hub, tmp_path / "host", processes=[spec], commands={"allow": ["echo"], "user": RUN_AS}
        )
        yield hub, found.group(1), server_id
    finally:
        if agent is not None:
            agent.close()
        hub.stop()


def _login(page: Any, base: str, name: str, password: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/$"), timeout=20000)


def test_the_console_runs_commands_and_talks_to_a_managed_process(
    ops_hub: tuple[RunningHub, str, str],
) -> None:
    from playwright.sync_api import sync_playwright

    hub, password, server_id = ops_hub
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1100})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "request",
            lambda r: (
                r.url.startswith(("http://127.0.0.1", "data:", "blob:"))
                or errors.append("external request " + r.url)
            ),
        )
        try:
            _login(page, hub.base_url, "admin", password)
            page.goto(f"{hub.base_url}/server/{server_id}?tab=Operations")
            page.wait_for_selector(".fw-ops-command input", timeout=20000)
            wait_for(
                lambda: "allowed: echo" in page.inner_text(".fw-ops-policy"),
                timeout=15,
                what="the host's policy",
            )
            page.fill(".fw-ops-command input", "echo hello from the browser")
            page.keyboard.press("Enter")
            page.wait_for_selector(".fw-ops-output >> text=hello from the browser", timeout=15000)
            wait_for(
                lambda: "exited, exit code 0" in page.inner_text(".fw-ops-state"),
                timeout=15,
                what="the exit code",
            )
            page.wait_for_selector(".fw-ops-process >> text=running", timeout=15000)
            page.fill(".fw-ops-stdin input", "are you there")
            page.keyboard.press("Enter")
            page.wait_for_selector(".fw-ops-console >> text=echo: are you there", timeout=15000)
            page.fill(".fw-ops-command input", "rm -rf /")
            page.keyboard.press("Enter")
            page.wait_for_selector("text=is not in this host's allow-list", timeout=10000)
            shot(page, "operations")
            # a viewer sees the server but not the Operations tab
            token_page = browser.new_page()
            viewer_password = "A-long-password-123"
            user_token(hub, "vera", "viewer")
            _login(token_page, hub.base_url, "vera", viewer_password)
            token_page.goto(f"{hub.base_url}/server/{server_id}")
            token_page.get_by_role("tab", name="Charts").wait_for(timeout=20000)
            assert token_page.get_by_role("tab", name="Operations").count() == 0
        finally:
            browser.close()
    assert errors == []
