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
    allowed = workflow.allowed(agreement.state)
    lines.append(f"  Nächste Schritte: {', '.join(allowed) if allowed else '– (abgeschlossen)'}")
    return "\n".join(lines)


def event_summary(
    record: AuditRecord, payload: dict[str, Any], workflow: Workflow, zone: ZoneInfo
) -> str:
    """One line of what an event recorded, in the forms people read."""
    trigger = workflow.triggers.get(record.event)
    parts = []
    for name, value in payload.items():
        if isinstance(value, dict):
            inner = ", ".join(
                f"{k}: {_value_text(workflow, k, v, zone)}"
                if not isinstance(v, dict)
                else f"{k}: {_value_text(workflow, k, v.get('old'), zone)} -> "
                f"{_value_text(workflow, k, v.get('new'), zone)}"
                for k, v in value.items()
            )
            parts.append(f"{name}: {inner}")
            continue
        store = trigger.fields[name].store if trigger and name in trigger.fields else name
        parts.append(f"{name}={_value_text(workflow, store, value, zone)}")
    if record.comment:
        parts.append(f"comment: {record.comment}")
    return "; ".join(parts)


def _value_text(workflow: Workflow, name: str, value: Any, zone: ZoneInfo) -> str:
    if value is None or isinstance(value, bool):
        return str(value)
    try:
        return field_text(workflow, name, value, zone)
    except (ValueError, TypeError):
        return str(value)
