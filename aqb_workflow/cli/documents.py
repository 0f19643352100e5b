"""Agreement documents: import the signed text or PDF, render it, open a new budget year."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from aqb_workflow.documents.import_ import ExtractedAgreement

from aqb_workflow.cli._common import (
    actor,
    actor_option,
    checked_app,
    emit_json,
    json_option,
    refusals_logged,
)


def _read(path: str) -> bytes:
    """The file's bytes; a missing, unreadable or oversized file is one line, exit 2."""
    import os

    from aqb_workflow.documents.import_ import MAX_BYTES
    from aqb_workflow.errors import BadInput

    try:
        size = os.stat(path).st_size
        if os.path.isdir(path):
            raise BadInput(f"{path}: is a folder, not a file")
        if size > MAX_BYTES:
            raise BadInput(f"{path}: {size} bytes is over the limit of {MAX_BYTES} bytes (10 MB)")
        with open(path, "rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except PermissionError:
        raise BadInput(f"{path}: not readable (permission denied)") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read ({exc.strerror})") from None


def _lines(nos: list[int]) -> str:
    if not nos:
        return ""
    return f"line {nos[0]}" if len(nos) == 1 else "lines " + ", ".join(map(str, nos))


def describe(extracted: ExtractedAgreement, district_name: str) -> list[str]:
    """The dry-run report: each field with its value and the lines it came from."""
    from aqb_workflow.domain.formats import format_euro
    from aqb_workflow.domain.model import CATEGORIES

    data = extracted.to_json()
    out = [
        f"year: {data['year']['value']} ({_lines(data['year']['lines'])})",
        f"district: {data['district']['value']} ({district_name}; "
        f"{data['district']['text']!r}, {_lines(data['district']['lines'])})",
        f"budget: {format_euro(data['budget_cents']['value'])} "
        f"({data['budget_cents']['text']!r}, {_lines(data['budget_cents']['lines'])})",
    ]
    second = data["labour_market_budget_cents"]
    if second:
        out.append(
            f"Arbeitsmarktbudget: {format_euro(second['value'])} "
            f"({second['text']!r}, {_lines(second['lines'])})"
        )
    if data["ministry_name"]:
        out.append(
            f"ministry: {data['ministry_name']['value']} ({_lines(data['ministry_name']['lines'])})"
        )
    out.append(f"measures: {len(data['measures'])}")
    for category in CATEGORIES:
        for m in data["measures"]:
            if m["category"] == category:
                out.append(f"  {category}: {m['title']} ({_lines(m['lines'])})")
    for side in ("ministry_signature", "district_signature"):
        sig = data[side]
        label = side.replace("_", " ")
        if sig is None:
            out.append(f"{label}: none")
        else:
            office = f", {sig['office']}" if sig["office"] else ""
            out.append(
                f"{label}: {sig['on']} {sig['place']}, {sig['by']}{office} ({_lines(sig['lines'])})"
            )
    received = data["received_on"]
    out.append(
        f"received_on: {received['value']} ({_lines(received['lines'])})"
        if received
        else "received_on: none (no receipt stamp)"
    )
    return out


@click.command(
    "import",
    epilog="Example: aqb import zielvereinbarung-2024-landkreis-giessen.txt --dry-run",
)
@click.argument("file", metavar="FILE")
@click.option("--dry-run", is_flag=True, help="Show what was read, field by field; write nothing.")
@json_option
@actor_option
def import_(file: str, dry_run: bool, as_json: bool, actor_name: str | None) -> None:
    """Import a signed Zielvereinbarung (text or PDF with a text layer) as an agreement."""
    from pathlib import Path

    from aqb_workflow.documents import importer
    from aqb_workflow.documents.import_ import document_text, parse_agreement
    from aqb_workflow.domain.model import agreement_key
    from aqb_workflow.present import plural

    data = _read(file)
    name = Path(file).name
    text = document_text(data, name)
    application = checked_app()
    extracted = parse_agreement(text, application.registry)
    digest = importer.sha256(data)
    who = actor(application, actor_name)
    key = agreement_key(extracted.year.value, extracted.district.value)
    with refusals_logged(application, who, f"import {name}"):
        if dry_run:
            state = importer.check(application, who, extracted, digest)
        else:
            key, state = importer.import_agreement(application, who, extracted, digest, name)
    if as_json:
        emit_json(
            {
                "key": key,
                "state": state,
                "sha256": digest,
                "dry_run": dry_run,
                "fields": extracted.to_json(),
            }
        )
        return
    if dry_run:
        district = application.registry.by_slug(extracted.district.value).name
        for line in describe(extracted, district):
            click.echo(line)
        click.echo(f"would create {key} in state {state} (dry run: nothing written)")
        return
    label = application.workflow.label(state)
    click.echo(
        f"imported {key}: {plural(len(extracted.measures), 'measure', 'measures')}, "
        f"state {state} ({label}), "
        f"sha256 {digest[:12]}"
    )


@click.command(epilog="Example: aqb render 2024-giessen --format pdf -o 2024-giessen.pdf")
@click.argument("key")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "pdf"]),
    default="text",
    show_default=True,
    help="Plain text or PDF (both importable again), or HTML. PDF needs -o FILE.",
)
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of the terminal.")
def render(key: str, fmt: str, output: str | None) -> None:
    """Render an agreement as the Zielvereinbarung document, in the ministry's wording."""
    from aqb_workflow import services
    from aqb_workflow.documents.render import from_agreement, imported_payload
    from aqb_workflow.documents.render import render as render_document
    from aqb_workflow.errors import BadInput

    if fmt == "pdf" and output is None:
        raise BadInput("--format pdf needs -o FILE")
    application = checked_app()
    who = actor(application)
    agreement = services.current(application, key)
    with refusals_logged(application, who, f"render {key}"):
        services.may_see(who, agreement)
    with application.db.read() as conn:
        imported = imported_payload(conn, key)
    text = render_document(
        from_agreement(agreement, imported),
        application.registry,
        application.settings.templates,
        "text" if fmt == "pdf" else fmt,
    )
    if output is None:
        click.echo(text, nl=False)
        return
    if fmt == "pdf":
        from aqb_workflow.documents.pdf import text_pdf

        data = text_pdf(text, title=f"Zielvereinbarung {agreement.key}")
    else:
        data = text.encode("utf-8")
    try:
        with open(output, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise BadInput(f"{output}: cannot be written ({exc.strerror})") from None
    click.echo(f"wrote {output} ({fmt})")


@click.group(epilog="Example: aqb year open 2025 --from 2024 --budgets budgets-2025.csv")
def year() -> None:
    """Budget years: open a new year for all Gebietskörperschaften."""


@year.command("open", epilog="Example: aqb year open 2025 --from 2024 --budgets budgets-2025.csv")
@click.argument("budget_year", metavar="YEAR", type=int)
@click.option(
    "--from", "from_year", type=int, help="Copy measures (and budgets) of this year [YEAR - 1]."
)
@click.option(
    "--budgets",
    "budgets_file",
    metavar="FILE.csv",
    help="AGS or slug, amount (1.266.800,00 or 1266800) per line; others keep last year's.",
)
@json_option
@actor_option
def open_(
    budget_year: int,
    from_year: int | None,
    budgets_file: str | None,
    as_json: bool,
    actor_name: str | None,
) -> None:
    """Create a drafted agreement for every Gebietskörperschaft without one, in one go."""
    import sys

    from aqb_workflow.documents.year import open_year, read_budgets
    from aqb_workflow.domain.formats import format_euro
    from aqb_workflow.errors import BadInput
    from aqb_workflow.present import plural

    application = checked_app()
    budgets = None
    if budgets_file is not None:
        data = _read(budgets_file)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadInput(f"{budgets_file}: not UTF-8 text") from None
        if "\x00" in text:
            raise BadInput(f"{budgets_file}: a binary file, not a CSV")
        budgets = read_budgets(text, application.registry, budget_year, budgets_file)
    who = actor(application, actor_name)

    def run(entries: list[Any]) -> Iterator[Any]:
        """A progress bar on a terminal; nothing in a pipe or a log."""
        if not sys.stderr.isatty():
            yield from entries
            return
        with click.progressbar(entries, label=f"opening {budget_year}", file=sys.stderr) as bar:
            yield from bar

    with refusals_logged(application, who, f"year open {budget_year}"):
        opened = open_year(application, who, budget_year, from_year, budgets, run)
    if as_json:
        emit_json({"created": opened.created, "skipped": opened.skipped})
        return
    for item in opened.created:
        click.echo(
            f"created {item['key']}: {format_euro(item['budget_cents'])} "
            f"(from {item['budget_from']}), " + plural(item["measures"], "measure", "measures")
        )
    for item in opened.skipped:
        click.echo(f"skipped {item['key']}: {item['reason']}")
    click.echo(f"{len(opened.created)} created, {len(opened.skipped)} skipped")


COMMANDS = [import_, render, year]
