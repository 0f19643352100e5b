"""The audit chain: canonical encoding, hashing and verification. Pure: rows in, verdict out.

Each event's hash is SHA-256 over a canonical encoding of every column and the previous hash,
so editing, deleting, inserting or reordering any row breaks the chain at that row. A cut-off
tail leaves a valid chain; only the head kept outside the database (the anchor) shows it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aqb_workflow.errors import AuditBroken

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    agreement: str | None
    at: str
    actor: str
    role: str
    event: str
    from_state: str | None
    to_state: str | None
    comment: str | None
    payload: str  # canonical JSON text, hashed as stored
    prev_hash: str
    hash: str

    def content(self) -> list[Any]:
        return [
            self.seq,
            self.agreement,
            self.at,
            self.actor,
            self.role,
            self.event,
            self.from_state,
            self.to_state,
            self.comment,
            self.payload,
        ]


def compute_hash(content: list[Any], prev_hash: str) -> str:
    return hashlib.sha256(canonical_json([*content, prev_hash]).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Head:
    """The last verified (or anchored) point of the chain."""

    seq: int = 0
    hash: str = GENESIS


@dataclass
class Verdict:
    checked: int = 0
    head: Head = field(default_factory=Head)
    warnings: list[str] = field(default_factory=list)


def verify_chain(records: Iterable[AuditRecord], start: Head | None = None) -> Verdict:
    """Walk records in ``seq`` order from ``start``; raise AuditBroken at the first bad one."""
    head = start or Head()
    verdict = Verdict(head=head)
    for rec in records:
        expected = head.seq + 1
        if rec.seq != expected:
            if rec.seq > expected:
                raise AuditBroken(
                    f"audit chain broken at event {expected}: missing (next is {rec.seq})",
                    expected,
                )
            raise AuditBroken(f"audit chain broken at event {rec.seq}: out of order", rec.seq)
        if rec.prev_hash != head.hash:
            raise AuditBroken(
                f"audit chain broken at event {rec.seq}: does not follow event {head.seq} "
                "(removed, inserted or reordered)",
                rec.seq,
            )
        if compute_hash(rec.content(), rec.prev_hash) != rec.hash:
            raise AuditBroken(f"audit chain broken at event {rec.seq}: changed", rec.seq)
        head = Head(rec.seq, rec.hash)
        verdict.checked += 1
    verdict.head = head
    return verdict


def check_anchor(verdict: Verdict, anchor: Head | None, hash_at: dict[int, str]) -> None:
    """Compare the verified chain with the head kept outside the database.

    ``hash_at`` maps the anchor's sequence number to the database's hash there, if it has one.
    An anchor exactly one event behind is what a crash between commit and anchor write leaves:
    a warning. Anything else is tampering.
    """
    anchor = anchor or Head()
    last = verdict.head
    if last.seq < anchor.seq:
        raise AuditBroken(
            f"audit chain broken at event {last.seq + 1}: the log ends at event {last.seq} but "
            f"the anchor records event {anchor.seq} (events cut off)",
            last.seq + 1,
        )
    if anchor.seq and hash_at.get(anchor.seq) != anchor.hash:
        raise AuditBroken(
            f"audit chain broken at event {anchor.seq}: differs from the anchored head",
            anchor.seq,
        )
    behind = last.seq - anchor.seq
    if behind == 1:
        verdict.warnings.append(
            f"anchor is one event behind (event {last.seq} not yet anchored; "
            "expected after a crash right after a commit)"
        )
    elif behind > 1:
        raise AuditBroken(
            f"audit chain broken at event {anchor.seq + 1}: {behind} events after the anchored "
            f"head (event {anchor.seq}) were not written by aqb",
            anchor.seq + 1,
        )
