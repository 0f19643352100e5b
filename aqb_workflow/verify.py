"""``aqb audit verify``: the chain, the anchor, and the agreements against their own history.

Incremental by default, so its cost follows what happened since the last clean run, not the size
of the database. After a clean verification the head (sequence number and hash) is saved beside
the anchor (``<anchor>.verified``, store/checkpoint.py). The next run checks that the database
still has that hash at that sequence number (and that the event there still hashes to it),
recomputes only the events after it, and for every agreement those new events name re-hashes its
whole history and compares its state and version with the fold of that history.

What the incremental run does not see: a change inside the verified prefix, before its last
event, to an event of an agreement that has no new events (its content edited with its hash
kept, an event deleted, rows swapped), and an agreement without new events changed or deleted
behind aqb's back. Only ``full=True`` (``aqb audit verify --full``), which recomputes every event
from the first and compares every agreement, finds those. A change to the prefix's last event (or
its hash, which rewriting the prefix with recomputed hashes changes), any change to the events
after it or to the history of an agreement they name, and a cut-off tail are found either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter

from sqlalchemy import Connection

from aqb_workflow.bootstrap import App
from aqb_workflow.domain.audit import AuditRecord, Head, check_anchor, compute_hash, verify_chain
from aqb_workflow.errors import AuditBroken
from aqb_workflow.store import queries
from aqb_workflow.store.checkpoint import Checkpoint, Checkpoints, Unusable
from aqb_workflow.store.unit_of_work import chain_id

Fold = dict[str, tuple[str, int]]
"""Per agreement: the to-state of its last state-bearing event and how many there were."""


@dataclass
class Report:
    checked: int
    """Events whose hashes this run recomputed (after the verified prefix, or all of them)."""
    head_seq: int
    head_hash: str
    agreements: int
    """Agreements compared with their history: all of them, or those the new events name."""
    warnings: list[str] = field(default_factory=list)
    prefix_seq: int = 0
    """Events 1..prefix_seq were verified by an earlier run and not recomputed (0: none)."""
    why_full: str | None = None
    """Why the whole chain was recomputed, when it was and that was not asked for."""
    checkpoint_saved: bool = False
    """Whether the head verified now is saved as the prefix for the next run."""

    @property
    def full(self) -> bool:
        return self.prefix_seq == 0


def verify(app: App, full: bool = False) -> Report:
    """Verify the events after the saved verified prefix (all of them when ``full`` or when
    there is no usable prefix); raise AuditBroken naming the first bad event found."""
    checkpoints = Checkpoints.beside(app.anchor.path)
    with app.anchor.locked(exclusive=False):
        with app.db.read() as conn:
            chain = chain_id(conn)
            start, why_full = _resume_point(conn, checkpoints, chain, full)
            folded: Fold = {}
            named: set[str] = set()

            def walk() -> Iterator[AuditRecord]:
                for record in queries.audit_records(conn, after=start.head.seq):
                    if record.agreement is not None:
                        named.add(record.agreement)
                        if record.to_state is not None:
                            _state, count = folded.get(record.agreement, ("", 0))
                            folded[record.agreement] = (record.to_state, count + 1)
                    yield record

            verdict = verify_chain(walk(), start=start.head)
            anchor = app.anchor.read(chain)
            hashes = {}
            if anchor is not None:
                found = queries.hash_at(conn, anchor.seq)
                if found is not None:
                    hashes[anchor.seq] = found
            check_anchor(verdict, anchor, hashes)
            if start.head.seq == 0:
                summary = queries.agreement_summary(conn)
            else:
                folded = _refold(conn, sorted(named), start.head.seq)
                summary = queries.agreement_states(conn, sorted(named))
        _compare(folded, summary)
        report = Report(
            checked=verdict.checked,
            head_seq=verdict.head.seq,
            head_hash=verdict.head.hash,
            agreements=len(folded.keys() | summary.keys()),
            warnings=verdict.warnings,
            prefix_seq=start.head.seq,
            why_full=why_full,
        )
        if verdict.warnings:
            # Only a cleanly verified and anchored head becomes the next run's starting point.
            return report
        done = Checkpoint(chain, verdict.head)
        if why_full is None and done == start:  # nothing new since the saved prefix
            report.checkpoint_saved = True
            return report
        try:
            checkpoints.write(done)
        except OSError as exc:
            report.warnings.append(
                f"cannot save the verified prefix to {checkpoints.path}: "
                f"{exc.strerror or exc}; the next verify cannot start after event "
                f"{verdict.head.seq}"
            )
        else:
            report.checkpoint_saved = True
    return report


def _resume_point(
    conn: Connection, checkpoints: Checkpoints, chain: str, full: bool
) -> tuple[Checkpoint, str | None]:
    """Where this run starts: the saved verified prefix, checked against the database, or the
    genesis with the reason why."""
    genesis = Checkpoint(chain, Head())
    if full:
        return genesis, "--full was given"
    try:
        saved = checkpoints.read(chain)
    except Unusable as exc:
        return genesis, str(exc)
    if saved.head.seq == 0:
        return genesis, "the verified prefix is empty"
    seq = saved.head.seq
    found = queries.record_at(conn, seq)
    if found is None:
        last = queries.last_seq(conn)
        if last < seq:
            raise AuditBroken(
                f"audit chain broken at event {last + 1}: the log ends at event {last} but "
                f"events 1–{seq} were verified before (events cut off)",
                last + 1,
            )
        raise AuditBroken(
            f"audit chain broken at event {seq}: missing, but verified before "
            "(aqb audit verify --full names the first bad event)",
            seq,
        )
    rehashed = compute_hash(found.content(), found.prev_hash)
    if found.hash == saved.head.hash and rehashed != found.hash:
        raise AuditBroken(
            f"audit chain broken at event {seq}: its content no longer matches its hash "
            "(changed after it was verified)",
            seq,
        )
    if found.hash != saved.head.hash:
        raise AuditBroken(
            f"audit chain broken at or before event {seq}: its hash differs from the one "
            f"verified before, so the verified prefix 1–{seq} was changed "
            "(aqb audit verify --full names the first bad event)",
            seq,
        )
    return saved, None


def _refold(conn: Connection, keys: list[str], prefix_seq: int) -> Fold:
    """The fold of each agreement's whole history, its events in the verified prefix re-hashed
    (those after it were just verified in the chain). A changed one is named by the lowest
    sequence number, as the full check would."""
    folded: Fold = {}
    changed: dict[int, str] = {}
    for key, records in groupby(queries.histories(conn, keys), key=attrgetter("agreement")):
        state, count = "", 0
        for record in records:
            if record.seq <= prefix_seq and compute_hash(record.content(), record.prev_hash) != (
                record.hash
            ):
                changed[record.seq] = key
            if record.to_state is not None:
                state, count = record.to_state, count + 1
        if count:
            folded[key] = (state, count)
    if changed:
        seq = min(changed)
        raise AuditBroken(
            f"audit chain broken at event {seq}: its content no longer matches its hash "
            f"(an event of {changed[seq]}, changed after it was verified)",
            seq,
        )
    return folded


def _compare(folded: Fold, summary: dict[str, tuple[str, int]]) -> None:
    for key, (state, version) in sorted(summary.items()):
        logged_state, count = folded.get(key, (None, 0))
        if logged_state != state or count != version:
            raise AuditBroken(
                f"agreement {key} is {state} (version {version}) but its audit events end in "
                f"{logged_state} after {count} events: changed outside aqb"
            )
    for key in sorted(set(folded) - set(summary)):
        raise AuditBroken(f"agreement {key} has audit events but no longer exists: deleted")
