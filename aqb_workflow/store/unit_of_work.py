"""One write transaction: load, change, audit, commit, then move the anchor.

The database transaction is what makes a transition atomic (``transitions`` never rolls back):
state, fields, version + 1 and the audit event are written on one connection and committed
together, or rolled back together.
"""

from __future__ import annotations

import json
import threading
from contextlib import ExitStack
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    RootTransaction,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from aqb_workflow._faults import crash_point
from aqb_workflow.domain.audit import AuditRecord, Head, canonical_json, compute_hash
from aqb_workflow.domain.formats import format_utc
from aqb_workflow.domain.model import Agreement, Event, Measure
from aqb_workflow.errors import Conflict, NotFound
from aqb_workflow.store import tables as t
from aqb_workflow.store.anchor import Anchor
from aqb_workflow.store.direct import Direct
from aqb_workflow.store.engine import Database, translate_errors

# The hot write path as named statements, built once and run directly on the driver (see
# store/direct.py): a transition's ten statements cost what the database needs, little more.
SAVE = Direct(
    update(t.agreement)
    .where(t.agreement.c.key == bindparam("b_key"), t.agreement.c.version == bindparam("b_version"))
    .values(
        state=bindparam("state"),
        data=bindparam("data"),
        budget_cents=bindparam("budget_cents"),
        version=bindparam("version"),
        updated_at=bindparam("updated_at"),
        # kept as it is unless the state changes: a caller's stale copy cannot blank it
        state_entered_at=func.coalesce(
            bindparam("state_entered_at"), t.agreement.c.state_entered_at
        ),
    )
)
_EVENT_COLUMNS = tuple(AuditRecord.__dataclass_fields__)
APPEND = Direct(insert(t.audit_event).values({name: bindparam(name) for name in _EVENT_COLUMNS}))
MOVE_HEAD = Direct(
    update(t.audit_head)
    .where(t.audit_head.c.id == 1)
    .values(seq=bindparam("seq"), hash=bindparam("hash"))
)
# FOR UPDATE serializes appends on PostgreSQL; SQLite's compiler leaves it out (its BEGIN
# IMMEDIATE already lets one writer in at a time).
HEAD = Direct(
    select(t.audit_head.c.seq, t.audit_head.c.hash).where(t.audit_head.c.id == 1).with_for_update()
)
_LOAD = select(t.agreement).where(t.agreement.c.key == bindparam("key"))
LOAD, LOAD_FOR_UPDATE = Direct(_LOAD), Direct(_LOAD.with_for_update())
MEASURES = (
    select(t.measure.c.id, t.measure.c.category, t.measure.c.title, t.measure.c.position)
    .where(t.measure.c.agreement_id == bindparam("agreement_id"))
    .order_by(t.measure.c.position, t.measure.c.id)
)


def chain_id(conn: Connection) -> str:
    value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "chain_id")).scalar()
    if value is None:
        raise NotFound("the database has no aqb schema yet; run: aqb init")
    return str(value)


def load_agreement(
    conn: Connection, key: str, *, lock: bool = False, measures: bool = True
) -> Agreement:
    row = (LOAD_FOR_UPDATE if lock else LOAD).first(conn, {"key": key})
    if row is None:
        raise NotFound(f"no agreement {key!r} (aqb list shows them)")
    found = conn.execute(MEASURES, {"agreement_id": row["id"]}).all() if measures else []
    return Agreement(
        key=row["key"],
        year=row["year"],
        district=row["district"],
        budget_cents=row["budget_cents"],
        state=row["state"],
        version=row["version"],
        fields=json.loads(row["data"]),
        measures=[Measure(m.id, m.category, m.title, m.position) for m in found],
        entered_at=row["state_entered_at"],
    )


_ACTIVE = threading.local()


class UnitOfWork:
    """One write transaction. Work that must commit together is done inside one unit of work
    (``aqb import`` creates, fills and signs an agreement in one); opening a second one while
    the first is open in the same thread is a programming error, refused at once (on SQLite
    it would wait for its own lock)."""

    def __init__(self, db: Database, anchor: Anchor) -> None:
        self.db = db
        self.anchor = anchor
        self._head: Head | None = None
        self._chain: str | None = None
        self.records: list[AuditRecord] = []
        self.conn: Connection
        self.tx: RootTransaction

    def __enter__(self) -> UnitOfWork:
        if getattr(_ACTIVE, "uow", None) is not None:
            raise RuntimeError("a unit of work is already open in this thread")
        self._stack = ExitStack()
        self._stack.enter_context(translate_errors())
        try:
            self._stack.enter_context(self.anchor.locked())
            self.conn = self._stack.enter_context(self.db.writer.connect())
            self.tx = self.conn.begin()
        except BaseException as exc:
            if not self._stack.__exit__(type(exc), exc, exc.__traceback__):
                raise
        _ACTIVE.uow = self
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        _ACTIVE.uow = None
        try:
            if self.tx.is_active:
                self.tx.rollback()
        except BaseException as rollback_error:
            exc_type, exc, tb = type(rollback_error), rollback_error, rollback_error.__traceback__
        if exc is not None:
            return bool(self._stack.__exit__(exc_type, exc, tb))
        self._stack.close()
        return None

    def commit(self) -> None:
        crash_point("before_commit")
        self.tx.commit()
        if self._head is not None and self._chain is not None:
            crash_point("after_commit")
            self.anchor.write(self._chain, self._head)

    # -- agreements -----------------------------------------------------------------------
    def get(self, key: str, *, measures: bool = True) -> Agreement:
        return load_agreement(self.conn, key, lock=not self.db.is_sqlite, measures=measures)

    def exists(self, key: str) -> bool:
        found = self.conn.execute(select(t.agreement.c.id).where(t.agreement.c.key == key))
        return found.first() is not None

    def add(self, agreement: Agreement, now: str) -> int:
        try:
            result = self.conn.execute(
                insert(t.agreement).values(
                    key=agreement.key,
                    year=agreement.year,
                    district=agreement.district,
                    budget_cents=agreement.budget_cents,
                    state=agreement.state,
                    version=agreement.version,
                    data=canonical_json(agreement.fields),
                    created_at=now,
                    updated_at=now,
                    state_entered_at=now,
                )
            )
        except IntegrityError:
            raise Conflict(f"agreement {agreement.key} exists already") from None
        return _new_id(result)

    def save(
        self,
        agreement: Agreement,
        now: str,
        *,
        state: str | None = None,
        changes: dict[str, Any] | None = None,
        budget_cents: int | None = None,
    ) -> None:
        """Write new state/fields/budget with version + 1, if nobody changed it meanwhile."""
        fields = {**agreement.fields, **(changes or {})}
        moved = state is not None and state != agreement.state
        updated = SAVE.write(
            self.conn,
            {
                "b_key": agreement.key,
                "b_version": agreement.version,
                "state": state or agreement.state,
                "data": canonical_json(fields),
                "budget_cents": agreement.budget_cents if budget_cents is None else budget_cents,
                "version": agreement.version + 1,
                "updated_at": now,
                "state_entered_at": now if moved else None,
            },
        )
        if updated != 1:
            current = load_agreement(self.conn, agreement.key)
            raise Conflict(
                f"{agreement.key} changed concurrently, now in state {current.state} "
                f"(version {current.version})"
            )
        crash_point("after_update")

    def agreement_id(self, key: str) -> int:
        value = self.conn.execute(select(t.agreement.c.id).where(t.agreement.c.key == key))
        found = value.scalar()
        if found is None:
            raise NotFound(f"no agreement {key!r}")
        return int(found)

    # -- measures and contacts --------------------------------------------------------------
    def add_measure(self, agreement_id: int, category: str, title: str) -> tuple[int, int]:
        """Append a measure to the agreement's list; its id and position."""
        last = self.conn.execute(
            select(func.max(t.measure.c.position)).where(t.measure.c.agreement_id == agreement_id)
        ).scalar()
        result = self.conn.execute(
            insert(t.measure).values(
                agreement_id=agreement_id,
                category=category,
                title=title,
                position=(last or 0) + 1,
            )
        )
        return _new_id(result), (last or 0) + 1

    def remove_measure(self, measure_id: int) -> None:
        self.conn.execute(delete(t.measure).where(t.measure.c.id == measure_id))

    def add_contact(self, district: str | None, role: str, name: str, email: str) -> int:
        result = self.conn.execute(
            insert(t.contact).values(district=district, role=role, name=name, email=email)
        )
        return _new_id(result)

    def contact(self, contact_id: int) -> dict[str, Any]:
        row = self.conn.execute(select(t.contact).where(t.contact.c.id == contact_id)).mappings()
        found = row.first()
        if found is None:
            raise NotFound(f"no contact with id {contact_id} (aqb contact list shows them)")
        return dict(found)

    def remove_contact(self, contact_id: int) -> None:
        self.conn.execute(delete(t.contact).where(t.contact.c.id == contact_id))

    # -- the audit chain --------------------------------------------------------------------
    def append(self, event: Event) -> AuditRecord:
        """Chain the event after the current head; the head row's lock serializes appends."""
        if self._chain is None:
            # the chain id never changes once the schema exists: read it once per database
            self._chain = self.db.chain_id or chain_id(self.conn)
            self.db.chain_id = self._chain
        row = HEAD.first(self.conn)
        head = Head(row["seq"], row["hash"]) if row else Head()
        content = AuditRecord(
            seq=head.seq + 1,
            agreement=event.agreement,
            at=format_utc(event.at),
            actor=event.actor,
            role=event.role,
            event=event.event,
            from_state=event.from_state,
            to_state=event.to_state,
            comment=event.comment,
            payload=canonical_json(event.payload),
            prev_hash=head.hash,
            hash="",
        )
        digest = compute_hash(content.content(), head.hash)
        record = AuditRecord(**{**content.__dict__, "hash": digest})
        APPEND.write(self.conn, record.__dict__)
        crash_point("after_audit")
        MOVE_HEAD.write(self.conn, {"seq": record.seq, "hash": record.hash})
        self._head = Head(record.seq, record.hash)
        self.records.append(record)
        return record


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("insert returned no primary key")
    return int(key[0])
