"""One dispatch pass: claim a due reminder, send it, record the outcome; repeat until none.

Claim and outcome are separate transactions and the send happens between them, outside any
lock. A crash after the server accepted and before ``sent`` committed leaves the row
``sending``: a starting daemon that can prove its owner gone takes it back at once (see
``daemon.reclaim``), otherwise the next pass after its lease sends it again with the same
Message-ID (at least once, never lost; RELIABILITY.md G4/G5/G11).

Whatever goes wrong with one reminder (its template, its data, a missing contact, the mail
server's answer) fails that reminder alone: it is marked failed, audited and reported to the
ministry desk, and the pass goes on with the next one (G11).

Before a claimed reminder is sent, the pass looks at what else is known (``_triage``):
- catch-up: an occurrence of a repeated series is superseded (cancelled, audited, not sent)
  when a later occurrence of the same series is due too;
- an escalation (a rule with ``after``) waits its own interval after the first reminder of
  its series actually sent (``domain.reminders.escalation_hold``);
- a delivery-failure report for a reminder that has since been delivered is cancelled.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aqb_workflow._faults import crash_point
from aqb_workflow.bootstrap import App
from aqb_workflow.domain import reminders as domain
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
    superseded: int = 0
    held: int = 0
    stale: int = 0

    def __str__(self) -> str:
        text = f"{self.sent} sent, {self.retried} to retry, {self.failed} failed"
        extra = [
            f"{n} {what}"
            for n, what in (
                (self.superseded, "superseded"),
                (self.held, "held back"),
                (self.stale, "stale reports cancelled"),
            )
            if n
        ]
        return ", ".join([text, *extra])

    @property
    def handled(self) -> int:
        return sum(vars(self).values())


def late_after(app: App) -> timedelta:
    """Sent later than this after its due time, a reminder says so ("verspätet"): a daemon
    that was down, not a cron job that runs every quarter of an hour."""
    return max(timedelta(seconds=2 * app.settings.daemon_interval_seconds + 60), timedelta(hours=1))


def expected_at(row: dict[str, Any]) -> datetime:
    """When a reminder was meant to go out: its due time, or when it was planned if that was
    later (a step recorded late plans reminders that are overdue already)."""
    return max(parse_utc(row["due_at"]), parse_utc(row["created_at"]))


def run_pass(
    app: App,
    backend: Backend,
    *,
    worker: str,
    log: Log = lambda line: None,
    stop: threading.Event | None = None,
    limit: int | None = None,
    only: int | None = None,
) -> PassResult:
    """Send everything whose time has come (not only today's), one message at a time.

    ``only``: just that reminder, if it is due (``aqb reminders retry``).
    """
    result = PassResult()
    pulled = probed = only is not None
    while not (stop and stop.is_set()) and (limit is None or result.handled < limit):
        now = app.clock.now()
        with UnitOfWork(app.db, app.anchor) as uow:
            row = outbox.claim(
                uow.conn, now, worker, now + LEASE, skip_locked=not app.db.is_sqlite, only=only
            )
            decision = _safe_triage(app, uow, row, now, log) if row is not None else None
            uow.commit()
        if row is None:
            tried = result.sent + result.retried + result.failed
            if probed or pulled or tried or not _probe(app, now):
                break
            probed = True
            continue
        where = f"reminder {row['id']} {row['agreement']} {row['kind']}"
        if decision is not None:
            outcome, detail = decision
            setattr(result, outcome, getattr(result, outcome) + 1)
            log(f"{where}: {detail}")
            continue
        crash_point("after_claim")
        outcome, detail = _deliver(app, backend, row, now)
        setattr(result, outcome, getattr(result, outcome) + 1)
        log(f"{where}: {detail}")
        if outcome == "sent" and not pulled:
            pulled = True
            _pull_forward(app, now, log)
    return result


def _probe(app: App, now: datetime) -> bool:
    """A pass with nothing to send while reminders wait out a backoff tries one of them early
    (the one tried longest ago, if that was at least the first retry step ago): when the
    server accepts it, the rest follow at once (``_pull_forward``) instead of each waiting for
    its next step, so recovery shows within a pass of the server's return (G12)."""
    schedule = app.settings.retry_minutes
    with UnitOfWork(app.db, app.anchor) as uow:
        last_tries = [
            (parse_utc(at) - timedelta(minutes=schedule[min(n, len(schedule)) - 1]), rid)
            for rid, n, at in outbox.waiting(uow.conn, now)
        ]
        ready = [item for item in last_tries if now - item[0] >= timedelta(minutes=schedule[0])]
        if not ready:
            return False
        outbox.pull_forward(uow.conn, now, [min(ready)[1]])
        uow.commit()
    return True


def _deliver(app: App, backend: Backend, row: dict[str, Any], now: datetime) -> tuple[str, str]:
    """Compose, render, build and send one claimed reminder; record the outcome."""
    late = False
    try:
        # late: the daemon missed the time (a reminder planned already overdue is not late)
        late = now - expected_at(row) > late_after(app)
        with app.db.read() as conn:
            messages = compose_all(app, conn, row, now, late)  # one per reader group
        for outgoing in messages:
            backend.send(build(outgoing, now))
    except TemporaryFailure as exc:
        try:
            if _retry(app, row, now, str(exc)):
                return "retried", f"temporary failure, retry later: {exc}"
        except (ValueError, TypeError) as bad:  # its stored times cannot be read
            _fail(app, row, now, f"{exc}; {describe(bad)}")
        return "failed", f"failed, gave up after {row['attempts']} attempts: {exc}"
    except Exception as exc:  # G11: whatever breaks one reminder fails it alone
        reason = describe(exc)
        _fail(app, row, now, reason)
        return "failed", f"failed: {reason}"
    crash_point("after_send")
    to = [address for outgoing in messages for address in outgoing.recipients]
    _sent(app, row, now, to, late)
    return "sent", f"sent to {', '.join(to)}{' (late)' if late else ''}"


def describe(exc: Exception) -> str:
    """The reason recorded for a failure: our own errors say it in words; anything else (a
    bug, bad data) names its type too, so staff can tell it from a mail server's answer."""
    if isinstance(exc, AqbError | PermanentFailure):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _pull_forward(app: App, now: datetime, log: Log) -> None:
    """The server took a message: those waiting out a backoff after a temporary failure go in
    this pass instead of each waiting for its next step (G12)."""
    with UnitOfWork(app.db, app.anchor) as uow:
        ids = outbox.pull_forward(uow.conn, now)
        uow.commit()
    if ids:
        log(f"mail accepted again: {len(ids)} waiting reminder(s) due now")


Decision = tuple[str, str] | None


def _safe_triage(
    app: App, uow: UnitOfWork, row: dict[str, Any], now: datetime, log: Log
) -> Decision:
    """A reminder whose series or report cannot be looked at (unreadable data) is sent as it
    is rather than jamming the pass: sending it is what it was planned for."""
    try:
        return _triage(app, uow, row, now)
    except (ValueError, TypeError, KeyError) as exc:
        log(f"reminder {row['id']}: sent without looking at its series: {describe(exc)}")
        return None


def _triage(app: App, uow: UnitOfWork, row: dict[str, Any], now: datetime) -> Decision:
    """Inside the claim's transaction: is this reminder still to be sent now?"""
    if row["kind"] == "delivery_failed":
        return _stale_report(uow, row, now)
    rule = next((r for r in app.workflow.rules if r.kind == row["kind"]), None)
    if rule is None:
        return None
    if row["max_occurrences"] > 1:
        decision = _superseded(uow, row, now)
        if decision is not None:
            return decision
    if rule.after is not None:
        return _held(app, uow, rule, row, now)
    return None


def _superseded(uow: UnitOfWork, row: dict[str, Any], now: datetime) -> Decision:
    series = [
        r
        for r in outbox.of_kind(
            uow.conn, row["agreement"], row["kind"], domain.series_of(row["identity"])
        )
        if r.id != row["id"] and r.status != "cancelled"
    ]
    later = [(r.occurrence, parse_utc(r.due_at)) for r in series]
    if not domain.superseded(row["occurrence"], later, now):
        return None
    by = max((r for r in series if parse_utc(r.due_at) <= now), key=lambda r: r.occurrence)
    reason = f"superseded by reminder {by.id}: of a series only the latest due one goes out"
    outbox.cancel(uow.conn, row["id"], now, reason)
    _audit(uow, row, now, "reminder_superseded", by=by.id, occurrence=row["occurrence"])
    return "superseded", f"superseded by reminder {by.id} (occurrence {by.occurrence})"


def _held(
    app: App, uow: UnitOfWork, rule: domain.Rule, row: dict[str, Any], now: datetime
) -> Decision:
    series_rule = next((r for r in app.workflow.rules if r.kind == rule.after), None)
    if series_rule is None or rule.after is None:
        return None
    key, _kind, anchor = row["identity"].split("|")[:3]
    series = outbox.of_kind(uow.conn, row["agreement"], rule.after, f"{key}|{rule.after}|{anchor}|")
    # a series that failed for good (no contact, 5xx) counts as sent: the desk was told of the
    # failure then, and hears of the escalation its interval later instead of never
    done = [
        parse_utc(r.finished_at) for r in series if r.status in ("sent", "failed") and r.finished_at
    ]
    until = domain.escalation_hold(
        rule,
        series_rule,
        first_sent=min(done) if done else None,
        now=now,
        calendar=app.calendar,
        zone=app.settings.zone,
        send_at=app.settings.send_at,
    )
    if until is None:
        return None
    outbox.hold(uow.conn, row, until)
    _audit(uow, row, now, "reminder_held", until=until.isoformat(), after=rule.after)
    return "held", f"waits for its series {rule.after} until {until.isoformat()}"


def _stale_report(uow: UnitOfWork, row: dict[str, Any], now: datetime) -> Decision:
    """A report of a failed reminder that has been delivered since (retried): not sent."""
    note = json.loads(row["note"]) if row.get("note") else {}
    reported = note.get("reminder")
    if not isinstance(reported, int) or outbox.status_of(uow.conn, reported) != "sent":
        return None
    outbox.cancel(uow.conn, row["id"], now, f"reminder {reported} has been delivered since")
    _audit(uow, row, now, "reminder_cancelled", reason="delivered since", delivered=reported)
    return "stale", f"not sent: reminder {reported} has been delivered since"


def _sent(app: App, row: dict[str, Any], now: datetime, to: list[str], late: bool) -> None:
    with UnitOfWork(app.db, app.anchor) as uow:
        outbox.mark_sent(uow.conn, row["id"], now, to, late)
        crash_point("in_mark_sent")
        _audit(uow, row, now, "reminder_sent", to=to, message_id=row["message_id"], late=late)
        uow.commit()


def give_up_at(app: App, row: dict[str, Any]) -> datetime:
    """The README's horizon: ``give_up_hours`` after the reminder was due (or planned, when it
    was planned overdue). Counted from the due time, not the first attempt, because what the
    desk needs to know is that a reader has not had a reminder for so long: a reminder that
    waited through a daemon outage and then meets a refusing server has already kept its
    reader waiting, and the desk hears of it at once rather than 72 hours later (G6).
    ``aqb reminders retry`` is a new request: its horizon counts from the retry."""
    start = expected_at(row)
    if row.get("retried_at"):
        start = max(start, parse_utc(row["retried_at"]))
    return start + timedelta(hours=app.settings.give_up_hours)


def _retry(app: App, row: dict[str, Any], now: datetime, error: str) -> bool:
    """Back off on the configured schedule; past the give-up horizon, fail instead."""
    schedule = app.settings.retry_minutes
    wait = timedelta(minutes=schedule[min(row["attempts"], len(schedule)) - 1])
    if now + wait > give_up_at(app, row):
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
