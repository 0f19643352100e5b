"""Import an extracted agreement: create it, add its measures, fire the signatures it proves.

Every step goes through the normal services (so the audit log shows each one, with the
document's dates in the fields), after the whole sequence was first decided in memory: a
document the workflow would refuse half-way (a countersignature dated before the minister's)
is refused before anything is written. The last event, ``imported``, carries the file's
SHA-256 and the provenance of every value.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select

from aqb_workflow.bootstrap import App
from aqb_workflow.documents.import_ import ExtractedAgreement
from aqb_workflow.domain.model import Actor, Agreement, Event, agreement_key
from aqb_workflow.errors import BadInput, Conflict, Forbidden, Refused
from aqb_workflow.store import tables as t
from aqb_workflow.store.unit_of_work import UnitOfWork


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Step:
    trigger: str
    fields: dict[str, str]


def steps(extracted: ExtractedAgreement) -> list[Step]:
    """The transitions the document proves, in order, with the document's values."""
    result: list[Step] = []
    ministry = extracted.ministry_signature
    district = extracted.district_signature
    if extracted.received_on is not None and district is None:
        lines = ", ".join(map(str, extracted.received_on.lines))
        raise BadInput(f"received_on: a receipt stamp (line {lines}) but no district signature")
    if ministry is not None:
        result.append(
            Step(
                "sign_ministry",
                {"on": ministry.on.isoformat(), "by": ministry.by, "place": ministry.place},
            )
        )
    if district is not None:
        fields = {"on": district.on.isoformat(), "by": district.by, "place": district.place}
        if extracted.received_on is not None:
            fields["received_on"] = extracted.received_on.value.isoformat()
        result.append(Step("sign_district", fields))
    return result


def provenance(extracted: ExtractedAgreement) -> list[dict[str, Any]]:
    """Each extracted value with the lines it came from, one entry per field or measure.

    A list (not a mapping of mappings), so that ``aqb history`` shows it as it is.
    """
    entries: list[dict[str, Any]] = []
    for name, value in extracted.to_json().items():
        if name == "measures":
            entries += [{"field": "measure", **m} for m in value]
        elif value is not None:
            entries.append({"field": name, **value})
    return entries


def imported_already(app: App, digest: str) -> str | None:
    """The key of the agreement this document (by SHA-256) was imported into, if any."""
    with app.db.read() as conn:
        rows = conn.execute(
            select(t.audit_event.c.agreement, t.audit_event.c.payload).where(
                t.audit_event.c.event == "imported"
            )
        ).all()
    for agreement, payload in rows:
        try:
            value = json.loads(payload)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("sha256") == digest:
            return str(agreement)
    return None


def check(app: App, actor: Actor, extracted: ExtractedAgreement, digest: str) -> str:
    """Everything that could refuse the import, decided before writing; returns the end state."""
    year = extracted.year.value
    entry = app.registry.by_slug(extracted.district.value)
    if not entry.valid_in(year):
        raise BadInput(f"{entry.name} has no AQB agreement in {year} (registry)")
    key = agreement_key(year, entry.slug)
    earlier = imported_already(app, digest)
    if earlier is not None:
        raise Refused(f"this document (sha256 {digest[:12]}…) was imported already as {earlier}")
    with app.db.read() as conn:
        exists = conn.execute(select(t.agreement.c.id).where(t.agreement.c.key == key)).first()
    if exists is not None:
        raise Conflict(f"agreement {key} exists already")
    if actor.role_for(("ministry",), entry.slug) is None:
        raise Forbidden(
            f"{actor.name} (roles: {', '.join(actor.roles) or 'none'}) may not import "
            "agreements; allowed: ministry"
        )
    agreement = Agreement(
        key=key,
        year=year,
        district=entry.slug,
        budget_cents=extracted.budget_cents.value,
        state=app.workflow.initial,
        version=1,
    )
    now = app.clock.now()
    today = now.astimezone(app.settings.zone).date()
    for step in steps(extracted):
        if step.trigger not in app.workflow.triggers:
            raise BadInput(f"the workflow has no trigger {step.trigger!r} to record the document")
        try:
            changes, event = app.workflow.fire(
                agreement,
                step.trigger,
                step.fields,
                actor,
                today=today,
                now=now,
                zone=app.settings.zone,
            )
        except Forbidden:
            raise
        except Refused as exc:
            raise BadInput(f"document: {step.trigger}: {exc}") from None
        except BadInput as exc:
            raise BadInput(f"document: {step.trigger}: {exc}") from None
        agreement = replace(
            agreement,
            fields={**agreement.fields, **changes},
            state=event.to_state or agreement.state,
        )
    return agreement.state


def import_agreement(
    app: App, actor: Actor, extracted: ExtractedAgreement, digest: str, source: str
) -> tuple[str, str]:
    """Create the agreement the document describes; returns (key, state).

    Written the way every agreement is (``services.write_new``, then ``services.fire_in`` for
    each signature the document proves), all in one transaction: a failure writes nothing.
    """
    from aqb_workflow import services

    check(app, actor, extracted, digest)
    payload: dict[str, Any] = {
        "sha256": digest,
        "file": source,
        "provenance": provenance(extracted),
    }
    if extracted.labour_market_budget_cents is not None:
        payload["labour_market_budget_cents"] = extracted.labour_market_budget_cents.value
    new = services.NewAgreement(
        extracted.district.value,
        extracted.year.value,
        extracted.budget_cents.value,
        [(m.category, m.title) for m in extracted.measures],
    )
    now = app.clock.now()
    with UnitOfWork(app.db, app.anchor) as uow:
        agreement = services.write_new(app, uow, actor, new, now)
        comment = f"from the signed document {source}"
        for step in steps(extracted):
            agreement = services.fire_in(
                app, uow, actor, agreement, step.trigger, step.fields, now, comment
            )
        role = actor.role_for(("ministry",), agreement.district) or "ministry"
        event = Event(
            agreement.key,
            "imported",
            actor.display,
            role,
            now,
            agreement.state,
            agreement.state,
            None,
            payload,
        )
        agreement = services.record(app, uow, agreement, event, now, replan=False)
        uow.commit()
    return agreement.key, agreement.state
