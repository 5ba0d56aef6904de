"""Hub services: the logic that routers and the UI call."""
