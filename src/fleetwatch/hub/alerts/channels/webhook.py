"""Webhook channel: POST a JSON body, custom headers, HMAC-SHA256 signature, timeout.

Signature: `X-Fleetwatch-Signature: sha256=<hex>` = HMAC-SHA256(secret, raw body), the scheme
GitHub uses; receivers compare it in constant time. `X-Fleetwatch-Event` names the event kind.
"""

from __future__ import annotations

import hashlib
import hmac

import httpx
import orjson
from pydantic import AnyHttpUrl, Field

from fleetwatch.errors import DeliveryError
from fleetwatch.hub.alerts.channels.base import KindConfig, payload
from fleetwatch.hub.alerts.state import AlertEvent

SIGNATURE_HEADER = "X-Fleetwatch-Signature"


class WebhookConfig(KindConfig):
    url: AnyHttpUrl
    headers: dict[str, str] = Field(default_factory=dict)
    secret: str | None = Field(default=None, max_length=1024)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    verify_tls: bool = True


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_json(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> None:
    try:
        response = await client.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{url}: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 300:
        raise DeliveryError(f"{url}: HTTP {response.status_code} {response.text[:200]}")


class WebhookSender:
    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self.client = httpx.AsyncClient(verify=config.verify_tls)

    async def send(self, event: AlertEvent) -> None:
        body = orjson.dumps(payload(event))
        headers = {"Content-Type": "application/json", "X-Fleetwatch-Event": event.kind}
        headers.update(self.config.headers)
        if self.config.secret:
            headers[SIGNATURE_HEADER] = sign(self.config.secret, body)
        await post_json(
            self.client, str(self.config.url), body, headers, self.config.timeout_seconds
        )

    async def aclose(self) -> None:
        await self.client.aclose()
