"""``aqb audit verify``: the chain, the anchor, and the agreements against their own history."""

from __future__ import annotations

from dataclasses import dataclass, field

from aqb_workflow.bootstrap import App
from aqb_workflow.domain.audit import check_anchor, verify_chain
from aqb_workflow.errors import AuditBroken
from aqb_workflow.store import queries
from aqb_workflow.store.unit_of_work import chain_id


@dataclass
class Report:
    checked: int
    head_seq: int
    head_hash: str
    agreements: int
    warnings: list[str] = field(default_factory=list)


def verify(app: App) -> Report:
    """Recompute the whole chain; raise AuditBroken naming the first bad event."""
    with app.anchor.locked(exclusive=False), app.db.read() as conn:
        chain = chain_id(conn)
        folded: dict[str, tuple[str | None, int]] = {}

        def walk():  # type: ignore[no-untyped-def]
            for record in queries.audit_records(conn):
                if record.agreement is not None and record.to_state is not None:
                    _state, count = folded.get(record.agreement, (None, 0))
                    folded[record.agreement] = (record.to_state, count + 1)
                yield record

        verdict = verify_chain(walk())
        anchor = app.anchor.read(chain)
        hashes = {}
        if anchor is not None:
            found = queries.hash_at(conn, anchor.seq)
            if found is not None:
                hashes[anchor.seq] = found
        check_anchor(verdict, anchor, hashes)
        summary = queries.agreement_summary(conn)
    for key, (state, version) in sorted(summary.items()):
        logged_state, count = folded.get(key, (None, 0))
        if logged_state != state or count != version:
            raise AuditBroken(
                f"agreement {key} is {state} (version {version}) but its audit events end in "
                f"{logged_state} after {count} events: changed outside aqb"
            )
    for key in sorted(set(folded) - set(summary)):
        raise AuditBroken(f"agreement {key} has audit events but no longer exists: deleted")
    return Report(
        checked=verdict.checked,
        head_seq=verdict.head.seq,
        head_hash=verdict.head.hash,
        agreements=len(summary),
        warnings=verdict.warnings,
    )
