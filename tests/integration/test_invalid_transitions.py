"""Every trigger that is not allowed in a state is refused, and nothing at all is written."""

from __future__ import annotations

import pytest

from tests.paths import bring_to

STATES = [
    "drafted",
    "signed_by_ministry",
    "signed_by_district",
    "notice_issued",
    "autumn_review",
    "closed",
    "withdrawn",
]
FIELDS = {
    "sign_ministry": "on=2024-07-01 by=Hofmann",
    "sign_district": "on=2024-07-10 by=Schneider place=Gießen",
    "issue_notice": "on=2024-08-05 ref=AZ-1",
    "schedule_review": "'at=2024-10-15 10:00' location=Wiesbaden",
    "reschedule_review": "'at=2024-10-16 10:00'",
    "close": "held_on=2024-10-15",
    "withdraw": "reason=Test",
}


@pytest.mark.parametrize("state", STATES)
def test_every_invalid_trigger_is_refused_without_a_trace(state, app, workspace, cli):
    key = bring_to(app, state)
    allowed = set(app.workflow.allowed(state))
    invalid = [t for t in app.workflow.triggers if t not in allowed]
    assert invalid, "every state forbids something"
    before = workspace.snapshot()
    for trigger in invalid:
        result = cli(f"transition {key} {trigger} {FIELDS[trigger]}", expect=1, actor="root-admin")
        assert f"{key} is {state}" in result.stderr
        assert "allowed now:" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert workspace.snapshot() == before
