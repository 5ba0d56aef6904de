"""Console channel: one coloured line per event (yellow WARNING, red CRITICAL, green resolved)."""

from __future__ import annotations

import sys
from typing import Literal

from fleetwatch.hub.alerts.channels.base import KindConfig, display_level, text_line
from fleetwatch.hub.alerts.state import AlertEvent

ANSI = {"INFO": "\033[36m", "WARNING": "\033[33m", "CRITICAL": "\033[1;31m", "OK": "\033[32m"}
RESET = "\033[0m"


class ConsoleConfig(KindConfig):
    stream: Literal["stderr", "stdout"] = "stderr"
    color: bool = True


class ConsoleSender:
    def __init__(self, config: ConsoleConfig) -> None:
        self.config = config

    async def send(self, event: AlertEvent) -> None:
        stream = sys.stderr if self.config.stream == "stderr" else sys.stdout
        line = text_line(event)
        if self.config.color:
            line = f"{ANSI[display_level(event)]}{line}{RESET}"
        stream.write(line + "\n")
        stream.flush()

    async def aclose(self) -> None:
        return None
