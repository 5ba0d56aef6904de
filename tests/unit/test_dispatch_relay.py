"""The worker -> hub relay of alert readings (`hub/dispatch/relay.py`) and the filter the
engine gives the workers (`hub/alerts/relayfilter.py`)."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from factories import make_snapshot
from fleetwatch.hub.alerts.engine import AlertEngine
from fleetwatch.hub.alerts.evaluation import Evaluator, ServerInfo
from fleetwatch.hub.alerts.feed import Relayed
from fleetwatch.hub.alerts.metrics import METRICS
from fleetwatch.hub.alerts.relayfilter import WATCHED_MAX, RelayFilter, bounds
from fleetwatch.hub.alerts.relayfilter import relay_filter as make_filter
from fleetwatch.hub.alerts.rules import ConditionState, Rule
from fleetwatch.hub.dispatch import relay
from fleetwatch.hub.dispatch.relay import Wanted, publish
from fleetwatch.hub.events import EventBus
from fleetwatch.protocol.models import Snapshot

CPU_ONLY = {"cpu_percent": (True, 85.0)}


def snap(cpu: float = 10.0, **metrics: Any) -> Snapshot:
    return Snapshot.model_validate(make_snapshot(metrics={"cpu_percent": cpu, **metrics}))


def told(wanted: Wanted, rf: RelayFilter) -> Wanted:
    wanted.update(rf.message())
    return wanted


def test_wanted_reads_every_alertable_metric_until_the_hub_names_some() -> None:
    wanted = Wanted()
    assert {name for name, _ in wanted.readers()} == {
        name for name, spec in METRICS.items() if spec.read is not None
    }
    wanted.update(RelayFilter(frozenset({"cpu_percent", "disk_percent"})).message())
    assert [name for name, _ in wanted.readers()] == ["cpu_percent", "disk_percent"]
    assert wanted.read("srv", [snap(10.0)])[0] is not None  # no bounds: relay everything


def test_the_filter_survives_its_message() -> None:
    rf = RelayFilter(frozenset({"cpu_percent", "disk_free_gb"}),
                     {"cpu_percent": (True, 85.0), "disk_free_gb": (False, 1.5)},
                     frozenset({"a", "b"}))  # fmt: skip
    assert RelayFilter.parse(rf.message()) == rf
    unbounded = RelayFilter(frozenset({"cpu_percent"}))
    assert RelayFilter.parse(unbounded.message()) == unbounded


def test_healthy_snapshots_go_without_readings_and_a_breach_with_them() -> None:
    wanted = told(Wanted(), RelayFilter(frozenset({"cpu_percent"}), CPU_ONLY))
    out = wanted.read("srv", [snap(10.0), snap(84.9), snap(85.0), snap(10.0)])
    assert out[0] is None and out[1] is None
    assert out[2] == {"cpu_percent": [(None, 85.0)]}  # thresholds are inclusive
    assert out[3] == {"cpu_percent": [(None, 10.0)]}  # after a breach: the engine has state
    assert wanted.filtered == 2


def test_after_a_breach_the_worker_relays_that_server_in_full_for_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(relay.time, "monotonic", lambda: now[0])
    wanted = told(Wanted(), RelayFilter(frozenset({"cpu_percent"}), CPU_ONLY))
    assert wanted.read("srv", [snap(99.0)])[0] is not None
    now[0] += relay.RECENT_SECONDS - 1
    assert wanted.read("srv", [snap(10.0)])[0] is not None  # the recovery reaches the engine
    assert wanted.read("other", [snap(10.0)])[0] is None  # other servers are not affected
    now[0] += 2
    assert wanted.read("srv", [snap(10.0)])[0] is None  # now the hub's `watched` decides


def test_watched_servers_are_relayed_in_full() -> None:
    rf = RelayFilter(frozenset({"cpu_percent"}), CPU_ONLY, frozenset({"sick"}))
    wanted = told(Wanted(), rf)
    assert wanted.read("sick", [snap(10.0)]) == [{"cpu_percent": [(None, 10.0)]}]
    assert wanted.read("well", [snap(10.0)]) == [None]


def test_per_target_and_below_bounds() -> None:
    gib = 1024**3
    disks = [
        {"mountpoint": "/", "total": 100 * gib, "used": 10 * gib, "free": 90 * gib,
         "percent": 10.0},
        {"mountpoint": "/data", "total": 100 * gib, "used": 99.5 * gib, "free": gib // 2,
         "percent": 99.5},
    ]  # fmt: skip
    rf = RelayFilter(frozenset({"disk_free_gb"}), {"disk_free_gb": (False, 1.0)})
    wanted = told(Wanted(), rf)
    full = wanted.read("srv", [snap(disks=disks)])[0]
    assert full is not None and ("/data", 0.5) in full["disk_free_gb"]
    roomy = told(Wanted(), rf).read("srv", [snap(disks=disks[:1])])
    assert roomy == [None]


def test_a_metric_without_a_bound_is_always_relayed() -> None:
    rf = RelayFilter(frozenset({"cpu_percent", "memory_percent"}), CPU_ONLY)
    assert told(Wanted(), rf).read("srv", [snap(10.0)])[0] is not None


def test_one_event_per_write_and_duplicates_are_not_announced() -> None:
    bus = EventBus()
    got = bus.subscribe("test", (Relayed,))
    readings = {"cpu_percent": [(None, 91.5)]}
    publish(bus, "srv-1", [(7, 1007.0, readings), (None, 1008.0, None), (9, 1009.0, None)])
    publish(bus, "srv-1", [(None, 1010.0, None)])  # only a duplicate: nothing to announce
    events = got.drain(10)
    assert events == [Relayed("srv-1", ((7, 1007.0, readings), (9, 1009.0, None)))]


def evaluator(rules: list[Rule], **servers: dict[str, float] | None) -> Evaluator:
    ev = Evaluator()
    ev.set_rules(rules, [])
    for server_id, thresholds in servers.items():
        ev.remember_server(server_id, ServerInfo(server_id, None, thresholds, 0.0))
    return ev


def test_bounds_are_the_loosest_threshold_any_server_sees() -> None:
    rules = [
        Rule("cpu_percent", 85.0, 95.0, id=1, builtin=True),
        Rule("cpu_percent", None, 70.0, id=2, scope="group", scope_value="db"),
        Rule("disk_free_gb", 2.0, 1.0, id=3),
        Rule("memory_percent", 50.0, None, id=4, enabled=False),
        Rule("offline", None, 900.0, id=5),  # a timer metric: never a bound
    ]
    ev = evaluator(rules, plain=None, picky={"cpu_warning": 60.0, "disk_free_gb_warning": 5.0})
    assert bounds(ev) == {"cpu_percent": (True, 60.0), "disk_free_gb": (False, 5.0)}
    ev.default_thresholds = {"cpu_warning": 40.0}  # the dashboard's, for built-in rules
    assert bounds(ev)["cpu_percent"] == (True, 40.0)


def test_the_filter_is_unbounded_until_every_server_is_known_or_when_too_many_are_sick() -> None:
    ev = evaluator([Rule("cpu_percent", 85.0, 95.0, id=1)], a=None, b=None)
    assert make_filter(ev, bounded=False).bounds is None
    ev.states["a"] = {"cpu_percent|": ConditionState(level="WARNING")}
    ev.states["b"] = {"offline|": ConditionState()}  # idle (the timer's check): not watched
    rf = make_filter(ev, bounded=True)
    assert rf.bounds == {"cpu_percent": (True, 85.0)} and rf.watched == {"a"}
    ev.remember_server("b", ServerInfo("b", None, {"cpu_warning": 30.0}, 1.0))  # a PATCH
    assert make_filter(ev, bounded=True).bounds == {"cpu_percent": (True, 30.0)}
    ev.set_rules([Rule("cpu_percent", 85.0, 95.0, id=1, enabled=False)], [])
    assert make_filter(ev, bounded=True).bounds == {}
    for i in range(WATCHED_MAX + 1):
        ev.states[f"s{i}"] = {"cpu_percent|": ConditionState(level="WARNING")}
    assert make_filter(ev, bounded=True).bounds is None


def test_the_engine_claims_filtered_rows_and_they_still_order_later_snapshots() -> None:
    """Rows relayed without readings are claimed (never read back from the store, never
    evaluated), and their time keeps an older snapshot from being evaluated, as if it had
    been."""
    engine = AlertEngine(cast(Any, None), EventBus(), cast(Any, None))
    engine.set_rules([Rule("cpu_percent", 85.0, 95.0, id=1)], [])
    engine.remember_server("srv", ServerInfo("srv", None, None, time.time()))
    engine.feed.after = engine.feed.noticed = 0
    hot = {"cpu_percent": [(None, 99.0)]}
    seen: dict[str, float] = {}
    relayed = Relayed("srv", ((1, 1000.0, None), (3, 1120.0, None), (2, 1060.0, hot)))
    assert engine._local([relayed], seen) == []  # 2 is older than 3: not evaluated
    assert engine.feed.claimed == {1, 2, 3} and seen == {"srv": 1120.0}
    assert engine._local([relayed], {}) == []  # a row is taken once
    engine.note_seen(seen)
    assert engine.evaluate_snapshot("srv", 1100.0, hot) == []  # older than a seen one
    assert engine.evaluate_snapshot("srv", 1180.0, hot)  # a newer breach fires


def test_rows_without_readings_of_a_server_in_trouble_are_left_to_be_read_back() -> None:
    """The workers' filter can lag the engine: a row relayed without readings whose server has
    a condition (or a breach earlier in the same batch) is not claimed, so the feed reads it
    back from the store and it is evaluated in full."""
    engine = AlertEngine(cast(Any, None), EventBus(), cast(Any, None))
    engine.set_rules([Rule("cpu_percent", 85.0, 95.0, id=1, duration_seconds=120)], [])
    engine.feed.after = engine.feed.noticed = 0
    hot = {"cpu_percent": [(None, 99.0)]}
    batch = engine._local(
        [Relayed("a", ((1, 1000.0, hot),)), Relayed("a", ((2, 1060.0, None),)),
         Relayed("b", ((3, 1000.0, None),))], {},
    )  # fmt: skip
    assert [(c.server_id, c.ts) for c in batch] == [("a", 1000.0)]
    assert engine.feed.claimed == {1, 3}  # 2 follows a breach of its server: read back
    engine.remember_server("a", ServerInfo("a", None, None, time.time()))
    assert engine.evaluate_snapshot("a", 1000.0, hot) == []  # pending (120 s to fire)
    assert engine.in_trouble("a") and not engine.in_trouble("b")
    assert engine._local([Relayed("a", ((4, 1120.0, None),))], {}) == []
    assert 4 not in engine.feed.claimed
