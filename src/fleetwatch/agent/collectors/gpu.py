"""A4: NVIDIA GPUs via NVML (`nvidia-ml-py`, imported as `pynvml`), else `nvidia-smi -q -x`.

Probing happens once: when neither source works the family is marked absent (empty list,
`collection.sources["gpu"]` = `none` with the reasons) and nothing is retried until
`GPU_ABSENT_REPROBE_SECONDS` have passed, so a GPU-less host never spawns a process per
cycle. NVML calls are cheap and run every cycle; `nvidia-smi` costs a process start, so its
output is reused for `NVIDIA_SMI_REFRESH_SECONDS`. Units: bytes, %, °C, watts.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleetwatch.agent.collectors.command import Runner, run_command

GPU_ABSENT_REPROBE_SECONDS = 600.0
NVIDIA_SMI_REFRESH_SECONDS = 10.0
NVIDIA_SMI_TIMEOUT_SECONDS = 10.0


def load_pynvml() -> Any | None:
    """The NVML binding when installed (`pip install nvidia-ml-py`), else None."""
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        return None


@dataclass
class GpuSources:
    nvml_loader: Callable[[], Any | None] = load_pynvml
    runner: Runner = run_command


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class GpuCollector:
    """Chooses a GPU source once and reads it; never raises."""

    def __init__(self, sources: GpuSources, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.sources = sources
        self._clock = clock
        self._backend: str | None = None  # "nvml" | "nvidia-smi" | "none"; None = not probed
        self._nvml: Any = None
        self._driver: str | None = None
        self._detail: str | None = None
        self._next_probe = 0.0
        self._smi_rows: list[dict[str, Any]] = []
        self._smi_at: float | None = None

    def _probe(self, now: float) -> None:
        reasons: list[str] = []
        nvml = self.sources.nvml_loader()
        if nvml is None:
            reasons.append("NVML: nvidia-ml-py (pynvml) is not installed")
        else:
            error = getattr(nvml, "NVMLError", OSError)
            try:
                nvml.nvmlInit()
                count = int(nvml.nvmlDeviceGetCount())
                self._driver = _text(nvml.nvmlSystemGetDriverVersion())
            except error as exc:
                reasons.append(f"NVML: {exc}")
            else:
                if count > 0:
                    self._backend, self._nvml, self._detail = "nvml", nvml, None
                    return
                reasons.append("NVML: no GPU found")
        try:
            rows = self._run_smi()
        except FileNotFoundError:
            reasons.append("nvidia-smi: not installed")
        except (OSError, ValueError) as exc:
            reasons.append(f"nvidia-smi: {exc}")
        else:
            if rows:
                self._backend, self._detail = "nvidia-smi", None
                self._smi_rows, self._smi_at = rows, now
                return
            reasons.append("nvidia-smi: no GPU found")
        self._backend, self._detail = "none", "; ".join(reasons)
        self._next_probe = now + GPU_ABSENT_REPROBE_SECONDS

    def _run_smi(self) -> list[dict[str, Any]]:
        # Imported here: the XML parser is only worth its memory on hosts that need it.
        from fleetwatch.agent.collectors.nvidia_smi import parse_nvidia_smi_xml

        output = self.sources.runner(["nvidia-smi", "-q", "-x"], NVIDIA_SMI_TIMEOUT_SECONDS)
        return parse_nvidia_smi_xml(output)

    def collect(self, warn: Callable[[str], None]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(`gpus` rows, source status)."""
        now = self._clock()
        if self._backend is None or (self._backend == "none" and now >= self._next_probe):
            self._probe(now)
        if self._backend == "nvml":
            try:
                return self._read_nvml(), {"source": "nvml", "detail": None}
            except getattr(self._nvml, "NVMLError", OSError) as exc:
                warn(f"gpu: NVML read failed: {exc}")
                self._backend = None  # probe again next cycle
                return [], {"source": "nvml", "detail": f"read failed: {exc}"}
        if self._backend == "nvidia-smi":
            if self._smi_at is None or now - self._smi_at >= NVIDIA_SMI_REFRESH_SECONDS:
                self._smi_at = now
                try:
                    self._smi_rows = self._run_smi()
                except (OSError, ValueError) as exc:
                    warn(f"gpu: nvidia-smi failed: {exc}")
            return list(self._smi_rows), {"source": "nvidia-smi", "detail": None}
        return [], {"source": "none", "detail": self._detail}

    def _read_nvml(self) -> list[dict[str, Any]]:
        nvml = self._nvml
        error = nvml.NVMLError

        def optional(fn: Callable[..., Any], *args: Any) -> Any:
            try:
                return fn(*args)
            except error:
                return None  # not supported on this board (e.g. power on GeForce)

        rows = []
        for index in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            memory = optional(nvml.nvmlDeviceGetMemoryInfo, handle)
            util = optional(nvml.nvmlDeviceGetUtilizationRates, handle)
            temp = optional(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU)
            power = optional(nvml.nvmlDeviceGetPowerUsage, handle)
            limit = optional(nvml.nvmlDeviceGetEnforcedPowerManagementLimit, handle)
            uuid = optional(nvml.nvmlDeviceGetUUID, handle)
            rows.append(
                {
                    "index": index,
                    "name": _text(nvml.nvmlDeviceGetName(handle))[:255],
                    "uuid": _text(uuid)[:255] if uuid is not None else None,
                    "driver_version": self._driver,
                    "memory_total_bytes": int(memory.total) if memory else None,
                    "memory_used_bytes": int(memory.used) if memory else None,
                    "memory_free_bytes": int(memory.free) if memory else None,
                    "utilization_percent": float(min(100, max(0, util.gpu))) if util else None,
                    "temperature_celsius": float(temp) if temp is not None else None,
                    "power_draw_watts": round(power / 1000.0, 1) if power is not None else None,
                    "power_limit_watts": round(limit / 1000.0, 1) if limit is not None else None,
                }
            )
        return rows
