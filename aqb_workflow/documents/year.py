"""Open a budget year: a drafted agreement for every Gebietskörperschaft that has none yet.

One transaction for all of them (all or nothing), idempotent (what exists is skipped). Each
agreement is written by ``services.write_new``, the one way any agreement is made (``created``
event, reminders planned), with the previous year's measures, one ``measure_added`` event each,
so the audit log reads as if staff had typed them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from aqb_workflow.bootstrap import App
from aqb_workflow.domain.formats import parse_amount_cents
from aqb_workflow.domain.model import Actor, agreement_key
from aqb_workflow.domain.registry import Gebietskoerperschaft, Registry
from aqb_workflow.errors import BadInput, Forbidden
from aqb_workflow.store.unit_of_work import UnitOfWork, load_agreement

T = TypeVar("T")


@dataclass
class Opened:
    created: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)


def read_budgets(text: str, registry: Registry, year: int, source: str) -> dict[str, int]:
    """``AGS or slug;amount`` per line (``;``, tab or ``,`` separated; a header is allowed)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise BadInput(f"{source}: the file is empty")
    first = lines[0]
    delimiter = ";" if ";" in first else "\t" if "\t" in first else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    budgets: dict[str, int] = {}
    seen_at: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if number == 1 and _is_header(cells, registry):
            continue  # a header such as "district;budget"
        cells = [c for c in cells if c] if len(cells) > 2 else cells
        if len(cells) != 2:
            hint = (
                "; with ',' between the columns write amounts without a decimal comma "
                "(1.266.800) or separate the columns with ';'"
                if delimiter == ","
                else ""
            )
            raise BadInput(
                f"{source}: line {number}: expected two columns (AGS or slug, amount), "
                f"got {len(cells)}{hint}"
            )
        try:
            entry = registry.find(cells[0])
        except BadInput as exc:
            raise BadInput(f"{source}: line {number}: {exc}") from None
        if not entry.valid_in(year):
            raise BadInput(f"{source}: line {number}: {entry.name} has no AQB agreement in {year}")
        cents = parse_amount_cents(cells[1], f"{source}: line {number}: amount")
        if cents <= 0:
            raise BadInput(f"{source}: line {number}: amount: must be positive")
        if entry.slug in budgets:
            raise BadInput(
                f"{source}: line {number}: {entry.name} appears twice (also line "
                f"{seen_at[entry.slug]})"
            )
        budgets[entry.slug] = cents
        seen_at[entry.slug] = number
    return budgets


def _is_header(cells: list[str], registry: Registry) -> bool:
    """A first line that names no district and no amount: column names, not data (a line
    naming a district is data, and a bad amount on it is refused, never skipped)."""
    if len(cells) < 2 or any(ch.isdigit() for ch in cells[1]):
        return False
    try:
        registry.find(cells[0])
    except BadInput:
        return True
    return False


def _each(items: list[T]) -> Iterable[T]:
    return items


def open_year(
    app: App,
    actor: Actor,
    year: int,
    from_year: int | None = None,
    budgets: dict[str, int] | None = None,
    progress: Callable[[list[Gebietskoerperschaft]], Iterable[Gebietskoerperschaft]] = _each,
) -> Opened:
    """Create the year's drafted agreements in one transaction; report created and skipped."""
    if not 2000 <= year <= 2100:
        raise BadInput(f"year: {year} is not a budget year")
    source_year = year - 1 if from_year is None else from_year
    if source_year == year:
        raise BadInput("--from must name another year than the one to open")
    role = actor.role_for(("ministry",), None)
    if role is None:
        raise Forbidden(
            f"{actor.name} (roles: {', '.join(actor.roles) or 'none'}) may not open a budget "
            "year; allowed: ministry"
        )
    budgets = budgets or {}
    result = Opened()
    now = app.clock.now()
    with UnitOfWork(app.db, app.anchor) as uow:
        for entry in progress(list(app.registry)):
            outcome = _open_one(app, uow, actor, entry, year, source_year, budgets, now)
            (result.created if "budget_cents" in outcome else result.skipped).append(outcome)
        uow.commit()
    return result


def _open_one(
    app: App,
    uow: UnitOfWork,
    actor: Actor,
    entry: Gebietskoerperschaft,
    year: int,
    source_year: int,
    budgets: dict[str, int],
    now: datetime,
) -> dict[str, Any]:
    """One district's new agreement (created as ``aqb create`` creates one, with last year's
    measures), or why it was skipped."""
    from aqb_workflow.services import NewAgreement, write_new

    key = agreement_key(year, entry.slug)
    if not entry.valid_in(year):
        return {"district": entry.slug, "key": key, "reason": "no AQB agreement that year"}
    if uow.exists(key):
        return {"district": entry.slug, "key": key, "reason": "exists"}
    previous_key = agreement_key(source_year, entry.slug)
    previous = load_agreement(uow.conn, previous_key) if uow.exists(previous_key) else None
    if entry.slug in budgets:
        cents, origin = budgets[entry.slug], "csv"
    elif previous is not None:
        cents, origin = previous.budget_cents, previous_key
    else:
        reason = f"no budget (not in the CSV, no {previous_key})"
        return {"district": entry.slug, "key": key, "reason": reason}
    measures = [(m.category, m.title) for m in previous.measures] if previous else []
    new = NewAgreement(
        entry.slug,
        year,
        cents,
        measures,
        {"opened_from": previous_key if previous else None, "budget_from": origin},
        f"copied from {previous_key}",
    )
    write_new(app, uow, actor, new, now)
    return {
        "district": entry.slug,
        "key": key,
        "budget_cents": cents,
        "budget_from": origin,
        "measures": len(measures),
    }
