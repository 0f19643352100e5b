"""Render one reminder from the German templates in the ``notifications`` folder.

Usage::

    from aqb_workflow.mail.render import render

    rendered = render(settings.templates, "district_signature_pending", context)
    rendered.subject, rendered.text, rendered.html

Each kind has three files: ``<kind>.subject.txt``, ``<kind>.txt`` (extends ``_base.txt``) and
``<kind>.html`` (extends ``_base.html``). Only ``.html`` files are autoescaped. Undefined names
are errors (``StrictUndefined``): a missing file, a typo or a missing context key raises
:class:`aqb_workflow.errors.ConfigError` naming the template file (and the variable).

The context every template gets (``scheduler/compose.py`` builds exactly this, once per
reader group: a reminder to district and ministry desk is two mails)::

    agreement: {key: "2024-giessen", year: 2024,
                district_name: "Landkreis Gießen",
                district_dative: "dem Landkreis Gießen",
                district_genitive: "des Landkreises Gießen", district_seat: "Gießen",
                budget_cents: 126680000, state: "signed_by_ministry",
                state_label: "Vom Ministerium unterzeichnet"}
    reminder:  {id: 42, kind: "district_signature_pending",
                label: "Gegenzeichnung der Gebietskörperschaft steht aus",  # the rule's
                due: "15. Juli 2024",       # German date the reminder was planned for
                late: False,                # sent after its due time (daemon was down)
                since: "1. Juli 2024",      # since when the step is outstanding, or None
                deadline: None,             # German date of a deadline (Frist), or None
                reply_by: "22. Juli 2024",  # by when the reader should act (German date)
                occurrence: 1,              # 1-based, for repeated reminders
                max_occurrences: 3}
    audience:  {role: "district",           # district | rp_kassel | participant | ministry_desk
                staff: False,               # True only for the ministry desk
                label: "Ansprechperson der Gebietskörperschaft"}
    desk:      {name: "Petra Muster", email: "aqb@hmsi.example"}  # whom outside readers ask
    rp:        {name: "RP Kassel, Dezernat 57", email: "dez57@rpks.example" or None}
    review:    None, or {at: "15. Oktober 2024, 10:00 Uhr", location: "Gießen",
                         cancelled: False,
                         invited: False,    # an invitation went out before this mail
                         previous_at: None} # the date the last invitation named, if other
    failed:    {} or, for delivery_failed, {label, due, to, explanation, reply, advice,
                commands} (see scheduler/failures.py)
    command:   "aqb transition 2024-giessen sign_district on=TT.MM.JJJJ by=NAME place=ORT"
               for the ministry desk; None for everyone else (they never get a command)
    recipient_names: ["Anita Schneider"]    # may be empty

The HTML templates get ``text_blocks`` besides: every block of ``<kind>.txt`` rendered alone,
so ``{{ text_blocks.body|paragraphs }}`` shows the text's words as HTML paragraphs (the shipped
``<kind>.html`` files do only that, through ``_base.html``).

Filters: ``euro`` (cents -> ``1.266.800,00 €``), ``datum`` (ISO date or date -> ``1. Juli 2024``),
``paragraphs`` (plain text -> escaped HTML paragraphs).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from aqb_workflow.domain.formats import format_date_de, format_euro
from aqb_workflow.errors import ConfigError

KINDS = (
    "application_due",
    "ministry_signature_pending",
    "district_signature_pending",
    "district_signature_escalation",
    "notice_pending",
    "review_planning",
    "review_upcoming",
    "review_rescheduled",
    "review_overdue",
    "review_cancelled",
    "delivery_failed",
)
"""The reminder kinds the shipped ``notifications`` folder has templates for."""

AUDIENCES = ("district", "rp_kassel", "participant", "ministry_desk")
"""Who reads a mail (``audience.role``); only ``ministry_desk`` is staff and gets ``command``."""


@dataclass(frozen=True)
class Rendered:
    """A rendered reminder: one-line subject, plain text and HTML body."""

    subject: str
    text: str
    html: str


def _euro(cents: Any) -> str:
    if not isinstance(cents, int) or isinstance(cents, bool):
        raise ValueError(f"euro: expected whole cents (int), got {cents!r}")
    return format_euro(cents)


def _datum(value: Any) -> str:
    if isinstance(value, datetime):
        return format_date_de(value.date())
    if isinstance(value, date):
        return format_date_de(value)
    if isinstance(value, str):
        try:
            return format_date_de(date.fromisoformat(value))
        except ValueError:
            pass
    raise ValueError(f"datum: expected a date or ISO date string, got {value!r}")


@functools.lru_cache(maxsize=8)
def _environment(folder: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder, encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["euro"] = _euro
    env.filters["datum"] = _datum
    env.filters["paragraphs"] = _paragraphs
    return env


def environment(templates: Path) -> jinja2.Environment:
    """The cached Jinja environment for one templates folder."""
    return _environment(Path(templates).resolve())


def _template_line(exc: BaseException, folder: Path) -> str:
    """`` line N`` of the innermost template frame in the traceback, or ``""``."""
    found = ""
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(str(folder)):
            found = f"{Path(filename).name} line {tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _render_one(env: jinja2.Environment, folder: Path, name: str, context: dict[str, Any]) -> str:
    path = folder / name
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateNotFound as exc:
        missing = folder / (exc.name or name)
        raise ConfigError(f"template {missing} not found (needed for {path.name})") from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{exc.filename or path}: line {exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        where = _template_line(exc, folder)
        at = f" ({where})" if where else ""
        raise ConfigError(f"{path}{at}: undefined variable: {exc.message}") from None
    except (jinja2.TemplateError, ValueError, TypeError) as exc:
        where = _template_line(exc, folder)
        at = f" ({where})" if where else ""
        raise ConfigError(f"{path}{at}: {exc}") from None


def _paragraphs(text: Any) -> markupsafe.Markup:
    """Plain text (as the ``.txt`` templates write it) -> escaped HTML: blank lines separate
    paragraphs, an indented paragraph is a command or a table (``<pre>``), lines starting
    with ``- `` are a list."""
    if not isinstance(text, str):
        raise ValueError(f"paragraphs: expected text, got {type(text).__name__}")
    html = []
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        lines = [line.rstrip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        if all(line.startswith("    ") for line in lines):
            body = "\n".join(markupsafe.escape(line[4:]) for line in lines)
            html.append(f'<pre style="{_PRE}">{body}</pre>')
        elif all(line.lstrip().startswith("- ") or line.startswith("  ") for line in lines):
            items = "".join(
                f"<li>{markupsafe.escape(item.strip())}</li>"
                for item in re.split(r"\n\s*- ", "\n" + "\n".join(lines))
                if item.strip()
            )
            html.append(f"<ul>{items}</ul>")
        else:
            html.append(f"<p>{markupsafe.escape(' '.join(line.strip() for line in lines))}</p>")
    return markupsafe.Markup("\n".join(html))


_PRE = (
    "padding: 8px 12px; background: #f3f3f3; font-family: Consolas, 'Courier New', monospace; "
    "font-size: 13px; white-space: pre-wrap;"
)


def _text_blocks(
    env: jinja2.Environment, folder: Path, name: str, context: dict[str, Any]
) -> dict[str, str]:
    """Each block the text template defines, rendered alone: the HTML template shows the
    same words (``text_blocks.body|paragraphs``), written once."""
    path = folder / name
    try:
        template = env.get_template(name)
        ctx = template.new_context(context)
        return {b: "".join(render_block(ctx)) for b, render_block in template.blocks.items()}
    except jinja2.UndefinedError as exc:
        where = _template_line(exc, folder)
        at = f" ({where})" if where else ""
        raise ConfigError(f"{path}{at}: undefined variable: {exc.message}") from None
    except (jinja2.TemplateError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def render(templates: Path, kind: str, context: Mapping[str, Any]) -> Rendered:
    """Render ``<kind>.subject.txt``, ``<kind>.txt`` and ``<kind>.html`` with ``context``.

    >>> r = render(Path("notifications"), "review_planning", context)  # doctest: +SKIP
    >>> r.subject  # doctest: +SKIP
    'AQB 2024 – Landkreis Gießen: Umsetzungsbesprechung im Herbst planen'
    """
    if not kind or "/" in kind or "\\" in kind or kind.startswith("."):
        raise ConfigError(f"reminder kind {kind!r} is not a template name")
    folder = Path(templates).resolve()
    env = _environment(folder)
    data = dict(context)
    subject = _render_one(env, folder, f"{kind}.subject.txt", data)
    text = _render_one(env, folder, f"{kind}.txt", data)
    data["text_blocks"] = _text_blocks(env, folder, f"{kind}.txt", data)
    html = _render_one(env, folder, f"{kind}.html", data)
    return Rendered(subject=" ".join(subject.split()), text=text, html=html)
