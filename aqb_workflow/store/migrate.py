"""``aqb init``: create or upgrade the schema with Alembic, programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from aqb_workflow.store.engine import Database, translate_errors

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(db: Database) -> tuple[str | None, str]:
    """Bring the database to the newest revision; returns (before, after)."""
    cfg = alembic_config()
    head = ScriptDirectory.from_config(cfg).get_current_head() or ""
    with translate_errors(), db.writer.connect() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        conn.commit()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()
    return before, head


def current_revision(db: Database) -> str | None:
    with translate_errors(), db.reader.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
