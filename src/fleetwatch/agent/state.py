"""What the daemon's threads share: the configuration in force, the cycle count, the stop flag.

The daemon thread replaces `config` wholesale on a reload (never mutates it), so a thread that
reads `state.config` once per step always sees one consistent configuration.
"""

from __future__ import annotations

import math
import threading
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
