"""Hot reload: a valid edit is returned once; a broken edit is logged once and ignored."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from fleetwatch.agent.reload import ConfigWatcher


def edit(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a distinct mtime


def test_valid_edit_applies_once(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"collection_interval_seconds": 5}))
    watcher = ConfigWatcher.open(path)
    assert watcher.poll() is None
    edit(path, json.dumps({"collection_interval_seconds": 2}))
    new = watcher.poll()
    assert new is not None and new["collection_interval_seconds"] == 2
    assert watcher.poll() is None


def test_broken_edit_keeps_running_config_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"collection_interval_seconds": 5}))
    watcher = ConfigWatcher.open(path)
    with caplog.at_level(logging.ERROR, logger="fleetwatch.agent"):
        edit(path, json.dumps({"collection_interval_seconds": 0}))
        assert watcher.poll() is None
        assert watcher.poll() is None
        edit(path, '{"collection_interval_seconds": ')
        assert watcher.poll() is None
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "collection_interval_seconds: must be at least 1" in messages[0]
    assert "invalid JSON" in messages[1]
    assert watcher.current["collection_interval_seconds"] == 5
    edit(path, json.dumps({"collection_interval_seconds": 3}))
    assert watcher.poll() is not None
