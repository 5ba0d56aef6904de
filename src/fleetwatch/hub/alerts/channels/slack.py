"""Slack incoming-webhook channel: colour and emoji by level, optional channel and username."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from pydantic import AnyHttpUrl, Field

from fleetwatch.hub.alerts.channels.base import (
    LEVEL_COLORS,
    LEVEL_EMOJI,
    KindConfig,
    display_level,
    title,
)
from fleetwatch.hub.alerts.channels.webhook import post_json
from fleetwatch.hub.alerts.state import AlertEvent


class SlackConfig(KindConfig):
    webhook_url: AnyHttpUrl
    channel: str | None = Field(default=None, max_length=255)
    username: str = Field(default="fleetwatch", max_length=255)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


def slack_message(config: SlackConfig, event: AlertEvent) -> dict[str, Any]:
    a = event.alert
    level = display_level(event)
    fields = [
        {"title": "Component", "value": str(a.get("component")), "short": True},
        {"title": "Level", "value": str(a.get("level")), "short": True},
    ]
    if a.get("value") is not None:
        fields.append({"title": "Value", "value": f"{a['value']:.1f}", "short": True})
    if a.get("threshold") is not None:
        fields.append({"title": "Threshold", "value": f"{a['threshold']:.1f}", "short": True})
    msg: dict[str, Any] = {
        "username": config.username,
        "icon_emoji": LEVEL_EMOJI[level],
        "text": f"{LEVEL_EMOJI[level]} {title(event)}: {a.get('message')}",
        "attachments": [
            {
                "color": LEVEL_COLORS[level],
                "title": title(event),
                "text": str(a.get("message")),
                "fields": fields,
                "footer": "fleetwatch",
                "ts": int(a.get("updated_at") or a.get("fired_at") or 0),
            }
        ],
    }
    if config.channel:
        msg["channel"] = config.channel
    return msg


class SlackSender:
    def __init__(self, config: SlackConfig) -> None:
        self.config = config
        self.client = httpx.AsyncClient()

    async def send(self, event: AlertEvent) -> None:
        body = orjson.dumps(slack_message(self.config, event))
        headers = {"Content-Type": "application/json"}
        url = str(self.config.webhook_url)
        await post_json(self.client, url, body, headers, self.config.timeout_seconds)

    async def aclose(self) -> None:
        await self.client.aclose()
