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


#: Joins the words of a value that should not be wrapped apart (``1. Juli 2024``).
KEEP = "\u00a0"


def terminal_width() -> int:
    """The terminal's width ($COLUMNS first); 100 columns when output is not a terminal."""
    import shutil

    return max(shutil.get_terminal_size((100, 24)).columns, 20)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], width: int | None = None) -> str:
    """Columns that fit ``width`` (default: the terminal's): the widest cells wrap onto more
    lines, words kept whole where they fit."""
    data = [[" ".join(str(c).replace("\n", " ").split(" ")).strip() for c in row] for row in rows]
    widths = _fit(headers, data, width or terminal_width())
    lines = [*_wrapped(list(headers), widths), "  ".join("-" * w for w in widths)]
    for row in data:
        lines += _wrapped(row, widths)
    return "\n".join(lines)


def _fit(headers: Sequence[str], data: list[list[str]], width: int) -> list[int]:
    """Natural column widths; when they do not fit, the widest column gives up a character at
    a time: first down to its longest word (at most 16), then plain text down to 6 while names
    like ``district_signature_pending`` stay whole, at last those too."""
    columns = [[h, *(row[i] for row in data)] for i, h in enumerate(headers)]
    widths = [max(len(c) for c in column) for column in columns]
    room = width - 2 * (len(widths) - 1)
    words = [max(_floor(w) for c in column for w in c.split(" ")) for column in columns]
    names = [
        w if any(_is_name(word) for c in column for word in c.split(" ")) else 6
        for w, column in zip(words, columns, strict=True)
    ]
    for floors in (words, names, [6] * len(widths)):
        _narrow(widths, floors, room)
    return widths


def _narrow(widths: list[int], floors: list[int], room: int) -> None:
    while sum(widths) > room:
        shrinkable = [i for i in range(len(widths)) if widths[i] > floors[i]]
        if not shrinkable:
            return
        widths[max(shrinkable, key=lambda i: widths[i])] -= 1


def _floor(word: str) -> int:
    """How narrow a column may get for this word at first: a name like
    ``district_signature_pending`` or a value held together (``1. Juli 2024``) stays whole,
    other words break beyond 16 characters."""
    return min(len(word), 30 if _is_name(word) or KEEP in word else 16)


def _is_name(word: str) -> bool:
    """``district_signature_pending``, ``2024-giessen``: typed again, so never broken early."""
    import re

    return re.search(r"\w[-_]\w", word) is not None


def _wrapped(row: list[str], widths: list[int]) -> list[str]:
    import textwrap

    cells = [
        textwrap.wrap(c, w, break_on_hyphens=False) or [""]
        for c, w in zip(row, widths, strict=True)
    ]
    height = max(len(c) for c in cells)
    return [_line([c[i] if i < len(c) else "" for c in cells], widths) for i in range(height)]


def _line(cells: list[str], widths: list[int]) -> str:
    """One printed line; a no-break space (KEEP) held a value together and prints as a space."""
    line = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
    return line.replace(KEEP, " ")


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
