"""Choosing a backend from the config; the console backend; failure messages stay one line."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aqb_workflow.config import load_settings
from aqb_workflow.errors import ConfigError
from aqb_workflow.mail.backends import (
    ConsoleBackend,
    FileBackend,
    PermanentFailure,
    SmtpBackend,
    TemporaryFailure,
    backend_from_settings,
)
from aqb_workflow.mail.message import Outgoing, build, message_id_for


def settings_with(tmp_path: Path, mail: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(mail, encoding="utf-8")
    return load_settings(path)


def test_file_and_console(tmp_path: Path) -> None:
    backend = backend_from_settings(settings_with(tmp_path, '[mail]\nbackend = "file"\n'))
    assert isinstance(backend, FileBackend)
    assert backend.folder == tmp_path / "outbox"
    console = backend_from_settings(settings_with(tmp_path, '[mail]\nbackend = "console"\n'))
    assert isinstance(console, ConsoleBackend)


def test_smtp_without_login_needs_no_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AQB_TEST_SMTP_PW", raising=False)
    config = '[mail]\nbackend = "smtp"\n[mail.smtp]\npassword_env = "AQB_TEST_SMTP_PW"\n'
    backend = backend_from_settings(settings_with(tmp_path, config))
    assert isinstance(backend, SmtpBackend)


def test_missing_password_variable_is_named_not_valued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AQB_TEST_SMTP_PW", raising=False)
    config = (
        '[mail]\nbackend = "smtp"\n[mail.smtp]\nusername = "aqb"\n'
        'password_env = "AQB_TEST_SMTP_PW"\n'
    )
    settings = settings_with(tmp_path, config)
    with pytest.raises(ConfigError, match="AQB_TEST_SMTP_PW") as err:
        backend_from_settings(settings)
    assert "\n" not in str(err.value)

    monkeypatch.setenv("AQB_TEST_SMTP_PW", "geheim-123")
    backend = backend_from_settings(settings)
    assert isinstance(backend, SmtpBackend)
    assert "geheim-123" not in repr(backend)


def test_username_without_password_env(tmp_path: Path) -> None:
    config = '[mail]\nbackend = "smtp"\n[mail.smtp]\nusername = "aqb"\npassword_env = ""\n'
    with pytest.raises(ConfigError, match="password_env"):
        backend_from_settings(settings_with(tmp_path, config))


def test_failures_carry_code_and_one_line() -> None:
    exc = TemporaryFailure("SMTP x:25: 451 4.3.0\n try later", 451)
    assert exc.code == 451 and str(exc) == "SMTP x:25: 451 4.3.0 try later"
    assert PermanentFailure("no").code is None


def test_console_prints_readable_text() -> None:
    out = io.StringIO()
    msg = build(
        Outgoing(
            message_id=message_id_for(5),
            sender="AQB <aqb@hmsi.hessen.de>",
            recipients=("a@lkgi.de",),
            subject="AQB 2024 – Landkreis Gießen",
            text="Grüße\n",
            html="<p>Grüße</p>",
        ),
        datetime(2024, 7, 8, 6, 0, tzinfo=UTC),
    )
    ConsoleBackend(out).send(msg)
    printed = out.getvalue()
    assert "Subject: AQB 2024 – Landkreis Gießen" in printed
    assert "Message-ID: <reminder-5@aqb-workflow>" in printed
    assert "Grüße" in printed
    assert "[Teil: text/html]" in printed
