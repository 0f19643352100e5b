"""Daemon heartbeats in the database (PostgreSQL, where several daemons share the outbox).

A daemon beats every few seconds from its own thread while it runs and says ``stopped`` when
it ends. A claim whose worker stopped, or whose last beat is older than the staleness bound,
belongs to a sender that is gone: it is taken back at once instead of after its lease.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, insert, or_, select, update

from aqb_workflow.domain.formats import format_utc
from aqb_workflow.store import tables as t


def beat(conn: Connection, worker: str, now: datetime, state: str = "running") -> None:
    stamp = format_utc(now)
    changed = conn.execute(
        update(t.daemon).where(t.daemon.c.worker == worker).values(beat_at=stamp, state=state)
    )
    if not changed.rowcount:
        conn.execute(
            insert(t.daemon).values(worker=worker, started_at=stamp, beat_at=stamp, state=state)
        )


def gone(conn: Connection, workers: Sequence[str], stale_before: datetime) -> list[str]:
    """Of ``workers``, those that stopped or whose last beat is older than ``stale_before``.
    A worker without any heartbeat row (an older aqb) is left to its lease."""
    if not workers:
        return []
    query = select(t.daemon.c.worker).where(
        t.daemon.c.worker.in_(list(workers)),
        or_(t.daemon.c.state != "running", t.daemon.c.beat_at < format_utc(stale_before)),
    )
    return [str(w) for w in conn.execute(query).scalars()]


def forget(conn: Connection, before: datetime) -> None:
    """Heartbeats of daemons gone for long (no claim of theirs is left to take back)."""
    conn.execute(delete(t.daemon).where(t.daemon.c.beat_at < format_utc(before)))
