"""The floor: the same writes in plain ``sqlite3`` at the same PRAGMAs, no engine around them.

Per transition: flock, BEGIN IMMEDIATE, SELECT the agreement, UPDATE it (state, data, version,
updated_at, state_entered_at; WHERE key AND version), SELECT its reminders, cancel the pending
ones the new state no longer wants (one UPDATE for all; aqb runs one per reminder, in the
benchmark there is one), INSERT the new ones (each with its Message-ID hashed as aqb does),
SELECT the audit head, INSERT the audit event hashed exactly as aqb does (SHA-256 over
canonical JSON of the columns and the previous hash; the payload names the reminders planned
and cancelled), UPDATE the head, COMMIT, then the anchor: temp file + fsync + rename + fsync
of the folder, and unlock.

Which reminders the new state wants is handed in (``wanted``, computed by aqb's planner before
the clock starts): the floor does the writes, not the planning.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workspace import MINISTRY, NOW

TRIGGER = "sign_ministry"
FROM_STATE = "drafted"
TO_STATE = "signed_by_ministry"
PAYLOAD = {"on": "2024-07-01", "by": "Heike Hofmann", "place": "Wiesbaden"}
CHANGES = {
    "ministry_signed_on": "2024-07-01",
    "ministry_signed_by": "Heike Hofmann",
    "ministry_signed_place": "Wiesbaden",
}
UPDATE_AGREEMENT = (
    "UPDATE agreement SET state = :state, data = :data, version = :new, updated_at = :at, "
    "state_entered_at = :at WHERE key = :key AND version = :old"
)
INSERT_REMINDER = (
    "INSERT INTO reminder (identity, agreement, kind, recipients, due_at, next_attempt_at, "
    "status, attempts, message_id, occurrence, max_occurrences, invite, invite_sequence, late, "
    "created_at) VALUES (:identity, :agreement, :kind, :recipients, :due_at, :due_at, "
    "'pending', 0, :message_id, :occurrence, :max_occurrences, :invite, :sequence, 0, :at)"
)
CANCEL = (
    "UPDATE reminder SET status = 'cancelled', finished_at = ?, last_error = 'cancelled by event' "
    "WHERE id IN ({}) AND status = 'pending'"
)
INSERT_EVENT = (
    "INSERT INTO audit_event (seq, agreement, at, actor, role, event, from_state, to_state, "
    "comment, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Conflict(Exception):
    pass


class FloorRunner:
    def __init__(
        self,
        database: Path,
        anchor: Path,
        wanted: dict[str, list[dict[str, Any]]],
        busy_timeout_ms: int = 30_000,
    ) -> None:
        self.anchor = anchor
        self.wanted = wanted
        self.lock_path = anchor.with_name(anchor.name + ".lock")
        self.conn = sqlite3.connect(database, timeout=busy_timeout_ms / 1000, isolation_level=None)
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            f"busy_timeout={busy_timeout_ms}",
            "foreign_keys=ON",
        ):
            self.conn.execute(f"PRAGMA {pragma}")
        self.chain = self.conn.execute("SELECT value FROM meta WHERE key = 'chain_id'").fetchone()[
            0
        ]
        self.at = NOW.isoformat(timespec="microseconds")
        self.seconds = 0.0
        self.anchor_seconds = 0.0  # of which: the anchor write after each commit
        self.done = 0

    def fire(self, keys: Sequence[str]) -> None:
        start = time.perf_counter()
        for key in keys:
            self.fire_one(key)
        self.seconds += time.perf_counter() - start
        self.done += len(keys)

    def fire_one(self, key: str) -> None:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            seq, digest = self.transaction(key)
            start = time.perf_counter()
            self.write_anchor(seq, digest)
            self.anchor_seconds += time.perf_counter() - start
        finally:
            os.close(fd)

    def transaction(self, key: str) -> tuple[int, str]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            state, version, data = conn.execute(
                "SELECT state, version, data FROM agreement WHERE key = ?", (key,)
            ).fetchone()
            if state != FROM_STATE:
                raise Conflict(f"{key} is {state}")
            fields = {**json.loads(data), **CHANGES}
            values = {"state": TO_STATE, "data": canonical(fields), "at": self.at, "key": key}
            updated = conn.execute(UPDATE_AGREEMENT, {**values, "old": version, "new": version + 1})
            if updated.rowcount != 1:
                raise Conflict(f"{key} changed concurrently")
            reminders = self.replan(key, version + 1)
            head_seq, prev = conn.execute(
                "SELECT seq, hash FROM audit_head WHERE id = 1"
            ).fetchone()
            row = self.event_row(head_seq + 1, key, prev, reminders)
            conn.execute(INSERT_EVENT, row)
            conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (row[0], row[-1]))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return row[0], row[-1]

    def replan(self, key: str, sequence: int) -> dict[str, list[int]]:
        """Cancel the pending reminders no longer wanted, insert the new ones."""
        conn = self.conn
        rows = conn.execute(
            "SELECT id, identity, status FROM reminder WHERE agreement = ?", (key,)
        ).fetchall()
        wanted = self.wanted[key]
        identities = {w["identity"] for w in wanted}
        cancelled = [
            i for i, ident, status in rows if status == "pending" and ident not in identities
        ]
        if cancelled:
            marks = ", ".join("?" * len(cancelled))
            conn.execute(CANCEL.format(marks), (self.at, *cancelled))
        existing = {ident for _, ident, _ in rows}
        planned = []
        for item in wanted:
            if item["identity"] in existing:
                continue
            digest = hashlib.sha256(item["identity"].encode("utf-8")).hexdigest()[:24]
            values = {
                **item,
                "agreement": key,
                "message_id": f"<{digest}.{key}@aqb-workflow>",
                "sequence": sequence,
                "at": self.at,
            }
            planned.append(conn.execute(INSERT_REMINDER, values).lastrowid)
        changes = {}
        if planned:
            changes["planned"] = planned
        if cancelled:
            changes["cancelled"] = cancelled
        return changes

    def event_row(
        self, seq: int, key: str, prev: str, reminders: dict[str, list[int]]
    ) -> tuple[Any, ...]:
        payload = {**PAYLOAD, "reminders": reminders} if reminders else PAYLOAD
        content = [
            seq,
            key,
            self.at,
            MINISTRY.display,
            "ministry",
            TRIGGER,
            FROM_STATE,
            TO_STATE,
            None,
            canonical(payload),
        ]
        digest = hashlib.sha256(canonical([*content, prev]).encode("utf-8")).hexdigest()
        return (*content, prev, digest)

    def write_anchor(self, seq: int, digest: str) -> None:
        tmp = self.anchor.with_name(f".{self.anchor.name}.{os.getpid()}.tmp")
        data = json.dumps({"chain": self.chain, "seq": seq, "hash": digest})
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(data + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.anchor)
        dir_fd = os.open(self.anchor.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        self.conn.close()
