"""``aqb init``: create or upgrade the schema with Alembic, programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

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
        if not db.is_sqlite:
            grant_staff_role(conn)
            conn.commit()
    return before, head


STAFF_ROLE = "aqb_users"
#: What staff logins may do: no DDL, and the audit log only grows (no UPDATE or DELETE).
GRANTS = (
    "GRANT USAGE ON SCHEMA public TO aqb_users",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON agreement, measure, contact, reminder TO aqb_users",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON daemon TO aqb_users",
    "GRANT SELECT, UPDATE ON audit_head TO aqb_users",
    "GRANT SELECT, INSERT ON audit_event, refusal TO aqb_users",
    "GRANT SELECT ON meta, alembic_version TO aqb_users",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO aqb_users",
    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
)


def grant_staff_role(conn: Connection) -> None:
    """PostgreSQL: the group role staff logins are members of, with exactly what they need."""
    conn.exec_driver_sql(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aqb_users') "
        "THEN CREATE ROLE aqb_users NOLOGIN; END IF; END $$"
    )
    for statement in GRANTS:
        conn.exec_driver_sql(statement)


def current_revision(db: Database) -> str | None:
    with translate_errors(), db.reader.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
