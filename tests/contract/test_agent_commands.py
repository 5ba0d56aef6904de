"""`fleetwatch agent snapshot` / `live` as real subprocesses: output, errors, import weight."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fleetwatch.protocol.models import LiveSample, Snapshot

HEAVY = ("pydantic", "fastapi", "starlette", "sqlalchemy", "uvicorn", "fleetwatch.hub")


def fleetwatch(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetwatch.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_snapshot_prints_one_valid_snapshot(tmp_path: Path) -> None:
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({"top_processes_count": 3, "watched_paths": [str(tmp_path)]}))
    result = fleetwatch("agent", "snapshot", "--config", str(config), "--pretty")
    assert result.returncode == 0, result.stderr
    snapshot = Snapshot.model_validate_json(result.stdout)
    assert snapshot.system is not None and snapshot.system.hostname
    assert any(d.watched and d.mountpoint == str(tmp_path) for d in snapshot.metrics.disks)
    assert 1 <= len(snapshot.processes) <= 6
    assert result.stdout.startswith("{\n  ")  # --pretty


def test_live_prints_json_lines() -> None:
    result = fleetwatch("agent", "live", "--interval", "0.2", "--count", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    samples = [LiveSample.model_validate_json(line) for line in lines]
    assert all(s.process_count > 0 and s.thread_count >= s.process_count for s in samples)


def test_invalid_config_names_the_key_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({"top_processes_count": -4}))
    result = fleetwatch("agent", "snapshot", "--config", str(config))
    assert result.returncode == 2
    assert "top_processes_count" in result.stderr and "at least 0" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "invalid JSON at line 1"), (json.dumps({"top_processes": 5}), "top_processes")],
)
def test_broken_config_files(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "agent.json"
    config.write_text(content)
    result = fleetwatch("agent", "live", "--count", "1", "--config", str(config))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_missing_config_file_and_bad_arguments(tmp_path: Path) -> None:
    result = fleetwatch("agent", "snapshot", "--config", str(tmp_path / "nope.json"))
    assert result.returncode == 2 and "no such file" in result.stderr
    result = fleetwatch("agent", "live", "--interval", "0")
    assert result.returncode == 2 and "--interval" in result.stderr


def test_agent_never_imports_pydantic_or_the_hub() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "fleetwatch.cli.main", "agent", "snapshot",
         "--baseline", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "fleetwatch.agent.snapshot" in imported  # the measurement itself works
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY or m.startswith(HEAVY))
    assert heavy == []
