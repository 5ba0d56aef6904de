"""The fleetwatch hub: ingest API, storage, queries, alerting and dashboard (`fleetwatch[hub]`)."""
