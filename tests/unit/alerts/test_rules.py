"""Rule semantics, table-driven, with an injected clock (the `now` of each reading)."""

from __future__ import annotations

import pytest

from fleetwatch.hub.alerts.rules import (
    ConditionState,
    Rule,
    apply_server_thresholds,
    evaluate,
    rules_for,
    select,
)

CPU = Rule(metric="cpu_percent", warning=85.0, critical=95.0, cooldown_seconds=300.0)


def run(
    rule: Rule,
    readings: list[tuple[float, float | None]],
    silenced_at: frozenset[float] = frozenset(),
):
    """Feed (now, value) readings; returns [(now, kind, level, notify)] for each transition."""
    state = ConditionState()
    out = []
    for now, value in readings:
        t = evaluate(rule, state, value, now, silenced=now in silenced_at)
        if t is not None:
            out.append((now, t.kind, t.level, t.notify))
    return out


CASES = [
    pytest.param(
        CPU, [(0, 50), (60, 86)], [(60, "fired", "WARNING", True)], id="fires-first-sample"
    ),
    pytest.param(CPU, [(0, 85)], [(0, "fired", "WARNING", True)], id="threshold-inclusive"),
    pytest.param(CPU, [(0, 84.9)], [], id="below-threshold-quiet"),
    pytest.param(CPU, [(0, 97)], [(0, "fired", "CRITICAL", True)], id="straight-to-critical"),
    pytest.param(
        CPU,
        [(0, 90), (60, 96), (120, 90), (180, 10)],
        [
            (0, "fired", "WARNING", True),
            (60, "escalated", "CRITICAL", True),
            (120, "deescalated", "WARNING", False),
            (180, "resolved", None, True),
        ],
        id="lifecycle",
    ),
    pytest.param(
        Rule(metric="cpu_percent", warning=85.0, critical=None, duration_seconds=120),
        [(0, 90), (60, 90), (119, 90), (120, 90)],
        [(120, "fired", "WARNING", True)],
        id="duration-holds-back",
    ),
    pytest.param(
        Rule(metric="cpu_percent", warning=85.0, critical=None, duration_seconds=120),
        [(0, 90), (60, 50), (120, 90), (200, 90), (240, 90)],
        [(240, "fired", "WARNING", True)],
        id="duration-restarts-after-dip",
    ),
    pytest.param(
        Rule(metric="cpu_percent", warning=85.0, critical=None, hysteresis=5),
        [(0, 86), (60, 82), (120, 80.5), (180, 79.9)],
        [(0, "fired", "WARNING", True), (180, "resolved", None, True)],
        id="hysteresis-on-clear",
    ),
    pytest.param(
        Rule(metric="cpu_percent", warning=85.0, critical=95.0, hysteresis=5),
        [(0, 96), (60, 91), (120, 89)],
        [(0, "fired", "CRITICAL", True), (120, "deescalated", "WARNING", False)],
        id="hysteresis-on-deescalation",
    ),
    pytest.param(
        CPU,
        [(0, 90), (60, 10), (120, 90), (180, 10), (400, 90)],
        [
            (0, "fired", "WARNING", True),
            (60, "resolved", None, True),
            (120, "fired", "WARNING", False),
            (180, "resolved", None, False),
            (400, "fired", "WARNING", True),
        ],
        id="cooldown-quiets-flapping",
    ),
    pytest.param(
        Rule(metric="cpu_percent", warning=85.0, critical=None, repeat_seconds=600),
        [(0, 90), (300, 90), (599, 90), (600, 90), (900, 90), (1200, 90)],
        [
            (0, "fired", "WARNING", True),
            (600, "repeat", "WARNING", True),
            (1200, "repeat", "WARNING", True),
        ],
        id="repeat-while-firing",
    ),
    pytest.param(
        Rule(metric="disk_free_gb", warning=1.0, critical=0.5, hysteresis=0.2),
        [(0, 2.0), (60, 0.9), (120, 0.4), (180, 0.6), (240, 0.8), (300, 1.3)],
        [
            (60, "fired", "WARNING", True),
            (120, "escalated", "CRITICAL", True),
            (240, "deescalated", "WARNING", False),
            (300, "resolved", None, True),
        ],
        id="below-comparison",
    ),
    pytest.param(
        CPU,
        [(0, 90), (60, None)],
        [(0, "fired", "WARNING", True), (60, "resolved", None, True)],
        id="vanished-target-resolves",
    ),
]


@pytest.mark.parametrize(("rule", "readings", "expected"), CASES)
def test_rule_semantics(rule: Rule, readings, expected) -> None:
    assert run(rule, readings) == expected


def test_maintenance_silences_then_fires_when_window_ends() -> None:
    got = run(CPU, [(0, 90), (60, 90), (120, 90)], silenced_at={0, 60})
    assert got == [(120, "fired", "WARNING", True)]


def test_silenced_escalation_is_recorded_but_not_notified() -> None:
    got = run(CPU, [(0, 90), (60, 97)], silenced_at={60})
    assert got == [(0, "fired", "WARNING", True), (60, "escalated", "CRITICAL", False)]


def test_most_specific_rule_wins() -> None:
    rules = [
        Rule(id=1, metric="disk_percent", warning=85, critical=95),
        Rule(id=2, metric="disk_percent", warning=70, critical=80, target="/var*"),
        Rule(id=3, metric="disk_percent", warning=60, critical=70, scope="group", scope_value="db"),
        Rule(id=4, metric="disk_percent", warning=1, critical=2, scope="server", scope_value="x"),
        Rule(id=5, metric="cpu_percent", warning=1, critical=2, enabled=False),
    ]
    web = rules_for(rules, "s1", "web")
    assert "cpu_percent" not in web
    assert select(web["disk_percent"], "/var/lib").id == 2
    assert select(web["disk_percent"], "/").id == 1
    assert select(rules_for(rules, "s1", "db")["disk_percent"], "/").id == 3
    assert select(rules_for(rules, "x", "db")["disk_percent"], "/var").id == 4


@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [
        (None, (85.0, 95.0)),
        ({"cpu_warning": 70}, (70.0, 95.0)),
        ({"cpu_warning": 70, "cpu_critical": 75.5}, (70.0, 75.5)),
        ({"cpu_percent_critical": 99}, (85.0, 99.0)),
        ({"memory_warning": 1, "cpu_warning": "junk", "cpu_critical": True}, (85.0, 95.0)),
    ],
)
def test_server_thresholds_override(thresholds, expected) -> None:
    rule = apply_server_thresholds(CPU, thresholds)
    assert (rule.warning, rule.critical) == expected


def test_server_scoped_rule_is_not_overridden_by_thresholds() -> None:
    rule = Rule(metric="cpu_percent", warning=50, critical=60, scope="server", scope_value="a")
    assert apply_server_thresholds(rule, {"cpu_warning": 1}).warning == 50
