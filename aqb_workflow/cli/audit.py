"""``aqb audit verify``: prove nobody changed the record."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from aqb_workflow.cli._common import app, emit_json, json_option

if TYPE_CHECKING:
    from aqb_workflow.bootstrap import App


@click.group(epilog="Example: aqb audit verify")
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command(epilog="Example: aqb audit verify --full --json")
@click.option(
    "--full",
    is_flag=True,
    help="Recompute every event from the first, not only those after the verified prefix.",
)
@json_option
def verify(full: bool, as_json: bool) -> None:
    """Check the hash chain, its anchor and the agreements against their history.

    Incremental: events verified by an earlier run (the prefix, saved beside the anchor in
    <anchor>.verified) are not recomputed; the hash of the prefix's last event must be unchanged,
    the newer events are checked, and each agreement they name has its state and version
    compared with its saved history carried on by them. --full recomputes every event and
    compares every agreement (as does the first run, or one without a usable saved prefix);
    only that finds an event inside the prefix changed with its stored hash left alone or
    deleted, and an agreement without new events changed, deleted or added behind aqb's back.

    Exit 0 and what was checked, or exit 1 naming the first event found changed, removed,
    inserted, reordered or cut off.
    """
    from aqb_workflow.errors import AuditBroken
    from aqb_workflow.verify import verify as run

    application = app()
    district = _district_scope(application)
    try:
        report = run(application, full=full)
    except AuditBroken as exc:
        if district is not None:  # the details name other districts' events
            hidden = AuditBroken(
                "die Audit-Kette ist beschädigt; das AQB-Referat im Ministerium sieht mit "
                "aqb audit verify die Einzelheiten"
            )
            if as_json:
                emit_json({"ok": False, "error": str(hidden), "district": district})
            raise hidden from None
        if as_json:
            emit_json({"ok": False, "error": str(exc), "first_bad_seq": exc.seq})
        raise
    if district is not None:
        _district_report(application, district, as_json)
        return
    if as_json:
        emit_json(
            {
                "ok": True,
                "full": report.full,
                "why_full": report.why_full,
                "verified_prefix": report.prefix_seq,
                "from_seq": report.prefix_seq + 1,
                "checked": report.checked,
                "head": {"seq": report.head_seq, "hash": report.head_hash},
                "agreements": report.agreements,
                "agreements_scope": "all" if report.full else "named by the new events",
                "checkpoint_saved": report.checkpoint_saved,
                "warnings": report.warnings,
            }
        )
        return
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if report.full:
        why = f"; {report.why_full}" if report.why_full else ""
        what = f"{_events(report.checked)} checked (the whole chain{why})"
    else:
        what = (
            f"{_events(report.checked, 'new ')} checked after the verified prefix "
            f"1–{report.prefix_seq} (aqb audit verify --full recomputes all)"
        )
    if report.full and report.agreements == 1:
        matched = "the 1 agreement matches its history"
    elif report.full:
        matched = f"all {report.agreements} agreements match their history"
    elif report.agreements == 0:
        matched = "no agreement has new events"
    elif report.agreements == 1:
        matched = "the 1 agreement with new events matches its history"
    else:
        matched = f"the {report.agreements} agreements with new events match their history"
    click.echo(
        f"audit chain ok: {what}, head {report.head_seq} ({report.head_hash[:12]}…), {matched}"
    )


def _district_scope(application: App) -> str | None:
    """None for staff who see all; a district login sees only its own agreements' counts."""
    from aqb_workflow.cli._common import actor, refusals_logged
    from aqb_workflow.domain.policy import outbox_scope

    who = actor(application)
    with refusals_logged(application, who, "audit verify"):
        return outbox_scope(who)


def _district_report(application: App, district: str, as_json: bool) -> None:
    """The chain is whole; what a district learns is its own agreements and their events."""
    from aqb_workflow.present import plural
    from aqb_workflow.store.queries import district_counts

    with application.db.read() as conn:
        agreements, events = district_counts(conn, district)
    if as_json:
        emit_json({"ok": True, "district": district, "agreements": agreements, "events": events})
        return
    name = application.registry.by_slug(district).name
    click.echo(
        f"Audit-Kette in Ordnung; {name}: {plural(agreements, 'Vereinbarung', 'Vereinbarungen')} "
        f"mit {plural(events, 'Ereignis', 'Ereignissen')}"
    )


def _events(count: int, kind: str = "") -> str:
    return f"{count} {kind}event{'' if count == 1 else 's'}"


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
