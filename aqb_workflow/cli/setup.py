"""``aqb init``, ``aqb states``, ``aqb districts``: the installation and its definitions."""

from __future__ import annotations

import click

from aqb_workflow.cli._common import app, emit_json, json_option, table


@click.command(epilog="Example: aqb init")
def init() -> None:
    """Create the database, or upgrade it to the newest schema (Alembic migrations)."""
    from aqb_workflow.store.migrate import upgrade

    application = app(creating=True)
    before, after = upgrade(application.db)
    if before == after:
        click.echo(f"database is up to date (schema {after}): {application.settings.database_url}")
    else:
        click.echo(
            f"database {'created' if before is None else 'upgraded'} "
            f"(schema {before or '-'} -> {after}): {application.settings.database_url}"
        )


@click.command(epilog="Example: aqb states --json")
@json_option
def states(as_json: bool) -> None:
    """Show the workflow (states/agreement.toml): states, triggers, fields and roles."""
    workflow = app().workflow
    if as_json:
        emit_json(
            {
                "initial": workflow.initial,
                "options": workflow.options,
                "states": [
                    {
                        "name": s.name,
                        "label": s.label,
                        "final": s.final,
                        "triggers": workflow.allowed(s.name),
                    }
                    for s in workflow.states.values()
                ],
                "triggers": [
                    {
                        "name": t.name,
                        "label": t.label,
                        "from": list(t.sources),
                        "to": t.dest,
                        "roles": list(t.roles),
                        "guards": list(t.guards),
                        "fields": [
                            {
                                "name": f.name,
                                "type": f.type,
                                "required": f.required,
                                "default": f.default,
                                "store": f.store,
                                "label": f.label,
                            }
                            for f in t.fields.values()
                        ],
                    }
                    for t in workflow.triggers.values()
                ],
            }
        )
        return
    click.echo(
        table(
            ["state", "label", "triggers"],
            [
                (
                    s.name
                    + (" (start)" if s.name == workflow.initial else "")
                    + (" (final)" if s.final else ""),
                    s.label,
                    ", ".join(workflow.allowed(s.name)) or "-",
                )
                for s in workflow.states.values()
            ],
        )
    )
    click.echo()
    click.echo(
        table(
            ["trigger", "from", "to", "roles", "fields"],
            [
                (
                    t.name,
                    ", ".join(t.sources),
                    t.dest,
                    ", ".join(t.roles),
                    ", ".join(workflow.describe_fields(t)),
                )
                for t in workflow.triggers.values()
            ],
        )
    )


@click.command(epilog="Example: aqb districts --year 2026")
@click.option("--year", type=int, help="Only those with an agreement in this budget year.")
@json_option
def districts(year: int | None, as_json: bool) -> None:
    """List the Gebietskörperschaften of the registry (AGS, slug, name, seat)."""
    registry = app().registry
    entries = [e for e in registry if year is None or e.valid_in(year)]
    if as_json:
        emit_json(
            [
                {
                    "ags": e.ags,
                    "slug": e.slug,
                    "name": e.name,
                    "dative": e.dative,
                    "genitive": e.genitive,
                    "seat": e.seat,
                    "kind": e.kind,
                    "head_titles": list(e.head_titles),
                    "aqb": e.aqb,
                    "valid_from": e.valid_from,
                    "valid_to": e.valid_to,
                }
                for e in entries
            ]
        )
        return
    click.echo(
        table(["AGS", "slug", "name", "seat"], [(e.ags, e.slug, e.name, e.seat) for e in entries])
    )


COMMANDS = [init, states, districts]
