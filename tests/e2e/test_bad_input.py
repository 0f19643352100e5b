"""Broken files and bad arguments: exit 2, one line naming the problem, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_workspace, run_cli
from tests.paths import bring_to

BROKEN_CONFIGS = [
    ("[database\nurl = 1", "config.toml"),
    ("[databse]\nurl = 'sqlite:///x.db'", "unknown section [databse]"),
    ("[database]\nurl = 5", "database.url must be a str"),
    ("[database]\nurl = 'mysql://x'", "only sqlite"),
    ("[mail]\nbackend = 'pigeon'", "mail.backend"),
    ("[mail.smtp]\nsecurity = 'ssl3'", "mail.smtp.security"),
    ("[mail.smtp]\nport = 'twenty-five'", "mail.smtp.port must be a int"),
    ("[time]\nzone = 'Europe/Gießen'", "time.zone"),
    ("[users]\nalice = 'queen'", "users.alice"),
    ("[users]\nbob = ['district:']", "users.bob"),
    ("[daemon]\ninterval_seconds = 0", "daemon.interval_seconds"),
    ("[audit]\nanker = 'x'", "audit.anker"),
    ("\x00\x01binary", "config.toml"),
]


@pytest.mark.parametrize(("text", "named"), BROKEN_CONFIGS)
def test_broken_config_exits_2_naming_the_problem(text, named, workspace, cli):
    before = workspace.snapshot()
    workspace.config.write_text(text, encoding="utf-8")
    for command in ("list", "create --district giessen --year 2024 --budget 1", "audit verify"):
        result = cli(command, expect=2)
        assert named in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert workspace.snapshot() == before


BROKEN_WORKFLOWS = [
    ('to = "signed_by_ministry"', 'to = "signed_by_minstry"', "unknown state 'signed_by_minstry'"),
    ('guards = ["not_before_review"]', 'guards = ["not_before_lunch"]', "unknown guard"),
    ('type = "datetime"', 'type = "timestamp"', "is not a field type"),
    ('[states.closed]\nlabel = "Abgeschlossen"', '[states.closed]\nlabl = "x"', "states.closed"),
    ('roles = ["ministry"]\nfields.reason', 'roles = ["queen"]\nfields.reason', "unknown role"),
    ('initial = "drafted"', 'initial = "draft"', "workflow.initial"),
    ("[triggers.close]", "[triggers.sign_ministry]", "sign_ministry"),  # duplicate table
    ('from = ["autumn_review"]\nto = "closed"', 'from = ["closed"]\nto = "closed"', "final"),
    (
        '[states.withdrawn]\nlabel = "Zurückgezogen"',
        '[states.limbo]\nlabel = "x"\n[states.withdrawn]\nlabel = "Zurückgezogen"',
        "states.limbo",
    ),
]


@pytest.mark.parametrize(("old", "new", "named"), BROKEN_WORKFLOWS)
def test_broken_workflow_exits_2_naming_file_and_key(old, new, named, workspace, cli):
    text = workspace.workflow.read_text(encoding="utf-8")
    assert old in text
    workspace.workflow.write_text(text.replace(old, new, 1), encoding="utf-8")
    before = workspace.snapshot()
    result = cli("create --district giessen --year 2024 --budget 1266800", expect=2)
    assert named in result.stderr
    assert "agreement.toml" in result.stderr
    assert workspace.snapshot() == before


def test_dropping_a_state_in_use_is_refused_listing_the_agreements(app, workspace, cli):
    bring_to(app, "notice_issued")
    text = workspace.workflow.read_text(encoding="utf-8")
    # rename the state everywhere: a consistent file, but agreements are still in the old state
    workspace.workflow.write_text(text.replace("notice_issued", "bescheid_erlassen"), "utf-8")
    result = cli("list", expect=2)
    assert "notice_issued: 2024-giessen" in result.stderr


BAD_ARGUMENTS = [
    ("create --district Kassel --year 2024 --budget 100", "ambiguous"),
    ("create --district Atlantis --year 2024 --budget 100", "unknown district"),
    ("create --district giessen --year 2024 --budget 1,2,3", "not an amount"),
    ("create --district giessen --year 2024 --budget -5", "positive"),
    ("create --district giessen --year 2024 --budget 0", "positive"),
    ("create --district hanau --year 2026 --budget 100", "no AQB agreement"),
    ("create --district giessen --year twenty --budget 1", "year"),
    ("show 2031-nowhere", "no agreement"),
    ("transition 2024-giessen sign_ministry on=31.02.2024 by=X", "kein gültiges Kalenderdatum"),
    ("transition 2024-giessen sign_ministry on=1.7.1925 by=X", "nicht plausibel"),
    ("transition 2024-giessen sign_ministry on=31.12.99 by=X", "in the future"),
    ("transition 2024-giessen sign_ministry on=2999-01-01 by=X", "in the future"),
    ("transition 2024-giessen sign_ministry on=2024-07-01", "needs by="),
    ("transition 2024-giessen sign_ministry on=2024-07-01 by=X colour=red", "unknown field"),
    ("transition 2024-giessen sign_ministry on2024-07-01", "FIELD=VALUE"),
    ("transition 2024-giessen fly_to_moon", "unknown trigger"),
    ("edit 2024-giessen budget=abc", "not an amount"),
    ("edit 2024-giessen favourite_colour=blue", "unknown field"),
    ("measure add 2024-giessen --category sport Fußball", "sport"),
    ("contact add --role district --name X --email x@y.de", "needs --district"),
    ("contact add --role rp_kassel --name X --email not-an-address", "not an email"),
    ("list --state nirvana", "unknown state"),
    ("frobnicate", "unbekannter Befehl 'frobnicate'"),
    ("show", "fehlendes Argument KEY"),
    ("list --colour", "unbekannte Option --colour"),
    ("create --district giessen --budget 1", "fehlende Option --year"),
    ("reminders preview zwölf", "'zwölf' ist keine ganze Zahl"),
]


@pytest.mark.parametrize(("args", "named"), BAD_ARGUMENTS)
def test_bad_arguments_exit_2_and_write_nothing(args, named, app, workspace, cli):
    bring_to(app, "drafted")
    before = workspace.snapshot()
    result = cli(args, expect=2)
    assert named in result.stderr
    assert workspace.snapshot() == before


@pytest.mark.sqlite_only
def test_database_without_schema_says_run_init(tmp_path, workspace, cli):
    workspace.database.unlink()
    result = cli("list", expect=2)
    assert "aqb init" in result.stderr
    assert not workspace.database.exists()


def test_a_database_without_the_schema_says_to_run_init(tmp_path: Path) -> None:
    """SQLite: no database file yet; PostgreSQL: an empty database (a missing relation)."""
    ws = make_workspace(tmp_path / "fresh")
    for args in ("list", "history 2024-giessen", "audit verify"):
        result = run_cli(ws, args, expect=None)
        assert result.returncode != 0, args
        assert "aqb init" in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
