from __future__ import annotations

from pathlib import Path

import pytest

from fleetwatch.agent.config import load_config
from fleetwatch.errors import ConfigError
from fleetwatch.protocol.agent_config import KEYS, interval_seconds, validate


def test_defaults_match_seed_001_table() -> None:
    config = validate({})
    assert config["collection_interval_minutes"] == 10
    assert config["top_processes_count"] == 15
    assert config["live_interval_seconds"] == 10
    assert config["offline_buffer_max"] == 100
    assert config["verify_ssl"] is True
    assert interval_seconds(config) == 600


def test_seconds_take_precedence() -> None:
    assert interval_seconds(validate({"collection_interval_seconds": 5})) == 5


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"top_processes_count": "15"}, "top_processes_count"),
        ({"live_interval_seconds": 0}, "live_interval_seconds"),
        ({"verify_ssl": "yes"}, "verify_ssl"),
        ({"monitored_services": "nginx"}, "monitored_services"),
        ({"colection_interval_minutes": 5}, "colection_interval_minutes"),
        ({"retry_delay_seconds": float("nan")}, "retry_delay_seconds"),
    ],
)
def test_invalid_values_name_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(raw)
    assert info.value.key == key
    assert key in str(info.value)


def test_pushed_config_cannot_touch_identity() -> None:
    with pytest.raises(ConfigError, match="remotely"):
        validate({"api_key": "x"}, pushed=True)
    assert validate({"top_processes_count": 5}, pushed=True) == {"top_processes_count": 5}


def test_broken_json_file_says_where(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text('{"top_processes_count": 5,,}')
    with pytest.raises(ConfigError, match="line 1"):
        load_config(path)


def test_every_key_is_documented() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "configuration.md").read_text()
    missing = [k.name for k in KEYS if f"`{k.name}`" not in doc]
    assert missing == []


def test_several_problems_are_listed_and_one_stays_as_it_was() -> None:
    from fleetwatch.errors import ConfigProblems

    with pytest.raises(ConfigProblems) as info:
        validate({"top_processes_count": -1, "nope": 1}, pushed=True)
    assert [p.key for p in info.value.problems] == ["top_processes_count", "nope"]
    assert info.value.key == "top_processes_count"
    assert str(info.value).startswith("2 problems:\n  top_processes_count: must be at least")
    with pytest.raises(ConfigError) as single:
        validate({"nope": 1})
    assert not isinstance(single.value, ConfigProblems)
    assert str(single.value) == "nope: unknown key"
