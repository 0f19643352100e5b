"""``aqb --help`` must not load the ORM: imports live inside the commands."""

from __future__ import annotations

import subprocess
import sys


def test_help_imports_no_sqlalchemy_and_no_orm():
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "aqb_workflow", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "click" in imported  # the check itself sees imports
    heavy = {
        m
        for m in imported
        if m.split(".")[0] in {"sqlalchemy", "sqlmodel", "transitions", "alembic", "jinja2"}
    }
    assert heavy == set()
    assert "Usage: python -m aqb_workflow" in proc.stdout


def test_reading_commands_load_neither_pydantic_nor_the_orm_layer(workspace, cli):
    """The tables are SQLAlchemy Core: ``aqb list`` pays for no model classes (BENCHMARKS.md)."""
    cli("create --district giessen --year 2024 --budget 1266800")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "aqb_workflow", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=workspace.env("hmsi-aqb"),
        cwd=workspace.root,
    )
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "sqlalchemy" in imported  # the check itself sees imports
    assert "2024-giessen" in proc.stdout
    assert {m for m in imported if m.split(".")[0] in {"sqlmodel", "pydantic"}} == set()
