"""``aqb audit verify``: the chain, the anchor, and the agreements against their own history.

Incremental by default, so its cost follows what happened since the last clean run, not the size
of the database. After a clean verification the head (sequence number and hash) and each
agreement's fold of its events (last to-state, number of state-bearing events) are saved beside
the anchor (``<anchor>.verified``, store/checkpoint.py). The next run checks that the database
still has that hash at that sequence number (and that the event there still hashes to it),
recomputes only the events after it, and for each agreement those new events name carries the
saved fold on and compares the agreement's state and version with it. Only those agreements'
folds are read and written.

What the incremental run does not see: a change inside the verified prefix, before its last
event, that leaves that last event as it was (an earlier event's content edited with its hash
kept, an event deleted, rows swapped), and a change to the row of an agreement that has no new
events. Only ``full=True`` (``aqb audit verify --full``), which recomputes every event from the
first and compares every agreement, finds those. A change to the prefix's last event (or its
hash, which rewriting the prefix with recomputed hashes changes), any change to the events after
it, the row of an agreement they name changed or deleted (its saved fold is the record of what
was verified), and a cut-off tail are found either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection

from aqb_workflow.bootstrap import App
from aqb_workflow.domain.audit import AuditRecord, Head, check_anchor, compute_hash, verify_chain
from aqb_workflow.errors import AuditBroken
from aqb_workflow.store import queries
from aqb_workflow.store.checkpoint import Checkpoint, Checkpoints, Fold, Unusable
from aqb_workflow.store.unit_of_work import chain_id


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
    # verifiers take turns on the checkpoint, then share the anchor (writers wait meanwhile)
    with checkpoints.serialized(), app.anchor.locked(exclusive=False):
        try:
            return _run(app, checkpoints, "--full was given" if full else None)
        except Unusable as exc:  # the saved folds, found spoilt mid-run: the whole chain then
            return _run(app, checkpoints, str(exc))


def _run(app: App, checkpoints: Checkpoints, why_full: str | None) -> Report:
    with app.db.read() as conn:
        chain = chain_id(conn)
        start, why_full = _resume_point(conn, checkpoints, chain, why_full)
        new: Fold = {}  # what the events after the prefix add: last to-state, how many
        named: set[str] = set()

        def walk() -> Iterator[AuditRecord]:
            for record in queries.audit_records(conn, after=start.head.seq):
                if record.agreement is not None:
                    named.add(record.agreement)
                    if record.to_state is not None:
                        _state, count = new.get(record.agreement, ("", 0))
                        new[record.agreement] = (record.to_state, count + 1)
                yield record

        verdict = verify_chain(walk(), start=start.head)
        anchor = app.anchor.read(chain)
        hashes = {}
        if anchor is not None:
            found = queries.hash_at(conn, anchor.seq)
            if found is not None:
                hashes[anchor.seq] = found
        check_anchor(verdict, anchor, hashes)
        keys = sorted(named)
        if why_full is not None:
            saved: Fold = {}
            folded = new
            summary = queries.agreement_summary(conn)
        else:
            saved = checkpoints.folds(keys)  # Unusable: verify() starts again in full
            folded = _continue(saved, new, keys)
            summary = queries.agreement_states(conn, keys)
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
        if why_full is not None:
            checkpoints.replace(done, folded)
            report.checkpoint_saved = True
        else:
            changed = {key: fold for key, fold in folded.items() if saved.get(key) != fold}
            # False: the file moved on since this run read it (verifiers take turns, so only a
            # hand or another build did that); it stays as it is
            report.checkpoint_saved = checkpoints.advance(start, done, changed)
    except (OSError, Unusable) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        report.warnings.append(
            f"cannot save the verified prefix to {checkpoints.path}: {reason}; "
            f"the next verify cannot start after event {verdict.head.seq}"
        )
    return report


def _continue(saved: Fold, new: Fold, keys: list[str]) -> Fold:
    """Each named agreement's saved fold carried on by its new events."""
    folded: Fold = {}
    for key in keys:
        state, count = saved.get(key, ("", 0))
        if key in new:
            state, count = new[key][0], count + new[key][1]
        if count:
            folded[key] = (state, count)
    return folded


def _resume_point(
    conn: Connection, checkpoints: Checkpoints, chain: str, why_full: str | None
) -> tuple[Checkpoint, str | None]:
    """Where this run starts: the saved verified prefix, checked against the database, or the
    genesis with the reason why (``why_full``: the caller already knows it must be)."""
    genesis = Checkpoint(chain, Head())
    if why_full is not None:
        return genesis, why_full
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
