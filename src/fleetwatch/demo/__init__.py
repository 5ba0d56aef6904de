"""A simulated fleet (seed 001 `demo_simulate`, T1): servers across five groups sending varied,
realistic, time-correlated metrics to a hub through its public API only.

Library use (benchmarks, tests): `make_fleet(count)` gives server profiles, `make_snapshot(
profile, ts)` a snapshot dict valid against `protocol.models.Snapshot` and `make_live_sample(
profile, ts)` a live sample. Values are a deterministic function of (profile, ts): a daily
cycle plus noise and bursts, disks filling slowly, counters growing with uptime. Some servers
run hot (CPU, memory, a full disk, a stopped service, a dead watched process) so that alerts
have something to fire on. Standard library only: it runs wherever the agent runs.
"""

from __future__ import annotations

from fleetwatch.demo.fleet import GIB, GROUPS, Profile, make_fleet
from fleetwatch.demo.payloads import (
    cpu_at,
    iso,
    make_live_sample,
    make_snapshot,
    memory_at,
    registration,
)

__all__ = [
    "GIB",
    "GROUPS",
    "Profile",
    "cpu_at",
    "iso",
    "make_fleet",
    "make_live_sample",
    "make_snapshot",
    "memory_at",
    "registration",
]
