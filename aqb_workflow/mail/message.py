"""Build the MIME message for one reminder.

Usage::

    from aqb_workflow.mail.message import Outgoing, build, message_id_for

    outgoing = Outgoing(
        message_id=message_id_for(reminder_id),      # "<reminder-42@aqb-workflow>"
        sender="AQB-Referat HMSI <aqb@hmsi.hessen.de>",
        recipients=("kreisausschuss@lkgi.de",),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        ics=invite_bytes, ics_method="REQUEST",      # only for review invitations
    )
    msg = build(outgoing, clock.now())

The structure, as Outlook, Thunderbird and Apple Mail expect an invitation::

    multipart/mixed                       (only when there is an invitation)
      multipart/alternative
        text/plain; charset=utf-8
        text/html; charset=utf-8
        text/calendar; method=REQUEST; charset=utf-8   (base64)
      application/ics; name=invite.ics                (attachment, base64)

Text and HTML are quoted-printable UTF-8, so the message is 7-bit clean for any relay.

The Message-ID is taken as given: pass the same one on every retry of a reminder, so that a
duplicate after a crash (see RELIABILITY.md G5) can be recognised by the receiving side.
"""

from __future__ import annotations

import email.policy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
"""Headers ``Outgoing.headers`` may not set (lower case)."""


def message_id_for(reminder_id: int, domain: str = "aqb-workflow") -> str:
    """The stable Message-ID of one reminder row.

    >>> message_id_for(42)
    '<reminder-42@aqb-workflow>'
    """
    return f"<reminder-{int(reminder_id)}@{domain}>"


@dataclass(frozen=True)
class Outgoing:
    """Everything one outgoing message consists of (the dispatcher fills it)."""

    message_id: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str
    ics: bytes | None = None
    ics_method: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def build(outgoing: Outgoing, date: datetime) -> EmailMessage:
    """The ``EmailMessage`` for ``outgoing``, dated ``date`` (an aware datetime)."""
    if not outgoing.recipients:
        raise ValueError("a message needs at least one recipient")
    if date.tzinfo is None:
        raise ValueError("date must be an aware datetime")
    mid = outgoing.message_id.strip()
    if not (mid.startswith("<") and mid.endswith(">") and "@" in mid):
        raise ValueError(f"Message-ID must look like <local@domain>, not {outgoing.message_id!r}")
    if outgoing.ics is not None and outgoing.ics_method not in ("REQUEST", "CANCEL"):
        raise ValueError("ics_method must be REQUEST or CANCEL when ics is given")

    msg = EmailMessage(policy=email.policy.default)
    msg["From"] = outgoing.sender
    msg["To"] = ", ".join(outgoing.recipients)
    msg["Subject"] = " ".join(outgoing.subject.split())
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = mid
    msg["Auto-Submitted"] = "auto-generated"
    for name, value in outgoing.headers.items():
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"header {name} is set by build() and may not be overridden")
        del msg[name]
        msg[name] = value

    msg.set_content(outgoing.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(outgoing.html, subtype="html", charset="utf-8", cte="quoted-printable")
    if outgoing.ics is not None:
        method = outgoing.ics_method
        msg.add_alternative(
            outgoing.ics.decode("utf-8"),
            subtype="calendar",
            charset="utf-8",
            cte="base64",
            params={"method": str(method)},
        )
        msg.add_attachment(
            outgoing.ics,
            maintype="application",
            subtype="ics",
            filename="invite.ics",
            params={"name": "invite.ics"},
        )
    return msg
