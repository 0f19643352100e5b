"""The verified prefix of the audit chain, kept beside the anchor so ``audit verify`` can resume.

``<anchor>.verified`` holds, for one chain, the head of the last clean verification (sequence
number and hash): a few bytes, whatever the size of the log. It lives outside the database with
the same trust as the anchor: someone who can change the database alone cannot move it. Written
with temp file + fsync + rename, so a reader sees the old checkpoint or the new one, never half.

Reading never fails the caller: a missing, unreadable or foreign checkpoint is ``Unusable``, and
``audit verify`` then recomputes the whole chain.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from aqb_workflow.domain.audit import Head

MAX_SEQ = 2**31 - 1  # audit_event.seq is an INTEGER column
_SHA256 = re.compile(r"[0-9a-f]{64}")


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

    def read(self, chain: str) -> Checkpoint:
        """The checkpoint for ``chain``, or raise Unusable saying why there is none."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise Unusable("no verified prefix saved yet") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise Unusable(f"cannot read {self.path}: {reason}") from None
        try:
            data = json.loads(raw)
            owner = data["chain"]
            seq = data["seq"]
            digest = data["hash"]
            if not isinstance(owner, str) or not isinstance(digest, str):
                raise TypeError
            if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_SEQ:
                raise TypeError
            if not _SHA256.fullmatch(digest):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise Unusable(f"{self.path} is unreadable") from None
        if owner != chain:
            raise Unusable(f"{self.path} belongs to another database (chain {owner})")
        return Checkpoint(owner, Head(seq, digest))

    def write(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint atomically and durably; OSError if the folder is not writable."""
        data = json.dumps(
            {
                "chain": checkpoint.chain,
                "seq": checkpoint.head.seq,
                "hash": checkpoint.head.hash,
            }
        )
        folder = self.path.parent
        # one temp file per process (verifiers run side by side under the shared lock); created
        # like the anchor, so it gets the same permissions (the umask decides)
        tmp = folder / f".{self.path.name}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(data + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
