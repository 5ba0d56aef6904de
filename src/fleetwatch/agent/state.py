"""What the daemon's threads share: the configuration in force, the cycle count, the stop flag.

The daemon thread replaces `config` wholesale on a reload (never mutates it), so a thread that
reads `state.config` once per step always sees one consistent configuration.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RuntimeState:
    config: dict[str, Any]
    config_path: Path
    cycles: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    #: time.monotonic() by which a stopping agent must have exited (set when stop is set)
    stop_deadline: float = math.inf
    #: live on demand: the hub asked for live samples every `live_demand_interval` seconds
    #: until this time.monotonic() (0: not asked)
    live_demand_until: float = 0.0
    live_demand_interval: float = 1.0

    def set_live_demand(self, live: Any) -> bool:
        """Adopt the `"live"` value of a hub answer; True when streaming must start now."""
        was = self.live_demanded()
        seconds = live.get("seconds") if isinstance(live, dict) else None
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
            interval = live.get("interval_seconds")
            if isinstance(interval, int | float) and not isinstance(interval, bool):
                self.live_demand_interval = min(60.0, max(1.0, float(interval)))
            self.live_demand_until = time.monotonic() + min(float(seconds), 3600.0)
        else:
            self.live_demand_until = 0.0
        return self.live_demanded() and not was

    def live_demanded(self) -> bool:
        return self.live_demand_until > time.monotonic()
