"""Pure parts of the query side: tier choice, online status, settings merge, demo fleet data."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from fleetwatch.demo import GROUPS, make_fleet, make_live_sample, make_snapshot
from fleetwatch.hub.services.history import MAX_POINTS, choose_tier
from fleetwatch.hub.services.servers import hot_summary, offline_after_seconds, server_status
from fleetwatch.hub.services.settings import DashboardSettings, merge_update
from fleetwatch.protocol.models import LiveSample, Snapshot

DEFAULTS = DashboardSettings()


@pytest.mark.parametrize("hours", [1, 2, 6, 7, 12, 24, 48, 72, 100, 192, 193, 720, 1000, 2160])
def test_tier_choice_keeps_points_bounded(hours: int) -> None:
    choice = choose_tier(hours, DEFAULTS)
    assert hours * 3600 / choice.step_seconds <= MAX_POINTS
    resolution = {"raw": 1, "1m": 60, "1h": 3600}[choice.tier]
    assert choice.step_seconds % resolution == 0


def test_tier_follows_retention() -> None:
    assert choose_tier(6, DEFAULTS).tier == "raw"
    assert choose_tier(6, DEFAULTS.model_copy(update={"raw_retention_hours": 2})).tier == "1m"
    assert choose_tier(100, DEFAULTS).tier == "1m"
    short = DEFAULTS.model_copy(update={"rollup_1m_retention_days": 2})
    assert choose_tier(100, short).tier == "1h"


def test_online_status_uses_threshold_and_interval() -> None:
    now = 10_000.0
    assert server_status(now - 299, None, 5, now) == "online"
    assert server_status(now - 301, None, 5, now) == "offline"
    assert offline_after_seconds(5, 600) == 1500
    assert server_status(now - 1400, 600, 5, now) == "online"
    assert server_status(None, None, 5, now) == "offline"


def test_settings_merge_is_partial_and_validated() -> None:
    merged = merge_update(DEFAULTS, {"default_thresholds": {"swap_warning": 10}})
    assert merged.default_thresholds.swap_warning == 10
    assert merged.default_thresholds.swap_critical == 95
    with pytest.raises(ValidationError):
        merge_update(DEFAULTS, {"default_thresholds": {"swap_warning": 96}})
    with pytest.raises(ValidationError):
        merge_update(DEFAULTS, {"unknown_key": 1})


def test_hot_summary_tolerates_partial_snapshots() -> None:
    assert hot_summary(None) == {"metrics": None, "disks": []}
    partial = hot_summary({"metrics": {"cpu_percent": 5, "disks": [{"percent": "x"}]}})
    assert partial["metrics"]["cpu_percent"] == 5.0
    assert partial["metrics"]["disk_percent_max"] is None


def test_demo_fleet_spans_five_groups_with_hot_servers() -> None:
    fleet = make_fleet(8)
    assert {p.group for p in fleet} == set(GROUPS)
    assert len({p.hostname for p in fleet}) == 8
    assert any(p.hot for p in fleet) and not all(p.hot for p in fleet)
    assert [p.hostname for p in make_fleet(8, now=1e9)] == [p.hostname for p in fleet]


def test_demo_snapshots_validate_and_are_time_correlated() -> None:
    now = time.time()
    for profile in make_fleet(14):
        series = [make_snapshot(profile, now - 60 * i) for i in range(30)]
        for snap in series:
            Snapshot.model_validate(snap)
        LiveSample.model_validate(make_live_sample(profile, now))
        assert len({s["snapshot_id"] for s in series}) == 30
        cpus = [s["metrics"]["cpu_percent"] for s in series]
        assert len(set(cpus)) > 5  # varies ...
        mean = sum(cpus) / len(cpus)
        assert abs(mean - profile.cpu_base) < 30  # ... around its profile
        if profile.hot:
            disks = series[0]["metrics"]["disks"]
            assert max(d["percent"] for d in disks) > 90
            assert any(s["status"] == "stopped" for s in series[0]["services"])
    # deterministic: the same (profile, ts) gives the same snapshot
    p = make_fleet(1)[0]
    assert make_snapshot(p, now) == make_snapshot(p, now)
