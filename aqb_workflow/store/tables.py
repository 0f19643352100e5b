"""The schema as SQLAlchemy Core tables; created and changed only through Alembic migrations.

Instants are ISO 8601 text in UTC (``2024-07-01T08:00:00.000000+00:00``): the audit hash covers
exactly what is stored, on SQLite and PostgreSQL alike. Money is integer cents.

Plain Core tables, not SQLModel classes: nothing at run time uses ORM objects, and declaring the
tables as pydantic models cost every command about a quarter of a second at start-up (pydantic
and SQLModel imported, nine models built), measured in ``bench/`` (BENCHMARKS.md).
``tests/integration/test_schema_drift.py`` proves these tables are exactly what the migrations
build.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()


def _text(name: str, length: int, *, nullable: bool = False) -> Column[str]:
    return Column(name, String(length), nullable=nullable)


agreement = Table(
    "agreement",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(80), nullable=False, unique=True),
    Column("year", Integer, nullable=False),
    _text("district", 60),
    Column("budget_cents", BigInteger, nullable=False),
    _text("state", 60),
    Column("version", Integer, nullable=False),
    Column("data", Text, nullable=False),  # JSON of the recorded fields
    _text("created_at", 40),
    _text("updated_at", 40),
    _text("state_entered_at", 40),
    UniqueConstraint("year", "district", name="uq_agreement_year_district"),
    Index("ix_agreement_year_state", "year", "state"),
    Index("ix_agreement_state", "state"),
    Index("ix_agreement_district", "district"),
)

measure = Table(
    "measure",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("agreement_id", Integer, ForeignKey("agreement.id"), nullable=False),
    _text("category", 40),
    Column("title", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Index("ix_measure_agreement", "agreement_id", "position"),
)

contact = Table(
    "contact",
    metadata,
    Column("id", Integer, primary_key=True),
    _text("district", 60, nullable=True),  # None: global (ministry, RP)
    _text("role", 40),
    _text("name", 200),
    _text("email", 320),
    Index("ix_contact_district", "district"),
)

audit_event = Table(
    "audit_event",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    _text("agreement", 80, nullable=True),
    _text("at", 40),
    _text("actor", 200),
    _text("role", 80),
    _text("event", 60),
    _text("from_state", 60, nullable=True),
    _text("to_state", 60, nullable=True),
    Column("comment", Text, nullable=True),
    Column("payload", Text, nullable=False),
    _text("prev_hash", 64),
    _text("hash", 64),
    Index("ix_audit_event_agreement", "agreement", "seq"),
)

# One row: the chain's last (seq, hash). Locking it serializes appends on every database.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    _text("hash", 64),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(60), primary_key=True),
    Column("value", Text, nullable=False),
)

# The outbox: a reminder planned inside a transition's transaction, sent by the daemon.
reminder = Table(
    "reminder",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("identity", String(300), nullable=False, unique=True),
    _text("agreement", 80),
    _text("kind", 60),
    Column("recipients", Text, nullable=False),  # JSON list of roles
    _text("due_at", 40),
    _text("next_attempt_at", 40),
    _text("status", 12),  # pending, sending, sent, failed, cancelled
    Column("attempts", Integer, nullable=False, default=0),
    _text("first_attempt_at", 40, nullable=True),
    Column("last_error", Text, nullable=True),
    _text("message_id", 200),
    Column("occurrence", Integer, nullable=False, default=1),
    Column("max_occurrences", Integer, nullable=False, default=1),
    Column("invite", String(10), nullable=False, default="none"),
    Column("invite_sequence", Integer, nullable=False, default=0),
    Column("late", Boolean, nullable=False, default=False),
    _text("claimed_by", 120, nullable=True),
    _text("claimed_until", 40, nullable=True),
    Column("sent_to", Text, nullable=True),
    Column("note", Text, nullable=True),  # JSON
    _text("created_at", 40),
    _text("finished_at", 40, nullable=True),
    _text("retried_at", 40, nullable=True),  # aqb reminders retry: the horizon starts again
    Index("ix_reminder_due", "status", "next_attempt_at"),
    Index("ix_reminder_agreement", "agreement", "status"),
)

# A running daemon's heartbeat (PostgreSQL): whose claims may be taken back before their lease.
daemon = Table(
    "daemon",
    metadata,
    Column("worker", String(120), primary_key=True),  # host:pid, as in reminder.claimed_by
    _text("started_at", 40),
    _text("beat_at", 40),
    _text("state", 12),  # running, stopped
)

# A refused attempt (wrong role, foreign district): who tried what. Not in any chain.
refusal = Table(
    "refusal",
    metadata,
    Column("id", Integer, primary_key=True),
    _text("at", 40),
    _text("actor", 200),
    _text("roles", 400),
    Column("action", Text, nullable=False),
    Column("reason", Text, nullable=False),
)
