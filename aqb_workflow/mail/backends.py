"""Where a built message goes: an SMTP server, a folder of ``.eml`` files, or the console.

Usage::

    from aqb_workflow.mail.backends import (
        PermanentFailure, TemporaryFailure, backend_from_settings,
    )

    backend = backend_from_settings(settings)
    try:
        backend.send(msg)
    except TemporaryFailure as exc:   # 4xx, timeout, refused, dropped: retry, same Message-ID
        schedule_retry(reason=str(exc), code=exc.code)
    except PermanentFailure as exc:   # 5xx: mark failed now
        mark_failed(reason=str(exc), code=exc.code)

Failures are classified by the SMTP reply code, never by the exception class alone (a 421 at
RCPT arrives as ``SMTPRecipientsRefused`` but is temporary). When the outcome is unknown (the
connection dropped or timed out after DATA), the failure is temporary: the server may have
stored the message, so a retry may deliver a duplicate with the same Message-ID (RELIABILITY.md
G5). Once the server has answered 250 to the message, ``send`` returns normally whatever
happens at QUIT.
"""

from __future__ import annotations

import base64
import os
import re
import smtplib
import ssl
import sys
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol, TextIO

from aqb_workflow.config import Settings, SmtpSettings
from aqb_workflow.durable import replace_durably
from aqb_workflow.errors import ConfigError


class DeliveryFailure(Exception):
    """Base of the two outcomes of a failed send; ``code`` is the SMTP reply code, if any."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(" ".join(message.split()))
        self.code = code


class TemporaryFailure(DeliveryFailure):
    """Try again later with the same Message-ID (4xx, timeout, refused or dropped connection)."""


class PermanentFailure(DeliveryFailure):
    """Retrying will not help (5xx, or the server lacks what the config demands)."""


class Backend(Protocol):
    """Anything that can send a built message, or raise one of the two failures."""

    def send(self, msg: EmailMessage) -> None: ...


def _text(reply: bytes | str) -> str:
    raw = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(raw.split())


def _classify(code: int, what: str) -> DeliveryFailure:
    if 500 <= code <= 599:
        return PermanentFailure(what, code)
    return TemporaryFailure(what, code if 400 <= code <= 499 else None)


def _refused(refused: Mapping[str, tuple[int, bytes]], where: str) -> DeliveryFailure:
    """Some or all recipients refused: temporary if any code is 4xx, else permanent."""
    listed = "; ".join(f"{addr}: {code} {_text(reply)}" for addr, (code, reply) in refused.items())
    temporary = [code for code, _ in refused.values() if 400 <= code <= 499]
    if temporary:
        return TemporaryFailure(f"{where}: recipients refused for now: {listed}", temporary[0])
    codes = [code for code, _ in refused.values()]
    return PermanentFailure(f"{where}: recipients refused: {listed}", codes[0] if codes else None)


def _login(client: smtplib.SMTP, user: str, password: str) -> None:
    """``client.login``, except that non-ASCII credentials go as UTF-8 (RFC 4616/4954).

    smtplib encodes AUTH data as ASCII and fails with UnicodeEncodeError on ``ä``.
    """
    if (user + password).isascii():
        client.login(user, password)
        return
    client.ehlo_or_helo_if_needed()
    offered = client.esmtp_features.get("auth", "").upper().split()

    def b64(text: str) -> str:
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    if "PLAIN" in offered:
        code, reply = client.docmd("AUTH", "PLAIN " + b64(f"\0{user}\0{password}"))
    elif "LOGIN" in offered:
        code, reply = client.docmd("AUTH", "LOGIN " + b64(user))
        if code == 334:
            code, reply = client.docmd(b64(password))
    else:
        raise smtplib.SMTPNotSupportedError(
            "AUTH PLAIN or LOGIN (needed for a non-ASCII user name or password)"
        )
    if code not in (235, 503):
        raise smtplib.SMTPAuthenticationError(code, reply)


class SmtpBackend:
    """Send through one SMTP server; every socket operation is bounded by ``timeout_seconds``.

    >>> SmtpBackend(settings.smtp, password=os.environ.get("AQB_SMTP_PASSWORD")).send(msg)
    ... # doctest: +SKIP
    """

    def __init__(self, smtp: SmtpSettings, password: str | None) -> None:
        if smtp.security not in ("none", "starttls", "tls"):
            raise ConfigError(
                f"mail.smtp.security must be none, starttls or tls, not {smtp.security!r}"
            )
        self.smtp = smtp
        self._password = password

    def __repr__(self) -> str:
        s = self.smtp
        return f"SmtpBackend({s.host}:{s.port}, security={s.security}, user={s.username!r})"

    def _where(self) -> str:
        return f"SMTP {self.smtp.host}:{self.smtp.port}"

    def _scrub(self, failure: DeliveryFailure) -> DeliveryFailure:
        if self._password and self._password in str(failure):
            return type(failure)(str(failure).replace(self._password, "***"), failure.code)
        return failure

    def _open(self) -> smtplib.SMTP:
        s = self.smtp
        client: smtplib.SMTP
        if s.security == "tls":
            client = smtplib.SMTP_SSL(
                timeout=s.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(timeout=s.timeout_seconds)
        try:
            code, reply = client.connect(s.host, s.port)
            if code != 220:
                raise smtplib.SMTPConnectError(code, reply)
            client.ehlo_or_helo_if_needed()
            if s.security == "starttls":
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if s.username:
                _login(client, s.username, self._password or "")
        except BaseException:
            client.close()
            raise
        return client

    def _deliver(self, msg: EmailMessage) -> None:
        client = self._open()
        try:
            refused = client.send_message(msg)
        except BaseException:
            client.close()
            raise
        # The server has answered 250 to DATA: the message is accepted. A failing QUIT must not
        # turn that into a failure (smtplib's context manager would raise on a non-221 QUIT).
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            client.close()
        if refused:
            raise _refused(refused, self._where())

    def send(self, msg: EmailMessage) -> None:
        """Deliver ``msg`` or raise :class:`TemporaryFailure` / :class:`PermanentFailure`."""
        where = self._where()
        try:
            self._deliver(msg)
        except DeliveryFailure as exc:
            raise self._scrub(exc) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise self._scrub(_refused(exc.recipients, where)) from None
        except smtplib.SMTPResponseException as exc:
            what = f"{where}: {exc.smtp_code} {_text(exc.smtp_error)}"
            raise self._scrub(_classify(exc.smtp_code, what)) from None
        except smtplib.SMTPServerDisconnected as exc:
            # smtplib reports a read timeout as "Connection unexpectedly closed: timed out"
            if isinstance(exc.__context__, TimeoutError):
                what = f"{where}: no answer within {self.smtp.timeout_seconds} s"
            else:
                what = f"{where}: connection closed unexpectedly"
            raise TemporaryFailure(what) from None
        except smtplib.SMTPNotSupportedError as exc:
            what = f"{where}: server does not support what the config requires: {exc}"
            raise self._scrub(PermanentFailure(what)) from None
        except smtplib.SMTPException as exc:
            # e.g. "No suitable authentication method found": a configuration problem
            raise self._scrub(PermanentFailure(f"{where}: {exc}")) from None
        except TimeoutError:
            what = f"{where}: no answer within {self.smtp.timeout_seconds} s"
            raise TemporaryFailure(what) from None
        except ConnectionRefusedError:
            raise TemporaryFailure(f"{where}: connection refused") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise self._scrub(TemporaryFailure(f"{where}: {_text(str(reason))}")) from None


_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


class FileBackend:
    """Write each message to ``<folder>/<UTC timestamp>-<message-id>.eml``.

    Atomic (temp file, fsync, rename) and idempotent: a message whose Message-ID is already in
    the folder replaces that file, so retries never make a second file.

    >>> FileBackend(Path("outbox")).send(msg)  # doctest: +SKIP
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path_for(self, msg: EmailMessage) -> Path:
        """The file ``msg`` is (or will be) written to."""
        mid = str(msg.get("Message-ID", "")).strip()
        if not mid:
            raise PermanentFailure("file backend: message has no Message-ID")
        safe = _UNSAFE.sub("_", mid.strip("<>"))[:150]
        existing = sorted(self.folder.glob(f"*-{safe}.eml"))
        if existing:
            return existing[0]
        try:
            stamp = parsedate_to_datetime(str(msg["Date"])).astimezone(UTC)
        except (TypeError, ValueError):
            stamp = datetime.now(UTC)
        return self.folder / f"{stamp:%Y%m%dT%H%M%SZ}-{safe}.eml"

    def send(self, msg: EmailMessage) -> None:
        """Write ``msg``; an OSError (disk full, permissions) is a temporary failure."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.path_for(msg)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".eml", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(msg.as_bytes())
                    out.flush()
                    os.fsync(out.fileno())
                replace_durably(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise TemporaryFailure(f"file backend {self.folder}: {exc.strerror or exc}") from None


class ConsoleBackend:
    """Print each message readably (headers, plain text, list of other parts): for trying out.

    >>> ConsoleBackend().send(msg)  # doctest: +SKIP
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, msg: EmailMessage) -> None:
        out = self._stream if self._stream is not None else sys.stdout
        lines = ["=" * 72]
        for name in ("Message-ID", "Date", "From", "To", "Subject"):
            if msg[name] is not None:
                lines.append(f"{name}: {msg[name]}")
        lines.append("-" * 72)
        body = msg.get_body(preferencelist=("plain",))
        if isinstance(body, EmailMessage):
            lines.append(str(body.get_content()).rstrip("\n"))
        for part in msg.walk():
            if part.is_multipart() or part is body:
                continue
            filename = part.get_filename()
            label = f" {filename}" if filename else ""
            lines.append(f"[Teil: {part.get_content_type()}{label}]")
        out.write("\n".join(lines) + "\n")
        out.flush()


def backend_from_settings(settings: Settings) -> Backend:
    """The backend ``[mail] backend`` names; the SMTP password comes from the environment.

    A missing password variable while ``mail.smtp.username`` is set is a ConfigError naming
    the variable (never its value).
    """
    if settings.mail_backend == "file":
        return FileBackend(settings.mail_folder)
    if settings.mail_backend == "console":
        return ConsoleBackend()
    if settings.mail_backend != "smtp":
        raise ConfigError(f"{settings.path}: mail.backend must be smtp, file or console")
    smtp = settings.smtp
    password: str | None = None
    if smtp.password_env:
        password = os.environ.get(smtp.password_env) or None
    if smtp.username and password is None:
        if not smtp.password_env:
            raise ConfigError(
                f"{settings.path}: mail.smtp.username is set but mail.smtp.password_env is empty "
                "(name the environment variable that holds the SMTP password)"
            )
        raise ConfigError(
            f"{settings.path}: mail.smtp.password_env: environment variable "
            f"{smtp.password_env} is not set (needed to log in as {smtp.username})"
        )
    return SmtpBackend(smtp, password)
