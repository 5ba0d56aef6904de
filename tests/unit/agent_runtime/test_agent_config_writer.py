"""Writing identity / pushed keys back into the config file."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from fleetwatch.agent.config import load_config
from fleetwatch.agent.config_writer import update_config_file
from fleetwatch.errors import ConfigError


def test_json_keeps_order_and_indent_and_is_0600(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text(
        '{\n    "dashboard_url": "http://hub:8000",\n    "server_id": "",\n'
        '    "top_processes_count": 5\n}\n'
    )
    path.chmod(0o644)
    update_config_file(path, {"server_id": "abc", "api_key": "fwk_x"})
    text = path.read_text()
    assert text.index("dashboard_url") < text.index("server_id") < text.index("top_processes")
    assert text.index("top_processes") < text.index("api_key")  # new keys go last
    assert '\n    "server_id": "abc"' in text  # 4-space indentation kept
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cfg = load_config(path)
    assert (cfg["server_id"], cfg["api_key"], cfg["top_processes_count"]) == ("abc", "fwk_x", 5)
    assert [p.name for p in tmp_path.iterdir()] == ["agent.json"]  # no temp file left


def test_missing_file_is_created(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "agent.json"
    update_config_file(path, {"server_id": "a"})
    assert load_config(path)["server_id"] == "a"


def test_toml_keeps_comments_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('# my agent\ndashboard_url = "http://hub"\nserver_id = ""\n')
    update_config_file(path, {"server_id": "id-1", "api_key": "k", "monitored_services": ["a"]})
    text = path.read_text()
    assert text.startswith("# my agent\n")
    data = tomllib.loads(text)
    assert data == {
        "dashboard_url": "http://hub",
        "server_id": "id-1",
        "api_key": "k",
        "monitored_services": ["a"],
    }


def test_broken_file_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text('{"server_id": ')
    with pytest.raises(ConfigError, match="invalid JSON"):
        update_config_file(path, {"server_id": "x"})
    assert path.read_text() == '{"server_id": '
