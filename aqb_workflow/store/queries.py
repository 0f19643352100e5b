"""Reading: lists, history, contacts, and the audit chain as stored. Plain transactions only."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text

from aqb_workflow.domain.audit import AuditRecord
from aqb_workflow.store import tables as t
from aqb_workflow.store.direct import Direct


def list_agreements(
    conn: Connection, year: int | None = None, state: str | None = None, district: str | None = None
) -> list[dict[str, Any]]:
    query = select(
        t.agreement.c.key,
        t.agreement.c.year,
        t.agreement.c.district,
        t.agreement.c.budget_cents,
        t.agreement.c.state,
        t.agreement.c.version,
        t.agreement.c.updated_at,
    ).order_by(t.agreement.c.year, t.agreement.c.district)
    if year is not None:
        query = query.where(t.agreement.c.year == year)
    if state is not None:
        query = query.where(t.agreement.c.state == state)
    if district is not None:
        query = query.where(t.agreement.c.district == district)
    return [dict(row) for row in conn.execute(query).mappings()]


def states_in_use(conn: Connection) -> dict[str, list[str]]:
    rows = conn.execute(
        select(t.agreement.c.state, t.agreement.c.key).order_by(t.agreement.c.key)
    ).all()
    found: dict[str, list[str]] = {}
    for state, key in rows:
        found.setdefault(state, []).append(key)
    return found


# The states in use, one index seek per state instead of a scan of every agreement (a "loose
# index scan"; neither SQLite nor PostgreSQL does it for DISTINCT on their own).
_STATES_IN_USE = text(
    """
    WITH RECURSIVE seen(state) AS (
        SELECT MIN(state) FROM agreement
        UNION ALL
        SELECT (SELECT MIN(a.state) FROM agreement a WHERE a.state > seen.state)
        FROM seen WHERE seen.state IS NOT NULL
    )
    SELECT state FROM seen WHERE state IS NOT NULL
    """
)


def distinct_states(conn: Connection) -> set[str]:
    """Every state some agreement is in; cost grows with the states, not the agreements."""
    return {row[0] for row in conn.execute(_STATES_IN_USE)}


def keys_in_state(conn: Connection, state: str) -> list[str]:
    query = (
        select(t.agreement.c.key).where(t.agreement.c.state == state).order_by(t.agreement.c.key)
    )
    return [row[0] for row in conn.execute(query)]


def _record(row: Any) -> AuditRecord:
    return AuditRecord(**dict(row._mapping))


def history(conn: Connection, key: str) -> list[AuditRecord]:
    query = (
        select(t.audit_event).where(t.audit_event.c.agreement == key).order_by(t.audit_event.c.seq)
    )
    return [_record(row) for row in conn.execute(query)]


_EVENTS_AFTER = Direct(
    select(*(t.audit_event.c[name] for name in AuditRecord.__dataclass_fields__))
    .where(t.audit_event.c.seq > bindparam("after"))
    .order_by(t.audit_event.c.seq)
    .limit(bindparam("batch"))
)


_EVENT_AT = Direct(
    select(*(t.audit_event.c[name] for name in AuditRecord.__dataclass_fields__)).where(
        t.audit_event.c.seq == bindparam("seq")
    )
)


def audit_records(conn: Connection, after: int = 0, batch: int = 5000) -> Iterator[AuditRecord]:
    """All events after ``after`` in sequence order, fetched in batches (flat memory)."""
    last = after
    while True:
        rows = _EVENTS_AFTER.all(conn, {"after": last, "batch": batch})
        if not rows:
            return
        records = [AuditRecord(*row) for row in rows]  # columns in the dataclass's order
        yield from records
        last = records[-1].seq


def record_at(conn: Connection, seq: int) -> AuditRecord | None:
    """The event with this sequence number, as stored."""
    rows = _EVENT_AT.all(conn, {"seq": seq})
    return AuditRecord(*rows[0]) if rows else None


def hash_at(conn: Connection, seq: int) -> str | None:
    value = conn.execute(select(t.audit_event.c.hash).where(t.audit_event.c.seq == seq)).scalar()
    return None if value is None else str(value)


def last_seq(conn: Connection) -> int:
    """The highest sequence number in the log (0 when it is empty)."""
    return int(conn.execute(select(func.max(t.audit_event.c.seq))).scalar() or 0)


_SUMMARY = Direct(select(t.agreement.c.key, t.agreement.c.state, t.agreement.c.version))


def agreement_summary(conn: Connection) -> dict[str, tuple[str, int]]:
    """Every agreement's (state, version), read in one go (``audit verify`` compares them all)."""
    return {key: (state, version) for key, state, version in _SUMMARY.all(conn)}


def agreement_states(conn: Connection, keys: Sequence[str]) -> dict[str, tuple[str, int]]:
    """(state, version) of the named agreements that exist."""
    found: dict[str, tuple[str, int]] = {}
    for start in range(0, len(keys), 500):
        query = select(t.agreement.c.key, t.agreement.c.state, t.agreement.c.version).where(
            t.agreement.c.key.in_(keys[start : start + 500])
        )
        found |= {key: (state, version) for key, state, version in conn.execute(query)}
    return found


def contacts(conn: Connection, district: str | None = None) -> list[dict[str, Any]]:
    query = select(t.contact).order_by(t.contact.c.district, t.contact.c.role, t.contact.c.id)
    if district is not None:
        query = query.where(t.contact.c.district == district)
    return [dict(row) for row in conn.execute(query).mappings()]


def count_events(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(t.audit_event)).scalar() or 0)


def district_counts(conn: Connection, district: str) -> tuple[int, int]:
    """How many agreements one district has, and how many audit events they carry."""
    own = select(t.agreement.c.key).where(t.agreement.c.district == district)
    agreements = conn.execute(select(func.count()).select_from(own.subquery())).scalar()
    events = conn.execute(
        select(func.count()).select_from(t.audit_event).where(t.audit_event.c.agreement.in_(own))
    ).scalar()
    return int(agreements or 0), int(events or 0)


def payload(record: AuditRecord) -> dict[str, Any]:
    value = json.loads(record.payload)
    return value if isinstance(value, dict) else {}
