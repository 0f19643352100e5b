"""From a reminder row to the message people receive: recipients, context, text, invite."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from sqlalchemy import Connection

from aqb_workflow.bootstrap import App
from aqb_workflow.domain.formats import format_date_de, format_datetime_de, parse_utc
from aqb_workflow.domain.model import Agreement
from aqb_workflow.domain.reminders import Rule, anchor_date, identity_parts, rule_prefix
from aqb_workflow.errors import AqbError
from aqb_workflow.mail.invite import review_invite
from aqb_workflow.mail.message import Outgoing
from aqb_workflow.mail.render import render
from aqb_workflow.scheduler.failures import explain_failure
from aqb_workflow.store import outbox, queries
from aqb_workflow.store.unit_of_work import load_agreement

REVIEW_LENGTH = timedelta(hours=2)

#: What to type once the outstanding step is done; other kinds get the state's next trigger.
COMMANDS = {
    "application_due": "aqb edit {key} application_filed_on=TT.MM.JJJJ",
    "review_upcoming": "aqb transition {key} close held_on=TT.MM.JJJJ outcome=TEXT",
    "review_rescheduled": "aqb transition {key} close held_on=TT.MM.JJJJ outcome=TEXT",
    "review_overdue": "aqb transition {key} close held_on=TT.MM.JJJJ outcome=TEXT",
    "review_cancelled": "aqb history {key}",
    "delivery_failed": "aqb reminders list --failed",
}
_PLACEHOLDERS = {"date": "TT.MM.JJJJ", "datetime": '"TT.MM.JJJJ HH:MM"', "amount": "BETRAG"}

#: Who reads a mail. Staff (the ministry desk) get the ``aqb`` command to run; the others act
#: in the real world and get instructions and whom to ask, never a command.
AUDIENCES = {
    "district": "Ansprechperson der Gebietskörperschaft",
    "rp_kassel": "Regierungspräsidium Kassel, Dezernat 57",
    "participant": "Teilnehmende der Umsetzungsbesprechung",
    "ministry_desk": "AQB-Referat im Ministerium",
}
RP_KASSEL = "Regierungspräsidium Kassel, Dezernat 57 (Förderungen)"


class NoRecipients(AqbError):
    """Nobody to send to: a contact is missing. Permanent until someone adds one."""


def audiences(
    conn: Connection, agreement: Agreement, roles: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """The contacts a reminder goes to, grouped by who reads it (see :data:`AUDIENCES`):
    ``participants`` are the participant contacts (global or the district's own) and the
    district's contacts, who read as participants, and the ministry desk, who reads as staff.
    Each address once, the desk's copy first; groups without anyone are left out."""
    everyone = queries.contacts(conn)
    own = [c for c in everyone if c["district"] == agreement.district]
    desk = [c for c in everyone if c["district"] is None and c["role"] == "ministry_desk"]
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in AUDIENCES}
    for role in roles:
        if role == "district":
            found["district"] += [c for c in own if c["role"] == "district"]
        elif role == "rp_kassel":
            found["rp_kassel"] += [
                c for c in everyone if c["district"] is None and c["role"] == "rp_kassel"
            ]
        elif role == "ministry_desk":
            found["ministry_desk"] += desk
        elif role == "participants":
            found["participant"] += [
                c
                for c in everyone
                if c["role"] == "participant" and c["district"] in (None, agreement.district)
            ]
            found["participant"] += [c for c in own if c["role"] == "district"]
            found["ministry_desk"] += desk
    seen: set[str] = set()
    grouped: dict[str, list[dict[str, Any]]] = {}
    for name in ("ministry_desk", "district", "rp_kassel", "participant"):
        for contact in found[name]:
            if contact["email"].lower() not in seen:
                seen.add(contact["email"].lower())
                grouped.setdefault(name, []).append(contact)
    if not grouped:
        raise NoRecipients(
            f"no contact for {', '.join(roles)} of {agreement.district} "
            "(aqb contact add …, then aqb reminders retry ID)"
        )
    # the outside readers' copy first: it keeps the reminder's own Message-ID
    return {name: grouped[name] for name in sorted(grouped, key=lambda n: n == "ministry_desk")}


def recipients(conn: Connection, agreement: Agreement, roles: list[str]) -> list[dict[str, Any]]:
    """Everyone a reminder goes to, whoever reads which copy."""
    return [c for group in audiences(conn, agreement, roles).values() for c in group]


def _person(contacts: list[dict[str, Any]], role: str) -> dict[str, Any] | None:
    found = next((c for c in contacts if c["district"] is None and c["role"] == role), None)
    return {"name": found["name"], "email": found["email"]} if found else None


def _desk(app: App, contacts: list[dict[str, Any]]) -> dict[str, Any]:
    """Whom outside readers ask: the ministry desk contact, else the sender of the mails."""
    desk = _person(contacts, "ministry_desk")
    if desk is not None:
        return desk
    name, email = parseaddr(app.settings.mail_sender)
    return {"name": name or "das AQB-Referat", "email": email}


def _command(app: App, kind: str, agreement: Agreement, reminder_id: int) -> str:
    if kind in COMMANDS:
        return COMMANDS[kind].format(key=agreement.key, id=reminder_id)
    for name in app.workflow.allowed(agreement.state):
        if name == "withdraw":
            continue
        spec = app.workflow.triggers[name]
        parts = [
            f"{f.name}={_PLACEHOLDERS.get(f.type, _placeholder(f.label, f.name))}"
            for f in spec.fields.values()
            if not f.optional
        ]
        return " ".join(["aqb transition", agreement.key, name, *parts])
    return f"aqb show {agreement.key}"


def _placeholder(label: str, name: str) -> str:
    """``Ort`` -> ``ORT``: what to type, in the words of the field's German label."""
    return label.upper() if label.isalpha() else name.upper()


def _rule(app: App, kind: str) -> Rule | None:
    return next((r for r in app.workflow.rules if r.kind == kind), None)


def _since_and_deadline(
    app: App, rule: Rule | None, agreement: Agreement
) -> tuple[str | None, str | None]:
    if rule is None or rule.on_change:
        return None, None
    entered = parse_utc(agreement.entered_at)
    anchor = anchor_date(rule, agreement.fields, agreement.year, entered, app.settings.zone)
    if anchor is None:
        return None, None
    if rule.deadline:
        return None, format_date_de(app.calendar.deadline_end(anchor))
    if any(o.before for o in rule.offsets):
        return None, None
    return format_date_de(anchor), None


REPLY_WITHIN = timedelta(days=7)
"""How long an outside reader has for what a reminder asks (a Frist: off a day off, § 31)."""


def _reply_by(app: App, rule: Rule | None, agreement: Agreement, due: date) -> date:
    """By when the reader should act: the Frist itself, the working day before the review
    for the review's mails, else a week from the mail (moved off a day off, like a Frist).

    ``due`` is the day the mail goes out (a mail sent late counts from the day it is sent),
    so the date asked for is never already past; nor is a Frist that passed (a week then)."""
    if rule is not None and rule.deadline:
        entered = parse_utc(agreement.entered_at)
        zone = app.settings.zone
        anchor = anchor_date(rule, agreement.fields, agreement.year, entered, zone)
        if anchor is not None and app.calendar.deadline_end(anchor) >= due:
            return app.calendar.deadline_end(anchor)
    review_at = agreement.fields.get("review_at")
    if review_at and rule is not None and rule.anchor == "field:review_at":
        day = parse_utc(review_at).astimezone(app.settings.zone).date()
        before = app.calendar.add_working_days(day, -1)
        if before > due:
            return before
    return app.calendar.deadline_end(due + REPLY_WITHIN)


def _sent_invites(
    app: App, conn: Connection, agreement: Agreement, row: dict[str, Any]
) -> list[dict[str, Any]]:
    """Sent mails with a calendar invitation for the review, oldest first (not this one)."""
    sent = outbox.listing(conn, status=["sent"], agreement=agreement.key)
    sent = [r for r in sent if r["id"] != row["id"] and r["invite"] == "request"]
    return sorted(sent, key=lambda r: (r["finished_at"] or "", r["id"]))


def _review(
    app: App, conn: Connection, agreement: Agreement, row: dict[str, Any]
) -> dict[str, Any] | None:
    value = agreement.fields.get("review_at")
    if not value:
        return None
    zone = app.settings.zone
    invites = _sent_invites(app, conn, agreement, row)
    earlier = [
        anchor for _, anchor in (identity_parts(r["identity"]) for r in invites) if anchor != value
    ]
    previous = None
    if earlier and "T" in earlier[-1]:
        previous = format_datetime_de(parse_utc(earlier[-1]), zone)
    return {
        "at": format_datetime_de(parse_utc(value), zone),
        "location": agreement.fields.get("review_location", ""),
        "cancelled": row["invite"] == "cancel",
        "invited": bool(invites),
        "previous_at": previous,
    }


def context(
    app: App,
    agreement: Agreement,
    row: dict[str, Any],
    late: bool,
    names: list[str],
    *,
    audience: str = "ministry_desk",
    contacts: list[dict[str, Any]] | None = None,
    review: dict[str, Any] | None = None,
    failed: dict[str, Any] | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """What the templates get (see aqb_workflow/mail/render.py) for one reader group;
    ``today``: the day it is sent (the due day when not given)."""
    entry = app.registry.by_slug(agreement.district)
    zone = app.settings.zone
    rule = _rule(app, row["kind"])
    since, deadline = _since_and_deadline(app, rule, agreement)
    due = parse_utc(row["due_at"]).astimezone(zone).date()
    contacts = contacts or []
    staff = audience == "ministry_desk"
    return {
        "agreement": {
            "key": agreement.key,
            "year": agreement.year,
            "district_name": entry.name,
            "district_dative": entry.dative,
            "district_genitive": entry.genitive,
            "district_seat": entry.seat,
            "budget_cents": agreement.budget_cents,
            "state": agreement.state,
            "state_label": app.workflow.label(agreement.state),
        },
        "reminder": {
            "id": row["id"],
            "kind": row["kind"],
            "label": rule.label if rule else row["kind"],
            "due": format_date_de(due),
            "sent_on": format_date_de(max(due, today or due)),  # the day it is written
            "late": late,
            "since": since,
            "deadline": deadline,
            "reply_by": format_date_de(_reply_by(app, rule, agreement, max(due, today or due))),
            "occurrence": row["occurrence"],
            "max_occurrences": row["max_occurrences"],
        },
        "audience": {"role": audience, "staff": staff, "label": AUDIENCES[audience]},
        "desk": _desk(app, contacts),
        "rp": _person(contacts, "rp_kassel") or {"name": RP_KASSEL, "email": None},
        "review": review,
        "failed": failed or {},
        "command": _command(app, row["kind"], agreement, row["id"]) if staff else None,
        "recipient_names": names,
    }


def reader_numbering(conn: Connection, row: dict[str, Any]) -> dict[str, Any]:
    """Number a reminder as its reader counts: ``occurrence`` is 1 + the reminders of this
    rule and anchor actually sent before, ``max_occurrences`` that plus those still to come.
    After a catch-up (earlier occurrences superseded) or for an agreement created late, the
    first mail anyone gets is the first, not "3. Erinnerung"."""
    parts = row["identity"].split("|")
    if len(parts) != 5:  # not planned by a rule (a delivery-failure report)
        return row
    mine = outbox.of_kind(conn, row["agreement"], row["kind"], rule_prefix(row["identity"]))
    others = [r for r in mine if r.id != row["id"]]
    sent = sum(r.status == "sent" for r in others)
    to_come = sum(r.status in outbox.OPEN and r.due_at > row["due_at"] for r in others)
    return {**row, "occurrence": sent + 1, "max_occurrences": sent + 1 + to_come}


def compose_all(
    app: App, conn: Connection, row: dict[str, Any], now: datetime, late: bool
) -> list[Outgoing]:
    """The messages for one claimed reminder, one per reader group (see :func:`audiences`),
    rendered with the data as it is now. The first keeps the reminder's Message-ID; the
    others get it with the group's name, as stable across retries."""
    row = reader_numbering(conn, row)
    agreement = load_agreement(conn, row["agreement"])
    groups = audiences(conn, agreement, json.loads(row["recipients"]))
    everyone = [c for group in groups.values() for c in group]
    contacts = queries.contacts(conn)
    review = _review(app, conn, agreement, row)
    failed = None
    if row["kind"] == "delivery_failed":
        failed = explain_failure(app, conn, row, agreement.district)
    messages = []
    for index, (audience, people) in enumerate(groups.items()):
        ctx = context(
            app,
            agreement,
            row,
            late,
            [p["name"] for p in people],
            audience=audience,
            contacts=contacts,
            review=review,
            failed=failed,
            today=now.astimezone(app.settings.zone).date(),
        )
        message_id = row["message_id"] if index == 0 else _derived_id(row["message_id"], audience)
        messages.append(_outgoing(app, agreement, row, ctx, people, everyone, message_id, now))
    return messages


def compose(app: App, conn: Connection, row: dict[str, Any], now: datetime, late: bool) -> Outgoing:
    """The first of :func:`compose_all`'s messages (a preview of one reminder)."""
    return compose_all(app, conn, row, now, late)[0]


def _derived_id(message_id: str, audience: str) -> str:
    local, _, domain = message_id.strip("<>").partition("@")
    return f"<{local}.{audience.replace('_', '-')}@{domain}>"


def _outgoing(
    app: App,
    agreement: Agreement,
    row: dict[str, Any],
    ctx: dict[str, Any],
    people: list[dict[str, Any]],
    everyone: list[dict[str, Any]],
    message_id: str,
    now: datetime,
) -> Outgoing:
    rendered = render(app.settings.templates, row["kind"], ctx)
    ics = method = None
    if row["invite"] in ("request", "cancel") and agreement.fields.get("review_at"):
        method = "REQUEST" if row["invite"] == "request" else "CANCEL"
        organizer_name, organizer_email = parseaddr(app.settings.mail_sender)
        entry = app.registry.by_slug(agreement.district)
        ics = review_invite(
            uid=f"aqb-review-{agreement.key}@aqb-workflow",
            sequence=row["invite_sequence"],
            method=method,  # type: ignore[arg-type]
            start=parse_utc(agreement.fields["review_at"]),
            duration=REVIEW_LENGTH,
            zone=app.settings.zone,
            summary=f"Umsetzungsbesprechung AQB {agreement.year} – {entry.name}",
            location=str(agreement.fields.get("review_location", "")),
            description=rendered.text,
            organizer=(organizer_name or "AQB-Referat", organizer_email),
            attendees=[(p["name"], p["email"]) for p in everyone],
            stamp=now,
        )
    return Outgoing(
        message_id=message_id,
        sender=app.settings.mail_sender,
        recipients=tuple(p["email"] for p in people),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        ics=ics,
        ics_method=method,
        headers={"X-AQB-Agreement": agreement.key, "X-AQB-Reminder": str(row["id"])},
    )
