"""H8 over HTTP: login/logout, lockout with mail, roles on /api/dashboard/*, tokens, reset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from authhelp import TEST_PASSWORD, bearer, ctx_of, running_hub, token_for
from fleetwatch.hub.api import auth_dashboard
from fleetwatch.hub.app import create_app
from fleetwatch.hub.services import users
from fleetwatch.hub.services.sessions import COOKIE_NAME
from fleetwatch.hub.services.user_mail import MAILER_KEY
from fleetwatch.hub.settings import HubSettings
from hubtest import postgres_schema

ORIGIN = {"Origin": "http://testserver"}
pytestmark = [
    pytest.mark.anyio,
    # api/errors.py still answers with ORJSONResponse (deprecated in FastAPI 0.165)
    pytest.mark.filterwarnings("ignore:ORJSONResponse is deprecated"),
]


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str], dict[str, Any]]] = []

    async def send_template(self, template: str, to: list[str], variables: dict[str, Any]) -> None:
        self.sent.append((template, to, variables))


def _app(tmp_path: Path, database_url: str = "") -> Any:
    app = create_app(HubSettings(data_dir=tmp_path, database_url=database_url))
    paths = {getattr(r, "path", "") for r in app.routes}
    if "/api/session/login" not in paths:  # until app.py mounts them
        from fleetwatch.hub.api import session
        from fleetwatch.hub.api import users as users_api

        app.include_router(session.router)
        app.include_router(users_api.router)
    return app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on a SQLite file, and on a throwaway PostgreSQL schema."""
    monkeypatch.setattr(auth_dashboard, "ENFORCE", True)
    with ExitStack() as stack:
        url = ""
        if request.param == "postgres":
            url = stack.enter_context(postgres_schema(request.getfixturevalue("postgres_url")))
        async with running_hub(_app(tmp_path, url)) as c:
            ctx_of(c).extras[MAILER_KEY] = RecordingMailer()
            yield c


def _mailer(client: httpx.AsyncClient) -> RecordingMailer:
    mailer: RecordingMailer = ctx_of(client).extras[MAILER_KEY]
    return mailer


async def _create(
    client: httpx.AsyncClient, name: str, role: str, email: str | None = None
) -> None:
    await users.create_user(ctx_of(client), name, role, TEST_PASSWORD, email=email)


async def _login(client: httpx.AsyncClient, name: str, password: str = TEST_PASSWORD) -> Any:
    return await client.post(
        "/api/session/login", json={"name": name, "password": password}, headers=ORIGIN
    )


async def test_unauthenticated_dashboard_request_is_401_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/dashboard/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"
    r = await client.get("/api/dashboard/me", headers=bearer("fwu_not-a-real-token"))
    assert r.status_code == 401


async def test_login_sets_cookie_and_logout_ends_session(client: httpx.AsyncClient) -> None:
    await _create(client, "alice", "operator", "alice@example.org")
    assert _mailer(client).sent[0][:2] == ("welcome", ["alice@example.org"])
    r = await _login(client, "alice")
    assert r.status_code == 200, r.text
    cookie_header = r.headers["set-cookie"]
    assert "httponly" in cookie_header.lower() and "samesite=lax" in cookie_header.lower()
    assert (await client.get("/api/dashboard/me")).json()["user"]["role"] == "operator"
    stolen = client.cookies.get(COOKIE_NAME)
    assert (await client.post("/api/session/logout", headers=ORIGIN)).status_code == 204
    assert (await client.get("/api/dashboard/me")).status_code == 401
    # the old cookie is dead on the server side too, not only deleted in this browser
    client.cookies.set(COOKIE_NAME, stolen or "")
    r = await client.get("/api/dashboard/me")
    assert r.status_code == 401


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    await _create(client, "bob", "viewer")
    a = await _login(client, "bob", "wrong password!")
    b = await _login(client, "nobody", "wrong password!")
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


async def test_lockout_after_five_failures_sends_mail_and_admin_unlocks(
    client: httpx.AsyncClient,
) -> None:
    await _create(client, "carol", "viewer", "carol@example.org")
    for _ in range(5):
        assert (await _login(client, "carol", "bad password")).status_code == 401
    r = await _login(client, "carol")  # right password, but locked now
    assert r.status_code == 423
    assert "15 min" in r.json()["error"]["message"]
    templates = [m[0] for m in _mailer(client).sent]
    assert templates.count("account_locked") == 1
    admin = bearer(await token_for(ctx_of(client), "admin"))
    assert (
        await client.post("/api/dashboard/users/carol/unlock", headers=admin)
    ).status_code == 200
    assert (await _login(client, "carol")).status_code == 200


async def test_roles_are_enforced(client: httpx.AsyncClient) -> None:
    viewer = bearer(await token_for(ctx_of(client), "viewer"))
    admin = bearer(await token_for(ctx_of(client), "admin"))
    assert (await client.get("/api/dashboard/me", headers=viewer)).status_code == 200
    r = await client.get("/api/dashboard/users", headers=viewer)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert (await client.get("/api/dashboard/users", headers=admin)).status_code == 200


async def test_cookie_post_from_another_site_is_refused(client: httpx.AsyncClient) -> None:
    await _create(client, "dave", "viewer")
    assert (await _login(client, "dave")).status_code == 200
    body = {"label": "x"}
    r = await client.post(
        "/api/dashboard/me/tokens", json=body, headers={"Origin": "http://evil.test"}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    assert (
        await client.post("/api/dashboard/me/tokens", json=body)
    ).status_code == 403  # no Origin
    assert (
        await client.post("/api/dashboard/me/tokens", json=body, headers=ORIGIN)
    ).status_code == 200
    # login itself from another site is refused as well
    r = await client.post(
        "/api/session/login",
        json={"name": "dave", "password": TEST_PASSWORD},
        headers={"Origin": "http://evil.test"},
    )
    assert r.status_code == 403


async def test_tokens_work_until_revoked(client: httpx.AsyncClient) -> None:
    admin = bearer(await token_for(ctx_of(client), "admin"))
    r = await client.post(
        "/api/dashboard/users", json={"name": "eve", "role": "viewer"}, headers=admin
    )
    assert r.status_code == 200
    generated = r.json()["password"]
    assert (await _login(client, "eve", generated)).status_code == 200
    r = await client.post("/api/dashboard/users/eve/tokens", json={"label": "ci"}, headers=admin)
    token = r.json()["token"]
    assert token.startswith("fwu_") and len(token) >= 40
    assert (await client.get("/api/dashboard/me", headers=bearer(token))).json()["user"][
        "name"
    ] == "eve"
    listed = (await client.get("/api/dashboard/users/eve/tokens", headers=admin)).json()["tokens"]
    assert token not in str(listed)  # only the prefix is ever shown again
    assert (
        await client.delete(f"/api/dashboard/tokens/{listed[0]['id']}", headers=admin)
    ).is_success
    assert (await client.get("/api/dashboard/me", headers=bearer(token))).status_code == 401


async def test_last_admin_cannot_be_demoted_or_deleted(client: httpx.AsyncClient) -> None:
    token = await token_for(ctx_of(client), "admin", name="root")
    admin = bearer(token)
    # the hub made its first admin at start; with two admins one may go
    r = await client.delete("/api/dashboard/users/admin", headers=admin)
    assert r.status_code == 200
    r = await client.patch("/api/dashboard/users/root", json={"role": "viewer"}, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_admin"
    assert (await client.delete("/api/dashboard/users/root", headers=admin)).status_code == 409


async def test_bad_input_gets_clear_errors(client: httpx.AsyncClient) -> None:
    admin = bearer(await token_for(ctx_of(client), "admin"))
    cases = [
        ({"name": "x y", "role": "viewer"}, "name"),
        ({"name": "ok", "role": "boss"}, "role"),
        ({"name": "ok", "role": "viewer", "password": "short"}, "password"),
        ({"name": "ok", "role": "viewer", "email": "nope"}, "email"),
    ]
    for body, field in cases:
        r = await client.post("/api/dashboard/users", json=body, headers=admin)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"] == field
    r = await client.post(
        "/api/dashboard/users", json={"name": "ok", "role": "viewer"}, headers=admin
    )
    assert r.status_code == 200
    r = await client.post(
        "/api/dashboard/users", json={"name": "ok", "role": "viewer"}, headers=admin
    )
    assert r.status_code == 409


async def test_password_reset_by_mailed_link(client: httpx.AsyncClient) -> None:
    await _create(client, "frank", "viewer", "frank@example.org")
    r = await client.post("/api/session/password-reset", json={"name": "frank"})
    assert r.status_code == 202
    assert (
        await client.post("/api/session/password-reset", json={"name": "ghost"})
    ).status_code == 202
    template, to, variables = _mailer(client).sent[-1]
    assert (template, to) == ("password_reset", ["frank@example.org"])
    token = variables["reset_url"].split("token=")[1]
    new = {"token": token, "password": "a new long password"}
    assert (await client.post("/api/session/password-reset/confirm", json=new)).status_code == 200
    assert (await _login(client, "frank")).status_code == 401
    assert (await _login(client, "frank", "a new long password")).status_code == 200
    again = await client.post("/api/session/password-reset/confirm", json=new)
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_token"


async def test_every_change_is_audited(client: httpx.AsyncClient) -> None:
    admin = bearer(await token_for(ctx_of(client), "admin", name="auditor"))
    await client.post(
        "/api/dashboard/users", json={"name": "gina", "role": "viewer"}, headers=admin
    )
    await client.patch("/api/dashboard/users/gina", json={"role": "operator"}, headers=admin)
    await client.delete("/api/dashboard/users/gina", headers=admin)
    await _login(client, "gina", "whatever password")
    entries = (await client.get("/api/dashboard/audit?q=gina", headers=admin)).json()["entries"]
    actions = [(e["actor"], e["action"]) for e in entries]
    assert ("auditor", "user.create") in actions
    assert ("auditor", "user.update") in actions
    assert ("auditor", "user.delete") in actions
    assert any(a == "login.failed" for _, a in actions)


async def test_nul_in_a_token_label_or_an_email_is_a_422(client: httpx.AsyncClient) -> None:
    # PostgreSQL refuses NUL in text: this was a 500 there (found by schemathesis)
    admin = bearer(await token_for(ctx_of(client), "admin"))
    r = await client.post("/api/dashboard/me/tokens", json={"label": "a\x00b"}, headers=admin)
    assert r.status_code == 422 and "NUL" in r.json()["error"]["message"], r.text
    assert r.json()["error"]["field"] == "label"
    r = await client.post("/api/dashboard/users", headers=admin,
                          json={"name": "nul", "role": "viewer", "email": "a\x00@b.c"})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["field"] == "email", r.text
    tokens = (await client.get("/api/dashboard/me/tokens", headers=admin)).json()
    assert all("\x00" not in t["label"] for t in tokens.get("tokens", tokens))


async def test_nul_anywhere_in_a_session_body_or_a_user_path_is_a_422_or_404(
    client: httpx.AsyncClient,
) -> None:
    # a NUL in the login name was a 500 on PostgreSQL (found by schemathesis in CI)
    r = await client.post("/api/session/login", json={"name": "\x06\x00{b", "password": "x"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "name", r.text
    assert "NUL" in r.json()["error"]["message"]
    r = await client.post("/api/session/password-reset", json={"name": "a\x00"})
    assert r.status_code == 422, r.text
    admin = bearer(await token_for(ctx_of(client), "admin"))
    r = await client.get("/api/dashboard/users/a%00b/tokens", headers=admin)
    assert r.status_code in (404, 422), r.text
    r = await client.patch("/api/dashboard/users/a%00b", headers=admin, json={"role": "viewer"})
    assert r.status_code in (404, 422), r.text
