"""The wire contract between agents, the hub and clients.

`fleetwatch.protocol.version` and `fleetwatch.protocol.agent_config` are plain Python and
safe for the agent to import. `fleetwatch.protocol.models` holds the pydantic models the hub
validates against; the agent never imports it (it builds plain dicts, and contract tests
validate those dicts against the models).
"""

from fleetwatch.protocol.version import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION"]
