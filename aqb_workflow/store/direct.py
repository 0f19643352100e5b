"""The hot write path's statements, compiled once per dialect and run on the driver's cursor.

A transition runs about ten statements; through ``Connection.execute`` each costs some 50 µs of
SQLAlchemy bookkeeping around the 10 µs the database needs (measured in ``bench/``). The
statements stay SQLAlchemy Core expressions (one definition of the SQL, for SQLite and
PostgreSQL alike); only their execution skips the machinery. They run on the same connection,
inside the same transaction, and driver errors are raised as SQLAlchemy's exception classes,
so ``translate_errors`` treats them as before.

What a ``Direct`` statement does not do, so use it only where that is fine: no Python-side
column defaults (give every value), no type conversion of results (SQLite returns 0/1 for a
boolean), no expanding ``IN`` lists, no engine events or echo logging, no invalidation of a
dropped connection (PostgreSQL's pool checks connections before use).
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
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get((dialect.name, dialect.driver))
        if found is None:
            compiled = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            if compiled.post_compile_params or compiled.literal_execute_params:
                raise TypeError("Direct cannot run expanding IN or literal-execute parameters")
            names = tuple(compiled.positiontup) if compiled.positional else None
            # literals in the expression (``id == 1``, ``.values(x=None)``) are bound
            # parameters with a value of their own; the caller gives the others
            fixed = {
                name: compiled.params[name]
                for bind, name in compiled.bind_names.items()
                if not bind.required
            }
            found = _Compiled(compiled.string, names, fixed)
            self._compiled[(dialect.name, dialect.driver)] = found
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
        except BaseException:
            cursor.close()
            raise
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

    def lastrowid(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """Run an INSERT; the new row's id as the driver reports it (SQLite)."""
        cursor = self.run(conn, params)
        try:
            return cursor.lastrowid
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
