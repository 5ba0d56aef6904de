"""Mail against real servers on loopback: aiosmtpd with STARTTLS + login and a self-signed
certificate made here; Microsoft Graph + identity (MSAL) faked over TLS; templates; presets."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.fernet import Fernet

from fleetwatch.errors import ConfigError, DeliveryError, InvalidFieldError
from fleetwatch.hub.mail.config import MailConfig, parse_mail_config
from fleetwatch.hub.mail.mailer import Attachment, Email, check_smtp, send_smtp
from fleetwatch.hub.mail.presets import detect_provider
from fleetwatch.hub.mail.service import MailService, write_setting
from fleetwatch.hub.mail.templates import TemplateStore
from fleetwatch.hub.secretbox import KEY_FILE, load_box
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.tables import metadata

pytestmark = pytest.mark.anyio
PASSWORD = "smtp-pw-7Qx9vK"  # distinctive: searched for in the database files
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return d / "cert.pem", d / "key.pem"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp(cert: tuple[Path, Path], free_tcp_port: int) -> Iterator[tuple[int, Inbox]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert[0]), str(cert[1]))

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == b"ops"
            and data.password == PASSWORD.encode()
        )
        return AuthResult(success=ok)

    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_tcp_port, tls_context=context, require_starttls=True,
        authenticator=auth, auth_required=True,
    )  # fmt: skip
    controller.start()
    try:
        yield free_tcp_port, inbox
    finally:
        controller.stop()


def smtp_config(port: int, cert: Path, **extra: Any) -> MailConfig:
    return parse_mail_config({
        "enabled": True, "smtp_host": "127.0.0.1", "smtp_port": port, "security": "starttls",
        "username": "ops", "password": PASSWORD, "from_address": "hub@example.com",
        "ca_file": str(cert), **extra,
    })  # fmt: skip


def test_smtp_starttls_login_html_text_attachment_recipients(
    smtp: tuple[int, Inbox], cert: tuple[Path, Path]
) -> None:
    port, inbox = smtp
    config = smtp_config(port, cert[0])
    check_smtp(config)
    csv = Attachment("report.csv", b"a,b\n1,2\n", "text/csv")
    email = Email(["a@example.com", "b@example.com"], "Disk alert", "plain body",
                  "<p>html body</p>", [csv])  # fmt: skip
    send_smtp(config, email)
    rcpts, msg = inbox.messages[0]
    assert rcpts == ["a@example.com", "b@example.com"] and msg["Subject"] == "Disk alert"
    parts = {p.get_content_type(): p for p in msg.walk()}
    assert "plain body" in parts["text/plain"].get_payload(decode=True).decode()
    assert "html body" in parts["text/html"].get_payload(decode=True).decode()
    assert parts["text/csv"].get_filename() == "report.csv"


def test_smtp_errors_are_clear(smtp: tuple[int, Inbox], cert: tuple[Path, Path]) -> None:
    port, _ = smtp
    with pytest.raises(DeliveryError, match="SMTP test"):
        check_smtp(smtp_config(port, cert[0], password="wrong"))
    with pytest.raises(DeliveryError, match="certificate"):
        check_smtp(smtp_config(port, cert[0], ca_file=None))  # self-signed: refused by default


async def test_service_sends_templates_with_toggles(
    smtp: tuple[int, Inbox], cert: tuple[Path, Path], tmp_path: Path
) -> None:
    port, inbox = smtp
    db = Database(f"sqlite:///{tmp_path / 'm.db'}", max_delay_ms=1)
    metadata.create_all(db.engine)
    db.start()
    try:
        mail = MailService(db)
        await mail.save_config(smtp_config(port, cert[0]).model_dump()
                               | {"templates_enabled": {"welcome": False}})  # fmt: skip
        assert (await mail.config()).public()["password"] == "********"
        await mail.save_config((await mail.config()).public())  # masked password kept
        await mail.test_connection()
        ctx = {"server_name": "web-01", "message": "Disk <full>", "level": "CRITICAL",
               "subject_line": "Disk full"}  # fmt: skip
        assert await mail.send_template("server_alert", ["ops@example.com"], ctx)
        assert not await mail.send_template("welcome", ["new@example.com"], {"username": "x"})
        assert len(inbox.messages) == 1
        msg = inbox.messages[0][1]
        assert msg["Subject"] == "[CRITICAL] web-01: Disk full"
        html = next(p for p in msg.walk() if p.get_content_type() == "text/html")
        body = html.get_payload(decode=True).decode()
        assert "Disk &lt;full&gt;" in body and 'style="' in body and "<link" not in body
    finally:
        db.close()


def test_templates_placeholders_and_css_inlined() -> None:
    store = TemplateStore({"custom": {"subject": "Hi {username}", "text": "{message} {{ 1 + 1 }}"}})
    r = store.render("custom", {"username": "ana", "display_name": "Ana", "message": "hello"})
    assert r.subject == "Hi ana" and r.text.strip() == "hello 2"
    r = store.render("welcome", {"username": "ana", "display_name": "Ana", "base_url": "http://h"})
    assert "Welcome, Ana" in r.html and "font-family" in r.html and "<style" not in r.html
    for name in ("password_reset", "account_locked", "maintenance", "server_alert"):
        assert store.render(name, {"server_name": "db-1"}).subject
    with pytest.raises(InvalidFieldError):
        TemplateStore({"custom": {"subject": "{% if %}"}}).render("custom", {})


@pytest.mark.parametrize(
    ("address", "provider", "host"),
    [
        ("me@gmail.com", "gmail", "smtp.gmail.com"),
        ("me@hotmail.com", "outlook", "smtp-mail.outlook.com"),
        ("me@contoso.onmicrosoft.com", "office365", "smtp.office365.com"),
        ("me@yahoo.com", "yahoo", "smtp.mail.yahoo.com"),
        ("me@example.org", "custom", ""),
    ],
)
def test_presets_detected_from_address(address: str, provider: str, host: str) -> None:
    assert detect_provider(address) == provider
    resolved = MailConfig(from_address=address).resolved()
    assert resolved.smtp_host == host and resolved.provider == provider
    if host:
        assert resolved.smtp_port == 587 and resolved.security == "starttls"


class FakeMicrosoft:
    """Identity (OIDC discovery + token endpoint) and Graph `sendMail`, over TLS."""

    def __init__(self, cert: tuple[Path, Path]) -> None:
        self.expires_in = 3600
        self.tokens_issued = 0
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, status: int, doc: dict[str, Any] | None = None) -> None:
                body = json.dumps(doc or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                tenant = self.path.split("/")[1]
                base = f"{fake.url}/{tenant}"
                self._json(200, {
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    "issuer": f"{base}/v2.0",
                })  # fmt: skip

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.endswith("/oauth2/v2.0/devicecode"):
                    self._json(200, fake.device_code())
                    return
                if self.path.endswith("/oauth2/v2.0/token"):
                    form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    fake.grants.append(form.get("grant_type", ""))
                    if fake.pending and form.get("grant_type", "").endswith("device_code"):
                        fake.pending -= 1  # the user has not entered the code yet
                        self._json(400, {"error": "authorization_pending"})
                        return
                    fake.tokens_issued += 1
                    token = f"at-{fake.tokens_issued}"
                    doc = {"access_token": token, "token_type": "Bearer",
                           "expires_in": fake.expires_in}  # fmt: skip
                    if form.get("grant_type") != "client_credentials":  # delegated
                        doc |= fake.user_tokens(self.path.split("/")[1], form["client_id"])
                    self._json(200, doc)
                    return
                auth = self.headers.get("Authorization", "")
                fake.sent.append((self.path, auth, json.loads(raw)))
                self._json(202 if auth.startswith("Bearer at-") else 401)

            def log_message(self, *args: Any) -> None:
                pass

        self.grants: list[str] = []
        self.pending = 0  # device-code polls answered `authorization_pending` first
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def device_code(self) -> dict[str, Any]:
        return {"device_code": "dc-1", "user_code": "ABCD-EFGH", "expires_in": 900,
                "interval": 1, "verification_uri": f"{self.url}/devicelogin",
                "message": f"Open {self.url}/devicelogin, enter ABCD-EFGH"}  # fmt: skip

    def user_tokens(self, tenant: str, client_id: str) -> dict[str, Any]:
        """What a delegated grant adds: a refresh token and who signed in (an unsigned ID
        token is enough for MSAL, which reads it without checking a signature)."""

        def b64(doc: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

        now = int(time.time())
        claims = {"iss": f"{self.url}/{tenant}/v2.0", "aud": client_id, "sub": "u-1", "oid": "u-1",
                  "tid": tenant, "preferred_username": "admin@contoso.com", "iat": now,
                  "exp": now + 3600}  # fmt: skip
        return {"refresh_token": f"rt-{self.tokens_issued}", "scope": "Mail.Send",
                "id_token": f"{b64({'alg': 'none'})}.{b64(claims)}.",
                "client_info": b64({"uid": "u-1", "utid": tenant})}  # fmt: skip

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_graph_send_with_msal_cache_and_silent_refresh(
    cert: tuple[Path, Path], tmp_path: Path
) -> None:
    fake = FakeMicrosoft(cert)
    db = Database(f"sqlite:///{tmp_path / 'g.db'}", max_delay_ms=1)
    metadata.create_all(db.engine)
    db.start()
    try:
        mail = MailService(db, load_box("", tmp_path))
        await mail.save_config({
            "enabled": True, "transport": "graph", "from_address": "alerts@contoso.com",
            "graph": {"client_id": "app-1", "tenant": "contoso", "client_secret": "s",
                      "sender": "alerts@contoso.com", "authority_host": fake.url,
                      "graph_url": fake.url + "/v1.0", "ca_file": str(cert[0])},
        })  # fmt: skip
        email = Email(["ops@contoso.com"], "Hello", "text", "<p>html</p>",
                      [Attachment("a.txt", b"hi", "text/plain")])  # fmt: skip
        await mail.send(email)
        await mail.send(email)  # token from the hub-stored cache: no new token request
        assert fake.tokens_issued == 1 and len(fake.sent) == 2
        path, auth, doc = fake.sent[0]
        assert path == "/v1.0/users/alerts@contoso.com/sendMail" and auth == "Bearer at-1"
        assert doc["message"]["toRecipients"][0]["emailAddress"]["address"] == "ops@contoso.com"
        assert doc["message"]["attachments"][0]["contentBytes"] == "aGk="
        cache = await mail.db.read(lambda c: c.exec_driver_sql(
            "SELECT cache FROM mail_token_cache").scalar_one())  # fmt: skip
        assert cache.startswith("fwenc1:") and "at-1" not in cache  # refresh tokens sealed
        # a token with 5 min + 1.5 s to live is refreshed silently once it has < 5 min left
        fake.expires_in = 301
        await mail.db.write(lambda c: c.exec_driver_sql("DELETE FROM mail_token_cache"))
        await mail.send(email)
        assert fake.tokens_issued == 2
        time.sleep(1.6)
        await mail.send(email)
        assert fake.tokens_issued == 3 and fake.sent[-1][1] == "Bearer at-3"
    finally:
        db.close()
        fake.close()


def _db_bytes(folder: Path, name: str) -> bytes:
    return b"".join(p.read_bytes() for p in folder.glob(f"{name}*"))


async def test_secrets_encrypted_at_rest_mail_still_sends(
    smtp: tuple[int, Inbox], cert: tuple[Path, Path], tmp_path: Path
) -> None:
    port, inbox = smtp
    db = Database(f"sqlite:///{tmp_path / 's.db'}", max_delay_ms=1)
    metadata.create_all(db.engine)
    db.start()
    try:
        mail = MailService(db, load_box("", tmp_path))
        assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
        await mail.save_config(smtp_config(port, cert[0]).model_dump())
        await mail.save_config((await mail.config()).public())  # masked: kept, still sealed
        db.close()
        assert PASSWORD.encode() not in _db_bytes(tmp_path, "s.db")
        db = Database(f"sqlite:///{tmp_path / 's.db'}", max_delay_ms=1)
        db.start()
        mail = MailService(db, load_box("", tmp_path))  # a restart: the key file is reused
        await mail.test_connection()  # logs in to aiosmtpd with the decrypted password
        assert await mail.send_template("custom", ["ops@example.com"], {"message": "hi"})
        assert len(inbox.messages) == 1
        other = MailService(db, load_box("", tmp_path / "elsewhere"))  # the wrong key
        assert (await other.config()).password == ""  # unreadable: treated as unset
        with pytest.raises(DeliveryError):
            await other.test_connection()
    finally:
        db.close()


async def test_plain_secrets_from_before_are_read_then_sealed(
    smtp: tuple[int, Inbox], cert: tuple[Path, Path], tmp_path: Path
) -> None:
    port, inbox = smtp
    db = Database(f"sqlite:///{tmp_path / 'p.db'}", max_delay_ms=1)
    metadata.create_all(db.engine)
    db.start()
    try:
        legacy = smtp_config(port, cert[0]).model_dump()
        await db.write(lambda c: write_setting(c, "mail", legacy))  # as an older hub stored it
        mail = MailService(db, load_box(Fernet.generate_key().decode(), tmp_path))
        assert not (tmp_path / KEY_FILE).exists()  # the setting's key, no key file
        assert (await mail.config()).password == PASSWORD  # plain values still work
        assert await mail.seal_stored() and not await mail.seal_stored()
        stored = await db.read(lambda c: c.exec_driver_sql(
            "SELECT value FROM alert_settings WHERE key = 'mail'").scalar_one())  # fmt: skip
        assert PASSWORD not in stored and "fwenc1:" in stored
        assert await mail.send_template("custom", ["ops@example.com"], {"message": "hi"})
        assert len(inbox.messages) == 1
    finally:
        db.close()


def test_a_bad_secret_key_setting_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="secret_key"):
        load_box("not-a-key", tmp_path)


async def test_graph_delegated_device_code_sign_in_then_silent_refresh(
    cert: tuple[Path, Path], tmp_path: Path
) -> None:
    fake = FakeMicrosoft(cert)
    fake.pending = 1
    db = Database(f"sqlite:///{tmp_path / 'd.db'}", max_delay_ms=1)
    metadata.create_all(db.engine)
    db.start()
    try:
        mail = MailService(db, load_box("", tmp_path))
        config = await mail.save_config({
            "enabled": True, "transport": "graph", "from_address": "admin@contoso.com",
            "graph": {"client_id": "app-2", "tenant": "contoso", "authority_host": fake.url,
                      "graph_url": fake.url + "/v1.0", "ca_file": str(cert[0])},
        })  # fmt: skip
        email = Email(["ops@contoso.com"], "Hello", "text", None, [])
        with pytest.raises(DeliveryError, match="nobody signed in"):
            await mail.send(email)
        flow = await mail.graph(config).start_device_flow()
        assert flow["user_code"] == "ABCD-EFGH" and "devicelogin" in flow["message"]
        fake.expires_in = 303  # refreshed silently once less than 5 minutes remain (3 s margin)
        await mail.graph(config).complete_device_flow(flow)  # polls until the user signed in
        assert fake.grants == [DEVICE_GRANT, DEVICE_GRANT]
        cache = await db.read(lambda c: c.exec_driver_sql(
            "SELECT cache FROM mail_token_cache").scalar_one())  # fmt: skip
        assert cache.startswith("fwenc1:") and "rt-1" not in cache
        await mail.send(email)  # the signed-in user's token, from the stored cache
        assert fake.sent[-1][:2] == ("/v1.0/me/sendMail", "Bearer at-1")
        time.sleep(3.1)
        await mail.send(email)  # < 5 min left: the refresh token gets a new access token
        assert fake.grants[-1] == "refresh_token" and fake.sent[-1][1] == "Bearer at-2"
        assert len(fake.sent) == 2
    finally:
        db.close()
        fake.close()
