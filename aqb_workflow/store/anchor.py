"""The audit head kept outside the database, so a cut-off tail of the log is seen.

Written after each commit with temp file + fsync + rename (a reader sees the old head or the new
one, never half). Writers hold an exclusive lock on ``<anchor>.lock`` from before their database
transaction until the anchor is written, so the anchor only moves forward and ``audit verify``
(holding the lock shared) never sees a commit without its anchor.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aqb_workflow.domain.audit import Head
from aqb_workflow.durable import replace_durably
from aqb_workflow.errors import AuditBroken, ConfigError


class Anchor:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")

    @contextmanager
    def locked(self, exclusive: bool = True) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(
                f"audit.anchor: cannot use {self.lock_path}: {exc.strerror}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def read(self, chain: str) -> Head | None:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"audit.anchor: cannot read {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(raw)
            head = Head(int(data["seq"]), str(data["hash"]))
            owner = str(data["chain"])
        except (ValueError, KeyError, TypeError):
            raise AuditBroken(
                f"audit anchor {self.path} is unreadable (changed by hand?)"
            ) from None
        if owner != chain:
            raise AuditBroken(
                f"audit anchor {self.path} belongs to another database (chain {owner}, "
                f"this database is chain {chain})"
            )
        return head

    def write(self, chain: str, head: Head) -> None:
        """Replace the anchor atomically and durably. Call with the lock held."""
        current = None
        try:
            current = self.read(chain)
        except AuditBroken:
            current = None
        if current is not None and current.seq >= head.seq:
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        data = json.dumps({"chain": chain, "seq": head.seq, "hash": head.hash})
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(data + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        replace_durably(tmp, self.path)
