from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _agent_logs_reach_caplog() -> Iterator[None]:
    """The daemon's logging setup stops propagation; caplog needs it (restored afterwards)."""
    logger = logging.getLogger("fleetwatch")
    saved = (logger.propagate, list(logger.handlers), logger.level)
    logger.propagate = True
    yield
    logger.propagate, logger.level = saved[0], saved[2]
    for handler in list(logger.handlers):
        if handler not in saved[1]:
            logger.removeHandler(handler)
            handler.close()
