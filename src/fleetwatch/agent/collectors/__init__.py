"""One collector module per metric family (A1–A5), each taking its data source as a parameter.

Collectors read; they never render, store or send. They catch only `OSError` (and psutil's
errors) for their own family and report what they could; `fleetwatch.agent.snapshot`
assembles them into snapshots and live samples.
"""
