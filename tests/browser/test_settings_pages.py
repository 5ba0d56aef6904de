"""Settings, channels, maintenance, alert rules and forecasts in Debian chromium against the real
hub process: mail goes to a real aiosmtpd server on loopback (test mail, welcome mail, and the
`account_locked` mail after five failed logins), a webhook channel's test reaches a real HTTP
receiver with a valid signature, a rule's dry run reports how often it would have fired."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from browsing import login, shot

from hubtest import RunningHub, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"

    def wait_for(self, to: str, subject_part: str, timeout: float = 20.0) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for rcpt, msg in self.messages:
                if to in rcpt and subject_part in str(msg["Subject"]):
                    return msg
            time.sleep(0.1)
        seen = [(r, str(m["Subject"])) for r, m in self.messages]
        raise AssertionError(f"no mail to {to} with {subject_part!r}; got {seen}")


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def choose(page: Any, label: str, option: str) -> None:
    """Pick `option` in the Quasar select labelled `label`."""
    page.get_by_label(label).click()
    page.get_by_role("option", name=option, exact=True).click()


def wait_until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def api(page: Any, path: str) -> Any:
    """GET an API path with the browser's own session cookie."""
    return page.evaluate("(p) => fetch(p).then(r => r.json())", path)


def test_mail_settings_welcome_and_lockout_mail(
    hub: tuple[RunningHub, str], page: Any, smtp: tuple[int, Inbox]
) -> None:
    running, password = hub
    base = running.base_url
    port, inbox = smtp
    login(page, base, "admin", password)
    page.goto(base + "/settings?tab=Mail")
    page.get_by_text("Outgoing mail").wait_for()
    page.get_by_label("SMTP host (empty = provider preset)").fill("127.0.0.1")
    page.get_by_label("SMTP port (0 = preset)").fill(str(port))
    choose(page, "Security", "none")
    page.get_by_label("From address").fill("hub@example.org")
    page.get_by_label("Dashboard URL used in mails").fill(base)
    page.get_by_role("switch", name="Enabled").click()
    page.get_by_label("Send a test email to").fill("ops@example.org")
    page.get_by_role("button", name="Send test").click()
    page.get_by_text("Test email sent to ops@example.org.").wait_for(timeout=20000)
    inbox.wait_for("ops@example.org", "fleetwatch mail test")
    shot(page, "18-settings-mail")
    stored = api(page, "/api/dashboard/mail")
    assert (stored["smtp_host"], stored["smtp_port"], stored["security"]) == (
        "127.0.0.1", port, "none",
    )  # fmt: skip

    # a user with an address gets the welcome mail; five bad logins lock it, with a mail
    page.goto(base + "/users")
    page.get_by_label("Name").fill("lockme")
    page.get_by_label("E-mail (for welcome and reset mails)").fill("lock@example.org")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("Created lockme").wait_for()
    inbox.wait_for("lock@example.org", "Welcome to fleetwatch, lockme")
    page.context.clear_cookies()
    page.goto(base + "/login")
    for _ in range(5):
        page.get_by_label("User name").fill("lockme")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("wrong user name or password").wait_for()
        page.wait_for_timeout(200)
    page.get_by_label("Password").fill("still not it")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("account locked after 5 failed logins").wait_for()
    shot(page, "19-login-locked")
    locked = inbox.wait_for("lock@example.org", "fleetwatch account lockme locked")
    text = next(p for p in locked.walk() if p.get_content_type() == "text/plain")
    assert "15 minutes" in text.get_payload(decode=True).decode()


def test_channels_maintenance_rules_and_forecast(
    hub: tuple[RunningHub, str],
    page: Any,
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    running, password = hub
    base = running.base_url
    url, got = receiver
    login(page, base, "admin", password)

    page.goto(base + "/settings?tab=Channels")
    page.get_by_text("In-app notifications").wait_for()
    page.get_by_role("button", name="Add channel").click()
    page.get_by_label("Name", exact=True).fill("ops webhook")
    page.get_by_label("URL", exact=True).fill(url)
    page.get_by_label("HMAC secret (optional)").fill("s3cret")
    page.get_by_role("button", name="Save").click()
    row = page.locator(".q-card", has_text="ops webhook").last
    row.wait_for()
    row.get_by_role("button", name="Test").click()
    page.get_by_text("Test sent on ops webhook.").wait_for(timeout=20000)
    wait_until(lambda: len(got) >= 1)
    headers, body = got[-1]
    assert headers["x-fleetwatch-event"] == "test"
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["x-fleetwatch-signature"] == f"sha256={expected}"
    page.wait_for_timeout(300)
    shot(page, "20-settings-channels")
    row.get_by_role("switch").click()  # disable it
    wait_until(lambda: not _channel(page, "ops webhook")["enabled"])

    page.goto(base + "/settings?tab=Maintenance")
    page.get_by_role("button", name="Add window").click()
    page.get_by_label("Name", exact=True).fill("patch night")
    page.get_by_text("Weekly", exact=True).click()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("weekly Sat, Sun 22:00–02:00 (UTC)").wait_for()
    shot(page, "21-settings-maintenance")

    page.goto(base + "/rules")
    page.get_by_text("CPU usage", exact=True).click()
    page.get_by_label("Warning threshold").fill("1")
    page.get_by_role("button", name="Dry run").click()
    result = page.get_by_text("This rule would have fired")
    result.wait_for(timeout=20000)
    fired = result.inner_text()
    found = re.search(r"would have fired (\d+) times in the last 7 days.* · (\d+) servers", fired)
    assert found, fired
    assert int(found.group(1)) >= 8 and int(found.group(2)) >= 8, fired  # every demo server
    shot(page, "22-rules-dry-run")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("1 / 95 (> %)").wait_for()
    shot(page, "23-rules")
    rules = api(page, "/api/dashboard/alert-rules")
    assert next(r for r in rules if r["name"] == "CPU usage")["warning"] == 1.0

    page.goto(base + "/")
    page.wait_for_selector(".fw-server-card")
    page.locator(".fw-server-card", has_text="db-01").click()
    page.get_by_text("Disks", exact=True).wait_for()
    forecasts = page.get_by_text(
        re.compile(r"^(full in .* days|full in .* hours|stable|forecast: not enough)")
    )
    assert forecasts.count() >= 1
    shot(page, "24-server-forecast")
    assert page.fleet_errors == []


def _channel(page: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        c for c in api(page, "/api/dashboard/channels") if c["name"] == name
    )
    return found
