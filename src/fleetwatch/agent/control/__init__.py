"""The agent control channel (issue 21): WebSocket client, channel thread, commands."""
