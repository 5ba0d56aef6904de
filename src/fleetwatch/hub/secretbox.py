"""Secrets at rest: the SMTP password, the Graph client secret and channel signing secrets are
stored encrypted (Fernet: AES-128-CBC with HMAC-SHA256, from `cryptography`).

The key comes from the `secret_key` hub setting (`FLEETWATCH_SECRET_KEY`, a Fernet key:
44 characters of URL-safe base64), or else from `<data_dir>/secret.key`, created with mode 0600
on first use. Every hub process (workers, replicas) must use the same key, and the key must be
backed up with the database: without it the stored secrets cannot be read (they are then
treated as unset and must be entered again).

A sealed value is a string `fwenc1:<Fernet token>`; any other string is a value stored before
encryption existed and is read as is (`open`), then sealed on the next write (`seal`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from fleetwatch.errors import ConfigError

log = logging.getLogger("fleetwatch.hub.secrets")
PREFIX = "fwenc1:"
KEY_FILE = "secret.key"


class SecretUnreadable(ValueError):
    """A sealed value that this key cannot open (the key changed or the value is damaged)."""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


class SecretBox:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise ConfigError(
                "secret_key", "expected a Fernet key (32 bytes, URL-safe base64, 44 characters)"
            ) from None

    def seal(self, value: str | None) -> str | None:
        """`value` encrypted (empty and already sealed values unchanged)."""
        if not value or is_sealed(value):
            return value
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        """The plain text of a sealed value; a plain (legacy) value as is."""
        if not value or not is_sealed(value):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretUnreadable("a stored secret cannot be decrypted with this key") from None


def key_from_file(data_dir: Path) -> bytes:
    """The key in `<data_dir>/secret.key`, created (mode 0600) when missing. Created whole or
    not at all (written aside, then linked), so concurrent first starts agree on one key."""
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    aside = data_dir / f".{KEY_FILE}.{os.getpid()}"
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(aside, path)
    except FileExistsError:  # another process was first: use its key
        return path.read_bytes().strip()
    finally:
        aside.unlink(missing_ok=True)
    log.warning("created the secret key %s: back it up with the database", path)
    return key


def load_box(secret_key: str, data_dir: Path) -> SecretBox:
    """The box for the `secret_key` setting, or for the key file under `data_dir`."""
    if secret_key:
        return SecretBox(secret_key.strip().encode())
    return SecretBox(key_from_file(data_dir))
