"""Remote operations (issue 21): the agents' control-channel links, commands and their output.

`agent_links`: one row per server whose agent holds a control channel to some hub process
(`holder`: host:pid of that process), refreshed every `LINK_REFRESH_SECONDS`; the `hello` the
agent sent (its command policy). `commands`: one row per command, its state and result;
`command_output`: its output in chunks, in order (`seq`). Managed processes (A14): their latest
state per server (`managed_processes`), their last output lines (`process_lines`, trimmed to
`LINES_KEPT` per process), and the start/stop/input requests (`process_requests`). Same
`metadata` as `tables.py`.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from fleetwatch.hub.store.tables import metadata

#: output lines kept per managed process
LINES_KEPT = 500

agent_links = Table(
    "agent_links",
    metadata,
    Column("server_id", String(36), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("connected_at", Float, nullable=False),
    Column("seen_at", Float, nullable=False),
    Column("hello", Text, nullable=False),  # JSON
)

commands = Table(
    "commands",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("server_id", String(36), nullable=False),
    Column("argv", Text),  # JSON list, or NULL for a shell command
    Column("shell", Text),
    Column("env", Text, nullable=False),  # JSON object
    Column("timeout_seconds", Float, nullable=False),
    Column("requested_by", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    Column("exit_code", Integer),
    Column("output_bytes", Integer, nullable=False, default=0),
    Column("truncated", Boolean, nullable=False, default=False),
    Column("message", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    Column("finished_at", Float),
    Index("ix_commands_server_created", "server_id", "created_at"),
    Index("ix_commands_state", "state"),
)

command_output = Table(
    "command_output",
    metadata,
    Column(
        "command_id", String(36), ForeignKey("commands.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("seq", Integer, primary_key=True),
    Column("stream", String(8), nullable=False),
    Column("data", Text, nullable=False),
)

managed_processes = Table(
    "managed_processes",
    metadata,
    Column("server_id", String(36), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("state", Text, nullable=False),  # JSON: the agent's view
    Column("updated_at", Float, nullable=False),
)

process_lines = Table(
    "process_lines",
    metadata,
    Column("server_id", String(36), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("ts", Float, nullable=False),
    Column("data", Text, nullable=False),
)

process_requests = Table(
    "process_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("server_id", String(36), nullable=False),
    Column("name", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # start stop restart kill input
    Column("text", Text),
    Column("requested_by", String(255), nullable=False),
    Column("state", String(16), nullable=False),  # queued sent done failed expired lost
    Column("message", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("done_at", Float),
    Index("ix_process_requests_state", "state"),
)

#: scheduled messages (H16): one-off (`at`) or repeating (`cron`) sends of a line to a managed
#: process's stdin, a process action, or an allow-listed command
schedules = Table(
    "schedules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("server_id", String(36), nullable=False),
    Column("group_id", String(36)),  # the steps of one "warn, then restart" plan
    Column("label", String(255), nullable=False),
    Column("kind", String(16), nullable=False),  # input | process | command
    Column("process", String(64)),
    Column("text", Text),  # the line (input) or the action (process)
    Column("argv", Text),  # JSON (command)
    Column("at", Float),
    Column("cron", String(128)),
    Column("next_run", Float),
    Column("state", String(16), nullable=False),  # active done failed missed cancelled
    Column("runs", Integer, nullable=False, default=0),
    Column("last_run", Float),
    Column("last_result", Text),
    Column("created_by", String(255), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_schedules_due", "state", "next_run"),
)
