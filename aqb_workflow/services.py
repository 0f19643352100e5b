"""The use cases: load, decide (in the domain), write, audit, commit — one transaction each.

Every agreement, however it is made (``aqb create``, ``aqb import``, ``aqb year open``), is
written by ``write_new``; every later change by ``record``, which saves the projection, plans
its reminders and appends its audit event together and returns the agreement as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from aqb_workflow.bootstrap import App
from aqb_workflow.domain.formats import format_utc, parse_amount_cents, parse_utc
from aqb_workflow.domain.model import CATEGORIES, Actor, Agreement, Event, Measure, agreement_key
from aqb_workflow.domain.reminders import plan, watches_changes
from aqb_workflow.domain.workflow import stored
from aqb_workflow.errors import BadInput, Conflict, Forbidden, NotFound, Refused
from aqb_workflow.store import outbox
from aqb_workflow.store.unit_of_work import UnitOfWork, load_agreement

CONTACT_ROLES = {
    "district": "Ansprechperson der Gebietskörperschaft",
    "participant": "Teilnehmende der Umsetzungsbesprechung",
    "ministry_desk": "AQB-Referat im Ministerium",
    "rp_kassel": "Regierungspräsidium Kassel, Dezernat 57",
}
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _require(actor: Actor, roles: tuple[str, ...], what: str, district: str | None) -> str:
    role = actor.role_for(roles, district)
    if role is None:
        raise Forbidden(
            f"{actor.name} (roles: {', '.join(actor.roles) or 'none'}) may not {what}; "
            f"allowed: {', '.join(roles)}"
        )
    return role


def positive_cents(raw: str, what: str) -> int:
    """An amount as typed (``1.266.800,00``), in cents; zero and negative are refused."""
    cents = parse_amount_cents(raw, what)
    if cents <= 0:
        raise BadInput(f"{what}: the amount must be positive")
    return cents


def _replan(app: App, uow: UnitOfWork, agreement: Agreement, now: datetime) -> dict[str, list[int]]:
    """Plan the agreement's reminders as it is written now, in the same transaction."""
    sent = (
        [r["identity"] for r in outbox.listing(uow.conn, status=["sent"], agreement=agreement.key)]
        if watches_changes(app.workflow.rules, agreement.state)
        else []
    )
    wanted = plan(
        app.workflow.rules,
        key=agreement.key,
        state=agreement.state,
        year=agreement.year,
        fields=agreement.fields,
        entered_at=parse_utc(agreement.entered_at),
        calendar=app.calendar,
        zone=app.settings.zone,
        send_at=app.settings.send_at,
        now=now,
        sent=sent,
    )
    result = outbox.replan(uow.conn, agreement.key, wanted, now, agreement.version)
    changes = {}
    if result.planned:
        changes["planned"] = result.planned
    if result.cancelled:
        changes["cancelled"] = result.cancelled
    return changes


def record(
    app: App,
    uow: UnitOfWork,
    agreement: Agreement,
    event: Event,
    now: datetime,
    *,
    changes: Mapping[str, Any] | None = None,
    budget_cents: int | None = None,
    measures: list[Measure] | None = None,
    replan: bool = True,
) -> Agreement:
    """The one way a change is written: the projection (version + 1), its reminders and its
    audit event, in ``uow``. Returns the agreement as written."""
    stamp = format_utc(now)
    to_state = event.to_state or agreement.state
    uow.save(
        agreement, stamp, state=to_state, changes=dict(changes or {}), budget_cents=budget_cents
    )
    written = replace(
        agreement,
        state=to_state,
        version=agreement.version + 1,
        fields={**agreement.fields, **(changes or {})},
        budget_cents=agreement.budget_cents if budget_cents is None else budget_cents,
        measures=agreement.measures if measures is None else measures,
        entered_at=stamp if to_state != agreement.state else agreement.entered_at,
    )
    if replan:
        reminders = _replan(app, uow, written, now)
        if reminders:
            event = replace(event, payload={**event.payload, "reminders": reminders})
    uow.append(event)
    return written


# -- making an agreement ----------------------------------------------------------------------


@dataclass(frozen=True)
class NewAgreement:
    """What any way of making an agreement knows about it before it exists."""

    district: str  # official name, slug or AGS
    year: int
    budget_cents: int
    measures: Sequence[tuple[str, str]] = ()  # (category, title), in order
    facts: Mapping[str, Any] = field(default_factory=dict)  # more for the created event
    measures_comment: str | None = None  # e.g. where copied measures came from


def check_measure(category: str, title: str) -> str:
    """The measure's title, normalised; refuses an unknown category or an empty title."""
    if category not in CATEGORIES:
        raise BadInput(f"category: {category!r} is not one of {', '.join(CATEGORIES)}")
    title = " ".join(title.split())
    if not title or len(title) > 500:
        raise BadInput("title: give the project's title (at most 500 characters)")
    return title


def write_new(
    app: App, uow: UnitOfWork, actor: Actor, new: NewAgreement, now: datetime
) -> Agreement:
    """A new agreement inside ``uow``, checked the same way however it is made: its row, its
    planned reminders, its ``created`` event, then one ``measure_added`` event per measure.
    Returns the agreement as written."""
    entry = app.registry.find(new.district)
    if not 2000 <= new.year <= 2100:
        raise BadInput(f"year: {new.year} is not a budget year")
    if not entry.valid_in(new.year):
        raise BadInput(f"{entry.name} has no AQB agreement in {new.year} (registry)")
    if new.budget_cents <= 0:
        raise BadInput("budget: the amount must be positive")
    titles = [(category, check_measure(category, title)) for category, title in new.measures]
    role = _require(actor, ("ministry",), "create agreements", entry.slug)
    stamp = format_utc(now)
    agreement = Agreement(
        key=agreement_key(new.year, entry.slug),
        year=new.year,
        district=entry.slug,
        budget_cents=new.budget_cents,
        state=app.workflow.initial,
        version=1,
        entered_at=stamp,
    )
    if uow.exists(agreement.key):
        raise Conflict(f"agreement {agreement.key} exists already")
    uow.add(agreement, stamp)
    payload: dict[str, Any] = {
        "year": new.year,
        "district": entry.slug,
        "budget_cents": new.budget_cents,
        **new.facts,
    }
    reminders = _replan(app, uow, agreement, now)
    if reminders:
        payload["reminders"] = reminders
    uow.append(
        Event(
            agreement.key, "created", actor.display, role, now, None, agreement.state, None, payload
        )
    )
    for category, title in titles:
        agreement = _add_measure(
            app,
            uow,
            agreement,
            actor,
            role,
            "measure_added",
            now,
            category,
            title,
            new.measures_comment,
        )
    return agreement


def create(app: App, actor: Actor, district: str, year: int, budget: str) -> str:
    new = NewAgreement(district, year, positive_cents(budget, "budget"))
    with UnitOfWork(app.db, app.anchor) as uow:
        agreement = write_new(app, uow, actor, new, app.clock.now())
        uow.commit()
    return agreement.key


# -- firing a trigger -------------------------------------------------------------------------


@dataclass(frozen=True)
class Fired:
    key: str
    trigger: str
    from_state: str
    to_state: str
    seq: int


def fire_in(
    app: App,
    uow: UnitOfWork,
    actor: Actor,
    agreement: Agreement,
    trigger: str,
    fields: Mapping[str, str],
    now: datetime,
    comment: str | None = None,
) -> Agreement:
    """Decide a trigger in the domain and write it in ``uow``; the agreement as written."""
    changes, event = app.workflow.fire(
        agreement,
        trigger,
        fields,
        actor,
        today=now.astimezone(app.settings.zone).date(),
        now=now,
        zone=app.settings.zone,
        comment=comment,
    )
    return record(app, uow, agreement, event, now, changes=changes)


def fire(
    app: App,
    actor: Actor,
    key: str,
    trigger: str,
    fields: Mapping[str, str],
    *,
    comment: str | None = None,
    expected_version: int | None = None,
) -> Fired:
    """Fire a trigger: fields, state, version + 1 and the audit event in one transaction."""
    now = app.clock.now()
    with UnitOfWork(app.db, app.anchor) as uow:
        agreement = uow.get(key, measures=False)
        if expected_version is not None and agreement.version != expected_version:
            raise Conflict(
                f"{key} changed concurrently, now in state {agreement.state} "
                f"({app.workflow.label(agreement.state)}); allowed now: "
                + (", ".join(app.workflow.allowed(agreement.state)) or "nothing")
            )
        written = fire_in(app, uow, actor, agreement, trigger, fields, now, comment)
        uow.commit()
    return Fired(key, trigger, agreement.state, written.state, uow.records[-1].seq)


def _amendable(
    app: App, agreement: Agreement, reason: str | None, drafted_name: str, free: bool = False
) -> str:
    """The event name for a change: a free edit while drafted, an amendment (§ 6) after."""
    if app.workflow.is_final(agreement.state):
        raise Refused(
            f"{agreement.key} is {agreement.state} ({app.workflow.label(agreement.state)}); "
            "it can no longer be changed"
        )
    if agreement.state == app.workflow.initial or free:
        return drafted_name
    if not reason or not reason.strip():
        raise BadInput(
            f"{agreement.key} is signed ({agreement.state}); a change is an amendment "
            "(§ 6): give --reason"
        )
    return "amended"


# -- changing an agreement --------------------------------------------------------------------


def edit(
    app: App, actor: Actor, key: str, assignments: Mapping[str, str], reason: str | None
) -> dict[str, dict[str, Any]]:
    """Change recorded values: each typed and checked as its trigger checks it, and the guards
    of every step the agreement has been through run again on the result."""
    if not assignments:
        raise BadInput(
            "edit needs FIELD=VALUE; fields: budget, " + ", ".join(app.workflow.field_types)
        )
    now = app.clock.now()
    with UnitOfWork(app.db, app.anchor) as uow:
        agreement = uow.get(key)
        role = _require(actor, ("ministry",), f"edit {key}", agreement.district)
        bookkeeping = all(
            name in app.workflow.field_types and not app.workflow.field_types[name].amendment
            for name in assignments
        )
        event_name = _amendable(app, agreement, reason, "edited", bookkeeping)
        changes, budget, diff = _edited_values(app, agreement, assignments, now)
        after = replace(
            agreement,
            fields={**agreement.fields, **changes},
            budget_cents=agreement.budget_cents if budget is None else budget,
        )
        app.workflow.check_edit(agreement, after, app.settings.zone)
        event = _in_place(agreement, event_name, actor, role, now, reason, {"changes": diff})
        record(app, uow, agreement, event, now, changes=changes, budget_cents=budget)
        uow.commit()
    return diff


def _in_place(
    agreement: Agreement,
    name: str,
    actor: Actor,
    role: str,
    now: datetime,
    reason: str | None,
    payload: dict[str, Any],
) -> Event:
    """The event of a change that leaves the agreement in its state (an edit, a measure)."""
    return Event(
        agreement.key,
        name,
        actor.display,
        role,
        now,
        agreement.state,
        agreement.state,
        reason,
        payload,
    )


def _edited_values(
    app: App, agreement: Agreement, assignments: Mapping[str, str], now: datetime
) -> tuple[dict[str, Any], int | None, dict[str, dict[str, Any]]]:
    """The typed new values (fields, budget) and the old/new diff; nothing changing is refused."""
    today = now.astimezone(app.settings.zone).date()
    changes: dict[str, Any] = {}
    diff: dict[str, dict[str, Any]] = {}
    budget: int | None = None
    for name, raw in assignments.items():
        if name == "budget":
            budget = positive_cents(raw, "budget")
            if budget != agreement.budget_cents:
                diff["budget_cents"] = {"old": agreement.budget_cents, "new": budget}
            continue
        spec = app.workflow.field_types.get(name)
        if spec is None:
            raise BadInput(
                f"unknown field {name!r}; fields: budget, " + ", ".join(app.workflow.field_types)
            )
        app.workflow.check_editable(agreement, name)
        # checked as the trigger checks it, the message naming the field as it was typed
        value = stored(replace(spec, name=name).parse(raw, app.settings.zone, today))
        if agreement.fields.get(name) != value:
            changes[name] = value
            diff[name] = {"old": agreement.fields.get(name), "new": value}
    if not diff:
        raise BadInput(f"{agreement.key}: nothing changes")
    return changes, budget, diff


def _add_measure(
    app: App,
    uow: UnitOfWork,
    agreement: Agreement,
    actor: Actor,
    role: str,
    event_name: str,
    now: datetime,
    category: str,
    title: str,
    reason: str | None,
) -> Agreement:
    """One measure appended to the agreement's list, with its event; the agreement as written."""
    measure_id, position = uow.add_measure(uow.agreement_id(agreement.key), category, title)
    payload = {"measure_added": {"id": measure_id, "category": category, "title": title}}
    event = _in_place(agreement, event_name, actor, role, now, reason, payload)
    measures = [*agreement.measures, Measure(measure_id, category, title, position)]
    return record(app, uow, agreement, event, now, measures=measures, replan=False)


def add_measure(
    app: App, actor: Actor, key: str, category: str, title: str, reason: str | None
) -> int:
    title = check_measure(category, title)
    now = app.clock.now()
    with UnitOfWork(app.db, app.anchor) as uow:
        agreement = uow.get(key)
        role = _require(actor, ("ministry",), f"change the measures of {key}", agreement.district)
        event_name = _amendable(app, agreement, reason, "measure_added")
        written = _add_measure(
            app, uow, agreement, actor, role, event_name, now, category, title, reason
        )
        uow.commit()
    return written.measures[-1].id


def remove_measure(app: App, actor: Actor, key: str, which: str, reason: str | None) -> str:
    now = app.clock.now()
    with UnitOfWork(app.db, app.anchor) as uow:
        agreement = uow.get(key)
        role = _require(actor, ("ministry",), f"change the measures of {key}", agreement.district)
        event_name = _amendable(app, agreement, reason, "measure_removed")
        matches = [m for m in agreement.measures if str(m.id) == which or m.title == which]
        if not matches:
            raise NotFound(f"{key} has no measure {which!r} (aqb show {key} lists them)")
        if len(matches) > 1:
            raise BadInput(f"{key}: {which!r} names several measures; give the id")
        measure = matches[0]
        uow.remove_measure(measure.id)
        payload = {
            "measure_removed": {
                "id": measure.id,
                "category": measure.category,
                "title": measure.title,
            }
        }
        event = _in_place(agreement, event_name, actor, role, now, reason, payload)
        remaining = [m for m in agreement.measures if m.id != measure.id]
        record(app, uow, agreement, event, now, measures=remaining, replan=False)
        uow.commit()
    return measure.title


def add_contact(
    app: App, actor: Actor, district: str | None, role: str, name: str, email: str
) -> int:
    if role not in CONTACT_ROLES:
        raise BadInput(f"role: {role!r} is not one of {', '.join(CONTACT_ROLES)}")
    slug = app.registry.find(district).slug if district else None
    if role == "district" and slug is None:
        raise BadInput("a district contact needs --district")
    if role in ("ministry_desk", "rp_kassel") and slug is not None:
        raise BadInput(f"a {role} contact is global: leave out --district")
    name = " ".join(name.split())
    if not name:
        raise BadInput("name: must not be empty")
    email = email.strip()
    if not _EMAIL.match(email) or len(email) > 320:
        raise BadInput(f"email: {email!r} is not an email address")
    allowed = ("ministry", "district") if slug else ("ministry",)
    acting = _require(actor, allowed, "change contacts", slug)
    now = app.clock.now()
    with UnitOfWork(app.db, app.anchor) as uow:
        contact_id = uow.add_contact(slug, role, name, email)
        uow.append(
            Event(
                None,
                "contact_added",
                actor.display,
                acting,
                now,
                payload={
                    "id": contact_id,
                    "district": slug,
                    "role": role,
                    "name": name,
                    "email": email,
                },
            )
        )
        uow.commit()
    return contact_id


def remove_contact(app: App, actor: Actor, contact_id: int) -> dict[str, Any]:
    now = app.clock.now()
    with UnitOfWork(app.db, app.anchor) as uow:
        contact = uow.contact(contact_id)
        allowed = ("ministry", "district") if contact["district"] else ("ministry",)
        acting = _require(actor, allowed, "change contacts", contact["district"])
        uow.remove_contact(contact_id)
        uow.append(Event(None, "contact_removed", actor.display, acting, now, payload=contact))
        uow.commit()
    return contact


def current(app: App, key: str) -> Agreement:
    with app.db.read() as conn:
        return load_agreement(conn, key)


def retry_reminder(
    app: App,
    actor: Actor,
    reminder_id: int,
    gone: Any = None,
) -> dict[str, Any]:
    """Put a reminder back in the queue, due now, attempts reset; audited.

    Failed ones; pending ones that are due (waiting out a backoff after a temporary failure,
    or not yet tried); and ones in flight whose sender is gone (``gone(row) -> bool``: the
    lease ran out, or the daemon is provably not running). One in flight with a live sender,
    one not yet due, sent or cancelled ones are refused.
    """
    from aqb_workflow.domain.reminders import retry_refusal

    now = app.clock.now()
    with UnitOfWork(app.db, app.anchor) as uow:
        row = outbox.get(uow.conn, reminder_id)
        if row is None:
            raise NotFound(f"no reminder {reminder_id} (aqb reminders list --failed)")
        agreement = load_agreement(uow.conn, row["agreement"], measures=False)
        role = _require(actor, ("ministry",), "retry reminders", agreement.district)
        in_flight = row["status"] == "sending"
        refusal = retry_refusal(
            row, now, sender_gone=bool(in_flight and gone is not None and gone(row))
        )
        if refusal:
            raise Refused(refusal)
        outbox.reopen(uow.conn, reminder_id, now)
        uow.append(
            Event(
                row["agreement"],
                "reminder_retried",
                actor.display,
                role,
                now,
                payload={
                    "reminder": reminder_id,
                    "kind": row["kind"],
                    "status": row["status"],
                    "last_error": row["last_error"],
                },
            )
        )
        uow.commit()
    return row


def may_see(actor: Actor, agreement: Agreement) -> None:
    """District staff see their own district's agreements only."""
    if not actor.may_see(agreement.district):
        raise Forbidden(
            f"{actor.name} (roles: {', '.join(actor.roles) or 'none'}) may not see {agreement.key}"
        )


def visible_district(actor: Actor) -> str | None:
    """None: the actor sees everything; else the one district a district login sees."""
    if any(r in ("admin", "ministry", "rp_kassel", "viewer") for r in actor.roles):
        return None
    districts = [r.split(":", 1)[1] for r in actor.roles if r.startswith("district:")]
    if len(districts) == 1:
        return districts[0]
    raise Forbidden(
        f"{actor.name} has no role in config.toml [users] that may read agreements"
        if not districts
        else f"{actor.name} has several district roles; ask an admin"
    )


def log_refusal(app: App, actor: Actor, action: str, reason: str) -> None:
    """A refused attempt, kept outside the agreements' chain (who tried what, when)."""
    from aqb_workflow.store import refusals

    with UnitOfWork(app.db, app.anchor) as uow:
        refusals.add(
            uow.conn, app.clock.now(), actor.display, ",".join(actor.roles), action, reason
        )
        uow.commit()
