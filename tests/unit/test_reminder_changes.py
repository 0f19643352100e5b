"""The ``on_change`` reminder rule (pure): a change notice is planned, due at once, only when
the field changed after an invitation for an earlier value was sent; it replaces invitations
already overdue for the new value; every move back and forth gets its own identity."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from aqb_workflow.domain.reminders import plan, rules_from_data, watches_changes
from aqb_workflow.errors import ConfigError

ZONE = ZoneInfo("Europe/Berlin")
STATES = ["autumn_review", "closed"]
STORES = {"review_at": "datetime"}
RULES = [
    {
        "kind": "review_upcoming",
        "when": "autumn_review",
        "anchor": "field:review_at",
        "offsets": ["-14d", "-2d"],
        "to": ["participants"],
        "invite": "request",
    },
    {
        "kind": "review_rescheduled",
        "when": "autumn_review",
        "anchor": "field:review_at",
        "on_change": True,
        "to": ["participants"],
        "invite": "request",
    },
]
OLD = "2024-10-15T08:00:00.000000+00:00"
NEW = "2024-11-12T13:00:00.000000+00:00"
SOON = "2024-10-10T08:00:00.000000+00:00"


class Days:
    def deadline_end(self, d: date) -> date:
        return d

    def on_or_before(self, d: date) -> date:
        return d

    def on_or_after(self, d: date) -> date:
        return d

    def add_working_days(self, d: date, n: int) -> date:
        return d + timedelta(days=n)


def rules(extra=None):
    raw = [dict(r) for r in RULES]
    if extra:
        raw[1].update(extra)
    return rules_from_data(raw, STATES, ["closed"], STORES, "agreement.toml")


def wanted(review_at, sent, now=datetime(2024, 10, 2, 12, 0, tzinfo=UTC)):
    return plan(
        rules(),
        key="2024-giessen",
        state="autumn_review",
        year=2024,
        fields={"review_at": review_at},
        entered_at=datetime(2024, 9, 20, tzinfo=UTC),
        calendar=Days(),
        zone=ZONE,
        send_at=(8, 0),
        now=now,
        sent=sent,
    )


def invitation(value):
    return f"2024-giessen|review_upcoming|{value}|-14d|1"


def test_nothing_to_announce_before_an_invitation_went_out():
    assert [p.kind for p in wanted(NEW, [])] == ["review_upcoming", "review_upcoming"]
    assert all(p.kind != "review_rescheduled" for p in wanted(OLD, [invitation(OLD)]))


def test_a_new_value_after_an_invitation_is_announced_at_once():
    now = datetime(2024, 10, 2, 12, 0, tzinfo=UTC)
    [change] = [p for p in wanted(NEW, [invitation(OLD)], now) if p.kind == "review_rescheduled"]
    assert change.due_at == now and change.invite == "request"
    assert change.to == ("participants",)
    # the regular reminders of the new date stay
    assert len([p for p in wanted(NEW, [invitation(OLD)]) if p.kind == "review_upcoming"]) == 2


def test_invitations_overdue_for_the_new_date_give_way_to_the_change():
    kinds = [(p.kind, p.identity.split("|")[3]) for p in wanted(SOON, [invitation(OLD)])]
    # 14 days before 10 October lies in the past: only the change and the -2d reminder
    assert sorted(kinds) == [("review_rescheduled", "changed"), ("review_upcoming", "-2d")]


def test_each_move_back_and_forth_has_its_own_identity():
    first = [p.identity for p in wanted(NEW, [invitation(OLD)]) if p.kind == "review_rescheduled"]
    change = first[0]
    back = [
        p.identity for p in wanted(OLD, [invitation(OLD), change]) if p.kind == "review_rescheduled"
    ]
    again = [
        p.identity
        for p in wanted(NEW, [invitation(OLD), change, back[0]])
        if p.kind == "review_rescheduled"
    ]
    assert len({change, back[0], again[0]}) == 3
    # planning again without anything sent in between gives the same identity (no double mail)
    assert first == [
        p.identity for p in wanted(NEW, [invitation(OLD)]) if p.kind == "review_rescheduled"
    ]


def test_a_meeting_moved_into_the_past_is_not_announced():
    late = datetime(2024, 11, 20, 9, 0, tzinfo=UTC)
    assert all(p.kind != "review_rescheduled" for p in wanted(NEW, [invitation(OLD)], late))


def test_watches_changes_only_where_an_on_change_rule_is_active():
    assert watches_changes(rules(), "autumn_review")
    assert not watches_changes(rules(), "closed")


@pytest.mark.parametrize(
    "extra",
    [{"anchor": "entered"}, {"offsets": ["1d"]}, {"on_change": "yes"}],
)
def test_an_on_change_rule_needs_a_field_anchor_and_no_offsets(extra):
    with pytest.raises(ConfigError, match="reminders"):
        rules(extra)
