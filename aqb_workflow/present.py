"""How agreements and events look to people: German dates, euros, local times, labels."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from aqb_workflow.domain.audit import AuditRecord
from aqb_workflow.domain.formats import format_date_de, format_datetime_de, format_euro, parse_utc
from aqb_workflow.domain.model import CATEGORIES, Agreement
from aqb_workflow.domain.registry import Registry
from aqb_workflow.domain.workflow import Workflow


def plural(count: int, one: str, many: str) -> str:
    """``1 Vereinbarung``, ``2 Vereinbarungen``, ``0 Vereinbarungen``."""
    return f"{count} {one if count == 1 else many}"


def field_text(workflow: Workflow, name: str, value: Any, zone: ZoneInfo) -> str:
    spec = workflow.field_types.get(name)
    kind = spec.type if spec else None
    if value is None:
        return "-"
    if kind == "date":
        return format_date_de(date.fromisoformat(value))
    if kind == "datetime":
        return format_datetime_de(parse_utc(value), zone)
    if kind == "amount" or name.endswith("_cents"):
        return format_euro(int(value))
    return str(value)


def local_time(stored: str, zone: ZoneInfo) -> str:
    return parse_utc(stored).astimezone(zone).strftime("%d.%m.%Y %H:%M")


def local_datetime(stored: str, zone: ZoneInfo) -> str:
    """The stored UTC form -> ``1. Juli 2024, 10:00 Uhr`` in local time."""
    return format_datetime_de(parse_utc(stored), zone)


def agreement_json(agreement: Agreement, workflow: Workflow, registry: Registry) -> dict[str, Any]:
    entry = registry.by_slug(agreement.district)
    return {
        "key": agreement.key,
        "year": agreement.year,
        "district": {"slug": entry.slug, "ags": entry.ags, "name": entry.name},
        "budget_cents": agreement.budget_cents,
        "state": agreement.state,
        "state_label": workflow.label(agreement.state),
        "version": agreement.version,
        "fields": agreement.fields,
        "measures": [
            {"id": m.id, "category": m.category, "title": m.title} for m in agreement.measures
        ],
        "allowed_triggers": workflow.allowed(agreement.state),
    }


def agreement_text(
    agreement: Agreement, workflow: Workflow, registry: Registry, zone: ZoneInfo
) -> str:
    entry = registry.by_slug(agreement.district)
    lines = [
        f"Zielvereinbarung {agreement.year} – {entry.name} ({agreement.key})",
        f"  {'Haushaltsmittel:':<28}{format_euro(agreement.budget_cents)}",
        f"  {'Stand:':<28}{workflow.label(agreement.state)} [{agreement.state}], "
        f"Version {agreement.version}",
    ]
    for name, spec in workflow.field_types.items():
        if name in agreement.fields:
            value = field_text(workflow, name, agreement.fields[name], zone)
            lines.append(f"  {spec.label + ':':<28}{value}  [{name}]")
    lines.append("  Maßnahmen (§ 5):")
    if not agreement.measures:
        lines.append("    (keine)")
    for category, title in CATEGORIES.items():
        measures = [m for m in agreement.measures if m.category == category]
        if measures:
            lines.append(f"    {title} [{category}]")
            lines += [f"      #{m.id}  {m.title}" for m in measures]
    allowed = [f"{workflow.triggers[t].label} ({t})" for t in workflow.allowed(agreement.state)]
    lines.append(f"  Nächste Schritte: {', '.join(allowed) if allowed else '– (abgeschlossen)'}")
    return "\n".join(lines)


REMINDER_STATUS = {
    "pending": "geplant",
    "sending": "wird gesendet",
    "sent": "gesendet",
    "failed": "fehlgeschlagen",
    "cancelled": "abgesagt",
}
EVENT_LABELS = {
    "created": "Angelegt",
    "edited": "Geändert",
    "amended": "Geändert (Änderung nach § 6)",
    "measure_added": "Maßnahme hinzugefügt",
    "measure_removed": "Maßnahme entfernt",
    "imported": "Aus dem unterzeichneten Dokument importiert",
    "contact_added": "Kontakt hinzugefügt",
    "contact_removed": "Kontakt entfernt",
    "reminder_sent": "Erinnerung versandt",
    "reminder_failed": "Erinnerung fehlgeschlagen",
    "reminder_retried": "Erinnerung erneut eingeplant",
}
ROLE_LABELS = {
    "ministry": "Ministerium",
    "rp_kassel": "RP Kassel",
    "admin": "Administration",
    "viewer": "nur Lesen",
    "system": "Versanddienst",
}
#: Labels of what events record beside the workflow's own fields.
PAYLOAD_LABELS = {
    "budget_cents": "Haushaltsmittel",
    "district": "Gebietskörperschaft",
    "year": "Jahr",
    "deviation_cents": "Abweichung vom Budget",
    "labour_market_budget_cents": "Arbeitsmarktbudget",
    "changes": "Änderungen",
    "reminders": "Erinnerungen",
    "planned": "geplant",
    "cancelled": "abgesagt",
    "reminder": "Erinnerung",
    "kind": "Art",
    "attempt": "Versuch",
    "to": "an",
    "message_id": "Message-ID",
    "late": "verspätet",
    "error": "Fehler",
    "last_error": "letzter Fehler",
    "escalation": "Meldung an das Referat",
    "category": "Maßnahmenart",
    "title": "Titel",
    "id": "Nr.",
    "file": "Datei",
    "sha256": "SHA-256",
    "provenance": "Fundstellen",
    "name": "Name",
    "email": "E-Mail",
    "role": "Rolle",
    "measure_added": "Maßnahme",
    "measure_removed": "Maßnahme",
    "contact": "Kontakt",
}


def event_label(workflow: Workflow, event: str) -> str:
    """``sign_district`` -> ``Gegenzeichnung der Gebietskörperschaft erfassen [sign_district]``."""
    trigger = workflow.triggers.get(event)
    if trigger is not None:
        return f"{trigger.label} [{event}]"
    return EVENT_LABELS.get(event, event)


def actor_text(actor: str, role: str) -> str:
    """``root on behalf of giessen`` (as audited) -> ``giessen (Gebietskörperschaft giessen),
    durch root``."""
    name, sep, by = actor.partition(" on behalf of ")
    if sep:
        name, by = by, name
    kind, _, district = role.partition(":")
    label = f"Gebietskörperschaft {district}" if kind == "district" else ROLE_LABELS.get(role, role)
    return f"{name} ({label})" + (f", durch {by}" if sep else "")


def state_text(workflow: Workflow, from_state: str | None, to_state: str | None) -> str:
    def label(state: str | None) -> str:
        return workflow.label(state) if state and state in workflow.states else (state or "–")

    if from_state == to_state:
        return f"Stand: {label(to_state)}"
    if from_state is None:
        return f"neu: {label(to_state)}"
    return f"{label(from_state)} → {label(to_state)}"


def event_summary(
    record: AuditRecord, payload: dict[str, Any], workflow: Workflow, zone: ZoneInfo
) -> str:
    """One line of what an event recorded, in the forms people read: German labels, euros,
    dates as ``1. Juli 2024``, local times; never a Python repr or a JSON string."""
    trigger = workflow.triggers.get(record.event)
    parts = []
    for name, value in payload.items():
        spec = trigger.fields.get(name) if trigger else None
        store = spec.store if spec else name
        label = spec.label if spec else _label(workflow, name)
        parts.append(f"{label}: {_nested_text(workflow, store, value, zone)}")
    if record.comment:
        reason = record.event in ("amended", "withdraw", "measure_removed", "reminder_retried")
        parts.append(f"{'Begründung' if reason else 'Vermerk'}: {record.comment}")
    return "; ".join(parts)


def _kept(text: str) -> str:
    """A short value (a date, an amount, a time) kept on one line when a table wraps."""
    return text.replace(" ", "\u00a0") if len(text) <= 28 else text


def _label(workflow: Workflow, name: str) -> str:
    spec = workflow.field_types.get(name)
    if spec is not None:
        return spec.label
    return PAYLOAD_LABELS.get(name, name)


def _nested_text(workflow: Workflow, name: str, value: Any, zone: ZoneInfo) -> str:
    if isinstance(value, dict):
        if set(value) == {"old", "new"}:
            old = _nested_text(workflow, name, value["old"], zone)
            return f"{old} → {_nested_text(workflow, name, value['new'], zone)}"
        inner = (
            f"{_label(workflow, k)}: {_nested_text(workflow, k, v, zone)}" for k, v in value.items()
        )
        return ", ".join(inner)
    if isinstance(value, list):
        if name == "provenance":
            return plural(len(value), "Angabe", "Angaben") + " mit ihren Zeilen im Dokument"
        if name in ("planned", "cancelled"):
            return "Nr. " + ", ".join(str(v) for v in value)
        return ", ".join(_nested_text(workflow, name, v, zone) for v in value)
    return _value_text(workflow, name, value, zone)


def _value_text(workflow: Workflow, name: str, value: Any, zone: ZoneInfo) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if name == "sha256" and isinstance(value, str):
        return value[:12] + "…"
    if name == "district" and isinstance(value, str):
        return value
    try:
        return _kept(field_text(workflow, name, value, zone))
    except (ValueError, TypeError):
        return str(value)
