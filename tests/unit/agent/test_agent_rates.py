"""Rates from counters: first sample, steady rates, resets and wraps, clock problems."""

from __future__ import annotations

import pytest

from fleetwatch.agent.rates import RateTracker, busy_percent, rate_per_second


def test_first_sample_has_no_rate_then_rates_per_second() -> None:
    tracker: RateTracker[str] = RateTracker()
    assert tracker.update({"rx": 1000.0, "tx": 50.0}, 10.0) == {"rx": None, "tx": None}
    assert tracker.update({"rx": 3000.0, "tx": 50.0}, 12.0) == {"rx": 1000.0, "tx": 0.0}


def test_counter_reset_gives_none_then_recovers_from_new_baseline() -> None:
    tracker: RateTracker[str] = RateTracker()
    tracker.update({"rx": 10_000_000.0}, 0.0)
    assert tracker.update({"rx": 500.0}, 1.0) == {"rx": None}  # interface re-created
    assert tracker.update({"rx": 1500.0}, 2.0) == {"rx": 1000.0}


def test_32bit_wrap_is_never_negative_nor_a_spike() -> None:
    tracker: RateTracker[str] = RateTracker()
    tracker.update({"rx": float(2**32 - 100)}, 0.0)
    rates = tracker.update({"rx": 200.0}, 1.0)
    assert rates["rx"] is None


def test_new_key_has_no_rate_and_vanished_key_is_forgotten() -> None:
    tracker: RateTracker[str] = RateTracker()
    tracker.update({"eth0": 100.0}, 0.0)
    assert tracker.update({"eth0": 200.0, "eth1": 5.0}, 1.0) == {"eth0": 100.0, "eth1": None}
    tracker.update({"eth0": 300.0}, 2.0)
    assert tracker.update({"eth0": 400.0, "eth1": 1_000_000.0}, 3.0)["eth1"] is None


@pytest.mark.parametrize("elapsed", [0.0, -5.0, 0.0001])
def test_no_rate_when_time_did_not_move_forward(elapsed: float) -> None:
    assert rate_per_second(100.0, 200.0, elapsed) is None


def test_reset_forgets_baselines() -> None:
    tracker: RateTracker[str] = RateTracker()
    tracker.update({"a": 1.0}, 0.0)
    tracker.reset()
    assert tracker.update({"a": 2.0}, 1.0) == {"a": None}


def test_busy_percent() -> None:
    before = {"user": 100.0, "system": 50.0, "idle": 800.0, "iowait": 50.0, "guest": 10.0}
    after = {"user": 130.0, "system": 60.0, "idle": 850.0, "iowait": 60.0, "guest": 30.0}
    # busy delta 40 of a total delta 100 (guest is already inside user)
    assert busy_percent(before, after) == pytest.approx(40.0)
    assert busy_percent(after, after) is None
    assert busy_percent(after, before) is None  # counters went backwards (CPU re-plugged)
