"""Any change to the stored audit log is found by ``audit verify`` and the first bad event named."""

from __future__ import annotations

import pytest

from aqb_workflow.errors import AuditBroken
from aqb_workflow.verify import verify
from tests.paths import bring_to

COLUMNS = [
    "seq",
    "agreement",
    "at",
    "actor",
    "role",
    "event",
    "from_state",
    "to_state",
    "comment",
    "payload",
    "prev_hash",
    "hash",
]


class Raw:
    """SQL behind aqb's back, as a tamperer with database access would run it."""

    def __init__(self, workspace):
        self.workspace = workspace

    def execute(self, statement, params=()):
        return Rows(self.workspace.sql(statement, params))


class Rows(list):
    def fetchone(self):
        return self[0] if self else None


@pytest.fixture
def history(app, workspace):
    bring_to(app, "closed")
    bring_to(app, "signed_by_district", district="wetterau")
    return Raw(workspace)


def flip(value):
    if value is None:
        return "x"
    if isinstance(value, int):
        return value + 1000
    text = str(value)
    return text[:-1] + ("0" if text[-1] != "0" else "1")


def test_intact_log_verifies(app, history):
    report = verify(app)
    assert report.checked == history.execute("select count(*) from audit_event").fetchone()[0]
    assert report.warnings == []


def test_flipping_any_character_of_any_row_and_column_is_named(app, history):
    seqs = [r[0] for r in history.execute("select seq from audit_event order by seq")]
    for seq in seqs:
        for column in COLUMNS:
            (old,) = history.execute(
                f"select {column} from audit_event where seq = ?", (seq,)
            ).fetchone()
            history.execute(f"update audit_event set {column} = ? where seq = ?", (flip(old), seq))
            with pytest.raises(AuditBroken) as caught:
                verify(app)
            assert caught.value.seq == seq, (seq, column, str(caught.value))
            assert f"event {seq}" in str(caught.value)
            moved = flip(old) if column == "seq" else seq
            history.execute(f"update audit_event set {column} = ? where seq = ?", (old, moved))
    verify(app)


def test_deleting_a_row_is_named(app, history):
    history.execute("delete from audit_event where seq = 4")
    with pytest.raises(AuditBroken, match="event 4: missing"):
        verify(app)


def test_swapping_two_rows_is_named(app, history):
    rows = {
        r[0]: r[1:]
        for r in history.execute(
            f"select {', '.join(COLUMNS)} from audit_event where seq in (3, 4)"
        )
    }
    setters = ", ".join(f"{c} = ?" for c in COLUMNS[1:])
    history.execute(f"update audit_event set {setters} where seq = 3", rows[4])
    history.execute(f"update audit_event set {setters} where seq = 4", rows[3])
    with pytest.raises(AuditBroken) as caught:
        verify(app)
    assert caught.value.seq == 3


def test_cutting_the_tail_is_seen_through_the_anchor(app, history):
    (last,) = history.execute("select max(seq) from audit_event").fetchone()
    (prev_hash,) = history.execute(
        "select hash from audit_event where seq = ?", (last - 2,)
    ).fetchone()
    history.execute("delete from audit_event where seq > ?", (last - 2,))
    history.execute("update audit_head set seq = ?, hash = ?", (last - 2, prev_hash))
    with pytest.raises(AuditBroken, match="cut off") as caught:
        verify(app)
    assert caught.value.seq == last - 1


def test_state_changed_behind_aqbs_back_is_found(app, history):
    history.execute("update agreement set state = 'closed' where key = '2024-wetterau'")
    with pytest.raises(AuditBroken, match="2024-wetterau"):
        verify(app)


def test_audit_verify_cli_names_the_event_and_exits_1(cli, app, history):
    history.execute("update audit_event set actor = 'someone else' where seq = 2")
    result = cli("audit verify", expect=1)
    assert "event 2" in result.stderr
    assert cli("audit verify --json", expect=1).stdout.count('"first_bad_seq": 2') == 1


def test_anchor_one_behind_after_a_crash_is_a_warning(app, workspace, cli):
    bring_to(app, "signed_by_ministry")
    anchored = workspace.anchor.read_text()
    cli("transition 2024-giessen sign_district on=2024-07-10 by=S place=Gießen")
    workspace.anchor.write_text(anchored)  # what a crash between commit and anchor leaves
    result = cli("audit verify")
    assert "warning: anchor is one event behind" in result.stderr
