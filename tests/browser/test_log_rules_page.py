"""The log rule editor (issue 22.5, B8) in Debian chromium: an admin writes a rule, dry-runs it
over the lines a real server shipped ("would have matched 5 times in 24 h") with the matching
lines shown, gets a clear error for a bad regex, saves it, and the next matching line raises
an alert; a viewer reads the rules but cannot add one."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from browsing import VIEWER_PASSWORD, login, shot

from hubtest import RunningHub, admin_token

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _host(hub: RunningHub, hostname: str) -> dict[str, str]:
    r = httpx.post(f"{hub.base_url}/api/register", json={"hostname": hostname}, timeout=10)
    body = r.json()
    return {"Authorization": f"Bearer {body['server_id']}:{body['api_key']}"}


def _ship(hub: RunningHub, auth: dict[str, str], *lines: tuple[str, str]) -> None:
    batch = {
        "batch_id": uuid.uuid4().hex,
        "lines": [
            {
                "ts": time.time(),
                "app": "billing",
                "source": "/var/log/billing.log",
                "level": level,
                "message": text,
            }
            for level, text in lines
        ],
    }
    r = httpx.post(f"{hub.base_url}/api/logs", json=batch, headers=auth, timeout=10)
    assert r.status_code == 200, r.text


def _log_alerts(hub: RunningHub) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {admin_token(hub)}"}
    r = httpx.get(f"{hub.base_url}/api/dashboard/alerts", headers=auth, timeout=10)
    return [a for a in r.json() if a["metric"] == "log_match"]


def _choose(page: Any, label: str, option: str) -> None:
    page.locator(".fw-lr-editor").get_by_label(label).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_an_admin_dry_runs_and_saves_a_log_rule(hub: tuple[RunningHub, str], page: Any) -> None:
    running, password = hub
    auth = _host(running, "billing-01")
    _ship(running, auth, *[("error", f"invoice {i}: card declined <by bank>") for i in range(5)])
    _ship(running, auth, ("info", "invoice 9 paid"))
    login(page, running.base_url, "admin", password)
    page.goto(f"{running.base_url}/logs/rules")
    page.wait_for_selector(".fw-lr-new")
    page.locator(".fw-lr-new").click()
    page.wait_for_selector(".fw-lr-editor")
    page.locator(".fw-lr-name input").fill("Cards declined")
    _choose(page, "Kind", "Regular expression")
    page.locator(".fw-lr-pattern input").fill("card (declined")
    page.locator(".fw-lr-dry-run").click()
    page.wait_for_selector(".fw-lr-error:has-text('regular expression')")
    assert page.locator(".fw-lr-summary").inner_text() == ""

    page.locator(".fw-lr-pattern input").fill(r"card declined <by \w+>")
    page.locator(".fw-lr-dry-run").click()
    page.wait_for_selector(".fw-lr-summary:has-text('would have matched')")
    summary = page.locator(".fw-lr-summary").inner_text()
    assert "would have matched 5 times in 24 h (1 alert fired)" in summary, summary
    assert "billing-01 5" in summary
    samples = page.locator(".fw-lr-samples tbody tr")
    assert samples.count() == 5
    assert "invoice 4: card declined <by bank>" in samples.first.inner_text()
    shot(page, "log-rule-editor")

    page.locator(".fw-lr-save").click()
    page.wait_for_selector(".fw-lr-table")
    row = page.locator(".fw-lr-table tbody tr").filter(has_text="Cards declined")
    assert "regex" in row.inner_text() and "WARNING" in row.inner_text()
    shot(page, "log-rules")
    assert _log_alerts(running) == []  # saving replays nothing: only new lines alert
    _ship(running, auth, ("error", "invoice 11: card declined <by issuer>"))
    (alert,) = _log_alerts(running)
    assert alert["message"].startswith('Log rule "Cards declined" matched in billing:')
    assert page.fleet_errors == []


def test_a_viewer_reads_log_rules_but_cannot_add_one(
    hub: tuple[RunningHub, str], page: Any
) -> None:
    running, _password = hub
    login(page, running.base_url, "vera", VIEWER_PASSWORD)
    page.goto(f"{running.base_url}/logs/rules")
    page.wait_for_selector("text=Log rules")
    page.wait_for_selector(".fw-lr-table, .fw-lr-empty")
    assert page.locator(".fw-lr-new").count() == 0
    assert page.fleet_errors == []
