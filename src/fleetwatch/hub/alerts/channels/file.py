"""Rotating file channel: one line per event (text or JSON), rotated at `max_bytes`
(10 MiB default) keeping `backup_count` old files (`alerts.log.1` is the newest of those)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Literal

import orjson
from pydantic import Field

from fleetwatch.hub.alerts.channels.base import KindConfig, payload, text_line
from fleetwatch.hub.alerts.state import AlertEvent


class FileConfig(KindConfig):
    path: str = Field(min_length=1, max_length=4096)
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    backup_count: int = Field(default=3, ge=0, le=100)
    format: Literal["text", "json"] = "text"


class FileSender:
    def __init__(self, config: FileConfig) -> None:
        self.config = config
        self.path = Path(config.path)
        self._lock = threading.Lock()

    def _rotate(self) -> None:
        n = self.config.backup_count
        if n == 0:
            self.path.unlink(missing_ok=True)
            return
        for i in range(n - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def write_line(self, line: str) -> None:
        data = (line + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            size = self.path.stat().st_size if self.path.exists() else 0
            if size and size + len(data) > self.config.max_bytes:
                self._rotate()
            with self.path.open("ab") as fh:
                fh.write(data)

    async def send(self, event: AlertEvent) -> None:
        if self.config.format == "json":
            line = orjson.dumps(payload(event)).decode()
        else:
            line = text_line(event)
        await asyncio.to_thread(self.write_line, line)

    async def aclose(self) -> None:
        return None
