"""Entry point: the ``aqb`` group and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys

import click

from aqb_workflow.cli import (
    agreements,
    audit,
    calendar,
    contacts,
    documents,
    measures,
    reminders,
    setup,
)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Example: aqb transition 2024-giessen sign_ministry on=01.07.2024 by='Heike Hofmann'",
)
@click.version_option(package_name="aqb-workflow")
def cli() -> None:
    """Carry Hessen's AQB target agreements (Zielvereinbarungen) through their life.

    Settings come from config.toml in the current folder, or the file $AQB_CONFIG names.
    Exit codes: 0 done, 1 refused (workflow, role, concurrent change, broken audit chain),
    2 bad input (usage, unknown key, bad date or amount, broken config or workflow file).
    """


for module in (setup, agreements, measures, contacts, audit, calendar, reminders, documents):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    from aqb_workflow.errors import AqbError

    try:
        code = cli.main(standalone_mode=False)
        if isinstance(code, int):
            sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        from aqb_workflow.cli._usage import one_line

        click.echo(one_line(exc), err=True)
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aqb: abgebrochen", err=True)
        sys.exit(130)
    except AqbError as exc:
        click.echo(f"aqb: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("aqb: unterbrochen", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # the last line of defence: never a traceback for a person
        if os.environ.get("AQB_DEBUG"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        click.echo(
            f"aqb: internal error: {type(exc).__name__}: {first} (AQB_DEBUG=1 shows details)",
            err=True,
        )
        sys.exit(3)
