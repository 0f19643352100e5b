"""Repair: agreements opened from last year with measures lost the time they entered their state.

``aqb year open`` before this revision wrote an empty ``state_entered_at`` on every agreement it
copied measures into. Such an agreement never left its first state (any transition writes the
time anew), so the time it entered that state is the time it was created.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE agreement SET state_entered_at = created_at "
        "WHERE state_entered_at = '' OR state_entered_at IS NULL"
    )


def downgrade() -> None:
    """Nothing to undo: the repaired times are the true ones."""
