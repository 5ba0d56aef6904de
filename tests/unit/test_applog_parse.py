"""Issue 22.1-22.2: `fleetwatch.applog` writes what the agent's parser reads back exactly
(level, millisecond time, multi-line messages, backslashes), needs nothing beyond the standard
library, and plain log lines get their level and time from the usual spellings."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetwatch import applog
from fleetwatch.agent.logship.parse import detect_level, parse_header, parse_line


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_records_round_trip_through_the_agent_parser(tmp_path: Path) -> None:
    when = 1_765_000_000.25
    with applog.open("rt", tmp_path, app="billing") as log:
        log.write("error", "invoice 42\nfailed at C:\\new\\row", when)
        log.info("second")
    header, first, second = _lines(tmp_path / "fleetwatch_log_rt")
    fields = parse_header(header)
    assert fields is not None and fields["app"] == "billing" and fields["pid"] > 0
    assert fields["executable"] == sys.executable and fields["user"]
    assert abs(fields["started_at"] - time.time()) < 60
    parsed = parse_line(first, 0.0, applog=True)
    assert parsed.level == "error" and parsed.ts == pytest.approx(when, abs=0.001)
    assert parsed.message == "invoice 42\nfailed at C:\\new\\row"
    assert parse_line(second, 0.0, applog=True).message == "second"


def test_reopening_appends_without_a_second_header(tmp_path: Path) -> None:
    for text in ("one", "two"):
        with applog.open("again", tmp_path) as log:
            log.warning(text)
    lines = _lines(tmp_path / "fleetwatch_log_again")
    assert len(lines) == 3 and lines[0].startswith(applog.HEADER_PREFIX)
    assert [parse_line(x, 0, True).message for x in lines[1:]] == ["one", "two"]


def test_the_logging_handler_maps_levels_and_uses_the_environment_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEETWATCH_APPLOG_DIR", str(tmp_path))
    handler = applog.Handler("h", app="worker")
    logger = logging.getLogger("test-applog-handler")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("d")
        logger.warning("careful %s", "now")
        logger.log(45, "between error and critical")
    finally:
        logger.removeHandler(handler)
        handler.close()
    records = [parse_line(x, 0, True) for x in _lines(tmp_path / "fleetwatch_log_h")[1:]]
    assert [(r.level, r.message) for r in records] == [
        ("debug", "d"),
        ("warning", "careful now"),
        ("error", "between error and critical"),
    ]


def test_a_token_cannot_name_another_folder(tmp_path: Path) -> None:
    for bad in ("../x", "a/b", "..", "c\\d"):
        with pytest.raises(ValueError, match="path separator"):
            applog.open(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_applog_imports_only_the_standard_library() -> None:
    code = (
        "import sys, fleetwatch.applog\n"
        "heavy = {'fastapi', 'sqlalchemy', 'nicegui', 'httpx', 'msgspec', 'pydantic', 'psutil'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("2026-12-07 10:00:00 ERROR db: connection refused", "error"),
        ("[warn] disk almost full", "warning"),
        ('ts=1 level=debug msg="cache miss"', "debug"),
        ('{"level": "critical", "msg": "down"}', "critical"),
        ("FATAL: out of memory", "critical"),
        ("W1207 WARNING something", "warning"),
        ("ERRORS were counted: 0", None),  # a longer word is not a level
        ("user errorhandler registered", None),
        ("x" * 170 + " ERROR too far in", None),
    ],
)
def test_plain_lines_get_a_level_from_a_word_near_their_start(line: str, level: str) -> None:
    assert detect_level(line) == level
    assert parse_line(line, 5.0, applog=False).level == (level or "info")


def test_plain_lines_get_their_own_time_when_they_start_with_one() -> None:
    read_at = datetime(2026, 12, 8, 12, 0, tzinfo=UTC).timestamp()
    iso = parse_line("2026-12-08T11:59:58.5Z GET / 200", read_at, applog=False)
    assert (
        iso.ts == pytest.approx(read_at - 1.5) and iso.message == "2026-12-08T11:59:58.5Z GET / 200"
    )
    zoned = parse_line("[2026-12-08 13:00:00+01:00] started", read_at, applog=False)
    assert zoned.ts == pytest.approx(read_at)
    syslog = parse_line("Dec  8 11:00:00 host sshd[1]: ok", time.time(), applog=False)
    expected = datetime(time.localtime().tm_year, 12, 8, 11, 0, 0).timestamp()
    if expected > time.time() + 86400:
        expected = datetime(time.localtime().tm_year - 1, 12, 8, 11, 0, 0).timestamp()
    assert syslog.ts == pytest.approx(expected)
    assert parse_line("no time here", read_at, applog=False).ts == read_at
    not_applog = parse_line("2026-12-08T11:59:58.500Z INFO x", read_at, applog=False)
    assert not_applog.message.endswith("INFO x")  # only applog files lose the prefix
