"""Series, catch-up and escalations of reminders: the pure decisions (domain/reminders.py)."""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aqb_workflow.domain.calendar import WorkCalendar
from aqb_workflow.domain.reminders import (
    escalation_hold,
    retry_refusal,
    rule_prefix,
    series_of,
    superseded,
)
from aqb_workflow.domain.workflow import workflow_from_data
from aqb_workflow.errors import ConfigError

WORKFLOW_FILE = Path(__file__).resolve().parents[2] / "states" / "agreement.toml"
BERLIN = ZoneInfo("Europe/Berlin")
CALENDAR = WorkCalendar()
DATA: dict[str, Any] = tomllib.loads(WORKFLOW_FILE.read_text("utf-8"))


def rules() -> dict[str, Any]:
    workflow = workflow_from_data(DATA, str(WORKFLOW_FILE))
    return {r.kind: r for r in workflow.rules}


def with_escalation(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(DATA)
    [rule] = [r for r in data["reminders"] if r["kind"] == "district_signature_escalation"]
    rule.update(changes)
    return data


def test_the_shipped_escalation_names_its_series():
    assert rules()["district_signature_escalation"].after == "district_signature_pending"
    assert rules()["district_signature_pending"].after is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"after": "no_such_kind"}, "no reminder rule of kind 'no_such_kind'"),
        ({"after": "district_signature_escalation"}, "no reminder rule of kind"),
        ({"after": "notice_pending"}, "same anchor"),
        ({"offsets": ["10d"]}, "must come after the first"),
        ({"offsets": ["25wd"]}, "all be days (d) or all working days (wd)"),
        ({"after": 3}, "wrong type"),
    ],
)
def test_a_bad_after_is_refused_naming_file_and_rule(changes, message):
    with pytest.raises(ConfigError) as caught:
        workflow_from_data(with_escalation(**changes), str(WORKFLOW_FILE))
    assert message in str(caught.value)
    assert str(WORKFLOW_FILE) in str(caught.value)


def test_series_and_rule_prefixes_come_from_the_identity():
    identity = "2024-giessen|district_signature_pending|2024-07-01|+14d|3"
    assert series_of(identity) == "2024-giessen|district_signature_pending|2024-07-01|+14d|"
    assert rule_prefix(identity) == "2024-giessen|district_signature_pending|2024-07-01|"


def test_an_occurrence_is_superseded_only_by_a_later_one_that_is_due():
    now = datetime(2024, 7, 23, 9, 0, tzinfo=UTC)
    due = [
        (1, datetime(2024, 7, 15, 6, tzinfo=UTC)),
        (2, datetime(2024, 7, 22, 6, tzinfo=UTC)),
        (3, datetime(2024, 7, 29, 6, tzinfo=UTC)),
    ]
    assert superseded(1, due, now)
    assert not superseded(2, due, now)  # the third is not due yet
    assert not superseded(3, due, now)


def hold(first_sent: datetime | None, now: datetime) -> datetime | None:
    r = rules()
    return escalation_hold(
        r["district_signature_escalation"],
        r["district_signature_pending"],
        first_sent=first_sent,
        now=now,
        calendar=CALENDAR,
        zone=BERLIN,
        send_at=(8, 0),
    )


def test_an_escalation_waits_21_days_after_the_first_reminder_sent():
    first = datetime(2024, 7, 17, 6, 0, tzinfo=UTC)  # Wednesday, two days late
    assert hold(first, datetime(2024, 8, 5, 6, 0, tzinfo=UTC)) == datetime(
        2024, 8, 7, 6, 0, tzinfo=UTC
    )
    assert hold(first, datetime(2024, 8, 7, 6, 0, tzinfo=UTC)) is None


def test_an_escalation_day_off_moves_to_the_next_working_day_at_send_time():
    first = datetime(2024, 9, 1, 9, 0, tzinfo=UTC)  # sent on a Sunday after downtime
    assert hold(first, first) == datetime(2024, 9, 23, 6, 0, tzinfo=UTC)


def test_with_nothing_sent_yet_the_series_goes_first():
    now = datetime(2024, 8, 5, 6, 0, tzinfo=UTC)
    assert hold(None, now) == datetime(2024, 8, 26, 6, 0, tzinfo=UTC)


NOW = datetime(2024, 7, 20, 9, 0, tzinfo=UTC)


def row(status: str, **kw: Any) -> dict[str, Any]:
    base = {
        "id": 7,
        "status": status,
        "due_at": "2024-07-15T06:00:00.000000+00:00",
        "attempts": 0,
        "claimed_by": "host:1",
        "claimed_until": "2024-07-20T09:04:00.000000+00:00",
    }
    return base | kw


@pytest.mark.parametrize(
    ("reminder", "gone", "refused"),
    [
        (row("failed"), False, None),
        (row("pending", attempts=2), False, None),  # waiting to be retried
        (row("pending"), False, None),  # due, not yet tried
        (row("pending", due_at="2024-08-01T06:00:00.000000+00:00"), False, "not due"),
        (row("sending", attempts=1), True, None),
        (row("sending", attempts=1), False, "being sent by host:1"),
        (row("sent"), False, "is sent"),
        (row("cancelled"), False, "is cancelled"),
    ],
)
def test_retry_takes_failed_waiting_and_stuck_reminders(reminder, gone, refused):
    reason = retry_refusal(reminder, NOW, sender_gone=gone)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason
