"""Writing changes back into the agent's config file (enrolment, remote configuration).

The file is replaced atomically (a temp file in the same folder, fsync, rename) with mode 0600,
since it holds the api key. Everything else is kept as it was: JSON keeps its key order and its
indentation width; TOML is edited line by line so comments and tables survive.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fleetwatch.agent.config import parse_text


def _json_indent(text: str) -> int:
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" ")
        if stripped and len(stripped) < len(line):
            return len(line) - len(stripped)
    return 2


def _updated_json(text: str, path: Path, changes: Mapping[str, Any]) -> str:
    data = parse_text(text, path) if text.strip() else {}
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value  # an existing key keeps its place, a new one goes last
    return json.dumps(data, indent=_json_indent(text), ensure_ascii=False) + "\n"


def _toml_value(value: Any) -> str:
    # JSON strings, numbers, booleans and lists of strings are valid TOML literals
    return json.dumps(value, ensure_ascii=False)


def _updated_toml(text: str, changes: Mapping[str, Any]) -> str:
    lines = text.splitlines()
    first_table = next(
        (i for i, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines)
    )
    top, rest = lines[:first_table], lines[first_table:]
    for key, value in changes.items():
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        index = next((i for i, line in enumerate(top) if pattern.match(line)), None)
        if value is None:
            if index is not None:
                del top[index]
            continue
        line = f"{key} = {_toml_value(value)}"
        if index is None:
            while top and not top[-1].strip():
                top.pop()
            top.append(line)
        else:
            top[index] = line
    if rest and top and top[-1].strip():
        top.append("")
    return "\n".join(top + rest) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text`: temp file + fsync + rename, mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # created with mode 0600 (O_EXCL: never an existing file): the key is never readable by others
    tmp = path.parent / f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def update_config_file(path: Path, changes: Mapping[str, Any]) -> None:
    """Set (or, with value None, remove) top-level keys of the config file at `path`.

    A missing file is created. Raises `ConfigError` when the current file cannot be parsed
    (nothing is written then) and `OSError` when it cannot be written.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    if path.suffix == ".toml":
        parse_text(text, path)  # refuse to edit a file that is already broken
        new_text = _updated_toml(text, changes)
    else:
        new_text = _updated_json(text, path, changes)
    write_atomic(path, new_text)
