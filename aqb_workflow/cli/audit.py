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


COMMANDS = [audit]
