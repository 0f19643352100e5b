"""``audit verify`` resumes after the verified prefix; ``--full`` recomputes the whole chain.

What the incremental run must still find: any change to the events after the prefix, a changed
hash at the prefix's end, a cut-off tail, and the row of an agreement the new events name
changed behind aqb's back (checked against its saved fold). What only ``--full`` finds: an event
inside the prefix changed with its stored hash left as it was or deleted, and an agreement
without new events changed, deleted or added.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from aqb_workflow import services
from aqb_workflow.domain.audit import Head
from aqb_workflow.domain.model import Event
from aqb_workflow.errors import AuditBroken
from aqb_workflow.store import queries
from aqb_workflow.store.checkpoint import Checkpoint, Checkpoints
from aqb_workflow.store.unit_of_work import UnitOfWork
from aqb_workflow.verify import verify
from tests.conftest import MINISTRY, RP
from tests.paths import STEPS, bring_to

WETTERAU = "2024-wetterau"
LATER = [("issue_notice", STEPS[2][1], RP), *((t, f, MINISTRY) for t, f, _ in STEPS[3:])]


@pytest.fixture
def history(app, workspace):
    bring_to(app, "closed")
    bring_to(app, "signed_by_district", district="wetterau")
    return workspace


@pytest.fixture
def saved(workspace):
    """The checkpoint file beside the workspace's anchor."""
    return Checkpoints.beside(workspace.anchor).path


def advance(app, steps=1):
    """The next ``steps`` transitions of 2024-wetterau: new events after the verified prefix."""
    done = services.current(app, WETTERAU).version - 3  # created + two signatures
    for trigger, fields, actor in LATER[done : done + steps]:
        services.fire(app, actor, WETTERAU, trigger, fields)


def count(workspace):
    return workspace.sql("select count(*) from audit_event")[0][0]


def saved_seq(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("select seq from head").fetchone()[0]
    finally:
        conn.close()


def test_the_second_run_checks_only_the_new_events(app, history, saved):
    first = verify(app)
    assert first.full and first.checked == count(history) and first.prefix_seq == 0
    assert first.why_full == "no verified prefix saved yet"
    assert first.checkpoint_saved and saved_seq(saved) == first.head_seq

    advance(app, 2)
    second = verify(app)
    assert not second.full
    assert (second.prefix_seq, second.checked) == (first.head_seq, 2)
    assert second.head_seq == first.head_seq + 2 == count(history)
    assert second.warnings == [] and saved_seq(saved) == second.head_seq

    third = verify(app)
    assert (third.prefix_seq, third.checked, third.head_seq) == (second.head_seq, 0, count(history))


def test_full_recomputes_everything_and_rewrites_the_checkpoint(app, history, saved):
    verify(app)
    advance(app)
    again = verify(app, full=True)
    assert again.full and again.prefix_seq == 0 and again.checked == count(history)
    assert saved_seq(saved) == count(history)


def test_a_changed_event_after_the_prefix_is_found(app, history, saved):
    prefix = verify(app).head_seq
    advance(app, 2)
    history.sql("update audit_event set actor = 'someone else' where seq = ?", (prefix + 1,))
    with pytest.raises(AuditBroken, match=f"event {prefix + 1}: changed") as caught:
        verify(app)
    assert caught.value.seq == prefix + 1
    assert saved_seq(saved) == prefix  # a broken chain never moves the checkpoint


def test_a_changed_hash_at_the_end_of_the_prefix_is_found(app, history):
    head = verify(app).head_seq
    (old,) = history.sql("select hash from audit_event where seq = ?", (head,))[0]
    history.sql("update audit_event set hash = ? where seq = ?", ("0" * 64, head))
    with pytest.raises(AuditBroken, match=f"event {head}: its hash differs") as caught:
        verify(app)
    assert caught.value.seq == head
    with pytest.raises(AuditBroken, match=f"event {head}: changed"):
        verify(app, full=True)
    history.sql("update audit_event set hash = ? where seq = ?", (old, head))
    assert verify(app).checked == 0


def test_the_prefix_rewritten_with_fresh_hashes_is_found(app, history):
    """Whoever recomputes the hashes from a changed event on changes the prefix's last hash."""
    from aqb_workflow.domain.audit import compute_hash

    head = verify(app).head_seq
    history.sql("update audit_event set actor = 'someone else' where seq = 2")
    with app.db.read() as conn:
        records = list(queries.audit_records(conn))
    prev = records[0].hash
    for record in records[1:]:
        digest = compute_hash(record.content(), prev)
        history.sql(
            "update audit_event set prev_hash = ?, hash = ? where seq = ?",
            (prev, digest, record.seq),
        )
        prev = digest
    with pytest.raises(AuditBroken, match="verified prefix") as caught:
        verify(app)
    assert caught.value.seq == head


@pytest.mark.parametrize(
    "tamper, found",
    [
        ("update audit_event set actor = 'someone else' where seq = 2", "event 2: changed"),
        ("delete from audit_event where seq = 2", "event 2: missing"),
    ],
)
def test_an_old_event_changed_with_the_prefix_end_kept_needs_full(app, history, tamper, found):
    """The limit of the incremental run, on purpose: the prefix is not recomputed."""
    prefix = verify(app).head_seq
    history.sql(tamper)
    resumed = verify(app)
    assert (resumed.prefix_seq, resumed.checked) == (prefix, 0)
    with pytest.raises(AuditBroken, match=found) as caught:
        verify(app, full=True)
    assert caught.value.seq == 2


def test_the_prefix_end_changed_with_its_hash_kept_is_found_incrementally(app, history):
    """The saved head's own hash is recomputed: one row, and this case needs no --full."""
    head = verify(app).head_seq
    history.sql("update audit_event set comment = 'later' where seq = ?", (head,))
    with pytest.raises(AuditBroken, match=f"event {head}: its content no longer matches"):
        verify(app)
    with pytest.raises(AuditBroken, match=f"event {head}: changed"):
        verify(app, full=True)


def test_a_state_changed_behind_aqbs_back_is_found_once_the_agreement_has_new_events(app, history):
    verify(app)
    advance(app)
    history.sql("update agreement set state = 'closed' where key = ?", (WETTERAU,))
    with pytest.raises(AuditBroken, match=f"agreement {WETTERAU} is closed"):
        verify(app)


def test_a_version_changed_behind_aqbs_back_is_found_once_the_agreement_has_new_events(
    app, history
):
    verify(app)
    advance(app)
    history.sql("update agreement set version = version + 1 where key = ?", (WETTERAU,))
    with pytest.raises(AuditBroken, match=f"agreement {WETTERAU} is notice_issued"):
        verify(app)


def test_a_deleted_agreement_with_new_events_is_found_incrementally(app, history):
    verify(app)
    advance(app)
    (agreement_id,) = history.sql("select id from agreement where key = ?", (WETTERAU,))[0]
    history.sql("delete from measure where agreement_id = ?", (agreement_id,))
    history.sql("delete from agreement where id = ?", (agreement_id,))
    with pytest.raises(AuditBroken, match=f"agreement {WETTERAU} has audit events"):
        verify(app)


@pytest.mark.parametrize(
    "tamper, found",
    [
        ("update agreement set state = 'drafted' where key = '2024-giessen'", "is drafted"),
        ("update agreement set version = 99 where key = '2024-giessen'", "(version 99)"),
        ("delete from agreement where key = '2024-giessen'", "no longer exists"),
    ],
)
def test_an_agreement_without_new_events_changed_behind_aqbs_back_needs_full(
    app, history, tamper, found
):
    """The other limit, on purpose: only the agreements the new events name are compared, so
    the run costs what happened since the last one, not the size of the database."""
    verify(app)
    advance(app)
    history.sql(
        "delete from measure where agreement_id in (select id from agreement "
        "where key = '2024-giessen')"
    )
    history.sql(tamper)
    resumed = verify(app)
    assert (resumed.checked, resumed.agreements) == (1, 1)
    with pytest.raises(AuditBroken, match="agreement 2024-giessen") as caught:
        verify(app, full=True)
    assert found in str(caught.value)


def test_without_a_checkpoint_the_whole_chain_is_checked(app, history, saved):
    verify(app)
    advance(app)
    saved.unlink()
    report = verify(app)
    assert report.full and report.checked == count(history)
    assert report.why_full == "no verified prefix saved yet" and report.warnings == []
    assert saved_seq(saved) == count(history)


def other_chains(path):
    Checkpoints(path).replace(Checkpoint("other", Head(1, "a" * 64)), {})


def as_text(content):
    return lambda path: path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize(
    "spoil, why",
    [
        (as_text("not json"), "is unreadable"),
        # what the previous version wrote (JSON): the first run after the upgrade is full
        (as_text('{"chain": "c", "seq": 1, "hash": "' + "a" * 64 + '"}'), "is unreadable"),
        (other_chains, "belongs to another database"),
    ],
)
def test_an_unusable_checkpoint_means_a_full_check(app, history, saved, spoil, why):
    verify(app)
    spoil(saved)
    report = verify(app)
    assert report.full and report.checked == count(history)
    assert why in report.why_full and report.warnings == []
    assert saved_seq(saved) == count(history)  # and it is replaced by a good one


def test_a_cut_off_tail_through_the_prefix_is_found(app, history):
    head = verify(app).head_seq
    (hash_before,) = history.sql("select hash from audit_event where seq = ?", (head - 2,))[0]
    history.sql("delete from audit_event where seq > ?", (head - 2,))
    history.sql("update audit_head set seq = ?, hash = ?", (head - 2, hash_before))
    with pytest.raises(AuditBroken, match="cut off") as caught:
        verify(app)
    assert caught.value.seq == head - 1
    with pytest.raises(AuditBroken, match="cut off"):
        verify(app, full=True)


def test_a_cut_off_tail_after_the_prefix_is_found(app, history):
    head = verify(app).head_seq
    advance(app, 2)
    (hash_before,) = history.sql("select hash from audit_event where seq = ?", (head,))[0]
    history.sql("delete from audit_event where seq > ?", (head,))
    history.sql("update audit_head set seq = ?, hash = ?", (head, hash_before))
    with pytest.raises(AuditBroken, match="cut off") as caught:
        verify(app)
    assert caught.value.seq == head + 1


def test_the_prefix_end_deleted_is_found(app, history):
    head = verify(app).head_seq
    advance(app)
    history.sql("delete from audit_event where seq = ?", (head,))
    with pytest.raises(AuditBroken, match=f"event {head}: missing"):
        verify(app)


def test_a_head_not_yet_anchored_is_not_saved_as_verified(app, history, saved):
    prefix = verify(app).head_seq
    anchored = history.anchor.read_text()
    advance(app)
    history.anchor.write_text(anchored)  # what a crash between commit and anchor leaves
    report = verify(app)
    assert report.checked == 1 and "one event behind" in report.warnings[0]
    assert not report.checkpoint_saved and saved_seq(saved) == prefix
    advance(app)
    assert verify(app).warnings == [] and saved_seq(saved) == prefix + 2


def test_a_checkpoint_that_cannot_be_written_is_a_warning(app, history, saved, monkeypatch):
    def refuse(self, checkpoint, fold):
        raise PermissionError(13, "Permission denied", str(self.path))

    monkeypatch.setattr(Checkpoints, "replace", refuse)
    report = verify(app)
    assert report.checked == count(history) and not report.checkpoint_saved
    assert report.warnings == [
        f"cannot save the verified prefix to {saved}: Permission denied; "
        f"the next verify cannot start after event {report.head_seq}"
    ]
    assert not saved.exists()


def test_the_cli_says_what_it_checked(app, history, cli):
    total = count(history)
    first = cli("audit verify").stdout
    assert f"{total} events checked (the whole chain; no verified prefix saved yet)" in first
    agreements = history.sql("select count(*) from agreement")[0][0]
    assert f"all {agreements} agreements match their history" in first
    cli("transition 2024-wetterau issue_notice on=2024-08-05 ref=AZ", actor="rp-kassel")
    second = cli("audit verify").stdout
    assert (
        f"1 new event checked after the verified prefix 1–{total} "
        "(aqb audit verify --full recomputes all)"
    ) in second
    assert f"head {total + 1} (" in second
    assert "the 1 agreement with new events matches its history" in second

    full = json.loads(cli("audit verify --full --json").stdout)
    assert full["ok"] and full["full"] and full["why_full"] == "--full was given"
    assert (full["verified_prefix"], full["from_seq"], full["checked"]) == (0, 1, total + 1)
    assert full["checkpoint_saved"] and full["warnings"] == []
    resumed = json.loads(cli("audit verify --json").stdout)
    assert not resumed["full"] and resumed["why_full"] is None
    assert (resumed["agreements"], resumed["agreements_scope"]) == (0, "named by the new events")
    assert full["agreements_scope"] == "all"
    assert (resumed["verified_prefix"], resumed["from_seq"], resumed["checked"]) == (
        total + 1,
        total + 2,
        0,
    )
    assert resumed["head"]["seq"] == total + 1

    history.sql("update audit_event set actor = 'someone else' where seq = 2")
    again = cli("audit verify").stdout  # inside the prefix: not recomputed
    assert "audit chain ok" in again and "no agreement has new events" in again
    assert "event 2" in cli("audit verify --full", expect=1).stderr
    broken = json.loads(cli("audit verify --full --json", expect=1).stdout)
    assert broken == {
        "ok": False,
        "error": "audit chain broken at event 2: changed",
        "first_bad_seq": 2,
    }


def stateless_event(app, key):
    """What the daemon writes when it sends a reminder: an event naming the agreement, no state."""
    with UnitOfWork(app.db, app.anchor) as uow:
        uow.append(Event(key, "reminder_sent", "system", "system", app.clock.now(), payload={}))
        uow.commit()


def test_an_agreement_named_only_by_an_event_without_state_is_compared(app, history):
    verify(app)
    history.sql("update agreement set state = 'closed' where key = ?", (WETTERAU,))
    stateless_event(app, WETTERAU)
    with pytest.raises(AuditBroken, match=f"agreement {WETTERAU} is closed"):
        verify(app)


def test_old_history_cut_to_match_a_lowered_version_is_found_by_the_saved_fold(app, history):
    """The saved fold is the record of what was verified: an old state-bearing event deleted and
    the version lowered to match does not pass once the agreement has new events."""
    verify(app)
    advance(app)  # the prefix's last event is not the one deleted below
    verify(app)
    (seq,) = history.sql(
        "select max(seq) from audit_event where agreement = ? and event = 'sign_district'",
        (WETTERAU,),
    )[0]
    history.sql("delete from audit_event where seq = ?", (seq,))
    history.sql("update agreement set version = version - 1 where key = ?", (WETTERAU,))
    trigger, fields, actor = LATER[1]
    services.fire(app, actor, WETTERAU, trigger, fields)
    with pytest.raises(AuditBroken, match=f"agreement {WETTERAU} is autumn_review") as caught:
        verify(app)
    assert "after 5 events" in str(caught.value)
    with pytest.raises(AuditBroken, match=f"event {seq}: missing"):
        verify(app, full=True)


def test_a_spoilt_saved_fold_means_a_full_check(app, history, saved):
    verify(app)
    advance(app)
    conn = sqlite3.connect(saved)
    conn.execute("update fold set events = 0 where agreement = ?", (WETTERAU,))
    conn.commit()
    conn.close()
    report = verify(app)
    assert report.full and report.checked == count(history) and report.warnings == []
    assert "is unreadable" in report.why_full
    assert Checkpoints(saved).folds([WETTERAU]) == {WETTERAU: ("notice_issued", 4)}


def test_only_the_named_agreements_folds_change(app, history, saved):
    verify(app)
    before = Checkpoints(saved).folds(["2024-giessen", WETTERAU])
    advance(app)
    report = verify(app)
    assert report.agreements == 1 and report.checkpoint_saved
    after = Checkpoints(saved).folds(["2024-giessen", WETTERAU])
    assert after["2024-giessen"] == before["2024-giessen"] == ("closed", 6)
    assert (before[WETTERAU], after[WETTERAU]) == (
        ("signed_by_district", 3),
        ("notice_issued", 4),
    )
