"""Alerting (H5-H7, B4, B5): pure rule semantics, the engine, channels, forecasts, dry runs."""
