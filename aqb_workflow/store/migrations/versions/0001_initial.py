"""Initial schema: agreements, measures, contacts, the audit chain and its head.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(80), nullable=False, unique=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(60), nullable=False),
        sa.Column("budget_cents", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("year", "district", name="uq_agreement_year_district"),
    )
    op.create_index("ix_agreement_year_state", "agreement", ["year", "state"])
    op.create_index("ix_agreement_state", "agreement", ["state"])
    op.create_index("ix_agreement_district", "agreement", ["district"])
    op.create_table(
        "measure",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agreement_id", sa.Integer(), sa.ForeignKey("agreement.id"), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index("ix_measure_agreement", "measure", ["agreement_id", "position"])
    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("district", sa.String(60), nullable=True),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
    )
    op.create_index("ix_contact_district", "contact", ["district"])
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("agreement", sa.String(80), nullable=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(80), nullable=False),
        sa.Column("event", sa.String(60), nullable=False),
        sa.Column("from_state", sa.String(60), nullable=True),
        sa.Column("to_state", sa.String(60), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_event_agreement", "audit_event", ["agreement", "seq"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    meta = op.create_table(
        "meta",
        sa.Column("key", sa.String(60), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    op.bulk_insert(meta, [{"key": "chain_id", "value": secrets.token_hex(8)}])


def downgrade() -> None:
    for table in ("meta", "audit_head", "audit_event", "contact", "measure", "agreement"):
        op.drop_table(table)
