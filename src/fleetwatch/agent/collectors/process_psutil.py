"""The process scan through psutil: the fallback for every OS without a usable `/proc`.

Slower than `fleetwatch.agent.procfs` (psutil builds one object per process) but portable:
macOS, the BSDs and Windows. On Windows the host handle count is the sum of per-process
handle counts, gathered during the same scan.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from fleetwatch.agent.procfs import ProcDetails, ProcStat

_ATTRS = ["pid", "ppid", "name", "status", "cpu_times", "num_threads", "create_time", "memory_info"]


class PsutilProcessSource:
    """`ProcessSource` backed by a psutil module (or a fake with the same functions)."""

    name = "psutil"

    def __init__(self, psutil_module: Any) -> None:
        self.psutil = psutil_module
        self._windows = bool(getattr(psutil_module, "WINDOWS", False))
        self._handles: int | None = None

    def scan(self) -> list[ProcStat]:
        attrs = [*_ATTRS, "num_handles"] if self._windows else _ATTRS
        now = time.time()
        handles = 0
        result: list[ProcStat] = []
        for proc in self.psutil.process_iter(attrs):
            info = proc.info
            times, memory = info.get("cpu_times"), info.get("memory_info")
            created = info.get("create_time") or now
            handles += info.get("num_handles") or 0
            result.append(
                ProcStat(
                    pid=info["pid"],
                    ppid=info.get("ppid") or 0,
                    name=info.get("name") or "",
                    status=info.get("status") or "unknown",
                    cpu_seconds=(times.user + times.system) if times else 0.0,
                    num_threads=info.get("num_threads") or 0,
                    start_key=created,
                    age_seconds=max(0.0, now - created),
                    rss_bytes=memory.rss if memory else 0,
                    vms_bytes=memory.vms if memory else 0,
                )
            )
        self._handles = handles if self._windows else None
        return result

    def cmdline(self, pid: int) -> list[str]:
        try:
            return list(self.psutil.Process(pid).cmdline())
        except self.psutil.Error as exc:
            raise OSError(str(exc)) from None

    def details(self, pid: int) -> ProcDetails:
        """Each detail is optional: access denied to one leaves the others."""
        details = ProcDetails()
        try:
            proc = self.psutil.Process(pid)
        except self.psutil.Error as exc:
            raise OSError(str(exc)) from None
        with contextlib.suppress(self.psutil.Error):
            details.username = proc.username()
        try:
            memory = proc.memory_info()
            details.rss_bytes, details.vms_bytes = memory.rss, memory.vms
            details.shared_bytes = getattr(memory, "shared", None)
        except self.psutil.Error:
            pass
        if hasattr(proc, "cpu_affinity"):
            with contextlib.suppress(self.psutil.Error):
                details.cpu_affinity = list(proc.cpu_affinity())
        return details

    def handle_count(self) -> int | None:
        return self._handles
