"""Watched processes as seed 002 defines them, on a fake proc tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_fakes import PAGE, FakeClock, FakeProc

from fleetwatch.agent.collectors.processes import ProcessCollector
from fleetwatch.agent.collectors.watched import find_watched
from fleetwatch.agent.procfs import LinuxProcessSource

TOTAL = 10_000 * PAGE
AGENT = 900


@pytest.fixture()
def proc(tmp_path: Path) -> FakeProc:
    fake = FakeProc(tmp_path / "proc")
    # the wrapper script and the program it starts (two children: the first started wins)
    fake.add(100, "bash", cmdline=["/bin/bash", "/opt/stFrameProcessor1.sh"], start_seconds=10)
    fake.add(
        101,
        "frameProcessor",
        ppid=100,
        start_seconds=11,
        rss_pages=500,
        shared_pages=40,
        affinity="2-3",
        cmdline=["/opt/bin/frameProcessor", "--ctrl=tcp://0.0.0.0:5000"],
    )
    fake.add(102, "logger", ppid=100, start_seconds=12)
    # a plain process matched by name, one zombie and one stopped instance of it
    fake.add(200, "nginx", cmdline=["nginx: worker process"], rss_pages=100)
    fake.add(201, "nginx", state="Z", cmdline=[])
    fake.add(202, "nginx", state="T")
    # the agent itself (its command line names the watched process), its parent CLI and
    # a tool it spawned
    fake.add(
        899,
        "fleetwatch",
        cmdline=[
            "/usr/bin/python3",
            "/usr/bin/fleetwatch",
            "agent",
            "run",
            "--watch",
            "stFrameProcessor1.sh",
        ],
    )
    fake.add(
        AGENT,
        "python3",
        ppid=899,
        cmdline=["python3", "-m", "fleetwatch", "agent", "stFrameProcessor1.sh", "nginx"],
    )
    fake.add(901, "systemctl", ppid=AGENT, cmdline=["systemctl", "show", "nginx"])
    return fake


def watched(fake: FakeProc, patterns: list[str]) -> dict[str, dict[str, object]]:
    collector = ProcessCollector(LinuxProcessSource(fake.root), clock=FakeClock())
    return find_watched(collector, collector.scan(), patterns, TOTAL, self_pid=AGENT)


def test_wrapper_script_resolves_to_its_first_child(proc: FakeProc) -> None:
    result = watched(proc, ["stFrameProcessor1.sh"])
    entry = result["stFrameProcessor1.sh"]
    assert entry["alive"] is True
    [instance] = entry["instances"]  # type: ignore[misc]
    assert instance == {
        "pid": 101,
        "name": "frameProcessor",
        "cpu_percent": pytest.approx(0.0),
        "cpu_affinity": [2, 3],
        "memory_percent": pytest.approx(5.0),
        "memory_rss_bytes": 500 * PAGE,
        "memory_vms_bytes": (10_000_000 // PAGE) * PAGE,
        "memory_shared_bytes": 40 * PAGE,
    }


def test_zombies_stopped_self_and_own_children_are_never_matched(proc: FakeProc) -> None:
    result = watched(proc, ["nginx"])
    pids = [i["pid"] for i in result["nginx"]["instances"]]  # type: ignore[attr-defined]
    assert pids == [200]  # not 201 (zombie), 202 (stopped), 900 (agent), 901 (agent's child)


def test_the_agents_parent_fleetwatch_command_is_not_matched(proc: FakeProc) -> None:
    result = watched(proc, ["--watch"])  # only the fleetwatch CLI's command line has it
    assert result["--watch"] == {"alive": False, "instances": []}


def test_missing_process_is_not_alive(proc: FakeProc) -> None:
    assert watched(proc, ["postgres"]) == {"postgres": {"alive": False, "instances": []}}


def test_wrapper_whose_children_are_all_zombies_is_not_alive(proc: FakeProc) -> None:
    proc.add(300, "sh", cmdline=["sh", "/opt/run-db.sh"])
    proc.add(301, "db", ppid=300, state="Z", cmdline=[])
    assert watched(proc, ["run-db.sh"])["run-db.sh"]["alive"] is False


def test_command_line_match_and_several_instances(proc: FakeProc) -> None:
    proc.add(400, "java", cmdline=["java", "-jar", "/srv/app.jar"])
    proc.add(401, "java", cmdline=["java", "-jar", "/srv/app.jar", "--replica"])
    result = watched(proc, ["app.jar", "nginx"])
    assert [i["pid"] for i in result["app.jar"]["instances"]] == [400, 401]  # type: ignore[attr-defined]
    assert result["nginx"]["alive"] is True


def test_no_patterns_no_work(proc: FakeProc) -> None:
    assert watched(proc, []) == {}
