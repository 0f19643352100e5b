"""Shared CLI helpers. Imports nothing heavy at module level: ``aqb --help`` stays fast."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from aqb_workflow.bootstrap import App
    from aqb_workflow.domain.model import Actor

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(func)


def actor_option(func: F) -> F:
    return click.option(
        "--actor",
        "actor_name",
        metavar="LOGIN",
        help="Who acts (default: $AQB_ACTOR, else your login name).",
    )(func)


def app(*, creating: bool = False) -> App:
    """The wired application; a missing SQLite file is an error unless ``aqb init`` creates it."""
    from aqb_workflow.bootstrap import bootstrap
    from aqb_workflow.errors import ConfigError

    application = bootstrap()
    path = application.db.sqlite_path
    if not creating and path is not None and not path.exists():
        raise ConfigError(f"database {path} does not exist; run: aqb init")
    return application


def checked_app() -> App:
    """The app, after refusing a workflow file that dropped a state agreements are in."""
    from aqb_workflow.store.queries import distinct_states, keys_in_state

    application = app()
    with application.db.read() as conn:
        missing = distinct_states(conn) - set(application.workflow.states)
        in_use = {state: keys_in_state(conn, state) for state in missing}
    application.workflow.check_in_use(in_use)
    return application


def actor(application: App, requested: str | None = None) -> Actor:
    """Who acts: the real login (DB login on PostgreSQL, OS login on SQLite), or whom an
    admin acts for."""
    from aqb_workflow.bootstrap import login_name, resolve_actor

    return resolve_actor(application.settings, login_name(application), requested)


@contextmanager
def refusals_logged(application: App, who: Actor, action: str) -> Iterator[None]:
    """A refused attempt (role, foreign district) is recorded, then reported as usual."""
    from aqb_workflow.errors import Forbidden

    try:
        yield
    except Forbidden as exc:
        from aqb_workflow import services

        services.log_refusal(application, who, action, str(exc))
        raise


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    data = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in data:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in data
    ]
    return "\n".join(lines)


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    from aqb_workflow.errors import BadInput

    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise BadInput(f"{pair!r}: write FIELD=VALUE, e.g. on=2024-07-01")
        if name in values:
            raise BadInput(f"{name} is given twice")
        values[name] = value
    return values


def fail(message: str, code: int) -> None:
    click.echo(f"aqb: {message}", err=True)
    sys.exit(code)
