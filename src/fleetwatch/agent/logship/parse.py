"""Turning one log line into (time, level, message).

Applog lines (`fleetwatch.applog`) carry both: `2026-12-07T21:04:16.123Z INFO text`, with
`\\n`, `\\r` and `\\\\` escapes undone. Any other line gets a level when a level word appears
near its start (`ERROR`, `WARN`, `[info]`, `level=debug`, `<3>`-style syslog priorities are
not decoded) and a time when it starts with an ISO-8601 timestamp (no zone = local time) or a
syslog one (`Dec  7 21:04:16`, the current year, local time); else level `info` and the time
the line was read. Times are unix seconds (float, UTC).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fleetwatch.applog import HEADER_PREFIX

WIRE_LEVELS = ("debug", "info", "warning", "error", "critical")

#: level words (upper case, bracketed or `level=` lower case) → wire level
_LEVEL_WORDS = {
    "TRACE": "debug",
    "DEBUG": "debug",
    "DBG": "debug",
    "INFO": "info",
    "NOTICE": "info",
    "WARN": "warning",
    "WARNING": "warning",
    "ERR": "error",
    "ERROR": "error",
    "SEVERE": "error",
    "CRIT": "critical",
    "CRITICAL": "critical",
    "FATAL": "critical",
    "ALERT": "critical",
    "EMERG": "critical",
    "PANIC": "critical",
}
_WORDS = "|".join(sorted(_LEVEL_WORDS, key=len, reverse=True))
_LEVEL_UPPER = re.compile(rf"(?<![A-Za-z0-9_])({_WORDS})(?![A-Za-z0-9_])")
_LEVEL_LOWER = re.compile(
    rf"(?:level\"?\s*[=:]\s*\"?|\[|<)({_WORDS})(?![A-Za-z0-9_])", re.IGNORECASE
)
#: a level word counts only this close to the start of the line
LEVEL_SCAN_CHARS = 160

_APPLOG = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
)
_ISO = re.compile(
    r"\[?(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?"
    r"\s?(Z|[+-]\d\d:?\d\d)?(?![\d])"
)
_SYSLOG = re.compile(
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d):(\d\d):(\d\d)(?!\d)"
)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_UNESCAPE = re.compile(r"\\(\\|n|r)")
_UNESCAPED = {"\\": "\\", "n": "\n", "r": "\r"}


@dataclass(frozen=True)
class Parsed:
    ts: float  # unix seconds, UTC
    level: str  # one of WIRE_LEVELS
    message: str


def parse_header(line: str) -> dict[str, Any] | None:
    """The applog header's fields, or None when `line` is not an applog header."""
    if not line.startswith(HEADER_PREFIX):
        return None
    try:
        data = json.loads(line[len(HEADER_PREFIX) :])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def parse_applog(line: str) -> Parsed | None:
    """An applog record line, or None when the line is not one."""
    match = _APPLOG.match(line)
    if match is None:
        return None
    y, mo, d, h, mi, s, ms = (int(g) for g in match.groups()[:7])
    try:
        ts = datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=UTC).timestamp()
    except ValueError:
        return None
    message = _UNESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], line[match.end() :])
    return Parsed(ts, match.group(8).lower(), message)


def detect_level(line: str) -> str | None:
    """The wire level named near the start of `line`, if any."""
    head = line[:LEVEL_SCAN_CHARS]
    match = _LEVEL_UPPER.search(head) or _LEVEL_LOWER.search(head)
    return _LEVEL_WORDS[match.group(1).upper()] if match else None


def _iso_time(match: re.Match[str]) -> float | None:
    y, mo, d, h, mi, s = (int(g) for g in match.groups()[:6])
    fraction = match.group(7) or "0"
    micros = int(fraction[:6].ljust(6, "0"))
    zone = match.group(8)
    try:
        if zone is None:  # no zone: local time
            local = datetime(y, mo, d, h, mi, s, micros)
            return local.timestamp()
        text = "+00:00" if zone == "Z" else zone
        stamp = datetime.fromisoformat(f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{text}")
        return stamp.timestamp() + micros / 1e6
    except ValueError:
        return None


def _syslog_time(match: re.Match[str], now: float) -> float | None:
    month = _MONTHS[match.group(1)]
    day, h, mi, s = int(match.group(2)), *(int(g) for g in match.groups()[2:5])
    year = time.localtime(now).tm_year
    try:
        stamp = datetime(year, month, day, h, mi, s).timestamp()
        if stamp > now + 86400:  # "Dec 31" read on Jan 1st
            stamp = datetime(year - 1, month, day, h, mi, s).timestamp()
    except ValueError:
        return None
    return stamp


def detect_time(line: str, now: float) -> float | None:
    """The time a line starts with (ISO-8601 or syslog), within its first few characters."""
    head = line[:64]
    iso = _ISO.search(head)
    if iso is not None and iso.start() <= 24:
        return _iso_time(iso)
    syslog = _SYSLOG.match(head)
    if syslog is not None:
        return _syslog_time(syslog, now)
    return None


def parse_line(line: str, read_at: float, applog: bool) -> Parsed:
    """Time, level and message of one line (`applog`: try the applog format first)."""
    if applog:
        parsed = parse_applog(line)
        if parsed is not None:
            return parsed
    level = detect_level(line) or "info"
    ts = detect_time(line, read_at)
    return Parsed(read_at if ts is None else ts, level, line)
