"""The `fleetwatch` command: one module per command group."""
