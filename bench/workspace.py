"""Throw-away installations for the benchmark: a config folder with a migrated database."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aqb_workflow.bootstrap import App, bootstrap, os_login
from aqb_workflow.config import load_settings
from aqb_workflow.domain.model import Actor
from aqb_workflow.store.migrate import upgrade
from aqb_workflow.testing import FixedClock

REPO = Path(__file__).resolve().parent.parent
MINISTRY = Actor("hmsi-aqb", ("ministry",))
NOW = datetime(2024, 11, 20, 9, 0, tzinfo=UTC)
USERS = f'\n[users]\nhmsi-aqb = "ministry"\n{os_login()} = "ministry"\n'


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def database(self) -> Path:
        return self.root / "aqb.db"

    @property
    def anchor(self) -> Path:
        return self.root / "aqb-audit.anchor"

    def app(self) -> App:
        """The application as the CLI wires it, with a clock that stands still."""
        return bootstrap(load_settings(self.config), clock=FixedClock(NOW))


def make_workspace(root: Path) -> Workspace:
    """The shipped config.toml and workflow in ``root``, with only the ministry as a user."""
    (root / "states").mkdir(parents=True)
    shutil.copy(REPO / "states" / "agreement.toml", root / "states" / "agreement.toml")
    text = (REPO / "config.toml").read_text(encoding="utf-8").split("[users]")[0]
    text = text.replace('folder = "notifications"', f'folder = "{REPO / "notifications"}"')
    (root / "config.toml").write_text(text + USERS, encoding="utf-8")
    return Workspace(root)


def migrated_workspace(root: Path) -> Workspace:
    workspace = make_workspace(root)
    app = workspace.app()
    try:
        upgrade(app.db)
    finally:
        app.db.dispose()
    return workspace


def clone_workspace(source: Workspace, root: Path) -> Workspace:
    """A second installation with a byte-identical database and anchor."""
    with sqlite3.connect(source.database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    target = make_workspace(root)
    shutil.copy(source.database, target.database)
    shutil.copy(source.anchor, target.anchor)
    return target


def content_digest(database: Path) -> str:
    """SHA-256 over the SQL dump (schema and every row): equal digests, equal contents."""
    digest = hashlib.sha256()
    conn = sqlite3.connect(database)
    try:
        for line in conn.iterdump():
            digest.update(line.encode("utf-8") + b"\n")
    finally:
        conn.close()
    return digest.hexdigest()
