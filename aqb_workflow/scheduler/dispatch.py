"""One dispatch pass: claim a due reminder, send it, record the outcome; repeat until none.

Claim and outcome are separate transactions and the send happens between them, outside any
lock. A crash after the server accepted and before ``sent`` committed leaves the row
``sending`` with an expired lease: the next pass sends it again with the same Message-ID
(at least once, never lost; RELIABILITY.md G4/G5).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aqb_workflow._faults import crash_point
from aqb_workflow.bootstrap import App
from aqb_workflow.domain.formats import format_utc, parse_utc
from aqb_workflow.domain.model import Event
from aqb_workflow.errors import AqbError
from aqb_workflow.mail.backends import Backend, PermanentFailure, TemporaryFailure
from aqb_workflow.mail.message import build
from aqb_workflow.scheduler.compose import compose_all
from aqb_workflow.store import outbox
from aqb_workflow.store.unit_of_work import UnitOfWork

LEASE = timedelta(minutes=5)
SYSTEM = "aqb-daemon"

Log = Callable[[str], None]


@dataclass
class PassResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retried} to retry, {self.failed} failed"


def late_after(app: App) -> timedelta:
    """Sent later than this after its due time, a reminder says so ("verspätet"): a daemon
    that was down, not a cron job that runs every quarter of an hour."""
    return max(timedelta(seconds=2 * app.settings.daemon_interval_seconds + 60), timedelta(hours=1))


def run_pass(
    app: App,
    backend: Backend,
    *,
    worker: str,
    log: Log = lambda line: None,
    stop: threading.Event | None = None,
    limit: int | None = None,
) -> PassResult:
    """Send everything whose time has come (not only today's), one message at a time."""
    result = PassResult()
    while not (stop and stop.is_set()) and (limit is None or sum(vars(result).values()) < limit):
        now = app.clock.now()
        with UnitOfWork(app.db, app.anchor) as uow:
            row = outbox.claim(uow.conn, now, worker, now + LEASE, skip_locked=not app.db.is_sqlite)
            uow.commit()
        if row is None:
            break
        crash_point("after_claim")
        # late: the daemon missed the time (a reminder planned already overdue is not late)
        expected = max(parse_utc(row["due_at"]), parse_utc(row["created_at"]))
        late = now - expected > late_after(app)
        where = f"reminder {row['id']} {row['agreement']} {row['kind']}"
        try:
            with app.db.read() as conn:
                messages = compose_all(app, conn, row, now, late)  # one per reader group
            for outgoing in messages:
                backend.send(build(outgoing, now))
        except TemporaryFailure as exc:
            if _retry(app, row, now, str(exc)):
                result.retried += 1
                log(f"{where}: temporary failure, retry later: {exc}")
            else:
                result.failed += 1
                log(f"{where}: failed, gave up after {row['attempts']} attempts: {exc}")
        except (PermanentFailure, AqbError) as exc:
            _fail(app, row, now, str(exc))
            result.failed += 1
            log(f"{where}: failed: {exc}")
        else:
            crash_point("after_send")
            to = [address for outgoing in messages for address in outgoing.recipients]
            _sent(app, row, now, to, late)
            result.sent += 1
            log(f"{where}: sent to {', '.join(to)}{' (late)' if late else ''}")
    return result


def _sent(app: App, row: dict[str, Any], now: datetime, to: list[str], late: bool) -> None:
    with UnitOfWork(app.db, app.anchor) as uow:
        outbox.mark_sent(uow.conn, row["id"], now, to, late)
        crash_point("in_mark_sent")
        _audit(uow, row, now, "reminder_sent", to=to, message_id=row["message_id"], late=late)
        uow.commit()


def _retry(app: App, row: dict[str, Any], now: datetime, error: str) -> bool:
    """Back off on the configured schedule; past the give-up horizon, fail instead.

    The horizon counts from the first attempt, not the due time: a backlog sent after a long
    downtime gets the whole retry schedule too.
    """
    schedule = app.settings.retry_minutes
    wait = timedelta(minutes=schedule[min(row["attempts"], len(schedule)) - 1])
    started = parse_utc(row["first_attempt_at"] or format_utc(now))
    if now + wait > started + timedelta(hours=app.settings.give_up_hours):
        _fail(app, row, now, f"gave up after {row['attempts']} attempts: {error}")
        return False
    with UnitOfWork(app.db, app.anchor) as uow:
        outbox.mark_retry(uow.conn, row["id"], now + wait, error)
        uow.commit()
    return True


def _fail(app: App, row: dict[str, Any], now: datetime, error: str) -> None:
    """Mark failed, audit it, and tell the ministry desk (unless that mail is what failed)."""
    with UnitOfWork(app.db, app.anchor) as uow:
        outbox.mark_failed(uow.conn, row["id"], now, error)
        escalation = None
        if row["kind"] != "delivery_failed":
            escalation = outbox.add_one(
                uow.conn,
                row["agreement"],
                "delivery_failed",
                ["ministry_desk"],
                now,
                identity=f"delivery_failed|{row['id']}|{format_utc(now)}",
                note={"reminder": row["id"], "kind": row["kind"], "error": error},
            )
        _audit(uow, row, now, "reminder_failed", error=error, escalation=escalation)
        uow.commit()


def _audit(uow: UnitOfWork, row: dict[str, Any], now: datetime, event: str, **facts: Any) -> None:
    """A reminder's outcome in the agreement's audit log (no state change: no version bump)."""
    payload = {"reminder": row["id"], "kind": row["kind"], "attempt": row["attempts"], **facts}
    uow.append(Event(row["agreement"], event, SYSTEM, "system", now, payload=payload))
