"""The MIME structure of a reminder: headers, German subject, alternative parts, invitation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from aqb_workflow.mail.invite import review_invite
from aqb_workflow.mail.message import Outgoing, build, message_id_for

SUBJECT = "AQB 2024 – Landkreis Gießen: Gegenzeichnung der Zielvereinbarung ausstehend"
DATE = datetime(2024, 7, 8, 6, 0, tzinfo=UTC)


def ics(method: str = "REQUEST") -> bytes:
    return review_invite(
        uid="aqb-review-2024-giessen@aqb-workflow",
        sequence=0,
        method=method,  # type: ignore[arg-type]
        start=datetime(2024, 10, 15, 8, 0, tzinfo=UTC),
        duration=timedelta(hours=2),
        zone=ZoneInfo("Europe/Berlin"),
        summary="Umsetzungsbesprechung Landkreis Gießen",
        location="Gießen",
        description="§ 6",
        organizer=("AQB-Referat", "aqb@hmsi.hessen.de"),
        attendees=[("Anita Schneider", "a@lkgi.de")],
        stamp=DATE,
    )


def outgoing(**kw: object) -> Outgoing:
    values: dict[str, object] = {
        "message_id": message_id_for(42),
        "sender": "AQB-Referat HMSI <aqb@hmsi.hessen.de>",
        "recipients": ("kreisausschuss@lkgi.de", "Jürgen Müller <jm@lkgi.de>"),
        "subject": SUBJECT,
        "text": "Sehr geehrte Damen und Herren,\nGrüße aus Wiesbaden – 1.266.800,00 €\n",
        "html": "<p>Grüße aus Wiesbaden – 1.266.800,00 €</p>",
    }
    values.update(kw)
    return Outgoing(**values)  # type: ignore[arg-type]


def reparse(msg: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_message_id_for() -> None:
    assert message_id_for(42) == "<reminder-42@aqb-workflow>"
    assert message_id_for(7, domain="hmsi.hessen.de") == "<reminder-7@hmsi.hessen.de>"


def test_headers_and_alternative_parts() -> None:
    msg = reparse(build(outgoing(), DATE))
    assert msg["Message-ID"] == "<reminder-42@aqb-workflow>"
    assert msg["Subject"] == SUBJECT
    assert msg["From"] == "AQB-Referat HMSI <aqb@hmsi.hessen.de>"
    assert msg["To"] == "kreisausschuss@lkgi.de, Jürgen Müller <jm@lkgi.de>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"].datetime == DATE
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == "utf-8"
    assert "Grüße aus Wiesbaden – 1.266.800,00 €" in plain.get_content()
    assert "<p>Grüße aus Wiesbaden" in html.get_content()


def test_wire_form_is_ascii_and_has_no_raw_umlauts() -> None:
    raw = build(outgoing(), DATE).as_bytes()
    raw.decode("ascii")  # 7-bit clean: RFC 2047 subject, quoted-printable bodies
    assert b"Message-ID: <reminder-42@aqb-workflow>" in raw


def test_invitation_inside_alternative_and_as_attachment() -> None:
    msg = reparse(build(outgoing(ics=ics(), ics_method="REQUEST"), DATE))
    assert msg.get_content_type() == "multipart/mixed"
    alternative = next(p for p in msg.iter_parts())
    assert alternative.get_content_type() == "multipart/alternative"
    inner = [p.get_content_type() for p in alternative.iter_parts()]
    assert inner == ["text/plain", "text/html", "text/calendar"]
    calendar = list(alternative.iter_parts())[2]
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_content_charset() == "utf-8"
    assert "METHOD:REQUEST" in calendar.get_content()
    assert "Gießen" in calendar.get_content()
    attachments = list(msg.iter_attachments())
    assert len(attachments) == 1
    assert attachments[0].get_content_type() == "application/ics"
    assert attachments[0].get_filename() == "invite.ics"
    assert attachments[0].get_content() == ics()


def test_cancel_method_parameter() -> None:
    msg = reparse(build(outgoing(ics=ics("CANCEL"), ics_method="CANCEL"), DATE))
    calendar = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    assert calendar.get_param("method") == "CANCEL"


def test_extra_headers_and_reserved_ones() -> None:
    msg = build(outgoing(headers={"X-AQB-Reminder": "42", "Auto-Submitted": "auto-replied"}), DATE)
    assert msg["X-AQB-Reminder"] == "42"
    assert msg.get_all("Auto-Submitted") == ["auto-replied"]
    with pytest.raises(ValueError, match="Message-ID"):
        build(outgoing(headers={"Message-ID": "<other@x>"}), DATE)


@pytest.mark.parametrize(
    "kw",
    [
        {"recipients": ()},
        {"message_id": "reminder-42"},
        {"ics": b"BEGIN:VCALENDAR", "ics_method": None},
        {"ics": b"BEGIN:VCALENDAR", "ics_method": "PUBLISH"},
    ],
)
def test_refuses_bad_input(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build(outgoing(**kw), DATE)


def test_multiline_subject_becomes_one_line_and_naive_date_refused() -> None:
    msg = reparse(build(outgoing(subject="Zeile eins\nBcc: evil@x"), DATE))
    assert msg["Subject"] == "Zeile eins Bcc: evil@x"
    assert msg["Bcc"] is None
    with pytest.raises(ValueError, match="aware"):
        build(outgoing(), datetime(2024, 7, 8, 6, 0))  # noqa: DTZ001
