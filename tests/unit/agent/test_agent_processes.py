"""The fast /proc scan on a fake proc tree: CPU %, top N, names, users, counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_fakes import PAGE, FakeClock, FakeProc

from fleetwatch.agent.collectors.processes import ProcessCollector
from fleetwatch.agent.procfs import LinuxProcessSource, parse_cpu_list

MEMORY_TOTAL = 1000 * PAGE * 100  # 100 pages are 0.1 %


@pytest.fixture()
def proc(tmp_path: Path) -> FakeProc:
    fake = FakeProc(tmp_path / "proc", uptime=1000.0)
    fake.add(1, "init", ppid=0, cpu_seconds=5.0, start_seconds=0.0, rss_pages=300)
    fake.add(200, "busy", cpu_seconds=90.0, start_seconds=100.0, rss_pages=50, threads=4)
    fake.add(300, "fat", cpu_seconds=1.0, start_seconds=500.0, rss_pages=90_000, threads=2)
    fake.add(
        400,
        "averyveryverylo",  # 15 characters: the kernel's truncation
        cmdline=["/opt/bin/averyveryverylongname", "--flag"],
        uid=65534,
        rss_pages=10,
    )
    fake.add(2, "kthreadd", ppid=0, rss_pages=0, cmdline=[])
    return fake


def test_scan_reads_every_process_and_counts_threads(proc: FakeProc) -> None:
    collector = ProcessCollector(LinuxProcessSource(proc.root), clock=FakeClock())
    scan = collector.scan()
    assert sorted(p.pid for p in scan.procs) == [1, 2, 200, 300, 400]
    assert scan.thread_count == 1 + 1 + 4 + 2 + 1
    busy = scan.by_pid[200]
    assert busy.rss_bytes == 50 * PAGE
    assert busy.status == "sleeping"
    assert busy.age_seconds == pytest.approx(900.0)


def test_first_scan_uses_lifetime_average_then_deltas(proc: FakeProc) -> None:
    clock = FakeClock()
    collector = ProcessCollector(LinuxProcessSource(proc.root), clock=clock)
    first = collector.scan()
    assert first.cpu_percent[200] == pytest.approx(90.0 / 900.0 * 100.0)  # 10 %
    clock.advance(2.0)
    proc.set_uptime(1002.0)
    proc.set_cpu(200, 93.0)  # 3 CPU seconds in 2 s: 150 % (one and a half cores)
    second = collector.scan()
    assert second.cpu_percent[200] == pytest.approx(150.0)
    assert second.cpu_percent[300] == pytest.approx(0.0)


def test_reused_pid_is_not_compared_with_the_old_process(proc: FakeProc) -> None:
    clock = FakeClock()
    collector = ProcessCollector(LinuxProcessSource(proc.root), clock=clock)
    collector.scan()
    proc.remove(200)
    proc.add(200, "newcomer", cpu_seconds=1.0, start_seconds=999.0)  # started 1 s ago
    clock.advance(1.0)
    scan = collector.scan()
    # compared with the old process (90 s of CPU) this would be negative; lifetime is 100 %
    assert scan.cpu_percent[200] == pytest.approx(100.0)
    assert scan.by_pid[200].name == "newcomer"


def test_top_lists_cpu_then_memory_without_duplicates(proc: FakeProc) -> None:
    collector = ProcessCollector(LinuxProcessSource(proc.root), clock=FakeClock())
    rows = collector.top(collector.scan(), 2, MEMORY_TOTAL)
    pids = [r["pid"] for r in rows]
    assert pids[:2] == [200, 1]  # by CPU
    assert 300 in pids  # by memory
    assert len(pids) == len(set(pids)) == 3
    fat = next(r for r in rows if r["pid"] == 300)
    assert fat["memory_mb"] == round(90_000 * PAGE / 1048576, 1)
    assert fat["memory_percent"] == pytest.approx(90.0)
    assert fat["username"] == "root"
    assert fat["cmdline"] == "fat"
    assert set(rows[0]) >= {"pid", "name", "cpu_percent", "memory_percent", "memory_mb", "status"}


def test_top_zero_reports_nothing(proc: FakeProc) -> None:
    collector = ProcessCollector(LinuxProcessSource(proc.root), clock=FakeClock())
    assert collector.top(collector.scan(), 0, MEMORY_TOTAL) == []


def test_truncated_name_is_completed_from_the_command_line_and_user_resolved(
    proc: FakeProc,
) -> None:
    collector = ProcessCollector(LinuxProcessSource(proc.root), clock=FakeClock())
    scan = collector.scan()
    rows = collector.top(scan, 10, MEMORY_TOTAL)
    row = next(r for r in rows if r["pid"] == 400)
    assert row["name"] == "averyveryverylongname"
    assert row["username"] == "nobody"
    kernel = next(r for r in rows if r["pid"] == 2)
    assert kernel["cmdline"] is None


def test_vanished_and_garbled_processes_are_skipped(proc: FakeProc) -> None:
    (proc.root / "300" / "stat").write_text("300 (broken")
    (proc.root / "777").mkdir()  # exited between listdir and read: no stat file
    scan = ProcessCollector(LinuxProcessSource(proc.root), clock=FakeClock()).scan()
    assert sorted(p.pid for p in scan.procs) == [1, 2, 200, 400]


def test_host_counters(proc: FakeProc) -> None:
    source = LinuxProcessSource(proc.root)
    assert source.handle_count() == 1234
    assert source.task_count() == 345
    assert sorted(source.pids()) == [1, 2, 200, 300, 400]


def test_parse_cpu_list() -> None:
    assert parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert parse_cpu_list("5") == [5]
