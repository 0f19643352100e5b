"""Daemon heartbeats in the database: on PostgreSQL several daemons (on several hosts) share
the outbox, and a claim of one whose heartbeat stopped is taken back before its lease ends.
And when staff last asked to send a reminder again (``aqb reminders retry``): the give-up
horizon of a retried reminder counts from then.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminder") as batch:
        batch.add_column(sa.Column("retried_at", sa.String(40), nullable=True))
    op.create_table(
        "daemon",
        sa.Column("worker", sa.String(120), primary_key=True),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("beat_at", sa.String(40), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("reminder") as batch:
        batch.drop_column("retried_at")
    op.drop_table("daemon")
