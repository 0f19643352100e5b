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
