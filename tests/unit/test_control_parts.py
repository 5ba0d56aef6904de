"""Issue 21's pure parts: control messages, the allow-list, the agent's `commands` and
`processes` keys, cron expressions, the command journal (at most once), the command file
queue (de-duplicated, truncated) and WebSocket masking."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetwatch.agent.control.commands import CommandRunner, Journal
from fleetwatch.agent.control.stdin import TRUNCATE_AFTER, CommandFile
from fleetwatch.agent.control.ws import _mask, accept_key
from fleetwatch.errors import ConfigError
from fleetwatch.hub.services.cron import Cron, CronError
from fleetwatch.protocol.agent_config import validate
from fleetwatch.protocol.control import (
    AGENT_TYPES,
    HUB_TYPES,
    ControlError,
    command_allowed,
    decode,
    encode,
)


def test_messages_round_trip_and_bad_frames_are_refused() -> None:
    message = decode(encode("command", id="c1", argv=["uname", "-a"]), HUB_TYPES)
    assert message == {"type": "command", "v": 1, "id": "c1", "argv": ["uname", "-a"]}
    for frame, why in [
        ("nope", "not JSON"),
        ("[1]", "object"),
        ('{"type":"x","v":1}', "unknown"),
        ('{"type":"hello"}', "v:"),
        ('{"type":"hello","v":2}', "newer"),
    ]:
        with pytest.raises(ControlError, match=why):
            decode(frame, AGENT_TYPES)
    with pytest.raises(ControlError, match="larger"):
        decode(" " * (2 << 20), AGENT_TYPES)


@pytest.mark.parametrize(
    ("argv0", "allowed"),
    [
        ("uname", True),
        ("/usr/bin/uname", True),
        ("unamex", False),
        ("/opt/app/run.sh", True),
        ("/opt/app/../../bin/sh", False),
        ("/usr/local/bin/app-migrate", True),
        ("sh", False),
        ("", False),
        ("/opt/application", False),
    ],
)
def test_the_allow_list_matches_names_and_prefixes(argv0: str, allowed: bool) -> None:
    assert command_allowed(argv0, ["uname", "/opt/app/", "/usr/local/bin/app-*"]) is allowed


def test_commands_and_processes_keys_are_checked_and_never_pushed() -> None:
    config = validate(
        {"commands": {"allow": ["uptime"]}, "processes": [{"name": "game", "argv": ["/srv/game"]}]}
    )
    assert config["commands"]["shell"] is False and config["commands"]["user"] == ""
    assert config["processes"][0]["restart"] == "on-failure"
    assert validate({})["commands"] is None  # absent: remote commands off
    problems = [
        ({"commands": {"allow": "uptime"}}, "commands.allow"),
        ({"commands": {"sudo": True}}, "commands.sudo"),
        ({"commands": {"max_output_bytes": 10}}, "commands.max_output_bytes"),
        ({"processes": [{"name": "a b", "argv": ["x"]}]}, "processes[0].name"),
        (
            {"processes": [{"name": "a", "argv": ["x"]}, {"name": "a", "argv": ["y"]}]},
            "processes[1].name",
        ),
        ({"processes": [{"name": "a", "argv": []}]}, "processes[0].argv"),
        (
            {"processes": [{"name": "a", "argv": ["x"], "restart": "sometimes"}]},
            "processes[0].restart",
        ),
    ]
    for raw, field in problems:
        with pytest.raises(ConfigError) as caught:
            validate(raw)
        assert caught.value.key == field, (raw, caught.value)
    with pytest.raises(ConfigError, match="cannot be changed remotely"):
        validate({"commands": {"allow": ["sh"]}}, pushed=True)


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_cron_finds_the_next_run() -> None:
    assert Cron.parse("*/15 * * * *").next_after(_at("2026-12-07 10:07")) == _at("2026-12-07 10:15")
    assert Cron.parse("0 4 * * 0").next_after(_at("2026-12-07 10:00")) == _at("2026-12-13 04:00")
    assert Cron.parse("30 2 1 1,7 *").next_after(_at("2026-12-07 10:00")) == _at("2027-01-01 02:30")
    assert Cron.parse("0 0 29 2 *").next_after(_at("2026-03-01 00:00")) == _at("2028-02-29 00:00")
    assert Cron.parse("0 12 * * 1-5").next_after(_at("2026-12-05 13:00")) == _at("2026-12-07 12:00")
    assert Cron.parse("0 0 30 2 *").next_after(_at("2026-01-01 00:00")) is None
    for bad in ("* * * *", "60 * * * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"):
        with pytest.raises(CronError):
            Cron.parse(bad)


def test_the_journal_runs_an_id_once_and_names_interrupted_ones(tmp_path: Path) -> None:
    path = tmp_path / "commands.journal"
    journal = Journal(path)
    assert journal.start("a") and journal.start("b") and not journal.start("a")
    journal.end("a")
    again = Journal(path)  # the agent restarted: b was cut short
    assert again.open_ids == ["b"] and not again.start("a") and not again.start("b")


def test_the_command_file_relays_each_id_once_and_is_truncated(tmp_path: Path) -> None:
    queue = CommandFile(tmp_path / "game_commands.txt")
    assert queue.poll() == []
    queue.path.write_text("1:say hi\n1:say hi\n2:save\n3:half")
    assert queue.poll() == ["say hi", "save"]
    with queue.path.open("a") as f:
        f.write(" a line\n")
    assert queue.poll() == ["half a line"]
    with queue.path.open("a") as f:
        f.write("".join(f"{10 + i}:c{i}\n" for i in range(TRUNCATE_AFTER)) + "500:unfini")
    assert len(queue.poll()) == TRUNCATE_AFTER
    assert queue.path.read_text() == "500:unfini"  # truncated; the unfinished line kept
    with queue.path.open("a") as f:
        f.write("shed\n109:c99\n")
    assert queue.poll() == ["unfinished"]  # 109 was relayed already


def test_websocket_masking_and_accept_key() -> None:
    payload, mask = os.urandom(1001), os.urandom(4)
    masked = _mask(payload, mask)
    assert masked == bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert _mask(masked, mask) == payload and _mask(b"", mask) == b""
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455


def _runner(tmp_path: Path, **policy: object) -> tuple[CommandRunner, list[dict[str, object]]]:
    import json

    sent: list[dict[str, object]] = []
    base = {
        "allow": ["echo"],
        "shell": False,
        "user": "",
        "max_output_bytes": 1 << 20,
        "max_timeout_seconds": 60,
    }
    runner = CommandRunner(
        {**base, **policy} if policy.get("off") is None else None,
        Journal(tmp_path / "j"),
        lambda text: sent.append(json.loads(text)),
    )
    return runner, sent


def test_the_agent_refuses_what_its_own_config_does_not_allow(tmp_path: Path) -> None:
    off, sent = _runner(tmp_path, off=True)
    off.start({"id": "a", "argv": ["echo", "x"]})
    assert sent[-1]["state"] == "refused" and "off on this host" in str(sent[-1]["message"])
    runner, sent = _runner(tmp_path)
    for message, why in [
        ({"id": "b", "argv": ["rm", "-rf", "/"]}, "allow"),
        ({"id": "c", "shell": "echo x"}, "shell"),
        ({"id": "d", "argv": ["echo"], "env": {"A=B": "x"}}, "env"),
        ({"id": "e", "argv": []}, "argv"),
    ]:
        runner.start(message)
        assert sent[-1]["state"] == "refused" and why in str(sent[-1]["message"]), sent[-1]
    assert not (tmp_path / "j").exists(), "nothing refused reaches the journal"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_a_root_agent_without_a_user_runs_nothing(tmp_path: Path) -> None:
    runner, sent = _runner(tmp_path)
    runner.start({"id": "r1", "argv": ["echo", "as root?"]})
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent and sent[-1]["state"] == "failed"
    assert "commands.user" in str(sent[-1]["message"])
