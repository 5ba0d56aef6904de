"""Email (H7): SMTP and Microsoft Graph transports, provider presets, templated messages."""
