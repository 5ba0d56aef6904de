"""A1: physical memory and swap, in bytes (psutil's definitions of used/free/available).

`used` follows psutil (total − free − buffers − cache on Linux), so it matches what `free`
shows; `available` is the kernel's estimate of memory usable without swapping.
"""

from __future__ import annotations

from typing import Any


def _percent(value: float) -> float:
    return round(min(100.0, max(0.0, float(value))), 1)


def read_memory(psutil_module: Any) -> dict[str, Any]:
    """The `memory` object of a snapshot (`Memory` model)."""
    vm = psutil_module.virtual_memory()
    return {
        "total_bytes": int(vm.total),
        "used_bytes": max(0, int(vm.used)),
        "free_bytes": max(0, int(vm.free)),
        "available_bytes": max(0, int(getattr(vm, "available", vm.free))),
        "percent": _percent(vm.percent),
    }


def read_swap(psutil_module: Any) -> dict[str, Any]:
    """The `swap` object of a snapshot (`Swap` model); all zero when the host has no swap."""
    sw = psutil_module.swap_memory()
    return {
        "total_bytes": int(sw.total),
        "used_bytes": max(0, int(sw.used)),
        "free_bytes": max(0, int(sw.free)),
        "percent": _percent(sw.percent),
    }
