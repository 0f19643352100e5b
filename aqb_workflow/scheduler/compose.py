"""From a reminder row to the message people receive: recipients, context, text, invite."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from sqlalchemy import Connection

from aqb_workflow.bootstrap import App
from aqb_workflow.domain.formats import format_date_de, format_datetime_de, parse_utc
from aqb_workflow.domain.model import Agreement
from aqb_workflow.domain.reminders import Rule, anchor_date, rule_prefix
from aqb_workflow.errors import AqbError
from aqb_workflow.mail.invite import review_invite
from aqb_workflow.mail.message import Outgoing
from aqb_workflow.mail.render import render
from aqb_workflow.store import outbox, queries
from aqb_workflow.store.unit_of_work import load_agreement

REVIEW_LENGTH = timedelta(hours=2)

#: What to type once the outstanding step is done; other kinds get the state's next trigger.
COMMANDS = {
    "application_due": "aqb edit {key} application_filed_on=TT.MM.JJJJ",
    "review_upcoming": "aqb show {key}",
    "review_overdue": "aqb transition {key} close held_on=TT.MM.JJJJ outcome=TEXT",
    "review_cancelled": "aqb history {key}",
    "delivery_failed": "aqb reminders list --failed",
}
_PLACEHOLDERS = {"date": "TT.MM.JJJJ", "datetime": '"TT.MM.JJJJ HH:MM"', "amount": "BETRAG"}


class NoRecipients(AqbError):
    """Nobody to send to: a contact is missing. Permanent until someone adds one."""


def recipients(conn: Connection, agreement: Agreement, roles: list[str]) -> list[dict[str, Any]]:
    everyone = queries.contacts(conn)
    own = [c for c in everyone if c["district"] == agreement.district]
    found: list[dict[str, Any]] = []
    for role in roles:
        if role == "district":
            found += [c for c in own if c["role"] == "district"]
        elif role in ("ministry_desk", "rp_kassel"):
            found += [c for c in everyone if c["district"] is None and c["role"] == role]
        elif role == "participants":
            found += [
                c
                for c in everyone
                if c["role"] == "participant" and c["district"] in (None, agreement.district)
            ]
            found += [c for c in own if c["role"] == "district"]
            found += [c for c in everyone if c["district"] is None and c["role"] == "ministry_desk"]
    unique: dict[str, dict[str, Any]] = {}
    for contact in found:
        unique.setdefault(contact["email"].lower(), contact)
    if not unique:
        raise NoRecipients(
            f"no contact for {', '.join(roles)} of {agreement.district} "
            "(aqb contact add …, then aqb reminders retry ID)"
        )
    return list(unique.values())


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
    if rule is None:
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


def context(
    app: App, agreement: Agreement, row: dict[str, Any], late: bool, names: list[str]
) -> dict[str, Any]:
    entry = app.registry.by_slug(agreement.district)
    zone = app.settings.zone
    since, deadline = _since_and_deadline(app, _rule(app, row["kind"]), agreement)
    review = None
    if agreement.fields.get("review_at"):
        review = {
            "at": format_datetime_de(parse_utc(agreement.fields["review_at"]), zone),
            "location": agreement.fields.get("review_location", ""),
            "cancelled": row["invite"] == "cancel",
        }
    note = json.loads(row["note"]) if row.get("note") else {}
    return {
        "agreement": {
            "key": agreement.key,
            "year": agreement.year,
            "district_name": entry.name,
            "district_dative": entry.dative,
            "district_genitive": entry.genitive,
            "budget_cents": agreement.budget_cents,
            "state": agreement.state,
            "state_label": app.workflow.label(agreement.state),
        },
        "reminder": {
            "id": row["id"],
            "kind": row["kind"],
            "due": format_date_de(parse_utc(row["due_at"]).astimezone(zone).date()),
            "late": late,
            "since": since,
            "deadline": deadline,
            "occurrence": row["occurrence"],
            "max_occurrences": row["max_occurrences"],
        },
        "review": review,
        "failed": note,
        "command": _command(app, row["kind"], agreement, row["id"]),
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


def compose(app: App, conn: Connection, row: dict[str, Any], now: datetime, late: bool) -> Outgoing:
    """The message for one claimed reminder, rendered with the data as it is now."""
    row = reader_numbering(conn, row)
    agreement = load_agreement(conn, row["agreement"])
    people = recipients(conn, agreement, json.loads(row["recipients"]))
    ctx = context(app, agreement, row, late, [p["name"] for p in people])
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
            attendees=[(p["name"], p["email"]) for p in people],
            stamp=now,
        )
    return Outgoing(
        message_id=row["message_id"],
        sender=app.settings.mail_sender,
        recipients=tuple(p["email"] for p in people),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        ics=ics,
        ics_method=method,
        headers={"X-AQB-Agreement": agreement.key, "X-AQB-Reminder": str(row["id"])},
    )
