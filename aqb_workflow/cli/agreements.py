"""Agreements: create, list, show, edit, triggers, transition, history."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from aqb_workflow.bootstrap import App
    from aqb_workflow.domain.audit import AuditRecord
    from aqb_workflow.domain.model import Actor, Agreement

from aqb_workflow.cli._common import (
    actor,
    actor_option,
    checked_app,
    emit_json,
    json_option,
    parse_assignments,
    refusals_logged,
    table,
)


@click.command(
    epilog="Example: aqb create --district 'Landkreis Gießen' --year 2024 --budget 1.266.800"
)
@click.option("--district", required=True, help="Official name, slug or AGS.")
@click.option("--year", required=True, type=int, help="Budget year.")
@click.option("--budget", required=True, help="Haushaltsmittel in euros: 1.266.800,00 or 1266800.")
@actor_option
def create(district: str, year: int, budget: str, actor_name: str | None) -> None:
    """Create a drafted agreement for a Gebietskörperschaft and year."""
    from aqb_workflow import services

    application = checked_app()
    who = actor(application, actor_name)
    with refusals_logged(application, who, f"create {district} {year}"):
        key = services.create(application, who, district, year, budget)
    click.echo(f"created {key} ({application.workflow.label(application.workflow.initial)})")


@click.command("list", epilog="Example: aqb list --year 2024 --state signed_by_ministry")
@click.option("--year", type=int, help="Only this budget year.")
@click.option("--state", help="Only agreements in this state.")
@json_option
def list_(year: int | None, state: str | None, as_json: bool) -> None:
    """List agreements with their state and budget."""
    from aqb_workflow import services
    from aqb_workflow.domain.formats import format_euro
    from aqb_workflow.errors import BadInput
    from aqb_workflow.store.queries import list_agreements

    application = checked_app()
    who = actor(application)
    with refusals_logged(application, who, "list"):
        only = services.visible_district(who)
    if state is not None and state not in application.workflow.states:
        raise BadInput(f"unknown state {state!r}; states: {', '.join(application.workflow.states)}")
    with application.db.read() as conn:
        rows = list_agreements(conn, year, state, only)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("keine Vereinbarungen")
        return
    from aqb_workflow.present import plural

    workflow = application.workflow
    click.echo(
        table(
            ["Vereinbarung", "Gebietskörperschaft", "Haushaltsmittel", "Stand"],
            [
                (
                    r["key"],
                    application.registry.by_slug(r["district"]).name,
                    format_euro(r["budget_cents"]),
                    f"{workflow.label(r['state'])} [{r['state']}]",
                )
                for r in rows
            ],
        )
    )
    click.echo(plural(len(rows), "Vereinbarung", "Vereinbarungen"))


@click.command(epilog="Example: aqb show 2024-giessen")
@click.argument("key")
@json_option
def show(key: str, as_json: bool) -> None:
    """Show one agreement: budget, state, recorded fields, measures, next steps."""
    from aqb_workflow.present import agreement_json, agreement_text

    application = checked_app()
    agreement = _visible(application, key)
    if as_json:
        emit_json(agreement_json(agreement, application.workflow, application.registry))
    else:
        click.echo(
            agreement_text(
                agreement, application.workflow, application.registry, application.settings.zone
            )
        )


@click.command(
    epilog="Example: aqb edit 2024-giessen budget=1.300.000 --reason 'Mittelerhöhung lt. Erlass'"
)
@click.argument("key")
@click.argument("assignments", nargs=-1, metavar="FIELD=VALUE...")
@click.option("--reason", help="Why: required once the agreement is signed (an amendment, § 6).")
@actor_option
def edit(
    key: str, assignments: tuple[str, ...], reason: str | None, actor_name: str | None
) -> None:
    """Change the budget or recorded fields; after signing, an audited amendment."""
    from aqb_workflow import services

    application = checked_app()
    who = actor(application, actor_name)
    with refusals_logged(application, who, f"edit {key}"):
        diff = services.edit(application, who, key, parse_assignments(assignments), reason)
    from aqb_workflow.present import field_text

    zone = application.settings.zone
    for name, change in diff.items():
        label = "Haushaltsmittel" if name == "budget_cents" else name
        spec = application.workflow.field_types.get(name)
        if spec is not None:
            label = f"{spec.label} [{name}]"
        old, new = (field_text(application.workflow, name, change[k], zone) for k in ("old", "new"))
        click.echo(f"{key}: {label}: {old} → {new}")


@click.command(epilog="Example: aqb triggers 2024-giessen")
@click.argument("key")
@json_option
def triggers(key: str, as_json: bool) -> None:
    """What may be fired on an agreement now, and which fields each needs."""

    application = checked_app()
    agreement = _visible(application, key)
    workflow = application.workflow
    allowed = [workflow.triggers[name] for name in workflow.allowed(agreement.state)]
    if as_json:
        emit_json(
            {
                "key": key,
                "state": agreement.state,
                "triggers": [
                    {
                        "name": t.name,
                        "label": t.label,
                        "to": t.dest,
                        "roles": list(t.roles),
                        "fields": [
                            {
                                "name": f.name,
                                "type": f.type,
                                "required": not f.optional,
                            }
                            for f in t.fields.values()
                        ],
                    }
                    for t in allowed
                ],
            }
        )
        return
    click.echo(f"{key} is {agreement.state} ({workflow.label(agreement.state)})")
    if not allowed:
        click.echo("nothing may be fired: final state")
        return
    click.echo(
        table(
            ["trigger", "to", "roles", "fields"],
            [
                (t.name, t.dest, ", ".join(t.roles), ", ".join(workflow.describe_fields(t)))
                for t in allowed
            ],
        )
    )


@click.command(
    epilog="Example: aqb transition 2024-giessen sign_district on=10.07.2024 "
    "by='Anita Schneider' place=Gießen received_on=15.07.2024"
)
@click.argument("key")
@click.argument("trigger")
@click.argument("assignments", nargs=-1, metavar="[FIELD=VALUE]...")
@click.option("--comment", help="A note kept with the audit event.")
@actor_option
def transition(
    key: str,
    trigger: str,
    assignments: tuple[str, ...],
    comment: str | None,
    actor_name: str | None,
) -> None:
    """Fire a trigger: record its fields and move the agreement on, atomically and audited."""
    from aqb_workflow import services

    application = checked_app()
    fields = parse_assignments(assignments)
    who = actor(application, actor_name)
    with refusals_logged(application, who, f"transition {key} {trigger}"):
        seen = _visible(application, key, who)
        fired = services.fire(
            application, who, key, trigger, fields, comment=comment, expected_version=seen.version
        )
    label = application.workflow.label(fired.to_state)
    click.echo(f"{key}: {fired.from_state} -> {fired.to_state} ({label}), audit event {fired.seq}")


@click.command(epilog="Example: aqb history 2024-giessen")
@click.argument("key")
@json_option
def history(key: str, as_json: bool) -> None:
    """Every recorded event of an agreement, oldest first, in local time."""
    from aqb_workflow.store import queries

    application = checked_app()
    _visible(application, key)  # a clear error for an unknown or foreign key
    with application.db.read() as conn:
        records = queries.history(conn, key)
    if as_json:
        emit_json(
            [
                {
                    "seq": r.seq,
                    "at": r.at,
                    "actor": r.actor,
                    "role": r.role,
                    "event": r.event,
                    "from_state": r.from_state,
                    "to_state": r.to_state,
                    "comment": r.comment,
                    "payload": queries.payload(r),
                    "hash": r.hash,
                }
                for r in records
            ]
        )
        return
    click.echo(_history_table(application, records))


def _history_table(application: App, records: list[AuditRecord]) -> str:
    from aqb_workflow.present import (
        actor_text,
        event_label,
        event_summary,
        local_datetime,
        state_text,
    )
    from aqb_workflow.store import queries

    zone = application.settings.zone
    workflow = application.workflow
    return table(
        ["Nr.", f"Zeit ({zone.key})", "Wer", "Ereignis", "Angaben"],
        [
            (
                r.seq,
                local_datetime(r.at, zone),
                actor_text(r.actor, r.role),
                event_label(workflow, r.event)
                + (
                    f"; {state_text(workflow, r.from_state, r.to_state)}"
                    if r.to_state and r.from_state != r.to_state
                    else ""
                ),
                event_summary(r, queries.payload(r), workflow, zone),
            )
            for r in records
        ],
    )


def _visible(application: App, key: str, who: Actor | None = None) -> Agreement:
    """The agreement, if the actor may see it (district staff: their own district only)."""
    from aqb_workflow import services

    who = who or actor(application)
    agreement = services.current(application, key)
    with refusals_logged(application, who, f"read {key}"):
        services.may_see(who, agreement)
    return agreement


COMMANDS = [create, list_, show, edit, triggers, transition, history]
