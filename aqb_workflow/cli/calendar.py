"""``aqb calendar explain``: is a day a working day, and where does a deadline on it end?"""

from __future__ import annotations

import click

from aqb_workflow.cli._common import emit_json, json_option


@click.group(epilog="Example: aqb calendar explain 19.06.2025")
def calendar() -> None:
    """Working days, holidays and closure days of the configured state (calendar.*)."""


@calendar.command(epilog="Example: aqb calendar explain 19.06.2025 --json")
@click.argument("day", metavar="DATE")
@json_option
def explain(day: str, as_json: bool) -> None:
    """Say whether DATE (2025-06-19 or 19.06.2025) is a working day, and why not.

    Also shows where a deadline (Frist) ending on DATE really ends: a Saturday, Sunday or
    public holiday moves it to the next working day (§ 31 Abs. 3 HVwVfG); closure days such
    as 24 and 31 December do not.
    """
    from aqb_workflow.config import load_settings
    from aqb_workflow.domain.calendar import WEEKDAYS_DE, WorkCalendar
    from aqb_workflow.domain.formats import format_date_de, parse_date

    when = parse_date(day, "DATE")
    settings = load_settings()  # no database needed: the calendar is settings only
    work = WorkCalendar(settings.subdivision, settings.closure_days)
    facts = work.explain(when)
    if as_json:
        emit_json({**facts, "subdivision": work.subdivision})
        return

    head = f"{WEEKDAYS_DE[when.weekday()]}, {format_date_de(when)}"
    reasons = work.reasons(when)
    if reasons:
        click.echo(f"{head}: kein Arbeitstag in {work.state_name} ({'; '.join(reasons)})")
    else:
        click.echo(f"{head}: Arbeitstag in {work.state_name}")
    end = work.deadline_end(when)
    if end != when:
        click.echo(
            f"Eine Frist, die an diesem Tag endet, endet am {WEEKDAYS_DE[end.weekday()]}, "
            f"{format_date_de(end)} (§ 31 Abs. 3 HVwVfG)."
        )
    elif reasons:
        click.echo(
            "Eine Frist, die an diesem Tag endet, endet an diesem Tag: ein Schließtag ist "
            "kein Feiertag und verschiebt keine Frist (§ 31 Abs. 3 HVwVfG)."
        )
    else:
        click.echo("Eine Frist, die an diesem Tag endet, endet an diesem Tag.")


COMMANDS = [calendar]
