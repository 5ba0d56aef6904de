"""Time windows and maintenance: across midnight, weekdays, DST, one-off, scopes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fleetwatch.hub.alerts.maintenance import from_fields, silenced
from fleetwatch.hub.alerts.timewindow import TimeWindow, WindowError

PARIS = ZoneInfo("Europe/Paris")


def at(text: str, tz: ZoneInfo = PARIS) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


@pytest.mark.parametrize(
    ("start", "end", "weekdays", "when", "inside"),
    [
        ("09:00", "18:00", None, "2025-01-06T09:00", True),
        ("09:00", "18:00", None, "2025-01-06T18:00", False),
        ("09:00", "18:00", None, "2025-01-06T08:59", False),
        ("22:00", "06:00", None, "2025-01-06T23:30", True),
        ("22:00", "06:00", None, "2025-01-07T05:59", True),
        ("22:00", "06:00", None, "2025-01-07T06:00", False),
        ("22:00", "06:00", None, "2025-01-07T12:00", False),
        # Friday 22:00 - Saturday 06:00 belongs to Friday (weekday 4)
        ("22:00", "06:00", [4], "2025-01-11T03:00", True),  # Saturday early morning
        ("22:00", "06:00", [4], "2025-01-11T23:00", False),  # Saturday night
        ("22:00", "06:00", [4], "2025-01-10T03:00", False),  # Friday early morning
        ("00:00", "00:00", [0], "2025-01-06T13:00", True),  # whole Monday
        ("00:00", "00:00", [0], "2025-01-07T13:00", False),
    ],
)
def test_window_contains(start, end, weekdays, when, inside) -> None:
    window = TimeWindow.parse(start, end, "Europe/Paris", weekdays)
    assert window.contains(at(when)) is inside


def test_dst_spring_forward_window_is_an_hour_shorter() -> None:
    # 2025-03-30: Paris clocks jump 02:00 -> 03:00. A 01:00-03:00 window lasts one real hour.
    window = TimeWindow.parse("01:00", "03:00", "Europe/Paris")
    start = at("2025-03-30T00:00")
    inside = [t for t in range(int(start), int(start) + 6 * 3600, 60) if window.contains(t)]
    assert len(inside) * 60 == 3600


def test_dst_fall_back_window_is_an_hour_longer() -> None:
    # 2025-10-26: Paris clocks go back 03:00 -> 02:00. 01:00-03:00 lasts three real hours.
    window = TimeWindow.parse("01:00", "03:00", "Europe/Paris")
    start = at("2025-10-26T00:00")
    inside = [t for t in range(int(start), int(start) + 6 * 3600, 60) if window.contains(t)]
    assert len(inside) * 60 == 3 * 3600


def test_window_in_another_zone() -> None:
    window = TimeWindow.parse("09:00", "17:00", "America/New_York")
    assert window.contains(at("2025-07-01T15:00", ZoneInfo("UTC")))  # 11:00 in New York
    assert not window.contains(at("2025-07-01T12:00", ZoneInfo("UTC")))  # 08:00 in New York


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"start": "25:00", "end": "06:00"}, "start"),
        ({"start": "9:00", "end": "06:00"}, "start"),
        ({"start": "09:00", "end": "x"}, "end"),
        ({"start": "09:00", "end": "10:00", "timezone": "Mars/Olympus"}, "timezone"),
        ({"start": "09:00", "end": "10:00", "weekdays": [7]}, "weekdays"),
        ({"start": "09:00", "end": "10:00", "weekdays": []}, "weekdays"),
    ],
)
def test_window_errors_name_the_field(fields, bad) -> None:
    with pytest.raises(WindowError) as info:
        TimeWindow.parse(**fields)
    assert info.value.field == bad


def test_maintenance_one_off_and_scopes() -> None:
    once = from_fields(
        {
            "id": 1,
            "scope": "group",
            "scope_value": "db",
            "kind": "once",
            "starts_at": 1000,
            "ends_at": 2000,
        }
    )
    assert silenced([once], "s1", "db", 1000)
    assert not silenced([once], "s1", "db", 2000)
    assert not silenced([once], "s1", "web", 1500)
    server = from_fields({"scope": "server", "scope_value": "s2", "starts_at": 0, "ends_at": 10})
    assert silenced([server], "s2", None, 5) and not silenced([server], "s1", None, 5)
    everyone = from_fields({"scope": "all", "starts_at": 0, "ends_at": 10, "enabled": False})
    assert not silenced([everyone], "s1", None, 5)


def test_maintenance_weekly_across_midnight() -> None:
    weekly = from_fields(
        {
            "scope": "all",
            "kind": "weekly",
            "weekdays": [6],
            "start_time": "23:00",
            "end_time": "02:00",
            "timezone": "Europe/Paris",
        }
    )
    assert silenced([weekly], "s", None, at("2025-01-12T23:30"))  # Sunday night
    assert silenced([weekly], "s", None, at("2025-01-13T01:59"))  # Monday early
    assert not silenced([weekly], "s", None, at("2025-01-13T23:30"))


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"scope": "planet"}, "scope"),
        ({"scope": "group", "starts_at": 0, "ends_at": 1}, "scope_value"),
        ({"scope": "all", "ends_at": 1}, "starts_at"),
        ({"scope": "all", "starts_at": 5, "ends_at": 1}, "ends_at"),
        ({"scope": "all", "kind": "monthly"}, "kind"),
        ({"scope": "all", "kind": "weekly", "start_time": "x", "end_time": "01:00"}, "start_time"),
    ],
)
def test_maintenance_errors_name_the_field(fields, bad) -> None:
    with pytest.raises(WindowError) as info:
        from_fields(fields)
    assert info.value.field == bad
