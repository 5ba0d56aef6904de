"""A3 backends: systemd (`systemctl`), SysV init (`service --status-all`) and Windows (psutil).

Each backend takes the configured names (empty = discover everything) and returns rows in
seed 001's shape: `service_name`, `display_name`, `status`, `start_type`, `pid`. Status is
normalised to `running` / `stopped` / `error` / `unknown` / `not-found` (a configured
service the host does not have); transitional states are kept as the OS names them.
Backends raise `OSError` when their tool is unavailable or fails.
"""

from __future__ import annotations

from typing import Any

from fleetwatch.agent.collectors.command import Runner

COMMAND_TIMEOUT_SECONDS = 20.0
_SHOW_PROPERTIES = "Id,Description,LoadState,ActiveState,SubState,UnitFileState,MainPID"
_SYSTEMD_STATUS = {"active": "running", "inactive": "stopped", "failed": "error"}
_SYSV_STATUS = {"+": "running", "-": "stopped", "?": "unknown"}
_WINDOWS_STATUS = {"running": "running", "stopped": "stopped"}


def _row(
    name: str, display: str | None, status: str, start: str | None, pid: int | None
) -> dict[str, Any]:
    return {
        "service_name": name[:255],
        "display_name": display[:255] if display else None,
        "status": status[:255],
        "start_type": start[:255] if start else None,
        "pid": pid if pid and pid > 0 else None,
    }


def _not_found(name: str) -> dict[str, Any]:
    return _row(name, None, "not-found", None, None)


# --- systemd ----------------------------------------------------------------------------


def _unit_name(name: str) -> str:
    return name if "." in name else f"{name}.service"


def parse_list_units(output: str) -> list[str]:
    """Unit names from `systemctl list-units --plain --no-legend` (first column)."""
    units = []
    for line in output.splitlines():
        parts = line.replace("●", " ").split()
        if parts and parts[0].endswith(".service"):
            units.append(parts[0])
    return units


def parse_show(output: str) -> list[dict[str, str]]:
    """`systemctl show` output: one `Key=value` block per unit, blocks separated by blank lines."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in [*output.splitlines(), ""]:
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, _, value = line.partition("=")
        current[key.strip()] = value.strip()
    return blocks


def systemd_services(names: list[str], runner: Runner) -> list[dict[str, Any]]:
    """Configured units (by name, `.service` implied) or every service unit systemd knows."""
    if names:
        units = [_unit_name(n) for n in names]
    else:
        listing = runner(
            [
                "systemctl",
                "list-units",
                "--type=service",
                "--all",
                "--no-pager",
                "--plain",
                "--no-legend",
            ],
            COMMAND_TIMEOUT_SECONDS,
        )
        units = parse_list_units(listing)
    if not units:
        return []
    output = runner(
        ["systemctl", "show", "--no-pager", f"--property={_SHOW_PROPERTIES}", "--", *units],
        COMMAND_TIMEOUT_SECONDS,
    )
    blocks = {b.get("Id", ""): b for b in parse_show(output)}
    rows = []
    for index, unit in enumerate(units):
        label = names[index] if names else unit.removesuffix(".service")
        block = blocks.get(unit)
        if block is None or block.get("LoadState") == "not-found":
            rows.append(_not_found(label))
            continue
        active = block.get("ActiveState", "")
        rows.append(
            _row(
                label,
                block.get("Description") or None,
                _SYSTEMD_STATUS.get(active, active or "unknown"),
                block.get("UnitFileState") or None,
                int(block.get("MainPID") or 0),
            )
        )
    return rows


# --- SysV init --------------------------------------------------------------------------


def parse_status_all(output: str) -> dict[str, str]:
    """`service --status-all` lines such as ` [ + ]  cron` -> {"cron": "running"}."""
    result: dict[str, str] = {}
    for line in output.splitlines():
        line = line.strip()
        if not line.startswith("[") or "]" not in line:
            continue
        mark, _, name = line[1:].partition("]")
        name = name.strip()
        if name:
            result[name] = _SYSV_STATUS.get(mark.strip(), "unknown")
    return result


def sysv_services(names: list[str], runner: Runner) -> list[dict[str, Any]]:
    """Every init script's state, or the configured ones (`nginx.service` means `nginx`)."""
    states = parse_status_all(
        runner(["service", "--status-all"], COMMAND_TIMEOUT_SECONDS, merge_stderr=True)
    )
    if not names:
        return [_row(n, None, s, None, None) for n, s in sorted(states.items())]
    rows = []
    for name in names:
        status = states.get(name, states.get(name.removesuffix(".service")))
        rows.append(_not_found(name) if status is None else _row(name, None, status, None, None))
    return rows


# --- Windows ----------------------------------------------------------------------------


def _windows_row(name: str, service: Any) -> dict[str, Any]:
    status = str(service.status())
    return _row(
        name,
        service.display_name(),
        _WINDOWS_STATUS.get(status, status),
        service.start_type(),
        service.pid(),
    )


def windows_services(names: list[str], psutil_module: Any) -> list[dict[str, Any]]:
    """Windows services through `psutil.win_service_iter` / `win_service_get`."""
    if not names:
        rows = []
        for service in psutil_module.win_service_iter():
            try:
                rows.append(_windows_row(service.name(), service))
            except psutil_module.Error:
                continue  # deleted or access denied while we iterated
        return rows
    rows = []
    for name in names:
        try:
            rows.append(_windows_row(name, psutil_module.win_service_get(name)))
        except psutil_module.NoSuchProcess:
            rows.append(_not_found(name))
        except psutil_module.Error:
            rows.append(_row(name, None, "unknown", None, None))
    return rows
