"""The verified prefix of the audit chain, kept beside the anchor so ``audit verify`` can resume.

``<anchor>.verified`` is a small SQLite file holding, for one chain, the head of the last clean
verification (sequence number and hash) and each agreement's fold of its events up to there
(last to-state, number of state-bearing events), keyed by agreement. A run reads and updates only
the folds of the agreements its new events name, so its cost follows what happened since the
last run, not the number of agreements. The file lives outside the database with the same trust
as the anchor: someone who can change the database alone cannot move it.

Verifiers take turns (``serialized``: an exclusive lock beside the file). Written two ways, each
all or nothing: an incremental run advances the file in one transaction, and only from the head
it started at; a full run rewrites a usable file in one transaction, and replaces any other with
a new file renamed over it (temp file + fsync + rename).

Reading never fails the caller: a missing, unreadable or foreign checkpoint is ``Unusable``, and
``audit verify`` then recomputes the whole chain. A checkpoint written as JSON by an earlier
version is unreadable in this sense, so the first run after an upgrade is a full one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from aqb_workflow.domain.audit import Head
from aqb_workflow.durable import replace_durably

MAX_SEQ = 2**31 - 1  # audit_event.seq is an INTEGER column
FORMAT = 2  # PRAGMA user_version of the file; 1 was the JSON file
_SHA256 = re.compile(r"[0-9a-f]{64}")
_BATCH = 500

Fold = dict[str, tuple[str, int]]
"""Per agreement: the to-state of its last state-bearing event and how many there were."""

_SCHEMA = (
    "CREATE TABLE head (chain TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL)",
    "CREATE TABLE fold (agreement TEXT PRIMARY KEY, state TEXT NOT NULL, events INTEGER NOT NULL)",
)


@dataclass(frozen=True)
class Checkpoint:
    chain: str
    head: Head


class Unusable(Exception):
    """No checkpoint to resume from; the message says why (for the report, not an error)."""


class Checkpoints:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def beside(cls, anchor: Path) -> Checkpoints:
        return cls(anchor.with_name(anchor.name + ".verified"))

    @contextlib.contextmanager
    def serialized(self) -> Iterator[None]:
        """One verifier at a time reads and writes the file (``<file>.lock``, exclusive): a
        second one waits and then starts from the head the first one saved. Where the lock file
        cannot be made (a read-only folder, where nothing can be saved either) it goes on
        without."""
        try:
            fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT)
        except OSError:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- reading --------------------------------------------------------------------------
    def read(self, chain: str) -> Checkpoint:
        """The checkpoint's head for ``chain``, or raise Unusable saying why there is none."""
        if not self.path.exists():
            raise Unusable("no verified prefix saved yet")
        with self._reading() as conn:
            found = self._head(conn)
        if found.chain != chain:
            raise Unusable(f"{self.path} belongs to another database (chain {found.chain})")
        return found

    def folds(self, keys: Sequence[str]) -> Fold:
        """The saved folds of the named agreements that have one; Unusable if one is malformed."""
        fold: Fold = {}
        with self._reading() as conn:
            for start in range(0, len(keys), _BATCH):
                part = keys[start : start + _BATCH]
                marks = ", ".join("?" * len(part))
                rows = conn.execute(
                    f"SELECT agreement, state, events FROM fold WHERE agreement IN ({marks})", part
                )
                for key, state, events in rows:
                    if not isinstance(state, str) or type(events) is not int or events < 1:
                        raise Unusable(f"{self.path} is unreadable (a malformed fold)")
                    fold[key] = (state, events)
        return fold

    # -- writing --------------------------------------------------------------------------
    def advance(self, start: Checkpoint, done: Checkpoint, changed: Fold) -> bool:
        """Move the file from ``start`` to ``done`` with the ``changed`` folds, in one
        transaction; False (nothing written) if the file no longer holds ``start``. OSError if
        it cannot be written."""
        with self._writing() as conn:
            conn.execute("BEGIN IMMEDIATE")
            if self._head(conn) != start:
                conn.execute("ROLLBACK")
                return False
            self._write(conn, done, changed.items())
            conn.execute("COMMIT")
        return True

    def replace(self, done: Checkpoint, fold: Fold) -> None:
        """Hold exactly ``done`` and ``fold``, all or nothing; OSError if that cannot be written.

        A usable file is rewritten in one transaction, so SQLite's journal keeps it whole. Any
        other (missing, from an earlier version, spoilt) is replaced by a new file renamed over
        it, after removing a journal left beside it, which belongs to the old file only.
        """
        try:
            with self._writing() as conn:
                if conn.execute("PRAGMA user_version").fetchone()[0] == FORMAT:
                    conn.execute("BEGIN IMMEDIATE")
                    self._head(conn)  # a usable file: the right tables, one head row
                    conn.execute("DELETE FROM fold")
                    self._write(conn, done, fold.items())
                    conn.execute("COMMIT")
                    return
        except (OSError, Unusable):
            pass
        self._create(done, fold)

    def _create(self, done: Checkpoint, fold: Fold) -> None:
        folder = self.path.parent
        # one temp file per process; created like the anchor, so the umask decides permissions
        tmp = folder / f".{self.path.name}.{os.getpid()}.tmp"
        try:
            tmp.unlink(missing_ok=True)
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=OFF")  # a fresh file: the rename is the commit
                conn.execute("BEGIN")
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute("INSERT INTO head VALUES ('', 0, '')")
                self._write(conn, done, fold.items())
                conn.execute(f"PRAGMA user_version = {FORMAT}")
                conn.execute("COMMIT")
            finally:
                conn.close()
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self.path.with_name(self.path.name + "-journal").unlink(missing_ok=True)
            replace_durably(tmp, self.path)
        except sqlite3.Error as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise OSError(f"{tmp}: {exc}") from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # -- the file -------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            f"{self.path.resolve().as_uri()}?mode=rw", uri=True, timeout=30, isolation_level=None
        )
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """Anything wrong with the file while reading it means: no checkpoint (Unusable)."""
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise Unusable(f"{self.path} is unreadable ({exc})") from None
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] != FORMAT:
                raise Unusable(f"{self.path} is unreadable (not a checkpoint of this version)")
            yield conn
        except sqlite3.Error as exc:
            raise Unusable(f"{self.path} is unreadable ({exc})") from None
        finally:
            conn.close()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """Trouble while writing is an OSError naming the file and SQLite's reason; an open
        transaction is rolled back."""
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise OSError(f"{self.path}: {exc}") from None
        try:
            yield conn
        except sqlite3.Error as exc:
            raise OSError(f"{self.path}: {exc}") from None
        finally:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            conn.close()

    def _head(self, conn: sqlite3.Connection) -> Checkpoint:
        rows = conn.execute("SELECT chain, seq, hash FROM head").fetchall()
        if len(rows) != 1:
            raise Unusable(f"{self.path} is unreadable (no head)")
        chain, seq, digest = rows[0]
        if not isinstance(chain, str) or not isinstance(digest, str) or type(seq) is not int:
            raise Unusable(f"{self.path} is unreadable (a malformed head)")
        if not 0 <= seq <= MAX_SEQ or not _SHA256.fullmatch(digest):
            raise Unusable(f"{self.path} is unreadable (a malformed head)")
        return Checkpoint(chain, Head(seq, digest))

    @staticmethod
    def _write(
        conn: sqlite3.Connection, done: Checkpoint, folds: Iterable[tuple[str, tuple[str, int]]]
    ) -> None:
        conn.execute(
            "UPDATE head SET chain = ?, seq = ?, hash = ?",
            (done.chain, done.head.seq, done.head.hash),
        )
        conn.executemany(
            "INSERT INTO fold VALUES (?, ?, ?) ON CONFLICT (agreement) "
            "DO UPDATE SET state = excluded.state, events = excluded.events",
            ((key, state, events) for key, (state, events) in folds),
        )
