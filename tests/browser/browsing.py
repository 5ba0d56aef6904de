"""Helpers for the browser tests (Debian chromium through Playwright, real hub process)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
FLEETWATCH = [sys.executable, "-m", "fleetwatch.cli.main"]
VIEWER_PASSWORD = "viewer-password-1"


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
