"""`fleetwatch user ...` as a real subprocess against a real SQLite data dir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _fw(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "fleetwatch.cli.main", "user", *args, "--data-dir", str(tmp_path)]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)


def test_add_list_token_passwd_remove(tmp_path: Path) -> None:
    r = _fw(
        tmp_path, "add", "root", "--role", "admin", "--password-stdin", stdin="pw-long-enough\n"
    )
    assert r.returncode == 0, r.stderr
    r = _fw(tmp_path, "add", "ops", "--role", "operator")
    assert r.returncode == 0 and "password: " in r.stdout  # generated, printed once
    r = _fw(tmp_path, "list")
    assert "root" in r.stdout and "admin" in r.stdout and "operator" in r.stdout
    r = _fw(tmp_path, "token", "ops")
    token = r.stdout.strip()
    assert r.returncode == 0 and token.startswith("fwu_")
    assert token[:12] in _fw(tmp_path, "tokens", "ops").stdout
    assert token not in _fw(tmp_path, "tokens", "ops").stdout
    assert _fw(tmp_path, "revoke-token", "1").returncode == 0
    assert "revoked" in _fw(tmp_path, "tokens", "ops").stdout
    assert (
        _fw(tmp_path, "passwd", "ops", "--password-stdin", stdin="new-pass-long\n").returncode == 0
    )
    assert _fw(tmp_path, "remove", "ops").returncode == 0
    assert "ops" not in _fw(tmp_path, "list").stdout


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    r = _fw(tmp_path, "add", "x", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert r.returncode == 1
    assert r.stderr.strip() == "fleetwatch user: password: at least 8 characters"
    r = _fw(tmp_path, "remove", "ghost")
    assert r.returncode == 1 and "no user named 'ghost'" in r.stderr
    r = _fw(
        tmp_path, "add", "root", "--role", "admin", "--password-stdin", stdin="pw-long-enough\n"
    )
    r = _fw(tmp_path, "remove", "root")
    assert r.returncode == 1 and "last admin" in r.stderr
    assert "Traceback" not in r.stderr
