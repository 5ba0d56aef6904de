"""The login page and the password-reset pages.

Credentials go from the browser to `POST /api/session/login` with `fetch`, so the browser
receives the HttpOnly session cookie itself; the page only learns whether it worked.
"""

from __future__ import annotations

import json

from fastapi import Request
from nicegui import ui

from fleetwatch.hub.ui.frame import STYLE


async def _post(path: str, body: dict[str, str]) -> dict[str, object]:
    script = (
        f"const r = await fetch({json.dumps(path)}, {{method: 'POST', credentials: 'same-origin',"
        " headers: {'Content-Type': 'application/json'},"
        f" body: {json.dumps(json.dumps(body))}}});"
        " let b = {}; try { b = await r.json(); } catch (e) {}"
        " return {status: r.status, body: b};"
    )
    result: dict[str, object] = await ui.run_javascript(script, timeout=20)
    return result


def _error_text(result: dict[str, object]) -> str:
    body = result.get("body")
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or "failed")
    return f"failed (HTTP {result.get('status')})"


def _shell(title: str) -> ui.card:
    ui.add_head_html(STYLE)
    ui.dark_mode(value=True)
    ui.page_title(f"{title} · fleetwatch")
    with ui.column().classes("w-full items-center mt-16"):
        with ui.row().classes("items-center gap-2 mb-4"):
            ui.icon("shield").classes("text-4xl text-blue-500")
            ui.label("fleetwatch").classes("text-3xl font-bold")
        return ui.card().classes("fw-card p-6 w-96 max-w-full")


def _safe_next(target: str) -> str:
    # only local paths: never redirect to another site after login
    return target if target.startswith("/") and not target.startswith("//") else "/"


def register() -> None:
    @ui.page("/login")
    async def login_page(request: Request, next: str = "/") -> None:
        target = _safe_next(next)
        with _shell("Log in"):
            ui.label("Log in").classes("text-xl font-bold")
            name = ui.input("User name").props("outlined autofocus").classes("w-full")
            password = (
                ui.input("Password", password=True, password_toggle_button=True)
                .props("outlined")
                .classes("w-full")
            )
            message = ui.label("").classes("text-red-500 text-sm").mark("login-error")

            async def submit() -> None:
                result = await _post(
                    "/api/session/login",
                    {"name": name.value or "", "password": password.value or ""},
                )
                if result.get("status") == 200:
                    ui.navigate.to(target)
                else:
                    message.text = _error_text(result)
                    password.value = ""

            password.on("keydown.enter", submit)
            ui.button("Log in", on_click=submit).classes("w-full").mark("login-submit")
            ui.link("Forgot your password?", "/forgot-password").classes("text-sm")

    @ui.page("/forgot-password")
    async def forgot_page() -> None:
        with _shell("Reset password"):
            ui.label("Reset your password").classes("text-xl font-bold")
            ui.label("We send a reset link to the account's e-mail address.").classes(
                "text-sm fw-muted"
            )
            who = ui.input("User name or e-mail").props("outlined").classes("w-full")
            message = ui.label("").classes("text-sm")

            async def submit() -> None:
                result = await _post("/api/session/password-reset", {"name": who.value or ""})
                ok = result.get("status") == 202
                message.text = (
                    "If the account exists and has an e-mail address, a link is on its way."
                    if ok
                    else _error_text(result)
                )

            ui.button("Send reset link", on_click=submit).classes("w-full")
            ui.link("Back to log in", "/login").classes("text-sm")

    @ui.page("/reset-password")
    async def reset_page(token: str = "") -> None:
        with _shell("New password"):
            ui.label("Choose a new password").classes("text-xl font-bold")
            new = ui.input("New password", password=True).props("outlined").classes("w-full")
            message = ui.label("").classes("text-sm")

            async def submit() -> None:
                result = await _post(
                    "/api/session/password-reset/confirm",
                    {"token": token, "password": new.value or ""},
                )
                if result.get("status") == 200:
                    message.text = "Password changed. You can log in now."
                    ui.navigate.to("/login")
                else:
                    message.text = _error_text(result)

            ui.button("Set password", on_click=submit).classes("w-full")
