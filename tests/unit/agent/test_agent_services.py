"""Services: systemd, SysV and Windows sources on recorded output; caching; no source."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest
from agent_fakes import FIXTURES, FakeClock

from fleetwatch.agent.collectors.command import CommandFailed
from fleetwatch.agent.collectors.services import (
    SERVICES_REFRESH_SECONDS,
    ServiceCollector,
    ServiceSources,
)


class RecordedRunner:
    """Answers commands from recorded output and remembers what it was asked."""

    def __init__(self, answers: dict[str, str | BaseException]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []

    def __call__(
        self, argv: Sequence[str], timeout_seconds: float, *, merge_stderr: bool = False
    ) -> str:
        self.calls.append(list(argv))
        key = " ".join(argv[:2])
        answer = self.answers.get(key)
        if answer is None:
            raise FileNotFoundError(argv[0])
        if isinstance(answer, BaseException):
            raise answer
        if key == "systemctl show":  # answer only for the units asked about, like systemctl
            return _show_for(answer, list(argv[argv.index("--") + 1 :]))
        return answer


def _show_for(recorded: str, units: list[str]) -> str:
    blocks = {b.split("\n", 1)[0].removeprefix("Id="): b for b in recorded.strip().split("\n\n")}
    out = []
    for unit in units:
        out.append(
            blocks.get(unit, f"Id={unit}\nLoadState=not-found\nActiveState=inactive\nMainPID=0")
        )
    return "\n\n".join(out) + "\n"


def systemd(tmp_path: Path) -> tuple[ServiceSources, RecordedRunner]:
    (tmp_path / "systemd").mkdir()
    runner = RecordedRunner(
        {
            "systemctl list-units": (FIXTURES / "systemctl_list_units.txt").read_text(),
            "systemctl show": (FIXTURES / "systemctl_show.txt").read_text(),
        }
    )
    return ServiceSources(runner, tmp_path / "systemd", None, "linux"), runner


def collect(collector: ServiceCollector) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    warnings: list[str] = []
    rows, status = collector.collect(warnings.append)
    return rows, status, warnings


def test_systemd_discovery(tmp_path: Path) -> None:
    sources, _ = systemd(tmp_path)
    rows, status, warnings = collect(ServiceCollector(sources, background=False))
    assert status == {"source": "systemd", "detail": None}
    assert warnings == []
    by_name = {r["service_name"]: r for r in rows}
    assert set(by_name) == {"cron", "dbus", "networking", "nginx", "ssh"}
    assert by_name["cron"] == {
        "service_name": "cron",
        "display_name": "Regular background program processing daemon",
        "status": "running",
        "start_type": "enabled",
        "pid": 612,
        "discovered": True,
    }
    assert by_name["nginx"]["status"] == "error"
    assert by_name["ssh"]["status"] == "stopped"
    assert by_name["ssh"]["pid"] is None


def test_systemd_configured_list_with_unknown_service(tmp_path: Path) -> None:
    sources, runner = systemd(tmp_path)
    collector = ServiceCollector(sources, background=False)
    collector.configure(["cron", "nosuchd", "ssh.service"], True)
    rows, _, _ = collect(collector)
    assert [(r["service_name"], r["status"]) for r in rows] == [
        ("cron", "running"),
        ("nosuchd", "not-found"),
        ("ssh.service", "stopped"),
    ]
    assert all(call[1] != "list-units" for call in runner.calls)  # no discovery needed
    assert not any(r.get("discovered") for r in rows)


def test_sysv_when_there_is_no_systemd(tmp_path: Path) -> None:
    runner = RecordedRunner(
        {"service --status-all": (FIXTURES / "service_status_all.txt").read_text()}
    )
    sources = ServiceSources(runner, tmp_path / "missing", None, "linux")
    collector = ServiceCollector(sources, background=False)
    rows, status, _ = collect(collector)
    assert status["source"] == "sysv"
    assert {r["service_name"]: r["status"] for r in rows}["postgresql"] == "running"
    assert {r["service_name"]: r["status"] for r in rows}["hwclock.sh"] == "unknown"
    collector.configure(["ssh", "procps", "nginx"], True)
    rows, _, _ = collect(collector)
    assert [(r["service_name"], r["status"]) for r in rows] == [
        ("ssh", "running"),
        ("procps", "stopped"),
        ("nginx", "not-found"),
    ]


def test_no_source_says_why_and_does_not_raise(tmp_path: Path) -> None:
    sources = ServiceSources(RecordedRunner({}), tmp_path / "missing", None, "linux")
    rows, status, warnings = collect(ServiceCollector(sources, background=False))
    assert rows == []
    assert status["source"] == "none"
    assert "no `service` command" in status["detail"]
    assert warnings == []


def test_nothing_configured_and_discovery_off(tmp_path: Path) -> None:
    sources, runner = systemd(tmp_path)
    collector = ServiceCollector(sources, background=False)
    collector.configure([], False)
    rows, status, _ = collect(collector)
    assert rows == [] and status["source"] == "none" and "auto_discover" in status["detail"]
    assert runner.calls == []


def test_results_are_cached_between_refreshes(tmp_path: Path) -> None:
    sources, runner = systemd(tmp_path)
    clock = FakeClock()
    collector = ServiceCollector(sources, background=False, clock=clock)
    for _ in range(5):
        collect(collector)
        clock.advance(1.0)
    assert len(runner.calls) == 2  # list-units + show, once
    clock.advance(SERVICES_REFRESH_SECONDS)
    collect(collector)
    assert len(runner.calls) == 4


def test_a_costly_source_is_refreshed_less_often(tmp_path: Path) -> None:
    clock = FakeClock()

    def slow_runner(
        argv: Sequence[str], timeout_seconds: float, *, merge_stderr: bool = False
    ) -> str:
        clock.advance(1.0)  # the query took a second
        return (FIXTURES / "service_status_all.txt").read_text()

    sources = ServiceSources(slow_runner, tmp_path / "missing", None, "linux")
    collector = ServiceCollector(sources, background=False, clock=clock)
    collect(collector)
    clock.advance(SERVICES_REFRESH_SECONDS * 2)
    before = clock.now
    collect(collector)
    assert clock.now == before  # not refreshed yet: 1 s of cost buys 500 s of cache


def test_failed_refresh_keeps_the_last_list_and_warns(tmp_path: Path) -> None:
    sources, runner = systemd(tmp_path)
    clock = FakeClock()
    collector = ServiceCollector(sources, background=True, clock=clock)
    first, _, _ = collect(collector)
    runner.answers["systemctl list-units"] = CommandFailed("systemctl failed: bus down")
    clock.advance(SERVICES_REFRESH_SECONDS + 1)
    _, _, during = collect(collector)  # starts the background refresh
    collector.wait()
    rows, status, after = collect(collector)
    assert rows == first
    assert status == {
        "source": "systemd",
        "detail": "last good list kept; query failed: systemctl failed: bus down",
    }
    warnings = during + after  # reported once, by whichever snapshot came after the failure
    assert warnings == ["services: systemctl failed: bus down"]
    assert collect(collector)[2] == []


class FakeWinService:
    def __init__(self, name: str, display: str, status: str, start: str, pid: int | None) -> None:
        self._values = (name, display, status, start, pid)

    def name(self) -> str:
        return self._values[0]

    def display_name(self) -> str:
        return self._values[1]

    def status(self) -> str:
        return self._values[2]

    def start_type(self) -> str:
        return self._values[3]

    def pid(self) -> int | None:
        return self._values[4]


class FakeWindowsPsutil:
    Error = psutil.Error
    NoSuchProcess = psutil.NoSuchProcess

    def __init__(self) -> None:
        self.services = {
            "W3SVC": FakeWinService(
                "W3SVC", "World Wide Web Publishing", "running", "automatic", 4567
            ),
            "Spooler": FakeWinService("Spooler", "Print Spooler", "stopped", "manual", None),
            "wuauserv": FakeWinService("wuauserv", "Windows Update", "start_pending", "manual", 0),
        }

    def win_service_iter(self) -> list[FakeWinService]:
        return list(self.services.values())

    def win_service_get(self, name: str) -> FakeWinService:
        if name not in self.services:
            raise psutil.NoSuchProcess(pid=0, name=name)
        return self.services[name]


def test_windows_services_discovered_and_configured(tmp_path: Path) -> None:
    sources = ServiceSources(RecordedRunner({}), tmp_path, FakeWindowsPsutil(), "win32")
    collector = ServiceCollector(sources, background=False)
    rows, status, _ = collect(collector)
    assert status["source"] == "windows"
    assert rows[0] == {
        "service_name": "W3SVC",
        "display_name": "World Wide Web Publishing",
        "status": "running",
        "start_type": "automatic",
        "pid": 4567,
        "discovered": True,
    }
    assert rows[2]["status"] == "start_pending" and rows[2]["pid"] is None
    collector.configure(["Spooler", "MSSQLSERVER"], True)
    rows, _, _ = collect(collector)
    assert [(r["service_name"], r["status"]) for r in rows] == [
        ("Spooler", "stopped"),
        ("MSSQLSERVER", "not-found"),
    ]


@pytest.mark.parametrize("platform", ["darwin", "freebsd14"])
def test_unsupported_platform(tmp_path: Path, platform: str) -> None:
    sources = ServiceSources(RecordedRunner({}), tmp_path, None, platform)
    rows, status, _ = collect(ServiceCollector(sources, background=False))
    assert rows == [] and status["source"] == "none" and platform in status["detail"]
