"""HTTP routers, one module per resource. Routers parse and validate; services do the work."""
