"""Log line formats (default, detailed, JSON) and the filter that keeps secrets out (H14).

`Redact` runs on every handler before formatting: it rewrites the message (arguments merged)
so that API keys (`fwk_…`), user tokens (`fwu_…`), bearer credentials, and `password=` /
`"password": …` / `token=` / `secret=` / `key=` values never reach a line. Exceptions are
formatted once and redacted as well.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import orjson

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
FORMATS = {
    "default": "%(asctime)s %(levelname)s %(name)s: %(message)s",
    "detailed": (
        "%(asctime)s.%(msecs)03d %(levelname)s %(name)s [%(process)d:%(threadName)s] "
        "%(module)s.%(funcName)s:%(lineno)d: %(message)s"
    ),
}
MASK = "[REDACTED]"
_SECRET = re.compile(
    r"(?P<token>\bfw[ku]_[A-Za-z0-9_\-]{8,})"
    r"|(?P<bearer>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=\-]{8,}"
    r"|(?P<pair>(?:password|passwd|token|secret|api[_-]?key|session|cookie)[\"']?\s*[:=]\s*[\"']?)"
    r"[^\s\"',;&}]+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with every credential-looking value replaced by `MASK`."""

    def mask(match: re.Match[str]) -> str:
        if match.group("token"):
            return match.group("token")[:4] + MASK
        return (match.group("bearer") or match.group("pair") or "") + MASK

    return _SECRET.sub(mask, text)


class Redact(logging.Filter):
    """Merge a record's arguments into its message and redact secrets from both and from
    the formatted exception (so every handler and format sees the clean text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is, unformatted
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        setattr(record, "_redacted", True)  # noqa: B010 (an attribute LogRecord does not declare)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO 8601, UTC), level, logger, message, process,
    thread, and `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            body["exception"] = record.exc_text
        return orjson.dumps(body).decode()


def formatter(name: str) -> dict[str, Any]:
    """The dictConfig entry of format `name` (`default`, `detailed`, `json`)."""
    if name == "json":
        return {"()": JsonFormatter}
    return {"format": FORMATS[name], "datefmt": DATE_FORMAT}
