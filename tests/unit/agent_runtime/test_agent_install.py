"""install-service / uninstall-service: the generated systemd unit and Windows task."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import pytest

from fleetwatch.agent.install import execute, plan_install, plan_uninstall
from fleetwatch.cli.main import main
from fleetwatch.errors import FleetwatchError


def test_systemd_unit_text(tmp_path: Path) -> None:
    config = tmp_path / "agent.json"
    plan = plan_install(config, platform="linux", unit_dir=tmp_path, python="/usr/bin/python3")
    (unit_path, unit), *_ = plan.writes.items()
    assert unit_path == tmp_path / "fleetwatch-agent.service"
    lines = unit.splitlines()
    assert lines[0] == "[Unit]"
    assert "After=network-online.target" in lines
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    assert exec_start == (
        f"ExecStart=/usr/bin/python3 -m fleetwatch.cli.main agent run --config {config}"
    )
    assert "Restart=on-failure" in lines and "KillSignal=SIGTERM" in lines
    assert "WantedBy=multi-user.target" in lines
    assert plan.commands[-1] == ["systemctl", "enable", "--now", "fleetwatch-agent.service"]


def test_systemd_quotes_paths_with_spaces(tmp_path: Path) -> None:
    config = tmp_path / "my dir" / "agent.json"
    unit = next(iter(plan_install(config, platform="linux", unit_dir=tmp_path).writes.values()))
    assert f'--config "{config}"' in unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    plan = plan_install(tmp_path / "agent.json", platform="linux", unit_dir=tmp_path)
    execute(plan, runner=lambda cmd: 0)
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "fleetwatch-agent.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [
        line
        for line in proc.stderr.splitlines()
        if "fleetwatch-agent.service" in line and "Failed to" not in line
    ]
    assert problems == [], proc.stderr


def test_windows_task_xml(tmp_path: Path) -> None:
    config = tmp_path / "agent.json"
    plan = plan_install(config, platform="win32", python="C:\\Python311\\python.exe")
    xml_path, xml = next(iter(plan.writes.items()))
    ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
    root = ET.fromstring(xml.split("\n", 1)[1])  # the UTF-16 declaration is for schtasks
    assert root.find("t:Triggers/t:BootTrigger", ns) is not None
    assert root.findtext("t:Principals/t:Principal/t:UserId", namespaces=ns) == "S-1-5-18"
    assert root.findtext("t:Settings/t:ExecutionTimeLimit", namespaces=ns) == "PT0S"
    assert root.findtext("t:Actions/t:Exec/t:Command", namespaces=ns) == "C:\\Python311\\python.exe"
    args = root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=ns)
    assert args == f"-m fleetwatch.cli.main agent run --config {config}"
    assert plan.commands[0] == [
        "schtasks", "/Create", "/TN", "fleetwatch-agent", "/XML", str(xml_path), "/F"
    ]  # fmt: skip


def test_execute_and_uninstall_order(tmp_path: Path) -> None:
    calls: list[list[str]] = []
    unit = tmp_path / "fleetwatch-agent.service"

    def runner(cmd: Sequence[str]) -> int:
        calls.append([*list(cmd), f"unit-exists={unit.exists()}"])
        return 0

    execute(plan_install(tmp_path / "a.json", platform="linux", unit_dir=tmp_path), runner)
    assert unit.exists()
    assert calls[0][:2] == ["systemctl", "daemon-reload"]
    calls.clear()
    execute(plan_uninstall(tmp_path / "a.json", platform="linux", unit_dir=tmp_path), runner)
    assert not unit.exists()
    assert calls == [
        ["systemctl", "disable", "--now", "fleetwatch-agent.service", "unit-exists=True"],
        ["systemctl", "daemon-reload", "unit-exists=False"],
    ]


def test_failing_command_is_a_clear_error(tmp_path: Path) -> None:
    plan = plan_install(tmp_path / "a.json", platform="linux", unit_dir=tmp_path)
    with pytest.raises(FleetwatchError, match="systemctl daemon-reload failed with exit code 1"):
        execute(plan, runner=lambda cmd: 1)


def test_cli_dry_run_prints_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.json"
    assert main(["agent", "install-service", "--dry-run", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "would write /etc/systemd/system/fleetwatch-agent.service" in out
    assert f"--config {config}" in out
    assert "would run: systemctl enable --now fleetwatch-agent.service" in out
    assert main(["agent", "uninstall-service", "--dry-run", "--config", str(config)]) == 0
    assert "would delete /etc/systemd/system/fleetwatch-agent.service" in capsys.readouterr().out
