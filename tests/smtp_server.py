"""A real SMTP server on 127.0.0.1 (aiosmtpd) whose answers a test can script."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """Stores what it accepts; ``reply`` (e.g. "451 4.3.0 later") makes DATA answer that."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.reply: str | None = None
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        if self.reply:
            return self.reply
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 2.0.0 OK"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


class SmtpServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def config(self) -> str:
        """The config.toml lines that send mail here."""
        return (
            '\n[mail]\nbackend = "smtp"\nsender = "AQB-Referat HMSI <aqb@hmsi.example>"\n'
            f'[mail.smtp]\nhost = "127.0.0.1"\nport = {self.port}\nsecurity = "none"\n'
            "timeout_seconds = 5\n"
        )


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()
