"""Render an agreement as the Zielvereinbarung document, in the ministry's own wording.

The templates are ``agreement.txt`` and ``agreement.html`` in the templates folder
(``notifications/``). Rendering and importing are inverse: importing the rendered text yields
exactly the data it was rendered from (tested with Hypothesis).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from aqb_workflow.domain.formats import format_date_de
from aqb_workflow.domain.model import CATEGORIES, Agreement
from aqb_workflow.domain.registry import Gebietskoerperschaft, Registry
from aqb_workflow.errors import ConfigError

#: The ministry was renamed on 18 January 2024.
_MINISTRY_NOW = (
    "Hessische Ministerium für Arbeit, Integration, Jugend und Soziales",
    ("Hessisches Ministerium", "für Arbeit, Integration,", "Jugend und Soziales"),
)
_MINISTRY_BEFORE_2024 = (
    "Hessische Ministerium für Soziales und Integration",
    ("Hessisches Ministerium", "für Soziales und Integration"),
)


@dataclass(frozen=True)
class SignatureData:
    place: str
    on: date
    by: str
    office: str | None = None


@dataclass
class DocumentData:
    """What the document says: the agreement's data, as the importer returns it."""

    year: int
    district: str
    budget_cents: int
    measures: list[tuple[str, str]] = field(default_factory=list)
    ministry_signature: SignatureData | None = None
    district_signature: SignatureData | None = None
    received_on: date | None = None
    labour_market_budget_cents: int | None = None


def euro_text(cents: int) -> str:
    """126680000 -> ``1.266.800 Euro``; cents only when there are any."""
    euros, rest = divmod(cents, 100)
    text = f"{euros:,}".replace(",", ".")
    return f"{text},{rest:02d} Euro" if rest else f"{text} Euro"


def short_date(day: date) -> str:
    """date(2024, 7, 1) -> ``1.7.2024``, as the signature lines are written."""
    return f"{day.day}.{day.month}.{day.year}"


def from_agreement(agreement: Agreement, imported: dict[str, Any] | None = None) -> DocumentData:
    """The document data of a stored agreement; offices and the Arbeitsmarktbudget come from
    its ``imported`` event when there is one (the workflow does not store them)."""
    fields = agreement.fields
    provenance = (imported or {}).get("provenance") or []

    def office(side: str) -> str | None:
        for entry in provenance:
            if isinstance(entry, dict) and entry.get("field") == side:
                value = entry.get("office")
                return value if isinstance(value, str) else None
        return None

    ministry = None
    if fields.get("ministry_signed_on"):
        ministry = SignatureData(
            place=str(fields.get("ministry_signed_place") or "Wiesbaden"),
            on=date.fromisoformat(str(fields["ministry_signed_on"])),
            by=str(fields.get("ministry_signed_by") or ""),
            office=office("ministry_signature"),
        )
    district = None
    if fields.get("district_signed_on"):
        district = SignatureData(
            place=str(fields.get("district_signed_place") or ""),
            on=date.fromisoformat(str(fields["district_signed_on"])),
            by=str(fields.get("district_signed_by") or ""),
            office=office("district_signature"),
        )
    received = fields.get("received_on")
    labour = (imported or {}).get("labour_market_budget_cents")
    return DocumentData(
        year=agreement.year,
        district=agreement.district,
        budget_cents=agreement.budget_cents,
        measures=[(m.category, m.title) for m in agreement.measures],
        ministry_signature=ministry,
        district_signature=district,
        received_on=date.fromisoformat(str(received)) if received else None,
        labour_market_budget_cents=labour if isinstance(labour, int) else None,
    )


def imported_payload(conn: Any, key: str) -> dict[str, Any] | None:
    """The payload of the agreement's last ``imported`` audit event, if any."""
    from sqlalchemy import select

    from aqb_workflow.store import tables as t

    row = conn.execute(
        select(t.audit_event.c.payload)
        .where(t.audit_event.c.agreement == key, t.audit_event.c.event == "imported")
        .order_by(t.audit_event.c.seq.desc())
    ).first()
    if row is None:
        return None
    value = json.loads(row[0])
    return value if isinstance(value, dict) else None


def _nominative(entry: Gebietskoerperschaft) -> str:
    """``dem Landkreis Gießen`` -> ``der Landkreis Gießen``; ``der Stadt …`` -> ``die Stadt …``."""
    article, _, rest = entry.dative.partition(" ")
    return {"dem": "der", "der": "die"}.get(article, article) + " " + rest


def context(data: DocumentData, registry: Registry) -> dict[str, Any]:
    entry = registry.by_slug(data.district)
    name, lines = _MINISTRY_NOW if data.year >= 2024 else _MINISTRY_BEFORE_2024
    groups = []
    for category, label in CATEGORIES.items():
        titles = [title for cat, title in data.measures if cat == category]
        if titles:
            groups.append({"category": category, "name": label, "titles": titles})

    def signature(sig: SignatureData | None) -> dict[str, Any] | None:
        if sig is None:
            return None
        return {
            "place": sig.place,
            "date": short_date(sig.on),
            "date_long": format_date_de(sig.on),
            "by": sig.by,
            "office": sig.office,
        }

    nominative = _nominative(entry)
    return {
        "year": data.year,
        "ministry": {
            "nominative": f"Das {name}",
            "dative": f"dem {name.replace('Hessische ', 'Hessischen ', 1)}",
            "genitive": "des "
            + name.replace("Hessische ", "Hessischen ", 1).replace(
                "Ministerium", "Ministeriums", 1
            ),
            "lines": list(lines),
        },
        "district": {
            "name": entry.name,
            "dative": entry.dative,
            "genitive": entry.genitive,
            "nominative": nominative,
            "accusative": nominative.replace("der ", "den ", 1)
            if nominative.startswith("der ")
            else nominative,
            "Nominative": nominative[:1].upper() + nominative[1:],
            "seat": entry.seat,
            "kind": entry.kind,
        },
        "budget": euro_text(data.budget_cents),
        "labour_market_budget": (
            euro_text(data.labour_market_budget_cents)
            if data.labour_market_budget_cents is not None
            else None
        ),
        "groups": groups,
        "ministry_signature": signature(data.ministry_signature),
        "district_signature": signature(data.district_signature),
        "received_on": format_date_de(data.received_on) if data.received_on else None,
    }


def render(data: DocumentData, registry: Registry, templates: Path, fmt: str = "text") -> str:
    """The document as text or HTML, from ``agreement.txt`` / ``agreement.html``."""
    import jinja2

    name = {"text": "agreement.txt", "html": "agreement.html"}[fmt]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(templates), encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    try:
        return env.get_template(name).render(context(data, registry))
    except jinja2.TemplateNotFound:
        raise ConfigError(f"template {Path(templates) / name} not found") from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{exc.filename or name}: line {exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"{Path(templates) / name}: undefined variable: {exc.message}") from None


def document_data(extracted: Any) -> DocumentData:
    """What an imported document says (an ``ExtractedAgreement``), as ``DocumentData``."""

    def signature(sig: Any) -> SignatureData | None:
        if sig is None:
            return None
        return SignatureData(sig.place, sig.on, sig.by, sig.office)

    labour = extracted.labour_market_budget_cents
    return DocumentData(
        year=extracted.year.value,
        district=extracted.district.value,
        budget_cents=extracted.budget_cents.value,
        measures=[(m.category, m.title) for m in extracted.measures],
        ministry_signature=signature(extracted.ministry_signature),
        district_signature=signature(extracted.district_signature),
        received_on=extracted.received_on.value if extracted.received_on else None,
        labour_market_budget_cents=labour.value if labour else None,
    )
