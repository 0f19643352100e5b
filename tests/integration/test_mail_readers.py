"""Every mail fits its reader, through the real dispatcher and a real SMTP server.

The workflow is changed so that every reminder kind goes to every kind of reader (district,
RP Kassel, participants, ministry desk); a budget year is then walked through with the clock
moving. Each mail that arrives is checked against who reads it: district offices, RP Kassel and
participants act in the real world and get what to do, a German date and whom to ask, never an
``aqb`` command; the ministry desk gets the command. None carries a Python repr or raw id.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from aqb_workflow import services
from aqb_workflow.bootstrap import bootstrap
from aqb_workflow.config import load_settings
from aqb_workflow.mail.backends import backend_from_settings
from aqb_workflow.scheduler.dispatch import run_pass
from aqb_workflow.store import outbox
from aqb_workflow.store.migrate import upgrade
from aqb_workflow.testing import FixedClock
from tests.conftest import GIESSEN, MINISTRY, RP, make_workspace
from tests.smtp_server import SmtpServer

DESK = ("Heike Referat", "aqb@hmsi.example")
READERS = {
    "pm@lkgi.example": "district",
    "dez57@rpks.example": "rp_kassel",
    "rat@jobcenter.example": "participant",
    DESK[1]: "ministry_desk",
}
GERMAN_DATE = re.compile(
    r"\b\d{1,2}\. (Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober"
    r"|November|Dezember) \d{4}\b"
)
#: (kind, reader) where the reader has nothing to do, so no date to do it by
NOTHING_TO_DO = {
    ("ministry_signature_pending", "district"),
    ("ministry_signature_pending", "rp_kassel"),
    ("ministry_signature_pending", "participant"),
    ("district_signature_pending", "rp_kassel"),
    ("district_signature_pending", "participant"),
    ("district_signature_escalation", "rp_kassel"),
    ("district_signature_escalation", "participant"),
    ("review_cancelled", "district"),
    ("review_cancelled", "rp_kassel"),
    ("review_cancelled", "participant"),
}


@pytest.fixture
def site(tmp_path):
    server = SmtpServer().start()
    ws = make_workspace(tmp_path / "site", mail=server.config())
    text = ws.workflow.read_text(encoding="utf-8")
    text = re.sub(
        r"^to = \[.*\]$",
        'to = ["district", "rp_kassel", "participants", "ministry_desk"]',
        text,
        flags=re.M,
    )
    ws.workflow.write_text(text, encoding="utf-8")
    clock = FixedClock(datetime(2024, 2, 1, 9, 0, tzinfo=UTC))
    app = bootstrap(load_settings(ws.config), clock=clock)
    upgrade(app.db)
    services.add_contact(app, MINISTRY, "giessen", "district", "Petra Muster", "pm@lkgi.example")
    services.add_contact(
        app, MINISTRY, None, "rp_kassel", "RP Kassel Dez. 57", "dez57@rpks.example"
    )
    services.add_contact(app, MINISTRY, None, "ministry_desk", *DESK)
    services.add_contact(
        app, MINISTRY, "giessen", "participant", "Rita Rat", "rat@jobcenter.example"
    )
    yield app, clock, server
    app.db.dispose()
    server.stop()


def _pass(app):
    return run_pass(app, backend_from_settings(app.settings), worker="test")


def _walk(app, clock):
    """A budget year for Gießen: every kind of reminder falls due once or more."""
    key = services.create(app, MINISTRY, "giessen", 2024, "1.266.800")
    steps = [
        (
            datetime(2024, 4, 3, 9, 0, tzinfo=UTC),
            None,
        ),  # application_due, ministry_signature_pending
        (
            datetime(2024, 7, 1, 9, 0, tzinfo=UTC),
            ("sign_ministry", {"on": "2024-07-01", "by": "Hofmann"}),
        ),
        (datetime(2024, 7, 15, 9, 0, tzinfo=UTC), None),  # the first district reminder
        # the later district reminders, and the escalation (21 days after the first)
        (datetime(2024, 8, 12, 9, 0, tzinfo=UTC), None),
        (
            datetime(2024, 8, 12, 10, 0, tzinfo=UTC),
            ("sign_district", {"on": "2024-08-12", "by": "Schneider", "place": "Gießen"}),
        ),
        (datetime(2024, 9, 5, 9, 0, tzinfo=UTC), None),  # notice_pending
        (
            datetime(2024, 9, 5, 10, 0, tzinfo=UTC),
            ("issue_notice", {"on": "2024-09-05", "ref": "RPKS 57"}),
        ),
        (datetime(2024, 9, 6, 9, 0, tzinfo=UTC), None),  # review_planning (1 September passed)
        (
            datetime(2024, 9, 6, 10, 0, tzinfo=UTC),
            ("schedule_review", {"at": "2024-10-15 10:00", "location": "Kreishaus"}),
        ),
        (datetime(2024, 10, 1, 9, 0, tzinfo=UTC), None),  # the invitation
        (
            datetime(2024, 10, 2, 9, 0, tzinfo=UTC),
            ("reschedule_review", {"at": "2024-10-22 10:00"}),
        ),
        (datetime(2024, 10, 24, 9, 0, tzinfo=UTC), None),  # review_overdue
        (datetime(2024, 10, 24, 10, 0, tzinfo=UTC), ("withdraw", {"reason": "Test"})),
        (datetime(2024, 10, 25, 9, 0, tzinfo=UTC), None),  # review_cancelled
    ]
    actors = {"sign_district": GIESSEN, "issue_notice": RP}
    for when, step in steps:
        clock.set(when)
        if step is not None:
            trigger, fields = step
            services.fire(app, actors.get(trigger, MINISTRY), key, trigger, fields)
        _pass(app)
    return key


def _kind(app, mail):
    with app.db.read() as conn:
        row = outbox.get(conn, int(mail["X-AQB-Reminder"]))
    return row["kind"]


def test_every_kind_reaches_every_reader_in_words_that_reader_can_act_on(site):
    app, clock, server = site
    _walk(app, clock)
    seen = set()
    for mail in server.inbox.messages:
        kind = _kind(app, mail)
        readers = {READERS[a] for a in mail["To"].split(", ")}
        assert len(readers) == 1, (kind, mail["To"])  # one reader group per mail
        [reader] = readers
        seen.add((kind, reader))
        text = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        words = " ".join(text.split())
        for bad in ("{", "}", "None", "[", "]", "'", "Traceback"):
            assert bad not in words, (kind, reader, bad, words)
        assert "Landkreis Gießen" in mail["Subject"]
        if reader == "ministry_desk":
            assert "aqb " in text and "aqb " in html, (kind, words)
            assert "2024-giessen" in text
        else:
            assert "aqb " not in text and "aqb " not in html, (kind, reader, words)
            assert "aqb " not in mail["Subject"]
            assert f"{DESK[0]}" in words and DESK[1] in words, (kind, reader)
            if (kind, reader) not in NOTHING_TO_DO:
                assert GERMAN_DATE.search(words), (kind, reader, words)
    kinds = {rule.kind for rule in app.workflow.rules}
    expected = {(k, r) for k in kinds for r in set(READERS.values())}
    assert expected <= seen, sorted(expected - seen)


def test_a_refused_address_is_reported_to_the_desk_in_german_quoting_the_server(site):
    app, clock, server = site
    clock.set(datetime(2024, 7, 2, 9, 0, tzinfo=UTC))
    key = services.create(app, MINISTRY, "giessen", 2024, "1.266.800")
    services.fire(app, MINISTRY, key, "sign_ministry", {"on": "2024-07-01", "by": "Hofmann"})
    clock.set(datetime(2024, 7, 15, 7, 0, tzinfo=UTC))
    server.inbox.reply = "550 5.1.1 Mailbox unavailable"
    _pass(app)
    server.inbox.reply = None
    clock.advance(minutes=5)
    with app.db.read() as conn:
        [report] = outbox.listing(conn, status=["failed"], agreement=key)[-1:]
        reports = [r for r in outbox.listing(conn, agreement=key) if r["kind"] == "delivery_failed"]
    assert report  # the desk's own report was refused too: retry it with the server back
    for row in reports:
        if row["status"] == "failed":
            services.retry_reminder(app, MINISTRY, row["id"])
    _pass(app)
    [mail] = [m for m in server.inbox.messages if _kind(app, m) == "delivery_failed"][:1]
    assert mail["To"] == DESK[1]
    text = " ".join(mail.get_body(("plain",)).get_content().split())
    assert "„Gegenzeichnung der Gebietskörperschaft steht aus“" in mail["Subject"]
    assert "konnte nicht zugestellt werden" in text
    assert "Antwort des Mailservers: „550 5.1.1 Mailbox unavailable“" in text
    assert "hat die Nachricht abgelehnt" in text
    assert re.search(r"aqb reminders retry \d+", text)
    for bad in ("{", "None", "'", "SMTP ", "reminder ", "kind", "error", "gave up"):
        assert bad not in text, (bad, text)


def test_a_missing_contact_is_reported_with_the_command_that_adds_it(site):
    app, clock, server = site
    clock.set(datetime(2024, 7, 2, 9, 0, tzinfo=UTC))
    key = services.create(app, MINISTRY, "wetterau", 2024, "1.140.300")
    services.fire(app, MINISTRY, key, "sign_ministry", {"on": "2024-07-01", "by": "Hofmann"})
    clock.set(datetime(2024, 7, 15, 7, 0, tzinfo=UTC))
    # the Wetteraukreis has no district contact, but RP, participants' desk and desk exist:
    # the copies that have readers go out; remove the desk as well to see the failure
    with app.db.read() as conn:
        from aqb_workflow.store import queries

        desk_id = next(c["id"] for c in queries.contacts(conn) if c["role"] == "ministry_desk")
        rp_id = next(c["id"] for c in queries.contacts(conn) if c["role"] == "rp_kassel")
    services.remove_contact(app, MINISTRY, rp_id)
    services.remove_contact(app, MINISTRY, desk_id)
    _pass(app)
    services.add_contact(app, MINISTRY, None, "ministry_desk", *DESK)
    with app.db.read() as conn:
        failed = [r for r in outbox.listing(conn, status=["failed"], agreement=key)]
    for row in failed:
        if row["kind"] == "delivery_failed":
            services.retry_reminder(app, MINISTRY, row["id"])
    _pass(app)
    reports = [m for m in server.inbox.messages if _kind(app, m) == "delivery_failed"]
    assert reports
    text = " ".join(reports[0].get_body(("plain",)).get_content().split())
    assert "keine Ansprechperson" in text
    assert "aqb contact add --district wetterau --role district --name NAME --email" in text
    assert "no contact" not in text
