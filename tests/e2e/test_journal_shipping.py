"""Issue 22.2: the systemd journal as a log source. systemd cannot run here, so `journalctl`
is faked at the data-source boundary (a script on PATH answering `-o json`, `-n 1` and
`--after-cursor` from a JSON-lines file, as journalctl does); the agent's real journal code, a
real agent process and a real hub do the rest: entries from before the first start stay in
the journal, new ones arrive once each with level, app and time, across a SIGKILL."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_runtime_support import AgentProcess, wait_for
from controlhelp import start_agent, user_token
from hubtest import running_hub

pytestmark = pytest.mark.e2e

FAKE = """#!{python}
import json, os, sys
args = sys.argv[1:]
assert args[:3] == ["-o", "json", "--no-pager"], args
with open(os.environ["FAKE_JOURNAL"]) as fh:
    entries = [json.loads(line) for line in fh if line.strip()]
if "-n" in args:
    entries = entries[-int(args[args.index("-n") + 1]):]
if "--after-cursor" in args:
    cursor = args[args.index("--after-cursor") + 1]
    cursors = [e["__CURSOR"] for e in entries]
    if cursor not in cursors:
        sys.stderr.write("Failed to seek to cursor: Invalid argument\\n")
        sys.exit(1)
    entries = entries[cursors.index(cursor) + 1:]
for e in entries:
    sys.stdout.write(json.dumps(e) + "\\n")
"""


class FakeJournal:
    def __init__(self, path: Path) -> None:
        self.path, self.n = path, 0
        path.write_text("")

    def add(self, message: Any, priority: int = 6, ident: str = "sshd") -> None:
        self.n += 1
        entry = {
            "__CURSOR": f"s=abc;i={self.n:x}",
            "PRIORITY": str(priority),
            "__REALTIME_TIMESTAMP": str(int((time.time() - 5) * 1e6)),
            "SYSLOG_IDENTIFIER": ident,
            "_SYSTEMD_UNIT": f"{ident}.service",
            "MESSAGE": message,
        }
        with self.path.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")


def shipped(api: httpx.Client, server_id: str) -> list[dict[str, Any]]:
    r = api.get("/api/logs", params={"server": server_id, "limit": 1000})
    assert r.status_code == 200, r.text
    return [line for line in r.json()["logs"] if line["source"].startswith("journal")]


def test_journal_entries_are_shipped_once_from_the_first_start_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    script = fake_bin / "journalctl"
    script.write_text(FAKE.format(python=sys.executable))
    script.chmod(0o755)
    journal = FakeJournal(tmp_path / "journal.jsonl")
    for i in range(3):
        journal.add(f"old entry {i}")  # before the agent's first start: not shipped
    monkeypatch.setenv("PATH", f"{fake_bin}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_JOURNAL", str(journal.path))
    apps = tmp_path / "apps"
    apps.mkdir()
    logs_config = {"applog_dir": str(apps), "journal": True, "interval_seconds": 0.2}
    with running_hub(tmp_path / "hub") as hub:
        agent, server_id = start_agent(hub, tmp_path / "agent", logs=logs_config)
        state = tmp_path / "agent" / "logship-state.json"
        viewer = {"Authorization": f"Bearer {user_token(hub, 'vic', 'viewer')}"}
        try:
            wait_for(
                lambda: state.exists() and json.loads(state.read_text())["journal_cursor"],
                timeout=20,
                what="the journal's starting cursor",
            )
            journal.add("Accepted publickey for alice", 6)
            journal.add("Failed password for root", 4)
            journal.add("error: maximum authentication attempts exceeded", 3)
            journal.add(list(b"bad \xff bytes"), 2, ident="kernel")  # journald byte form
            journal.add("debug detail", 7)
            with httpx.Client(base_url=hub.base_url, headers=viewer, timeout=10) as api:
                lines = wait_for(
                    lambda: len(got := shipped(api, server_id)) >= 5 and got,
                    timeout=30,
                    what="5 journal lines",
                )
                by_message = {line["message"]: line for line in lines}
                assert not [m for m in by_message if m.startswith("old entry")]
                assert by_message["Failed password for root"]["level"] == "warning"
                assert by_message["debug detail"]["level"] == "debug"
                err = by_message["error: maximum authentication attempts exceeded"]
                assert err["level"] == "error" and err["app"] == "sshd"
                assert err["source"] == "journal:sshd.service"
                kernel = by_message["bad \ufffd bytes"]
                assert kernel["level"] == "critical" and kernel["app"] == "kernel"
                assert abs(kernel["ts"] - (time.time() - 5)) < 30

                agent.kill()  # SIGKILL: whatever was in flight is resent under its id
                journal.add("after the restart 1")
                journal.add("after the restart 2", 3)
                agent = AgentProcess(agent.config)
                lines = wait_for(
                    lambda: len(got := shipped(api, server_id)) >= 7 and got,
                    timeout=30,
                    what="7 journal lines",
                )
                time.sleep(1.0)  # a duplicate would have arrived by now
                counts = Counter(line["message"] for line in shipped(api, server_id))
                assert max(counts.values()) == 1 and len(counts) == 7, counts
        finally:
            agent.close()
