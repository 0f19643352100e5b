"""SmtpBackend against a real SMTP server (aiosmtpd on 127.0.0.1), and FileBackend on disk.

Every server runs on a free port, is bounded by timeouts and is stopped by a finalizer.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope

from aqb_workflow.config import SmtpSettings
from aqb_workflow.mail.backends import (
    FileBackend,
    PermanentFailure,
    SmtpBackend,
    TemporaryFailure,
)
from aqb_workflow.mail.invite import review_invite
from aqb_workflow.mail.message import Outgoing, build, message_id_for

SUBJECT = "AQB 2024 – Landkreis Gießen: Einladung zur Umsetzungsbesprechung"
TEXT = "Sehr geehrte Damen und Herren,\nGrüße aus Wiesbaden – 1.266.800,00 € für Gießen.\n"
PASSWORD = "Geheim-Passwort-äöü-42"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings(port: int, timeout: int = 5, **kw: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": "",
        "password_env": "",
        "timeout_seconds": timeout,
    }
    values.update(kw)
    return SmtpSettings(**values)


def message(reminder_id: int = 42, recipients: tuple[str, ...] = ("a@lkgi.de",)) -> EmailMessage:
    ics = review_invite(
        uid="aqb-review-2024-giessen@aqb-workflow",
        sequence=0,
        method="REQUEST",
        start=datetime(2024, 10, 15, 8, 0, tzinfo=UTC),
        duration=timedelta(hours=2),
        zone=ZoneInfo("Europe/Berlin"),
        summary="Umsetzungsbesprechung Landkreis Gießen",
        location="Kreishaus Gießen",
        description="Umsetzungsbesprechung nach § 6",
        organizer=("AQB-Referat HMSI", "aqb@hmsi.hessen.de"),
        attendees=[("Anita Schneider", "a@lkgi.de")],
        stamp=datetime(2024, 9, 2, 6, 0, tzinfo=UTC),
    )
    return build(
        Outgoing(
            message_id=message_id_for(reminder_id),
            sender="AQB-Referat HMSI <aqb@hmsi.hessen.de>",
            recipients=recipients,
            subject=SUBJECT,
            text=TEXT,
            html="<p>Grüße aus Wiesbaden – 1.266.800,00 €</p>",
            ics=ics,
            ics_method="REQUEST",
        ),
        datetime(2024, 9, 2, 6, 0, tzinfo=UTC),
    )


class Store:
    """Accepts everything and keeps the envelopes."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 2.0.0 OK"


class RefuseRcpt(Store):
    """Answers RCPT with a fixed reply for the listed addresses (all, if none listed)."""

    def __init__(self, reply: str, only: set[str] | None = None) -> None:
        super().__init__()
        self.reply, self.only = reply, only

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.only is None or address in self.only:
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"


class RefuseData(Store):
    def __init__(self, reply: str) -> None:
        super().__init__()
        self.reply = reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        return self.reply


class DropAfterData(Store):
    """Stores the message, then drops the connection before answering 250."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        server.transport.abort()
        return "250 2.0.0 OK"


class SlowQuit(Store):
    """Accepts the message but never answers QUIT in time."""

    async def handle_QUIT(self, server: Any, session: Any, envelope: Envelope) -> str:
        await asyncio.sleep(3)
        return "221 Bye"


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest) -> Callable[..., int]:
    """``port = smtp_server(handler, **smtp_kwargs)`` starts aiosmtpd; stopped afterwards."""

    def start(handler: Any, **kw: Any) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5, **kw)
        controller.start()
        request.addfinalizer(controller.stop)
        return port

    return start


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP listener that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    listener.close()


def parsed(envelope: Envelope) -> EmailMessage:
    content = envelope.original_content or envelope.content
    assert isinstance(content, bytes)
    msg = message_from_bytes(content, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_message_arrives_intact(smtp_server: Callable[..., int]) -> None:
    store = Store()
    port = smtp_server(store)
    SmtpBackend(settings(port), None).send(message())
    assert len(store.envelopes) == 1
    envelope = store.envelopes[0]
    assert envelope.mail_from == "aqb@hmsi.hessen.de"
    assert envelope.rcpt_tos == ["a@lkgi.de"]
    msg = parsed(envelope)
    assert msg["Message-ID"] == "<reminder-42@aqb-workflow>"
    assert msg["Subject"] == SUBJECT
    assert msg["Auto-Submitted"] == "auto-generated"
    types = [part.get_content_type() for part in msg.walk()]
    for expected in ("text/plain", "text/html", "text/calendar", "application/ics"):
        assert expected in types
    plain = msg.get_body(("plain",))
    assert plain is not None
    assert plain.get_content().replace("\r\n", "\n") == TEXT  # CRLF on the wire
    calendar = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    assert calendar.get_param("method") == "REQUEST"
    assert "SUMMARY:Umsetzungsbesprechung Landkreis Gießen" in calendar.get_content()


def test_retry_keeps_the_message_id(smtp_server: Callable[..., int]) -> None:
    store = Store()
    backend = SmtpBackend(settings(smtp_server(store)), None)
    backend.send(message(7))
    backend.send(message(7))
    ids = [parsed(e)["Message-ID"] for e in store.envelopes]
    assert ids == ["<reminder-7@aqb-workflow>"] * 2


@pytest.mark.parametrize(
    ("handler", "failure", "code"),
    [
        (RefuseData("451 4.3.0 try later"), TemporaryFailure, 451),
        (RefuseRcpt("451 4.3.0 try later"), TemporaryFailure, 451),
        (RefuseRcpt("421 4.7.0 too busy, come back later"), TemporaryFailure, 421),
        (RefuseRcpt("550 5.1.1 no such user"), PermanentFailure, 550),
        (RefuseData("554 5.6.0 message content rejected"), PermanentFailure, 554),
    ],
    ids=["451-data", "451-rcpt", "421-rcpt", "550-rcpt", "554-data"],
)
def test_classified_by_reply_code(
    smtp_server: Callable[..., int], handler: Store, failure: type[Exception], code: int
) -> None:
    backend = SmtpBackend(settings(smtp_server(handler)), None)
    with pytest.raises(failure) as err:
        backend.send(message())
    assert err.value.code == code  # type: ignore[attr-defined]
    assert str(code) in str(err.value)
    assert "\n" not in str(err.value)


def test_partial_refusal_names_the_address(smtp_server: Callable[..., int]) -> None:
    store = RefuseRcpt("550 5.1.1 no such user", only={"weg@lkgi.de"})
    backend = SmtpBackend(settings(smtp_server(store)), None)
    with pytest.raises(PermanentFailure, match=r"weg@lkgi\.de") as err:
        backend.send(message(recipients=("a@lkgi.de", "weg@lkgi.de")))
    assert err.value.code == 550
    assert [e.rcpt_tos for e in store.envelopes] == [["a@lkgi.de"]]

    later = RefuseRcpt("452 4.2.2 mailbox full", only={"voll@lkgi.de"})
    backend = SmtpBackend(settings(smtp_server(later)), None)
    with pytest.raises(TemporaryFailure, match=r"voll@lkgi\.de") as err2:
        backend.send(message(recipients=("a@lkgi.de", "voll@lkgi.de")))
    assert err2.value.code == 452


def test_nothing_listening_is_temporary() -> None:
    started = time.monotonic()
    with pytest.raises(TemporaryFailure, match="refused") as err:
        SmtpBackend(settings(free_port()), None).send(message())
    assert err.value.code is None
    assert time.monotonic() - started < 5


def test_silent_server_times_out(silent_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(TemporaryFailure, match="no answer") as err:
        SmtpBackend(settings(silent_port, timeout=1), None).send(message())
    assert err.value.code is None
    assert time.monotonic() - started < 5


def test_drop_after_data_is_temporary_outcome_unknown(smtp_server: Callable[..., int]) -> None:
    store = DropAfterData()
    backend = SmtpBackend(settings(smtp_server(store), timeout=2), None)
    with pytest.raises(TemporaryFailure):
        backend.send(message())
    assert len(store.envelopes) == 1  # the server has it: a retry may duplicate (G5)


def test_accepted_message_survives_a_hanging_quit(smtp_server: Callable[..., int]) -> None:
    store = SlowQuit()
    started = time.monotonic()
    SmtpBackend(settings(smtp_server(store), timeout=1), None).send(message())
    assert len(store.envelopes) == 1
    assert time.monotonic() - started < 5


def test_starttls_not_offered_is_permanent(smtp_server: Callable[..., int]) -> None:
    port = smtp_server(Store())
    with pytest.raises(PermanentFailure, match="STARTTLS"):
        SmtpBackend(settings(port, security="starttls"), None).send(message())


@pytest.mark.parametrize("password", [PASSWORD, "ascii-only-42"], ids=["utf8", "ascii"])
def test_login_and_rejected_password_never_leaks(
    smtp_server: Callable[..., int], password: str
) -> None:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = data.login.decode() == "aqb" and data.password.decode() == password
        # handled=False: let aiosmtpd answer 535 itself on failure
        return AuthResult(success=ok, handled=False)

    store = Store()
    port = smtp_server(store, authenticator=check, auth_require_tls=False)
    SmtpBackend(settings(port, username="aqb"), password).send(message())
    assert len(store.envelopes) == 1

    with pytest.raises(PermanentFailure) as err:
        SmtpBackend(settings(port, username="aqb"), password + "-falsch").send(message())
    assert err.value.code == 535
    assert password not in str(err.value)
    assert password not in repr(err.value)


def test_file_backend_writes_parseable_eml_once_per_message_id(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    backend = FileBackend(folder)
    backend.send(message(42))
    backend.send(message(42))
    backend.send(message(43))
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == [
        "20240902T060000Z-reminder-42@aqb-workflow.eml",
        "20240902T060000Z-reminder-43@aqb-workflow.eml",
    ]
    msg = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["Message-ID"] == "<reminder-42@aqb-workflow>"
    assert msg["Subject"] == SUBJECT
    plain = msg.get_body(("plain",))
    assert plain is not None and plain.get_content() == TEXT


def test_file_backend_unwritable_folder_is_temporary(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(TemporaryFailure):
        FileBackend(blocker / "outbox").send(message())
