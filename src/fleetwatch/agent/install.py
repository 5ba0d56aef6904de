"""Installing the agent as a service (A10): a systemd unit on Linux, a Scheduled Task on Windows.

`plan_install` / `plan_uninstall` compute what would be written and run (shown by `--dry-run`);
`execute` carries a plan out through a `runner` (the data source boundary: tests pass a
recording runner instead of calling `systemctl`/`schtasks`).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from fleetwatch import __version__
from fleetwatch.errors import FleetwatchError

SERVICE_NAME = "fleetwatch-agent"
SYSTEMD_DIR = Path("/etc/systemd/system")

Runner = Callable[[Sequence[str]], int]


@dataclass
class Plan:
    """In order: files to write (path → text), commands to run, files to delete, commands."""

    description: str
    writes: dict[Path, str] = field(default_factory=dict)
    commands: list[list[str]] = field(default_factory=list)
    deletes: list[Path] = field(default_factory=list)
    after: list[list[str]] = field(default_factory=list)

    def render(self) -> str:
        """Human-readable account of the plan (the `--dry-run` output)."""
        out = [self.description]
        for path, text in self.writes.items():
            out += [f"--- would write {path} ---", text.rstrip("\n"), "---"]
        out += ["would run: " + " ".join(_quote(a) for a in cmd) for cmd in self.commands]
        out += [f"would delete {path}" for path in self.deletes]
        out += ["would run: " + " ".join(_quote(a) for a in cmd) for cmd in self.after]
        return "\n".join(out)


def _quote(arg: str) -> str:
    return f'"{arg}"' if (" " in arg or not arg) else arg


def agent_command(config_path: Path, python: str | None = None) -> list[str]:
    """The command line the service runs: this interpreter running `fleetwatch agent run`."""
    return [python or sys.executable, "-m", "fleetwatch.cli.main", "agent", "run", "--config",
            str(config_path)]  # fmt: skip


def _systemd_quote(arg: str) -> str:
    if any(c in arg for c in " \t\"'\\$%;"):
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") + '"'
    return arg


def systemd_unit(config_path: Path, python: str | None = None, user: str | None = None) -> str:
    """The unit file text. Restarts on failure (never faster than every 10 s)."""
    exec_start = " ".join(_systemd_quote(a) for a in agent_command(config_path, python))
    lines = [
        "[Unit]",
        f"Description=fleetwatch agent {__version__} (reports this host to the hub)",
        "Documentation=https://github.com/fleetwatch/fleetwatch",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={exec_start}",
        f"WorkingDirectory={_systemd_quote(str(config_path.parent))}",
        "Environment=PYTHONUNBUFFERED=1",
        "Restart=on-failure",
        "RestartSec=10",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=15",
        "NoNewPrivileges=yes",
    ]
    if user:
        lines.append(f"User={user}")
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)


def windows_task_xml(config_path: Path, python: str | None = None) -> str:
    """Task Scheduler XML: starts at boot as SYSTEM, restarts on failure, no time limit."""
    command = agent_command(config_path, python)
    arguments = " ".join(_quote(a) for a in command[1:])
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>fleetwatch agent {escape(__version__)}: reports this host to the hub</Description>
  </RegistrationInfo>
  <Triggers>
    <BootTrigger><Enabled>true</Enabled></BootTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>S-1-5-18</UserId>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure><Interval>PT1M</Interval><Count>999</Count></RestartOnFailure>
    <StartWhenAvailable>true</StartWhenAvailable>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{escape(command[0])}</Command>
      <Arguments>{escape(arguments)}</Arguments>
      <WorkingDirectory>{escape(str(config_path.parent))}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
"""


def plan_install(
    config_path: Path,
    *,
    platform: str = sys.platform,
    unit_dir: Path = SYSTEMD_DIR,
    python: str | None = None,
    user: str | None = None,
) -> Plan:
    config_path = config_path.resolve()
    if platform == "win32":
        xml_path = config_path.parent / f"{SERVICE_NAME}.task.xml"
        return Plan(
            f"Install the Windows Scheduled Task {SERVICE_NAME!r} (config {config_path})",
            writes={xml_path: windows_task_xml(config_path, python)},
            commands=[
                ["schtasks", "/Create", "/TN", SERVICE_NAME, "/XML", str(xml_path), "/F"],
                ["schtasks", "/Run", "/TN", SERVICE_NAME],
            ],
        )
    if not platform.startswith("linux"):
        raise FleetwatchError(
            f"install-service supports Linux (systemd) and Windows, not {platform}"
        )
    unit = unit_dir / f"{SERVICE_NAME}.service"
    return Plan(
        f"Install the systemd service {SERVICE_NAME!r} (config {config_path})",
        writes={unit: systemd_unit(config_path, python, user)},
        commands=[
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", f"{SERVICE_NAME}.service"],
        ],
    )


def plan_uninstall(
    config_path: Path, *, platform: str = sys.platform, unit_dir: Path = SYSTEMD_DIR
) -> Plan:
    if platform == "win32":
        return Plan(
            f"Remove the Windows Scheduled Task {SERVICE_NAME!r}",
            commands=[
                ["schtasks", "/End", "/TN", SERVICE_NAME],
                ["schtasks", "/Delete", "/TN", SERVICE_NAME, "/F"],
            ],
            deletes=[config_path.resolve().parent / f"{SERVICE_NAME}.task.xml"],
        )
    if not platform.startswith("linux"):
        raise FleetwatchError(f"uninstall-service supports Linux and Windows, not {platform}")
    return Plan(
        f"Remove the systemd service {SERVICE_NAME!r} (the config file and buffer stay)",
        commands=[["systemctl", "disable", "--now", f"{SERVICE_NAME}.service"]],
        deletes=[unit_dir / f"{SERVICE_NAME}.service"],
        after=[["systemctl", "daemon-reload"]],
    )


def run_command(cmd: Sequence[str]) -> int:
    """The real runner: run a system tool, its output going to ours."""
    try:
        return subprocess.run(list(cmd), check=False).returncode
    except FileNotFoundError:
        raise FleetwatchError(f"{cmd[0]} not found: is this a systemd / Windows host?") from None


def _run_all(commands: list[list[str]], runner: Runner, tolerate_failures: bool) -> None:
    for cmd in commands:
        code = runner(cmd)
        if code != 0 and not tolerate_failures:
            raise FleetwatchError(f"{' '.join(cmd)} failed with exit code {code}")


def execute(plan: Plan, runner: Runner = run_command, *, tolerate_failures: bool = False) -> None:
    """Carry the plan out in order; a failing command stops with a clear error (unless
    `tolerate_failures`, used by uninstall: a service that is not running cannot be stopped)."""
    for path, text in plan.writes.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except PermissionError:
            raise FleetwatchError(f"cannot write {path}: run as root / Administrator") from None
    _run_all(plan.commands, runner, tolerate_failures)
    for path in plan.deletes:
        try:
            path.unlink(missing_ok=True)
        except PermissionError:
            raise FleetwatchError(f"cannot delete {path}: run as root / Administrator") from None
    _run_all(plan.after, runner, tolerate_failures)
