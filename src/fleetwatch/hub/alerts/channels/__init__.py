"""Notification channels (H6): one module per kind, a common filter and delivery contract."""
