"""Reminders: the outbox as staff see it, and the daemon that empties it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from aqb_workflow.bootstrap import App

from aqb_workflow.cli._common import (
    actor,
    actor_option,
    app,
    emit_json,
    json_option,
    refusals_logged,
    table,
)

_LIST_HEADERS = [
    "Nr.",
    "Vereinbarung",
    "Art",
    "fällig",
    "nächster Versuch",
    "Status (Versuche)",
    "letzter Fehler",
]


@click.group(epilog="Example: aqb reminders list --due")
def reminders() -> None:
    """Planned, due, sent and failed reminders."""


@reminders.command("list", epilog="Example: aqb reminders list --failed --json")
@click.option(
    "--due",
    is_flag=True,
    help="Only what is due and undelivered: pending (also waiting to be retried) or in flight.",
)
@click.option(
    "--failed", is_flag=True, help="Only failed ones (retry with: aqb reminders retry ID)."
)
@click.option("--all", "everything", is_flag=True, help="Also sent and cancelled ones.")
@click.option("--agreement", "key", help="Only this agreement's reminders.")
@json_option
def list_(due: bool, failed: bool, everything: bool, key: str | None, as_json: bool) -> None:
    """List reminders (default: the open ones, pending or in flight), soonest first."""
    from aqb_workflow.present import local_time
    from aqb_workflow.store import outbox

    application = app()
    only = _scope(application, f"reminders list{f' --agreement {key}' if key else ''}", key)
    status = ["failed"] if failed else None if everything else list(outbox.OPEN)
    now = application.clock.now()
    with application.db.read() as conn:
        rows = outbox.listing(
            conn,
            status=status,
            due_before=now if due else None,
            agreement=key,
            district=only,
        )
    if as_json:
        emit_json([_decoded(row) for row in rows])
        return
    if not rows:
        click.echo("keine Erinnerungen")
        return
    from aqb_workflow.present import REMINDER_STATUS, plural

    zone = application.settings.zone
    click.echo(
        table(
            _LIST_HEADERS,
            [
                (
                    r["id"],
                    r["agreement"],
                    r["kind"],
                    local_time(r["due_at"], zone),
                    ""
                    if r["next_attempt_at"] == r["due_at"]
                    else local_time(r["next_attempt_at"], zone),
                    REMINDER_STATUS.get(r["status"], r["status"])
                    + (f" ({r['attempts']})" if r["attempts"] else ""),
                    (r["last_error"] or "")[:60],
                )
                for r in rows
            ],
        )
    )
    click.echo(plural(len(rows), "Erinnerung", "Erinnerungen"))


@reminders.command(epilog="Example: aqb reminders preview 12")
@click.argument("reminder_id", type=int)
def preview(reminder_id: int) -> None:
    """Show the mail as it would be sent now: headers, text and whether an invite is attached;
    one message per reader group (the district, RP Kassel, the ministry desk)."""
    from aqb_workflow.errors import NotFound
    from aqb_workflow.mail.message import build
    from aqb_workflow.scheduler.compose import compose_all
    from aqb_workflow.store import outbox

    application = app()
    now = application.clock.now()
    with application.db.read() as conn:
        row = outbox.get(conn, reminder_id)
        if row is None:
            raise NotFound(f"no reminder {reminder_id} (aqb reminders list --all)")
        _scope(application, f"reminders preview {reminder_id}", row["agreement"])
        messages = compose_all(application, conn, row, now, late=False)
    for index, outgoing in enumerate(messages):
        if index:
            click.echo("\n" + "-" * 72 + "\n")
        message = build(outgoing, now)
        for header in ("From", "To", "Subject", "Message-ID"):
            click.echo(f"{header}: {message[header]}")
        if outgoing.ics:
            click.echo(f"Invite: text/calendar; method={outgoing.ics_method}")
        click.echo()
        click.echo(outgoing.text)


@reminders.command("send-due", epilog="Example: aqb reminders send-due")
def send_due() -> None:
    """Send everything due now in one pass (for sites that run cron instead of the daemon).

    The same pass as aqb daemon --once. Exits 1 if anything in the pass failed
    (aqb reminders list --failed shows it).
    """
    from aqb_workflow.mail.backends import backend_from_settings
    from aqb_workflow.scheduler.daemon import read_heartbeat, run_daemon

    application = app()
    _require_sender(application, "aqb reminders send-due")
    code = run_daemon(application, backend_from_settings(application.settings), once=True)
    beat = read_heartbeat(application.settings.heartbeat) or {}
    click.echo(f"reminders: {beat.get('last_result') or 'nothing sent'}")
    sys.exit(code)


@reminders.command(epilog="Example: aqb reminders retry 12")
@click.argument("reminder_id", type=int)
@actor_option
def retry(reminder_id: int, actor_name: str | None) -> None:
    """Send a reminder again now: a failed one (after fixing the contact or mail server), one
    waiting to be retried after a temporary failure, or one left in flight by a daemon that
    is gone. Exits 1 if sending it failed again.
    """
    from aqb_workflow import services
    from aqb_workflow.domain.policy import require_sender
    from aqb_workflow.mail.backends import backend_from_settings
    from aqb_workflow.scheduler.daemon import one_reminder, sender_gone

    application = app()
    who = actor(application, actor_name)
    with refusals_logged(application, who, f"reminders retry {reminder_id}"):
        require_sender(who, "aqb reminders retry")
        row = services.retry_reminder(
            application, who, reminder_id, gone=lambda r: sender_gone(application, r)
        )
    what = f"reminder {reminder_id} ({row['agreement']}, {row['kind']})"
    outcome = one_reminder(application, backend_from_settings(application.settings), reminder_id)
    if outcome is None:
        click.echo(f"{what} queued again; the running daemon sends it with its next pass")
        return
    click.echo(f"{what}: {_OUTCOMES.get(outcome, outcome)}")
    if outcome == "failed":
        sys.exit(1)


_OUTCOMES = {
    "sent": "sent",
    "retried": "temporary failure again, retried later (aqb reminders list --due)",
    "failed": "failed again (aqb reminders list --failed)",
    "superseded": "not sent: a later reminder of its series is due",
    "held": "held back: it waits for the series it escalates",
    "stale": "not sent: the reminder it reports has been delivered since",
}


@click.group(
    invoke_without_command=True, epilog="Example: aqb daemon  (stop with Ctrl-C or SIGTERM)"
)
@click.option("--once", is_flag=True, help="Run one pass and exit.")
@click.pass_context
def daemon(ctx: click.Context, once: bool) -> None:
    """Run in the foreground: send due reminders every [daemon] interval_seconds.

    SIGTERM or Ctrl-C finishes the message in flight and exits 0; a second one exits at once.
    deploy/aqb-daemon.service shows how to run it under systemd.
    """
    if ctx.invoked_subcommand is not None:
        return
    from aqb_workflow.mail.backends import backend_from_settings
    from aqb_workflow.scheduler.daemon import run_daemon

    application = app()
    _require_sender(application, "aqb daemon --once" if once else "aqb daemon")
    sys.exit(run_daemon(application, backend_from_settings(application.settings), once=once))


@daemon.command(epilog="Example: aqb daemon status --json")
@json_option
def status(as_json: bool) -> None:
    """Is the daemon running, when did it last run, how long is the queue, what is overdue.

    Exits 0 when it runs, nothing failed and nothing is overdue; 1 when it is not running, a
    reminder failed, or one is still undelivered longer than [daemon] overdue_grace_minutes
    after its due time (waiting to be retried, or in flight).
    """
    from datetime import timedelta

    from aqb_workflow.store import outbox

    application = app()
    _require_reader_of_all(application, "den Stand des Versanddienstes (aqb daemon status)")
    settings = application.settings
    now = application.clock.now()
    grace = timedelta(minutes=settings.overdue_grace_minutes)
    with application.db.read() as conn:
        counts = outbox.counts(conn, now)
        late = outbox.overdue(conn, now - grace)
    report = {
        **_daemon_state(application, now),
        "due": counts.get("due", 0),
        "pending": counts.get("pending", 0),
        "sending": counts.get("sending", 0),
        "failed": counts.get("failed", 0),
        "sent": counts.get("sent", 0),
        "overdue_grace_minutes": settings.overdue_grace_minutes,
        "overdue": len(late),
        "overdue_reminders": [
            {k: r[k] for k in ("id", "agreement", "kind", "due_at", "status", "next_attempt_at")}
            | {"attempts": r["attempts"], "last_error": r["last_error"]}
            for r in late
        ],
    }
    if as_json:
        emit_json(report)
    else:
        _print_status(report, application.settings.zone)
    if not report["running"] or report["failed"] or report["overdue"]:
        sys.exit(1)


def _daemon_state(application: Any, now: Any) -> dict[str, Any]:
    from datetime import datetime, timedelta

    from aqb_workflow.scheduler.daemon import pid_alive, read_heartbeat

    settings = application.settings
    beat = read_heartbeat(settings.heartbeat) or {}
    last = beat.get("last_pass_at") or beat.get("started_at")
    fresh = bool(last) and now - datetime.fromisoformat(str(last)) < timedelta(
        seconds=3 * settings.daemon_interval_seconds + 60
    )
    alive = pid_alive(int(beat.get("pid", 0) or 0))
    return {
        "running": beat.get("state") == "running" and alive and fresh,
        "pid": beat.get("pid"),
        "started_at": beat.get("started_at"),
        "last_pass_at": beat.get("last_pass_at"),
        "last_result": beat.get("last_result"),
    }


def _print_status(report: dict[str, Any], zone: Any) -> None:
    from aqb_workflow.present import local_time

    state = f"läuft (PID {report['pid']})" if report["running"] else "läuft nicht"
    click.echo(f"Versanddienst (aqb daemon): {state}")
    if report["last_pass_at"]:
        click.echo(
            f"letzter Durchlauf: {local_time(str(report['last_pass_at']), zone)} "
            f"({report['last_result']})"
        )
    click.echo(
        f"Warteschlange: {report['due']} jetzt fällig, {report['pending']} geplant, "
        f"{report['sending']} im Versand, {report['failed']} fehlgeschlagen, "
        f"{report['sent']} versandt"
    )
    late = report["overdue_reminders"]
    if not late:
        return
    click.echo(
        f"überfällig: {len(late)} mehr als {report['overdue_grace_minutes']} Minuten nach "
        "ihrer Fälligkeit nicht zugestellt (aqb reminders list --due)"
    )
    click.echo(
        table(
            ["Nr.", "Vereinbarung", "Art", "fällig", "Status", "Versuche", "letzter Fehler"],
            [
                (
                    r["id"],
                    r["agreement"],
                    r["kind"],
                    local_time(r["due_at"], zone),
                    r["status"],
                    r["attempts"],
                    (r["last_error"] or "")[:60],
                )
                for r in late
            ],
        )
    )


def _scope(application: App, action: str, key: str | None = None) -> str | None:
    """The district whose reminders the actor sees (None: all); a foreign key is refused."""
    from aqb_workflow.domain.policy import outbox_scope

    who = actor(application)
    with refusals_logged(application, who, action):
        only = outbox_scope(who)
        if only is not None and key is not None:
            from aqb_workflow import services
            from aqb_workflow.domain.policy import require_own

            require_own(who, services.current(application, key))
    return only


def _require_sender(application: App, what: str) -> None:
    """Sending is the ministry's: a viewer, a district or RP Kassel is refused (exit 1)."""
    from aqb_workflow.domain.policy import require_sender

    who = actor(application)
    with refusals_logged(application, who, what.removeprefix("aqb ")):
        require_sender(who, what)


def _require_reader_of_all(application: App, what: str) -> None:
    from aqb_workflow.domain.policy import require_reader_of_all

    who = actor(application)
    with refusals_logged(application, who, "daemon status"):
        require_reader_of_all(who, what)


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    """A reminder row for --json: the lists and notes it stores as JSON text as real JSON."""
    import json

    return {
        name: json.loads(value) if name in _JSON_COLUMNS and isinstance(value, str) else value
        for name, value in row.items()
    }


_JSON_COLUMNS = ("recipients", "sent_to", "note")

COMMANDS = [reminders, daemon]
