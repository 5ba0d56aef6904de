"""`fleetwatch agent run` / `fleetwatch agent FILE` command-line behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetwatch.cli.main import main


def test_seed_style_invocation_with_broken_config_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "myconfig.json"
    config.write_text(json.dumps({"live_interval_seconds": 0}))
    assert main(["agent", str(config)]) == 2
    err = capsys.readouterr().err
    assert "configuration error: live_interval_seconds: must be at least 1" in err


def test_bad_hub_url_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({"dashboard_url": "hub.example.com"}))
    assert main(["agent", "run", "--config", str(config)]) == 2
    assert "dashboard_url: must be an http:// or https:// URL" in capsys.readouterr().err


def test_every_problem_of_a_config_file_is_reported_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.json"
    broken = {"live_interval_seconds": 0, "gpu_enabled": "yes", "colection_interval": 60}
    config.write_text(json.dumps(broken))
    assert main(["agent", "run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"configuration error: {config}: 3 problems:" in err
    assert "  live_interval_seconds: must be at least 1, got 0" in err
    assert "  gpu_enabled: must be true or false, got 'yes'" in err
    assert "  colection_interval: unknown key" in err
