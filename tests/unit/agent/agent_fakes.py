"""Fakes at the data-source boundary for agent collector tests.

* `FakeProc`: a proc tree in `tmp_path` (the files the fast scan reads, nothing more);
* `FakePsutil`: the real psutil module with selected functions replaced;
* `FakeClock`: a monotonic clock the test advances;
* `FakeNvml`: the parts of pynvml the GPU collector calls (one GPU by default);
* `FIXTURES`: recorded tool output under tests/fixtures/agent.
"""

from __future__ import annotations

import os
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "agent"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeProc:
    """Writes `/proc`-shaped files. CPU times are given in seconds, memory in pages."""

    def __init__(self, root: Path, *, uptime: float = 10_000.0) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "stat").write_text("cpu  1 2 3 4 5 6 7 8 0 0\nbtime 1700000000\n")
        (root / "sys" / "fs").mkdir(parents=True, exist_ok=True)
        (root / "sys" / "fs" / "file-nr").write_text("1234\t0\t9223372036854775807\n")
        (root / "loadavg").write_text("0.52 0.40 0.33 2/345 9999\n")
        self.set_uptime(uptime)

    def set_uptime(self, seconds: float) -> None:
        (self.root / "uptime").write_text(f"{seconds:.2f} 12345.67\n")

    def add(
        self,
        pid: int,
        name: str,
        *,
        ppid: int = 1,
        state: str = "S",
        cpu_seconds: float = 0.0,
        threads: int = 1,
        start_seconds: float = 100.0,
        rss_pages: int = 100,
        vms_bytes: int = 10_000_000,
        cmdline: list[str] | None = None,
        uid: int = 0,
        affinity: str = "0-1",
        shared_pages: int = 10,
    ) -> None:
        d = self.root / str(pid)
        d.mkdir(exist_ok=True)
        ticks = round(cpu_seconds * TICKS)
        fields = [
            state, ppid, pid, pid, 0, -1, 4194560, 100, 0, 0, 0,
            ticks, 0, 0, 0, 20, 0, threads, 0, round(start_seconds * TICKS), vms_bytes, rss_pages,
        ]  # fmt: skip
        (d / "stat").write_text(f"{pid} ({name}) " + " ".join(str(f) for f in fields) + " 0 0\n")
        args = cmdline if cmdline is not None else [name]
        (d / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in args))
        (d / "status").write_text(
            f"Name:\t{name[:15]}\nState:\t{state}\nPPid:\t{ppid}\n"
            f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}\nThreads:\t{threads}\n"
            f"Cpus_allowed_list:\t{affinity}\n"
        )
        (d / "statm").write_text(f"{vms_bytes // PAGE} {rss_pages} {shared_pages} 1 0 50 0\n")

    def set_cpu(self, pid: int, cpu_seconds: float) -> None:
        path = self.root / str(pid) / "stat"
        head, _, tail = path.read_text().rpartition(")")
        fields = tail.split()
        fields[11] = str(round(cpu_seconds * TICKS))
        path.write_text(head + ") " + " ".join(fields) + "\n")

    def remove(self, pid: int) -> None:
        d = self.root / str(pid)
        for child in d.iterdir():
            child.unlink()
        d.rmdir()


class FakePsutil:
    """The real psutil with some functions overridden: `FakePsutil(net_io_counters=fn)`."""

    def __init__(self, **overrides: Any) -> None:
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(psutil, name)


def raising(exc: BaseException) -> Callable[..., Any]:
    def fn(*_args: Any, **_kwargs: Any) -> Any:
        raise exc

    return fn


Temp = namedtuple("Temp", "label current high critical")
Fan = namedtuple("Fan", "label current")
Battery = namedtuple("Battery", "percent secsleft power_plugged")


class NVMLError(Exception):
    pass


class FakeNvml:
    """The parts of pynvml the collector calls; one GPU whose power reading is unsupported."""

    NVMLError = NVMLError
    NVML_TEMPERATURE_GPU = 0

    def __init__(self, *, init_error: str | None = None, count: int = 1) -> None:
        self.init_error = init_error
        self.count = count
        self.reads = 0  # utilization readings taken: one per GPU per collection

    def nvmlInit(self) -> None:
        if self.init_error:
            raise NVMLError(self.init_error)

    def nvmlDeviceGetCount(self) -> int:
        return self.count

    def nvmlSystemGetDriverVersion(self) -> bytes:
        return b"550.54.14"

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        return f"handle{index}"

    def nvmlDeviceGetName(self, handle: str) -> str:
        return "NVIDIA GeForce RTX 4090"

    def nvmlDeviceGetUUID(self, handle: str) -> str:
        return "GPU-11111111-2222-3333-4444-555555555555"

    def nvmlDeviceGetMemoryInfo(self, handle: str) -> Any:
        return SimpleNamespace(total=24 * 1024**3, used=2 * 1024**3, free=22 * 1024**3)

    def nvmlDeviceGetUtilizationRates(self, handle: str) -> Any:
        self.reads += 1
        return SimpleNamespace(gpu=63, memory=20)

    def nvmlDeviceGetTemperature(self, handle: str, sensor: int) -> int:
        return 58

    def nvmlDeviceGetPowerUsage(self, handle: str) -> int:
        raise NVMLError("Not Supported")

    def nvmlDeviceGetEnforcedPowerManagementLimit(self, handle: str) -> int:
        return 450_000  # milliwatts
