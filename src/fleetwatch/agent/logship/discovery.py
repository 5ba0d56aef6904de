"""Which files the agent ships, and what each one's lines become on the wire.

Sources: every `fleetwatch_log_*` file in `logs.applog_dir` (written by `fleetwatch.applog`),
plus each entry of `logs.paths` — a path, or a glob (`/var/log/app/*.log`) expanded on every
pass so new matches are picked up. The app of an applog file is the header's `app`, else the
file's name; for any other file it is the file's name.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from fleetwatch.agent.logship.parse import parse_header, parse_line
from fleetwatch.agent.logship.tailer import Chunk
from fleetwatch.applog import FILE_PREFIX, HEADER_PREFIX

MAX_APP_CHARS = 128
MAX_SOURCE_CHARS = 512
HEADER_MAX_BYTES = 8192


def discover(applog_dir: str, paths: list[str], exclude: set[str]) -> list[str]:
    """The file keys (paths as strings) to follow now, sorted, without duplicates."""
    found: set[str] = set()
    pattern = os.path.join(glob.escape(applog_dir), FILE_PREFIX + "*")
    for name in glob.glob(pattern):
        if os.path.isfile(name) and not os.path.basename(name).endswith(".tmp"):
            found.add(os.path.abspath(name))
    for entry in paths:
        expanded = os.path.expanduser(entry)
        if glob.has_magic(expanded):
            found.update(os.path.abspath(p) for p in glob.glob(expanded) if os.path.isfile(p))
        else:
            found.add(os.path.abspath(expanded))  # followed even before it exists
    return sorted(found - exclude)


def is_applog(key: str) -> bool:
    return os.path.basename(key).startswith(FILE_PREFIX)


def read_app(key: str) -> str:
    """The app name the lines of `key` carry."""
    name = os.path.basename(key)
    if is_applog(key):
        try:
            with open(key, "rb") as fh:
                first = fh.readline(HEADER_MAX_BYTES).decode("utf-8", "replace").rstrip("\n")
        except OSError:
            first = ""
        header = parse_header(first)
        app = header.get("app") if header else None
        if isinstance(app, str) and app.strip():
            return app.strip()[:MAX_APP_CHARS]
    return name[:MAX_APP_CHARS] or "log"


def wire_lines(chunk: Chunk, app: str, read_at: float) -> list[dict[str, Any]]:
    """The `lines` of a `POST /api/logs` body for one chunk (applog headers left out)."""
    applog = is_applog(chunk.key)
    source = chunk.key[:MAX_SOURCE_CHARS]
    out: list[dict[str, Any]] = []
    for text in chunk.lines:
        if applog and text.startswith(HEADER_PREFIX):
            continue
        parsed = parse_line(text, read_at, applog)
        out.append(
            {
                "ts": round(parsed.ts, 3),
                "app": app,
                "source": source,
                "level": parsed.level,
                "message": parsed.message,
            }
        )
    return out


def state_key_ok(key: str, state_path: Path) -> bool:
    """Never ship the shipper's own state file (a glob could match it)."""
    return os.path.abspath(key) != os.path.abspath(state_path)
