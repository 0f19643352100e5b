"""The tables the code declares are exactly what the migrations build (Alembic's own compare)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from aqb_workflow.bootstrap import App
from aqb_workflow.store.tables import metadata


def test_the_migrated_database_matches_the_declared_tables(app: App) -> None:
    with app.db.writer.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []
