"""Contacts: who gets an agreement's mail (per Gebietskörperschaft, or global)."""

from __future__ import annotations

import click

from aqb_workflow.cli._common import (
    actor,
    actor_option,
    app,
    emit_json,
    json_option,
    refusals_logged,
    table,
)

ROLES = ["district", "participant", "ministry_desk", "rp_kassel"]


@click.group(epilog="Example: aqb contact list --district giessen")
def contact() -> None:
    """Manage the people who receive reminders and invitations."""


@contact.command(
    epilog="Example: aqb contact add --district giessen --role district "
    "--name 'Petra Muster' --email p.muster@lkgi.de"
)
@click.option("--district", help="Gebietskörperschaft (name, slug or AGS); none for global roles.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the contact is for.")
@click.option("--name", required=True)
@click.option("--email", required=True)
@actor_option
def add(district: str | None, role: str, name: str, email: str, actor_name: str | None) -> None:
    """Add a contact: district staff, review participants, the ministry desk, RP Kassel."""
    from aqb_workflow import services

    application = app()
    who = actor(application, actor_name)
    with refusals_logged(application, who, f"contact add {role} {district or ''}".strip()):
        contact_id = services.add_contact(application, who, district, role, name, email)
    click.echo(f"contact #{contact_id} added: {name} <{email}> ({role})")


@contact.command("list", epilog="Example: aqb contact list --json")
@click.option("--district", help="Only this Gebietskörperschaft's contacts.")
@json_option
def list_(district: str | None, as_json: bool) -> None:
    """List contacts."""
    from aqb_workflow import services
    from aqb_workflow.store.queries import contacts

    application = app()
    who = actor(application)
    with refusals_logged(application, who, "contact list"):
        own = services.visible_district(who)
    slug = application.registry.find(district).slug if district else None
    with application.db.read() as conn:
        rows = contacts(conn, slug)
    if own is not None:
        rows = [r for r in rows if r["district"] in (None, own)]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no contacts")
        return
    click.echo(
        table(
            ["id", "district", "role", "name", "email"],
            [
                (r["id"], r["district"] or "(global)", r["role"], r["name"], r["email"])
                for r in rows
            ],
        )
    )


@contact.command(epilog="Example: aqb contact remove 3")
@click.argument("contact_id", type=int)
@actor_option
def remove(contact_id: int, actor_name: str | None) -> None:
    """Remove a contact by id (as `aqb contact list` shows it)."""
    from aqb_workflow import services

    application = app()
    who = actor(application, actor_name)
    with refusals_logged(application, who, f"contact remove {contact_id}"):
        removed = services.remove_contact(application, who, contact_id)
    click.echo(f"contact #{contact_id} removed: {removed['name']} <{removed['email']}>")


COMMANDS = [contact]
