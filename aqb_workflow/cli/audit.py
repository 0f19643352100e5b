"""``aqb audit verify``: prove nobody changed the record."""

from __future__ import annotations

import click

from aqb_workflow.cli._common import app, emit_json, json_option


@click.group(epilog="Example: aqb audit verify")
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command(epilog="Example: aqb audit verify --json")
@json_option
def verify(as_json: bool) -> None:
    """Recompute the whole hash chain and compare it with the anchor kept outside the database.

    Exit 0 and the number of events checked, or exit 1 naming the first event that was
    changed, removed, inserted, reordered or cut off.
    """
    from aqb_workflow.errors import AuditBroken
    from aqb_workflow.verify import verify as run

    try:
        report = run(app())
    except AuditBroken as exc:
        if as_json:
            emit_json({"ok": False, "error": str(exc), "first_bad_seq": exc.seq})
        raise
    if as_json:
        emit_json(
            {
                "ok": True,
                "checked": report.checked,
                "head": {"seq": report.head_seq, "hash": report.head_hash},
                "agreements": report.agreements,
                "warnings": report.warnings,
            }
        )
        return
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"audit chain ok: {report.checked} events checked, head {report.head_seq} "
        f"({report.head_hash[:12]}…), {report.agreements} agreements match their history"
    )


@audit.command(epilog="Example: aqb audit refusals --json")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
@json_option
def refusals(limit: int, as_json: bool) -> None:
    """Refused attempts (wrong role, foreign district): who tried what, when.

    Kept outside the agreements' audit chain; only ministry, admin and viewer may read them.
    """
    from aqb_workflow.cli._common import actor
    from aqb_workflow.errors import Forbidden
    from aqb_workflow.present import local_time
    from aqb_workflow.store.refusals import recent

    application = app()
    who = actor(application)
    if not {"ministry", "admin", "viewer"} & set(who.roles):
        raise Forbidden(f"{who.name} may not read the refused attempts")
    with application.db.read() as conn:
        rows = recent(conn, limit)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no refused attempts")
        return
    from aqb_workflow.cli._common import table

    zone = application.settings.zone
    click.echo(
        table(
            ["when", "who", "roles", "tried", "why refused"],
            [
                (local_time(r["at"], zone), r["actor"], r["roles"], r["action"], r["reason"])
                for r in rows
            ],
        )
    )


COMMANDS = [audit]
