"""A7: keeping the identity the hub gave this agent.

Registration itself is a hub call (`HubClient.register`, made by the sender thread whenever
the agent has no `server_id`/`api_key` or the hub rejected its key); this module persists the
result into the config file, atomically and with mode 0600, keeping the rest of the file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fleetwatch.agent.config_writer import update_config_file
from fleetwatch.errors import ConfigError

log = logging.getLogger("fleetwatch.agent.enrol")


def save_identity(config_path: Path, server_id: str, api_key: str, hub_url: str) -> bool:
    """Write `server_id` and `api_key` into the config file; False (logged) when impossible."""
    try:
        update_config_file(config_path, {"server_id": server_id, "api_key": api_key})
    except (ConfigError, OSError) as exc:
        log.error(
            "registered with %s as server %s, but cannot save the id and key to %s: %s "
            "(they are used until the agent stops; it will register again after a restart)",
            hub_url,
            server_id,
            config_path,
            exc,
        )
        return False
    log.info(
        "registered with %s as server %s; id and key saved to %s (mode 0600)",
        hub_url,
        server_id,
        config_path,
    )
    return True
