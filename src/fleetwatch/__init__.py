"""fleetwatch: infrastructure monitoring — a lightweight agent and a central hub."""

__version__ = "0.1.0"
