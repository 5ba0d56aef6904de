"""Remote operations (issue 21): `agent_links`, `commands`, `command_output`, and managed
processes: `managed_processes`, `process_lines`, `process_requests`; scheduled messages:
`schedules`.

Revision ID: 0010_control
Revises: 0009_health
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_control"
down_revision = "0009_health"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("agent_links"):
        op.create_table(
            "agent_links",
            sa.Column("server_id", sa.String(36), primary_key=True),
            sa.Column("holder", sa.String(128), nullable=False),
            sa.Column("connected_at", sa.Float, nullable=False),
            sa.Column("seen_at", sa.Float, nullable=False),
            sa.Column("hello", sa.Text, nullable=False),
        )
    if not inspector.has_table("commands"):
        op.create_table(
            "commands",
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("server_id", sa.String(36), nullable=False),
            sa.Column("argv", sa.Text),
            sa.Column("shell", sa.Text),
            sa.Column("env", sa.Text, nullable=False),
            sa.Column("timeout_seconds", sa.Float, nullable=False),
            sa.Column("requested_by", sa.String(255), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("exit_code", sa.Integer),
            sa.Column("output_bytes", sa.Integer, nullable=False),
            sa.Column("truncated", sa.Boolean, nullable=False),
            sa.Column("message", sa.Text, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("sent_at", sa.Float),
            sa.Column("finished_at", sa.Float),
        )
        op.create_index("ix_commands_server_created", "commands", ["server_id", "created_at"])
        op.create_index("ix_commands_state", "commands", ["state"])
    if not inspector.has_table("command_output"):
        op.create_table(
            "command_output",
            sa.Column("command_id", sa.String(36),
                      sa.ForeignKey("commands.id", ondelete="CASCADE"), primary_key=True),
            sa.Column("seq", sa.Integer, primary_key=True),
            sa.Column("stream", sa.String(8), nullable=False),
            sa.Column("data", sa.Text, nullable=False),
        )  # fmt: skip

    if not inspector.has_table("managed_processes"):
        op.create_table(
            "managed_processes",
            sa.Column("server_id", sa.String(36), primary_key=True),
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("state", sa.Text, nullable=False),
            sa.Column("updated_at", sa.Float, nullable=False),
        )
    if not inspector.has_table("process_lines"):
        op.create_table(
            "process_lines",
            sa.Column("server_id", sa.String(36), primary_key=True),
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("seq", sa.Integer, primary_key=True),
            sa.Column("ts", sa.Float, nullable=False),
            sa.Column("data", sa.Text, nullable=False),
        )
    if not inspector.has_table("process_requests"):
        op.create_table(
            "process_requests",
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("server_id", sa.String(36), nullable=False),
            sa.Column("name", sa.String(64), nullable=False),
            sa.Column("action", sa.String(16), nullable=False),
            sa.Column("text", sa.Text),
            sa.Column("requested_by", sa.String(255), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("message", sa.Text, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("done_at", sa.Float),
        )
        op.create_index("ix_process_requests_state", "process_requests", ["state"])

    if not inspector.has_table("schedules"):
        op.create_table(
            "schedules",
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("server_id", sa.String(36), nullable=False),
            sa.Column("group_id", sa.String(36)),
            sa.Column("label", sa.String(255), nullable=False),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("process", sa.String(64)),
            sa.Column("text", sa.Text),
            sa.Column("argv", sa.Text),
            sa.Column("at", sa.Float),
            sa.Column("cron", sa.String(128)),
            sa.Column("next_run", sa.Float),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("runs", sa.Integer, nullable=False),
            sa.Column("last_run", sa.Float),
            sa.Column("last_result", sa.Text),
            sa.Column("created_by", sa.String(255), nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
        )
        op.create_index("ix_schedules_due", "schedules", ["state", "next_run"])


def downgrade() -> None:
    op.drop_table("schedules")
    for table in ("process_requests", "process_lines", "managed_processes"):
        op.drop_table(table)
    op.drop_table("command_output")
    op.drop_table("commands")
    op.drop_table("agent_links")
