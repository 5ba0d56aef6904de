"""Microsoft 365 mail through OAuth 2.0 (MSAL) and Microsoft Graph `sendMail`.

Two modes, chosen by `GraphConfig.client_secret`:
- app-only (client credentials): tokens for `https://graph.microsoft.com/.default`, sending as
  `sender` through `/users/{sender}/sendMail`;
- delegated (seed 000): an admin signs in once with the device-code flow; afterwards the cached
  refresh token gets new access tokens silently, through `/me/sendMail`.
MSAL treats an access token with less than 5 minutes left as expired, so tokens are refreshed
silently 5 minutes before expiry. The token cache is serialized into the hub's database
through `load_cache` / `save_cache` after every change. MSAL is blocking (requests): every call
runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import msal
import requests

from fleetwatch.errors import DeliveryError
from fleetwatch.hub.mail.config import GRAPH_SCOPE_APP, GRAPH_SCOPE_USER, GraphConfig, MailConfig
from fleetwatch.hub.mail.mailer import Email

LoadCache = Callable[[], Awaitable[str | None]]


class _PinnedSession(requests.Session):
    """requests lets `REQUESTS_CA_BUNDLE` override a session's `verify`; a per-request value
    wins, so the configured CA file really is the one used."""

    def __init__(self, verify: str | bool) -> None:
        super().__init__()
        self.pinned_verify = verify

    def request(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("verify", self.pinned_verify)
        return super().request(*args, **kwargs)


SaveCache = Callable[[str], Awaitable[None]]


def graph_message(config: MailConfig, email: Email) -> dict[str, Any]:
    body = {"contentType": "HTML", "content": email.html} if email.html else {
        "contentType": "Text", "content": email.text}  # fmt: skip
    message: dict[str, Any] = {
        "subject": email.subject,
        "body": body,
        "toRecipients": [{"emailAddress": {"address": a}} for a in email.to],
    }
    if email.attachments:
        message["attachments"] = [
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": att.filename,
                "contentType": att.mime_type,
                "contentBytes": base64.b64encode(att.content).decode(),
            }
            for att in email.attachments
        ]
    return {"message": message, "saveToSentItems": False}


class GraphMailer:
    def __init__(self, config: GraphConfig, load_cache: LoadCache, save_cache: SaveCache) -> None:
        self.config = config
        self.load_cache = load_cache
        self.save_cache = save_cache
        self.token_requests = 0

    @property
    def app_only(self) -> bool:
        return bool(self.config.client_secret)

    @property
    def scopes(self) -> list[str]:
        return [GRAPH_SCOPE_APP] if self.app_only else [GRAPH_SCOPE_USER]

    @contextlib.asynccontextmanager
    async def _app(
        self,
    ) -> AsyncIterator[tuple[msal.ClientApplication, msal.SerializableTokenCache]]:
        """An MSAL app on the stored cache; its HTTP session is closed afterwards."""
        cache = msal.SerializableTokenCache()
        session = _PinnedSession(self.config.ca_file or True)
        stored = await self.load_cache()
        if stored:
            cache.deserialize(stored)
        common: dict[str, Any] = {
            "authority": f"{self.config.authority_host.rstrip('/')}/{self.config.tenant}",
            "token_cache": cache,
            "instance_discovery": False,
            "http_client": session,
            "timeout": 30,
        }
        if self.app_only:
            app: msal.ClientApplication = await asyncio.to_thread(
                msal.ConfidentialClientApplication,
                self.config.client_id,
                client_credential=self.config.client_secret,
                **common,
            )
        else:
            app = await asyncio.to_thread(msal.PublicClientApplication, self.config.client_id,
                                          **common)  # fmt: skip
        try:
            yield app, cache
        finally:
            session.close()

    async def _persist(self, cache: msal.SerializableTokenCache) -> None:
        if cache.has_state_changed:
            await self.save_cache(cache.serialize())

    async def access_token(self) -> str:
        """A valid access token, from the cache or refreshed silently."""
        async with self._app() as (app, cache):
            if self.app_only:
                result = await asyncio.to_thread(app.acquire_token_for_client, self.scopes)
            else:
                accounts = await asyncio.to_thread(app.get_accounts)
                if not accounts:
                    raise DeliveryError("Microsoft 365: nobody signed in (start the device flow)")
                result = await asyncio.to_thread(app.acquire_token_silent, self.scopes, accounts[0])
            await self._persist(cache)
        if not result or "access_token" not in result:
            reason = (result or {}).get("error_description") or "sign-in needed again"
            raise DeliveryError(f"Microsoft 365 token: {reason}")
        if result.get("token_source") != "cache":
            self.token_requests += 1
        return str(result["access_token"])

    async def start_device_flow(self) -> dict[str, Any]:
        """Begin the delegated sign-in: show `message` (URL + code) to the admin."""
        async with self._app() as (app, _):
            flow: dict[str, Any] = await asyncio.to_thread(app.initiate_device_flow, self.scopes)
        if "user_code" not in flow:
            raise DeliveryError(f"Microsoft 365 device flow: {flow.get('error_description')}")
        return flow

    async def complete_device_flow(self, flow: dict[str, Any]) -> None:
        async with self._app() as (app, cache):
            result = await asyncio.to_thread(app.acquire_token_by_device_flow, flow)
            await self._persist(cache)
        if "access_token" not in result:
            raise DeliveryError(f"Microsoft 365 sign-in: {result.get('error_description')}")

    async def send(self, config: MailConfig, email: Email) -> None:
        if not email.to:
            raise DeliveryError("no recipients")
        token = await self.access_token()
        base = self.config.graph_url.rstrip("/")
        url = (
            f"{base}/users/{self.config.sender}/sendMail"
            if self.app_only
            else f"{base}/me/sendMail"
        )
        verify: ssl.SSLContext | bool = True
        if self.config.ca_file:
            verify = ssl.create_default_context(cafile=self.config.ca_file)
        async with httpx.AsyncClient(verify=verify, timeout=30) as client:
            try:
                response = await client.post(
                    url, json=graph_message(config, email),
                    headers={"Authorization": f"Bearer {token}"},
                )  # fmt: skip
            except httpx.HTTPError as exc:
                raise DeliveryError(f"Graph sendMail: {exc}") from None
        if response.status_code != 202:
            raise DeliveryError(
                f"Graph sendMail: HTTP {response.status_code} {response.text[:200]}"
            )
