"""H14 parts on real files: the 7-day gzip and 30-day delete rules with an injected clock, the
log file that reopens itself when swept away, the secret redaction of every line, and the
per-level counters."""

from __future__ import annotations

import gzip
import logging
import os
import time
from pathlib import Path

import pytest

from fleetwatch.hub.logsetup import counters
from fleetwatch.hub.logsetup.files import LogFile, sweep
from fleetwatch.hub.logsetup.formats import JsonFormatter, Redact, redact

DAY = 86400.0


def _aged(path: Path, text: str, days: float, now: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (now - days * DAY, now - days * DAY))
    return path


def test_old_files_are_gzipped_after_7_days_and_deleted_after_30(tmp_path: Path) -> None:
    now = time.time()
    fresh = _aged(tmp_path / "hub.log", "today\n", 0.5, now)
    week = _aged(tmp_path / "components" / "web.log.2", "last week\n", 8, now)
    month = _aged(tmp_path / "components" / "web.2026-01-01T000000.log.gz", "x", 31, now)
    old_plain = _aged(tmp_path / "services" / "health.log.1", "very old\n", 40, now)
    done = sweep(tmp_path, compress_days=7, delete_days=30, now=now)
    assert (done.compressed, done.deleted) == (1, 2)
    assert fresh.read_text() == "today\n"
    assert not week.exists() and not month.exists() and not old_plain.exists()
    (archive,) = (tmp_path / "components").glob("web.*.log.gz")
    assert gzip.decompress(archive.read_bytes()) == b"last week\n"
    # the archive keeps its content's age: 30 days after the last write it goes too
    assert abs(archive.stat().st_mtime - (now - 8 * DAY)) < 2
    assert sweep(tmp_path, 7, 30, now=now + 23 * DAY).deleted == 1
    assert not archive.exists() and sweep(tmp_path / "missing", 7, 30).compressed == 0


def test_the_log_file_reopens_when_its_file_was_swept_away(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "hub.log"
    handler = LogFile(str(path), maxBytes=1 << 20, backupCount=2)
    logger = logging.getLogger("fleetwatch.test.reopen")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("before the sweep")
        os.utime(path, (time.time() - 8 * DAY,) * 2)
        assert sweep(tmp_path / "logs", 7, 30).compressed == 1 and not path.exists()
        logger.warning("after the sweep")
        assert path.read_text().strip().endswith("after the sweep")
    finally:
        logger.removeHandler(handler)
        handler.close()


@pytest.mark.parametrize(
    "line",
    [
        "agent key fwk_Abc123def456ghi789jkl012 refused",
        "Authorization: Bearer fwu_zzzzzzzzzzzzzzzzzzzzz",
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        "login with password=Hunter2-Secret for bob",
        'config {"password": "Hunter2-Secret", "host": "smtp"}',
        "GET /api/ping?token=Hunter2-Secret HTTP/1.1",
        "session=Hunter2-Secret; Path=/",
    ],
)
def test_secrets_are_masked(line: str) -> None:
    masked = redact(line)
    assert "[REDACTED]" in masked
    for secret in ("Abc123def456", "zzzzzzzzzzzz", "dXNlcjpwYXNzd29yZA", "Hunter2-Secret"):
        assert secret not in masked


def test_redaction_covers_arguments_and_tracebacks_and_json_lines() -> None:
    try:
        raise RuntimeError("token=Hunter2-Secret")
    except RuntimeError:
        record = logging.LogRecord("fleetwatch.x", logging.ERROR, __file__, 1,
                                   "user %s password=%s", ("bob", "Hunter2-Secret"),
                                   __import__("sys").exc_info())  # fmt: skip
    assert Redact().filter(record)
    text = JsonFormatter().format(record)
    assert "Hunter2-Secret" not in text and "user bob password=[REDACTED]" in text
    assert '"exception"' in text and "RuntimeError" in text
    assert redact("plain words stay") == "plain words stay"


def test_counters_count_by_level_and_recent_errors() -> None:
    counters.reset()
    handler = counters.LevelCounter()
    logger = logging.getLogger("fleetwatch.test.count")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("w")
        logger.error("e1")
        logger.error("e2")
        assert counters.totals()["error"] == 2 and counters.totals()["warning"] == 1
        assert counters.recent_errors(60) == 2
        assert counters.recent_errors(60, now=time.time() + 120) == 0
    finally:
        logger.removeHandler(handler)
        counters.reset()
