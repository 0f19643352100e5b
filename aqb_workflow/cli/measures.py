"""Measures (the projects of § 5), grouped by Maßnahmenart."""

from __future__ import annotations

import click

from aqb_workflow.cli._common import actor, actor_option, checked_app, refusals_logged

CATEGORY_KEYS = ["ausbildungsvorbereitung", "ausbildung", "qualifizierung", "weiterbildung"]


@click.group(epilog="Example: aqb measure add 2024-giessen --category ausbildung 'BAE'")
def measure() -> None:
    """Add or remove the funded projects (§ 5) of an agreement."""


@measure.command(epilog="Example: aqb measure add 2024-giessen --category qualifizierung 'Plan B'")
@click.argument("key")
@click.argument("title")
@click.option("--category", required=True, type=click.Choice(CATEGORY_KEYS), help="Maßnahmenart.")
@click.option("--reason", help="Why: required once the agreement is signed (an amendment, § 6).")
@actor_option
def add(key: str, title: str, category: str, reason: str | None, actor_name: str | None) -> None:
    """Add a project to an agreement under its Maßnahmenart."""
    from aqb_workflow import services

    application = checked_app()
    who = actor(application, actor_name)
    with refusals_logged(application, who, f"measure add {key}"):
        measure_id = services.add_measure(application, who, key, category, title, reason)
    click.echo(f"{key}: measure #{measure_id} added under {category}: {title}")


@measure.command(epilog="Example: aqb measure remove 2024-giessen 7 --reason 'entfällt'")
@click.argument("key")
@click.argument("measure_id", metavar="ID|TITLE")
@click.option("--reason", help="Why: required once the agreement is signed (an amendment, § 6).")
@actor_option
def remove(key: str, measure_id: str, reason: str | None, actor_name: str | None) -> None:
    """Remove a project from an agreement (by id, as `aqb show` lists it, or exact title)."""
    from aqb_workflow import services

    application = checked_app()
    who = actor(application, actor_name)
    with refusals_logged(application, who, f"measure remove {key} {measure_id}"):
        title = services.remove_measure(application, who, key, measure_id, reason)
    click.echo(f"{key}: measure removed: {title}")


COMMANDS = [measure]
