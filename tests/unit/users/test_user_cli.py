"""`fleetwatch user ...` as a real subprocess against a real SQLite data dir."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hubtest import postgres_schema

Fw = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def _fw(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Fw]:
    """Runs `fleetwatch user ARGS` on a SQLite data dir, or on a throwaway PostgreSQL schema."""
    where = ["--data-dir", str(tmp_path)]
    if request.param == "sqlite":
        yield lambda *args, stdin="": _run([*args, *where], stdin)
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield lambda *args, stdin="": _run([*args, *where, "--database-url", url], stdin)


def _run(args: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "fleetwatch.cli.main", "user", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)


def test_add_list_token_passwd_remove(_fw: Fw) -> None:
    r = _fw("add", "root", "--role", "admin", "--password-stdin", stdin="pw-long-enough\n")
    assert r.returncode == 0, r.stderr
    r = _fw("add", "ops", "--role", "operator")
    assert r.returncode == 0 and "password: " in r.stdout  # generated, printed once
    r = _fw("list")
    assert "root" in r.stdout and "admin" in r.stdout and "operator" in r.stdout
    r = _fw("token", "ops")
    token = r.stdout.strip()
    assert r.returncode == 0 and token.startswith("fwu_")
    assert token[:12] in _fw("tokens", "ops").stdout
    assert token not in _fw("tokens", "ops").stdout
    assert _fw("revoke-token", "1").returncode == 0
    assert "revoked" in _fw("tokens", "ops").stdout
    assert _fw("passwd", "ops", "--password-stdin", stdin="new-pass-long\n").returncode == 0
    assert _fw("remove", "ops").returncode == 0
    assert "ops" not in _fw("list").stdout


def test_errors_are_one_clear_line(_fw: Fw) -> None:
    r = _fw("add", "x", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert r.returncode == 1
    assert r.stderr.strip() == "fleetwatch user: password: at least 8 characters"
    r = _fw("remove", "ghost")
    assert r.returncode == 1 and "no user named 'ghost'" in r.stderr
    r = _fw("add", "root", "--role", "admin", "--password-stdin", stdin="pw-long-enough\n")
    r = _fw("remove", "root")
    assert r.returncode == 1 and "last admin" in r.stderr
    assert "Traceback" not in r.stderr
