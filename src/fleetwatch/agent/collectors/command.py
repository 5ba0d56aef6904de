"""Running the external tools some collectors need (`systemctl`, `service`, `nvidia-smi`).

Collectors take a `Runner` so tests substitute recorded output. A runner returns the
command's standard output and raises `OSError` (`FileNotFoundError` when the tool is
missing, `CommandFailed` on a non-zero exit or a timeout): collectors already handle
`OSError` as "this source is unavailable".
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from typing import Protocol


class Runner(Protocol):
    """(argv, timeout) -> standard output (with standard error appended when asked)."""

    def __call__(
        self, argv: Sequence[str], timeout_seconds: float, *, merge_stderr: bool = False
    ) -> str: ...


class CommandFailed(OSError):
    """An external command exited non-zero or timed out."""


def run_command(argv: Sequence[str], timeout_seconds: float, *, merge_stderr: bool = False) -> str:
    """Run `argv` without a shell, in the C locale, and return its standard output.

    `merge_stderr` appends standard error to the output (SysV `service --status-all` prints
    its `[ ? ]` lines there).
    """
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        completed = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_seconds,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise CommandFailed(f"{argv[0]} timed out after {timeout_seconds:g} s") from None
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit status {completed.returncode}"
        raise CommandFailed(f"{argv[0]} failed: {detail}")
    output = completed.stdout + (completed.stderr if merge_stderr else b"")
    return output.decode("utf-8", "replace")
