"""Configuration pushed from the hub (A9, seed 001's `/api/config/{server_id}` poll).

The sender polls once per cycle. A pending change is validated against the same schema the
hub used (`validate(raw, pushed=True)`: identity and hub address can never be pushed), written
into the config file (so it survives a restart and the file stays the one source of truth),
and confirmed to the hub. The daemon's hot reload then applies it like a local edit.
A change the agent cannot apply is confirmed as rejected, with the reason.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fleetwatch.agent.config_writer import update_config_file
from fleetwatch.agent.hub_client import HubClient, PendingConfig
from fleetwatch.errors import ConfigError, TransportError
from fleetwatch.protocol.agent_config import validate

log = logging.getLogger("fleetwatch.agent.remote_config")


class RemoteConfig:
    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.applied_total = 0
        self.rejected_total = 0

    def poll(self, client: HubClient) -> bool:
        """Fetch, apply and confirm a pending change; True when there was one."""
        pending = client.fetch_config()
        if pending is None:
            return False
        error = self.apply(pending)
        try:
            client.confirm_config(pending, error)
        except TransportError as exc:
            # the hub keeps it pending and offers it again; applying it twice is harmless
            log.warning("could not confirm the pushed configuration: %s", exc)
        return True

    def apply(self, pending: PendingConfig) -> str | None:
        """Persist a pushed change; returns None on success, else why it was rejected."""
        try:
            changes = validate(pending.config, pushed=True)
        except ConfigError as exc:
            self.rejected_total += 1
            log.error("configuration pushed by the hub rejected: %s", exc)
            return str(exc)
        try:
            update_config_file(self.config_path, changes)
        except (ConfigError, OSError) as exc:
            self.rejected_total += 1
            log.error("cannot save the configuration pushed by the hub: %s", exc)
            return f"cannot save to {self.config_path}: {exc}"
        self.applied_total += 1
        log.info(
            "configuration pushed by the hub saved to %s: %s",
            self.config_path,
            ", ".join(f"{k}={v!r}" for k, v in changes.items()) or "(nothing)",
        )
        return None
