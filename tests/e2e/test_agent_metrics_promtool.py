"""The agent's own `/metrics` (`fleetwatch agent serve`) passes `promtool check metrics`, as the
hub's does (tests/e2e/test_prometheus.py): a real agent process, a real promtool."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import httpx
import pytest

from hubtest import free_port

pytestmark = pytest.mark.e2e
PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="Debian's prometheus package (promtool) is needed")
def test_promtool_accepts_the_agents_exposition() -> None:
    assert PROMTOOL is not None
    port = free_port()
    cmd = [sys.executable, "-m", "fleetwatch.cli.main", "agent", "serve", "--interval", "1",
           "--listen", f"127.0.0.1:{port}"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, text = time.monotonic() + 30, ""
        while time.monotonic() < deadline and "fleetwatch_cpu_usage_ratio" not in text:
            time.sleep(0.5)
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            except httpx.TransportError:
                continue
        assert "fleetwatch_memory_total_bytes" in text, text[:500]
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        proc.terminate()
        proc.wait(20)
