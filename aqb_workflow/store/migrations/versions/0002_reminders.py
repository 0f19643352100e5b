"""Reminders: the outbox table, and when an agreement entered its current state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agreement") as batch:
        batch.add_column(
            sa.Column("state_entered_at", sa.String(40), nullable=False, server_default="")
        )
    op.execute("UPDATE agreement SET state_entered_at = updated_at")
    with op.batch_alter_table("agreement") as batch:
        batch.alter_column("state_entered_at", server_default=None)
    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("identity", sa.String(300), nullable=False, unique=True),
        sa.Column("agreement", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("due_at", sa.String(40), nullable=False),
        sa.Column("next_attempt_at", sa.String(40), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_attempt_at", sa.String(40), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("max_occurrences", sa.Integer(), nullable=False),
        sa.Column("invite", sa.String(10), nullable=False),
        sa.Column("invite_sequence", sa.Integer(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("claimed_by", sa.String(120), nullable=True),
        sa.Column("claimed_until", sa.String(40), nullable=True),
        sa.Column("sent_to", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("finished_at", sa.String(40), nullable=True),
    )
    op.create_index("ix_reminder_due", "reminder", ["status", "next_attempt_at"])
    op.create_index("ix_reminder_agreement", "reminder", ["agreement", "status"])


def downgrade() -> None:
    op.drop_table("reminder")
    with op.batch_alter_table("agreement") as batch:
        batch.drop_column("state_entered_at")
