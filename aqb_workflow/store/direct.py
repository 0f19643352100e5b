"""The hot write path's statements, compiled once per dialect and run on the driver's cursor.

A transition runs about ten statements; through ``Connection.execute`` each costs some 50 µs of
SQLAlchemy bookkeeping around the 10 µs the database needs (measured in ``bench/``). The
statements stay SQLAlchemy Core expressions (one definition of the SQL, for SQLite and
PostgreSQL alike); only their execution skips the machinery. They run on the same connection,
inside the same transaction, and driver errors are raised as SQLAlchemy's, so error handling is
unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import Connection, Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError


class _Compiled(NamedTuple):
    sql: str
    names: tuple[str, ...] | None  # the order of positional parameters (SQLite's ``?``)
    fixed: dict[str, Any]


def mapping(cursor: Any) -> dict[str, Any] | None:
    """The cursor's next row as a dict by column name, or None."""
    row = cursor.fetchone()
    if row is None:
        return None
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


class Direct:
    """One statement, compiled for one dialect; ``run`` returns the driver's cursor."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            names = tuple(compiled.positiontup) if compiled.positional else None
            # literals in the expression (``id == 1``) are bound parameters with a value
            fixed = {k: v for k, v in compiled.params.items() if v is not None}
            found = self._compiled[dialect.name] = _Compiled(compiled.string, names, fixed)
        return found

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        sql, names, fixed = self._for(conn.dialect)
        values: Any = {**fixed, **params} if params else fixed
        if names is not None:
            values = tuple(values[name] for name in names)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, values)
        except conn.dialect.loaded_dbapi.Error as exc:
            cursor.close()
            raise DBAPIError.instance(
                sql, values, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
            ) from exc
        return cursor

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first row as a dict by column name, or None."""
        cursor = self.run(conn, params)
        try:
            return mapping(cursor)
        finally:
            cursor.close()

    def all(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        cursor = self.run(conn, params)
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def write(self, conn: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Run an UPDATE/INSERT/DELETE; the number of rows it touched."""
        cursor = self.run(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def returning(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """Run an INSERT … RETURNING one column; that value."""
        cursor = self.run(conn, params)
        try:
            row = cursor.fetchone()
            return None if row is None else row[0]
        finally:
            cursor.close()
