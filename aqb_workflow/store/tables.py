"""The schema, declared with SQLModel; created and changed only through Alembic migrations.

Instants are ISO 8601 text in UTC (``2024-07-01T08:00:00.000000+00:00``): the audit hash covers
exactly what is stored, on SQLite and PostgreSQL alike. Money is integer cents.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class AgreementRow(SQLModel, table=True):
    __tablename__ = "agreement"
    __table_args__ = (
        UniqueConstraint("year", "district", name="uq_agreement_year_district"),
        Index("ix_agreement_year_state", "year", "state"),
        Index("ix_agreement_state", "state"),
        Index("ix_agreement_district", "district"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=80)
    year: int
    district: str = Field(max_length=60)
    budget_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    state: str = Field(max_length=60)
    version: int
    data: str = Field(sa_column=Column(Text, nullable=False))  # JSON of the recorded fields
    created_at: str = Field(max_length=40)
    updated_at: str = Field(max_length=40)
    state_entered_at: str = Field(max_length=40)


class MeasureRow(SQLModel, table=True):
    __tablename__ = "measure"
    __table_args__ = (Index("ix_measure_agreement", "agreement_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id")
    category: str = Field(max_length=40)
    title: str = Field(sa_column=Column(Text, nullable=False))
    position: int


class ContactRow(SQLModel, table=True):
    __tablename__ = "contact"
    __table_args__ = (Index("ix_contact_district", "district"),)

    id: int | None = Field(default=None, primary_key=True)
    district: str | None = Field(default=None, max_length=60)  # None: global (ministry, RP)
    role: str = Field(max_length=40)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)


class AuditEventRow(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_agreement", "agreement", "seq"),)

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    agreement: str | None = Field(default=None, max_length=80)
    at: str = Field(max_length=40)
    actor: str = Field(max_length=200)
    role: str = Field(max_length=80)
    event: str = Field(max_length=60)
    from_state: str | None = Field(default=None, max_length=60)
    to_state: str | None = Field(default=None, max_length=60)
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHeadRow(SQLModel, table=True):
    """One row: the chain's last (seq, hash). Locking it serializes appends on every database."""

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int
    hash: str = Field(max_length=64)


class MetaRow(SQLModel, table=True):
    __tablename__ = "meta"

    key: str = Field(primary_key=True, max_length=60)
    value: str = Field(sa_column=Column(Text, nullable=False))


agreement = AgreementRow.__table__  # type: ignore[attr-defined]
measure = MeasureRow.__table__  # type: ignore[attr-defined]
contact = ContactRow.__table__  # type: ignore[attr-defined]
audit_event = AuditEventRow.__table__  # type: ignore[attr-defined]
audit_head = AuditHeadRow.__table__  # type: ignore[attr-defined]
meta = MetaRow.__table__  # type: ignore[attr-defined]
metadata = SQLModel.metadata


class ReminderRow(SQLModel, table=True):
    """The outbox: a reminder planned inside a transition's transaction, sent by the daemon."""

    __tablename__ = "reminder"
    __table_args__ = (
        Index("ix_reminder_due", "status", "next_attempt_at"),
        Index("ix_reminder_agreement", "agreement", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    identity: str = Field(unique=True, max_length=300)
    agreement: str = Field(max_length=80)
    kind: str = Field(max_length=60)
    recipients: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of roles
    due_at: str = Field(max_length=40)
    next_attempt_at: str = Field(max_length=40)
    status: str = Field(max_length=12)  # pending, sending, sent, failed, cancelled
    attempts: int = 0
    first_attempt_at: str | None = Field(default=None, max_length=40)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    message_id: str = Field(max_length=200)
    occurrence: int = 1
    max_occurrences: int = 1
    invite: str = Field(default="none", max_length=10)
    invite_sequence: int = 0
    late: bool = False
    claimed_by: str | None = Field(default=None, max_length=120)
    claimed_until: str | None = Field(default=None, max_length=40)
    sent_to: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON
    created_at: str = Field(max_length=40)
    finished_at: str | None = Field(default=None, max_length=40)


reminder = ReminderRow.__table__  # type: ignore[attr-defined]


class RefusalRow(SQLModel, table=True):
    """A refused attempt (wrong role, foreign district): who tried what. Not in any chain."""

    __tablename__ = "refusal"

    id: int | None = Field(default=None, primary_key=True)
    at: str = Field(max_length=40)
    actor: str = Field(max_length=200)
    roles: str = Field(max_length=400)
    action: str = Field(sa_column=Column(Text, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))


refusal = RefusalRow.__table__  # type: ignore[attr-defined]
