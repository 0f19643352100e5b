"""The reminder outbox: plan and cancel inside a transition's transaction; claim, mark sent,
retry or fail in the dispatcher's. The database is the truth about what is due.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update

from aqb_workflow.domain.formats import format_utc
from aqb_workflow.domain.reminders import Planned
from aqb_workflow.store import tables as t
from aqb_workflow.store.direct import Direct

OPEN = ("pending", "sending")


def message_id(identity: str, key: str) -> str:
    """Stable across retries and restarts: the same reminder always has the same Message-ID."""
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:24]
    return f"<{digest}.{key}@aqb-workflow>"


@dataclass(frozen=True)
class Replanned:
    planned: list[int]
    cancelled: list[int]


def replan(
    conn: Connection, key: str, wanted: Sequence[Planned], now: datetime, sequence: int
) -> Replanned:
    """Keep exactly ``wanted`` open for the agreement: insert what is new, cancel what is gone.

    A reminder that was sent, failed or cancelled before is never planned again (its identity
    exists); a pending one no longer wanted is cancelled by the event that made it obsolete.
    Rows added outside the rules (``add_one``: the report of a failed delivery) are not the
    rules' to cancel: their identities do not start with the agreement's key.
    """
    rows = [Existing(*row) for row in OF_AGREEMENT.all(conn, {"key": key})]
    existing = {row.identity: row for row in rows}
    wanted_ids = {p.identity for p in wanted}
    stamp = format_utc(now)
    cancelled = [
        row.id
        for row in rows
        if row.status == "pending"
        and row.identity.startswith(f"{key}|")
        and row.identity not in wanted_ids
    ]
    for reminder_id in cancelled:  # one or two per transition
        CANCEL.write(conn, {"id": reminder_id, "stamp": stamp})
    planned = []
    for item in wanted:
        if item.identity in existing:
            continue
        row = _pending(item.identity, key, item.kind, item.to, item.due_at, stamp)
        row |= {
            "occurrence": item.occurrence,
            "max_occurrences": item.max_occurrences,
            "invite": item.invite,
            "invite_sequence": sequence,
        }
        planned.append(_insert(conn, row))
    return Replanned(planned, cancelled)


def _pending(
    identity: str, key: str, kind: str, to: Sequence[str], due: datetime, created: str
) -> dict[str, Any]:
    """A new pending reminder row: one occurrence, no invite, unless the caller says more."""
    stamp = format_utc(due)
    return {
        "identity": identity,
        "agreement": key,
        "kind": kind,
        "recipients": json.dumps(list(to)),
        "due_at": stamp,
        "next_attempt_at": stamp,
        "status": "pending",
        "attempts": 0,
        "message_id": message_id(identity, key),
        "occurrence": 1,
        "max_occurrences": 1,
        "invite": "none",
        "invite_sequence": 0,
        "late": False,
        "note": None,
        "created_at": created,
        "retried_at": None,
    }


def _insert(conn: Connection, row: dict[str, Any]) -> int:
    """Insert a reminder row; its new id (SQLite: the cursor's lastrowid, elsewhere RETURNING)."""
    if conn.dialect.name == "sqlite":
        return int(PLAN.lastrowid(conn, row))
    return int(PLAN_RETURNING.returning(conn, row))


_PLAN = insert(t.reminder).values(
    {name: bindparam(name) for name in _pending("", "", "", (), datetime.fromtimestamp(0, UTC), "")}
)
PLAN, PLAN_RETURNING = Direct(_PLAN), Direct(_PLAN.returning(t.reminder.c.id))
OF_AGREEMENT = Direct(
    select(t.reminder.c.id, t.reminder.c.identity, t.reminder.c.status).where(
        t.reminder.c.agreement == bindparam("key")
    )
)


class Existing(NamedTuple):
    id: int
    identity: str
    status: str


CANCEL = Direct(
    update(t.reminder)
    .where(t.reminder.c.id == bindparam("id"), t.reminder.c.status == "pending")
    .values(status="cancelled", finished_at=bindparam("stamp"), last_error="cancelled by event")
)


def add_one(
    conn: Connection,
    key: str,
    kind: str,
    to: Sequence[str],
    due: datetime,
    identity: str,
    note: dict[str, Any] | None = None,
) -> int | None:
    """A single reminder outside the rules (the escalation of a failed one)."""
    exists = conn.execute(select(t.reminder.c.id).where(t.reminder.c.identity == identity))
    if exists.first() is not None:
        return None
    row = _pending(identity, key, kind, to, due, format_utc(due))
    row["note"] = json.dumps(note, ensure_ascii=False) if note else None
    return _insert(conn, row)


def claim(
    conn: Connection,
    now: datetime,
    worker: str,
    lease_until: datetime,
    *,
    skip_locked: bool,
    only: int | None = None,
) -> dict[str, Any] | None:
    """Take the oldest due reminder (or one whose sender died mid-send) for this worker;
    ``only``: that reminder, if it is due."""
    stamp = format_utc(now)
    query = (
        select(t.reminder)
        .where(
            or_(
                and_(t.reminder.c.status == "pending", t.reminder.c.next_attempt_at <= stamp),
                and_(t.reminder.c.status == "sending", t.reminder.c.claimed_until < stamp),
            )
        )
        .order_by(t.reminder.c.next_attempt_at, t.reminder.c.id)
        .limit(1)
    )
    if only is not None:
        query = query.where(t.reminder.c.id == only)
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    conn.execute(
        update(t.reminder)
        .where(t.reminder.c.id == row["id"])
        .values(
            status="sending",
            claimed_by=worker,
            claimed_until=format_utc(lease_until),
            attempts=row["attempts"] + 1,
            first_attempt_at=row["first_attempt_at"] or stamp,
        )
    )
    return {
        **row,
        "attempts": row["attempts"] + 1,
        "first_attempt_at": row["first_attempt_at"] or stamp,
        "previous_status": row["status"],
    }


def mark_sent(
    conn: Connection, reminder_id: int, now: datetime, sent_to: list[str], late: bool
) -> None:
    _finish(conn, reminder_id, "sent", now, sent_to=json.dumps(sent_to), late=late, last_error=None)


def mark_retry(conn: Connection, reminder_id: int, at: datetime, error: str) -> None:
    conn.execute(
        update(t.reminder)
        .where(t.reminder.c.id == reminder_id)
        .values(
            status="pending", next_attempt_at=format_utc(at), last_error=error, claimed_until=None
        )
    )


def _finish(conn: Connection, reminder_id: int, status: str, now: datetime, **values: Any) -> None:
    """A reminder at its end (sent, failed, cancelled): when, and its claim released."""
    conn.execute(
        update(t.reminder)
        .where(t.reminder.c.id == reminder_id)
        .values(status=status, finished_at=format_utc(now), claimed_until=None, **values)
    )


def mark_failed(conn: Connection, reminder_id: int, now: datetime, error: str) -> None:
    _finish(conn, reminder_id, "failed", now, last_error=error)


def reopen(conn: Connection, reminder_id: int, now: datetime) -> None:
    conn.execute(
        update(t.reminder)
        .where(t.reminder.c.id == reminder_id)
        .values(
            status="pending",
            next_attempt_at=format_utc(now),
            attempts=0,
            first_attempt_at=None,
            finished_at=None,
            claimed_until=None,
            retried_at=format_utc(now),
        )
    )


def get(conn: Connection, reminder_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(t.reminder).where(t.reminder.c.id == reminder_id)).mappings()
    found = row.first()
    return dict(found) if found is not None else None


def _due(now: datetime) -> Any:
    """Due: its time has come, whether or not a retry is planned for later (a reminder
    waiting out a backoff after a failed attempt is due and undelivered, not "not yet")."""
    stamp = format_utc(now)
    return or_(t.reminder.c.next_attempt_at <= stamp, t.reminder.c.due_at <= stamp)


def listing(
    conn: Connection,
    *,
    status: Sequence[str] | None = None,
    due_before: datetime | None = None,
    agreement: str | None = None,
    limit: int | None = None,
    district: str | None = None,
) -> list[dict[str, Any]]:
    """Reminders, soonest first; ``district``: only those of that district's agreements."""
    query = select(t.reminder).order_by(t.reminder.c.next_attempt_at, t.reminder.c.id)
    if district is not None:
        own = select(t.agreement.c.key).where(t.agreement.c.district == district)
        query = query.where(t.reminder.c.agreement.in_(own))
    if status:
        query = query.where(t.reminder.c.status.in_(list(status)))
    if due_before is not None:
        query = query.where(_due(due_before))
    if agreement is not None:
        query = query.where(t.reminder.c.agreement == agreement)
    if limit is not None:
        query = query.limit(limit)
    return [dict(row) for row in conn.execute(query).mappings()]


def counts(conn: Connection, now: datetime) -> dict[str, int]:
    rows = conn.execute(
        select(t.reminder.c.status, func.count()).group_by(t.reminder.c.status)
    ).all()
    found = {status: int(n) for status, n in rows}
    due = conn.execute(
        select(func.count()).select_from(t.reminder).where(t.reminder.c.status.in_(OPEN), _due(now))
    ).scalar()
    found["due"] = int(due or 0)
    return found


def hold(conn: Connection, row: dict[str, Any], until: datetime) -> None:
    """Undo a claim that turned out early (an escalation waiting for its series): the
    reminder is due at ``until`` now, and the claim is not counted as an attempt."""
    stamp = format_utc(until)
    conn.execute(
        update(t.reminder)
        .where(t.reminder.c.id == row["id"])
        .values(
            status="pending",
            due_at=stamp,
            next_attempt_at=stamp,
            attempts=row["attempts"] - 1,
            first_attempt_at=None if row["attempts"] <= 1 else row["first_attempt_at"],
            claimed_by=None,
            claimed_until=None,
        )
    )


def cancel(conn: Connection, reminder_id: int, now: datetime, reason: str) -> None:
    """A claimed or pending reminder that is no longer to be sent (superseded, stale)."""
    _finish(conn, reminder_id, "cancelled", now, last_error=reason)


class SeriesRow(NamedTuple):
    id: int
    identity: str
    status: str
    occurrence: int
    due_at: str
    finished_at: str | None


def of_kind(conn: Connection, key: str, kind: str, prefix: str) -> list[SeriesRow]:
    """The agreement's reminders of ``kind`` whose identity starts with ``prefix``."""
    query = select(
        t.reminder.c.id,
        t.reminder.c.identity,
        t.reminder.c.status,
        t.reminder.c.occurrence,
        t.reminder.c.due_at,
        t.reminder.c.finished_at,
    ).where(t.reminder.c.agreement == key, t.reminder.c.kind == kind)
    found = [SeriesRow(*row) for row in conn.execute(query)]
    return [row for row in found if row.identity.startswith(prefix)]


def status_of(conn: Connection, reminder_id: int) -> str | None:
    found = conn.execute(select(t.reminder.c.status).where(t.reminder.c.id == reminder_id))
    return found.scalar()


def _waiting(now: datetime) -> Any:
    """Tried, failed temporarily, not given up, next try later than ``now``."""
    return and_(
        t.reminder.c.status == "pending",
        t.reminder.c.attempts > 0,
        t.reminder.c.last_error.is_not(None),
        t.reminder.c.next_attempt_at > format_utc(now),
    )


def waiting(conn: Connection, now: datetime) -> list[tuple[int, int, str]]:
    """Reminders waiting out a backoff: (id, attempts, next_attempt_at)."""
    query = select(t.reminder.c.id, t.reminder.c.attempts, t.reminder.c.next_attempt_at).where(
        _waiting(now)
    )
    return [(int(i), int(n), str(at)) for i, n, at in conn.execute(query)]


def pull_forward(conn: Connection, now: datetime, ids: Sequence[int] | None = None) -> list[int]:
    """The mail server accepts again: reminders waiting out a backoff after a temporary
    failure (tried, not given up) are due now instead (``ids``: only those)."""
    query = select(t.reminder.c.id).where(_waiting(now))
    if ids is not None:
        query = query.where(t.reminder.c.id.in_(list(ids)))
    found = [int(i) for i in conn.execute(query).scalars()]
    if found:
        conn.execute(
            update(t.reminder)
            .where(t.reminder.c.id.in_(found))
            .values(next_attempt_at=format_utc(now))
        )
    return found


def release(conn: Connection, now: datetime, workers: Sequence[str] | None = None) -> list[int]:
    """Claims of senders that are provably gone (``workers``; None: every claim, when the
    caller holds SQLite's single-daemon lock) go back to ``pending``, due now."""
    query = select(t.reminder.c.id).where(t.reminder.c.status == "sending")
    if workers is not None:
        query = query.where(t.reminder.c.claimed_by.in_(list(workers)))
    ids = [int(i) for i in conn.execute(query).scalars()]
    if ids:
        conn.execute(
            update(t.reminder)
            .where(t.reminder.c.id.in_(ids), t.reminder.c.status == "sending")
            .values(
                status="pending",
                next_attempt_at=format_utc(now),
                claimed_by=None,
                claimed_until=None,
            )
        )
    return ids


def claimants(conn: Connection) -> list[str]:
    """The workers holding claims now."""
    query = (
        select(t.reminder.c.claimed_by)
        .where(t.reminder.c.status == "sending", t.reminder.c.claimed_by.is_not(None))
        .distinct()
    )
    return [str(w) for w in conn.execute(query).scalars()]


def overdue(conn: Connection, cutoff: datetime) -> list[dict[str, Any]]:
    """Open reminders (pending, also those waiting out a backoff, and in flight) that were
    expected before ``cutoff`` (their due time, or when they were planned if that was later)
    and are still not delivered."""
    stamp = format_utc(cutoff)
    query = (
        select(t.reminder)
        .where(
            t.reminder.c.status.in_(OPEN),
            t.reminder.c.due_at <= stamp,
            t.reminder.c.created_at <= stamp,
        )
        .order_by(t.reminder.c.due_at, t.reminder.c.id)
    )
    return [dict(row) for row in conn.execute(query).mappings()]
