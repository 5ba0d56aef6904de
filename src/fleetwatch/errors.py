"""The one error hierarchy of fleetwatch.

Every error a user can cause (bad config, bad input, a hub answer the agent cannot use)
is a `FleetwatchError` subclass whose message says what is wrong and where.
"""

from __future__ import annotations


class FleetwatchError(Exception):
    """Base class of every error fleetwatch raises on purpose."""


class ConfigError(FleetwatchError):
    """An invalid configuration value; `key` names the offending key ("" for the whole file)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)


class ConfigProblems(ConfigError):
    """Several invalid values at once: `problems` lists each; `key` is the first one's key."""

    def __init__(self, problems: list[ConfigError], source: str = "") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        where = f"{source}: " if source else ""
        super().__init__("", f"{where}{len(self.problems)} problems:\n{lines}")
        self.key = self.problems[0].key


class StatusPathError(FleetwatchError, KeyError):
    """A status-tree path that does not exist (A11)."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(path)

    def __str__(self) -> str:
        return f"no such status path: {self.path!r}"


class TransportError(FleetwatchError):
    """The hub could not be reached or answered with something the agent cannot use.

    `status` is the HTTP status (None when no answer came: refused, timeout, TLS failure);
    `retry_after_seconds` is the hub's Retry-After on 429/503.
    """

    def __init__(
        self, message: str, status: int | None = None, retry_after_seconds: float | None = None
    ) -> None:
        self.status = status
        self.retry_after_seconds = retry_after_seconds
        super().__init__(message)


class UserError(FleetwatchError):
    """A user-account or login operation that cannot be done (H8).

    `code` is machine-readable (`invalid`, `not_found`, `exists`, `invalid_credentials`,
    `account_locked`, `last_admin`, ...); `field` names the offending input, if any.
    """

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        self.code = code
        self.message = message
        self.field = field
        super().__init__(message)


class InvalidFieldError(FleetwatchError, ValueError):
    """An invalid alert rule, channel, maintenance window or mail setting; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class DeliveryError(FleetwatchError):
    """A notification channel (webhook, Slack, email, file, ...) could not deliver."""
