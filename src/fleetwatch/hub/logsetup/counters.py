"""Per-level counts of what this process logged (H14), for the health score and `/metrics`.

`LevelCounter` is a handler on the `fleetwatch` and `uvicorn` loggers: it counts every record by
level since the process started and keeps the times of the last `RECENT_MAX` errors, so
`recent_errors(seconds)` answers "how many errors lately" in O(errors kept).
"""

from __future__ import annotations

import collections
import logging
import threading
import time

#: error times kept for `recent_errors` (older ones only count in the totals)
RECENT_MAX = 10_000
LEVELS = ("debug", "info", "warning", "error", "critical")

_lock = threading.Lock()
_totals: dict[str, int] = dict.fromkeys(LEVELS, 0)
_errors: collections.deque[float] = collections.deque(maxlen=RECENT_MAX)


class LevelCounter(logging.Handler):
    """Counts records by level; never formats or writes them."""

    def emit(self, record: logging.LogRecord) -> None:
        name = record.levelname.lower()
        with _lock:
            _totals[name] = _totals.get(name, 0) + 1
            if record.levelno >= logging.ERROR:
                _errors.append(record.created)


def totals() -> dict[str, int]:
    """Records logged per level since the process started."""
    with _lock:
        return dict(_totals)


def recent_errors(seconds: float, now: float | None = None) -> int:
    """Records at ERROR or above in the last `seconds`."""
    since = (time.time() if now is None else now) - seconds
    with _lock:
        return sum(1 for at in _errors if at >= since)


def reset() -> None:
    """Forget every count (tests; `POST`ing a reset is not offered)."""
    with _lock:
        for name in list(_totals):
            _totals[name] = 0
        _errors.clear()
