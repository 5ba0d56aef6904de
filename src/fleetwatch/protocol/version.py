"""Protocol version. Bump on any incompatible change to the wire models."""

from typing import Final

#: Version of the snapshot / live-sample wire format. Seed-001 agents send no version: v0.
PROTOCOL_VERSION: Final = 1
