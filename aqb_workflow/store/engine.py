"""Engines with the durability we promise, and the two kinds of transaction.

SQLite: WAL, ``synchronous=FULL``, a busy timeout, and writes that start with ``BEGIN
IMMEDIATE`` (Python's default deferred transactions lose read-then-write updates between
processes). Reads use a plain ``BEGIN`` so they never block writers.
PostgreSQL: ``synchronous_commit=on``; writers lock the rows they change (``FOR UPDATE``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from aqb_workflow.errors import AqbError, ConfigError, Conflict


class Database:
    """A database URL made into a writer and a reader engine."""

    def __init__(self, url: str, busy_timeout_ms: int = 30_000) -> None:
        self.url = url
        try:
            self.dialect = url.split(":", 1)[0].split("+", 1)[0]
        except IndexError:
            raise ConfigError(f"database.url: {url!r} is not a database URL") from None
        if self.dialect not in ("sqlite", "postgresql"):
            raise ConfigError(
                f"database.url: {url!r}: only sqlite:/// and postgresql+psycopg:// are supported"
            )
        self.busy_timeout_ms = busy_timeout_ms
        self.chain_id: str | None = None  # cached by the unit of work
        try:
            if self.is_sqlite:
                self.writer = self._sqlite_engine("BEGIN IMMEDIATE")
                self.reader = self._sqlite_engine("BEGIN")
            else:
                self.writer = self.reader = self._postgres_engine()
        except (ArgumentError, ImportError) as exc:
            raise ConfigError(f"database.url: {url!r}: {exc}") from None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def sqlite_path(self) -> Path | None:
        """The database file, for SQLite URLs naming one."""
        if not self.is_sqlite:
            return None
        database = self.writer.url.database
        return Path(database) if database and database != ":memory:" else None

    def _sqlite_engine(self, begin: str) -> Engine:
        engine = create_engine(
            self.url,
            connect_args={"timeout": self.busy_timeout_ms / 1000, "isolation_level": None},
        )
        timeout = int(self.busy_timeout_ms)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute(f"PRAGMA busy_timeout={timeout}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin)

        return engine

    def _postgres_engine(self) -> Engine:
        engine = create_engine(self.url, pool_pre_ping=True)

        @event.listens_for(engine, "connect")
        def _settings(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute("SET synchronous_commit = on")
                cur.execute(f"SET lock_timeout = '{int(self.busy_timeout_ms)}ms'")
            dbapi_conn.commit()

        return engine

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (plain BEGIN: it does not block writers)."""
        with translate_errors(), self.reader.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


@contextmanager
def translate_errors() -> Iterator[None]:
    """Database trouble a person can act on, as one line instead of a traceback."""
    try:
        yield
    except AqbError:
        raise
    except OperationalError as exc:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        if "locked" in text or "busy" in text or "lock timeout" in text:
            raise Conflict("the database is busy with another writer; try again") from None
        if "no such table" in text or ("does not exist" in text and "relation" in text):
            raise ConfigError("the database has no aqb schema yet; run: aqb init") from None
        raise ConfigError(f"database error: {text.splitlines()[0]}") from None
    except ProgrammingError as exc:  # PostgreSQL: a missing table is UndefinedTable
        text = str(exc.orig) if exc.orig is not None else str(exc)
        if "does not exist" in text and "relation" in text:
            raise ConfigError("the database has no aqb schema yet; run: aqb init") from None
        raise
