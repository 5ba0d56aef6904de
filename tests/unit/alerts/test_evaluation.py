"""The in-memory evaluator: servers of one group share their resolved rules unless their own
thresholds or a server-scoped rule make them differ."""

from __future__ import annotations

from fleetwatch.hub.alerts.evaluation import Evaluator, ServerInfo
from fleetwatch.hub.alerts.metrics import Reading
from fleetwatch.hub.alerts.rules import Rule

CPU = Rule(metric="cpu_percent", warning=80.0, critical=95.0, id=1)
DISK = Rule(metric="disk_percent", warning=85.0, critical=95.0, id=2)
WEB_DISK = Rule(metric="disk_percent", warning=70.0, critical=None, id=3, scope="group",
                scope_value="web", target="/var*")  # fmt: skip
ONE_CPU = Rule(metric="cpu_percent", warning=None, critical=99.0, id=4, scope="server",
               scope_value="s-own-rule")  # fmt: skip


def _evaluator() -> Evaluator:
    ev = Evaluator()
    ev.set_rules([CPU, DISK, WEB_DISK, ONE_CPU], [])
    for sid, thresholds in (("s-a", None), ("s-b", None), ("s-thr", {"cpu_warning": 50}),
                            ("s-own-rule", None)):  # fmt: skip
        ev.remember_server(sid, ServerInfo(sid, "web", thresholds, fetched_at=0.0))
    ev.remember_server("s-db", ServerInfo("s-db", "db", None, fetched_at=0.0))
    return ev


def _fired(
    ev: Evaluator, sid: str, readings: dict[str, list[tuple[str | None, float]]]
) -> set[tuple[str, str | None]]:
    return {(c.key, c.transition.level) for c in ev.evaluate_snapshot(sid, 1.0, readings)}


def test_shared_group_caches_still_give_each_server_its_own_rules() -> None:
    ev = _evaluator()
    cpu: dict[str, Reading] = {"cpu_percent": [(None, 60.0)]}
    assert _fired(ev, "s-a", cpu) == set()
    assert _fired(ev, "s-thr", cpu) == {("cpu_percent|", "WARNING")}  # its own threshold
    assert _fired(ev, "s-b", cpu) == set()  # after s-thr: nothing leaked into the group
    hot: dict[str, Reading] = {"cpu_percent": [(None, 90.0)]}
    assert _fired(ev, "s-own-rule", hot) == set()  # its server rule: critical 99 only
    assert _fired(ev, "s-a", hot) == {("cpu_percent|", "WARNING")}
    disk: dict[str, Reading] = {"disk_percent": [("/var/log", 75.0), ("/", 75.0)]}
    assert _fired(ev, "s-b", disk) == {("disk_percent|/var/log", "WARNING")}
    assert _fired(ev, "s-db", disk) == set()  # another group: the web rule does not apply
    assert ev.servers["s-a"].slots is ev.servers["s-b"].slots
    assert ev.servers["s-thr"].slots is not ev.servers["s-a"].slots


def test_new_thresholds_or_rules_are_picked_up() -> None:
    ev = _evaluator()
    ev.remember_server("s-a", ServerInfo("s-a", "web", {"cpu_warning": 40}, fetched_at=1.0))
    assert _fired(ev, "s-a", {"cpu_percent": [(None, 45.0)]}) == {("cpu_percent|", "WARNING")}
    ev.set_rules([CPU, DISK, WEB_DISK, ONE_CPU, Rule(metric="cpu_percent", warning=10.0,
                  critical=None, id=5, scope="group", scope_value="web")], [])  # fmt: skip
    assert _fired(ev, "s-b", {"cpu_percent": [(None, 20.0)]}) == {("cpu_percent|", "WARNING")}
