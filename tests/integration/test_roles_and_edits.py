"""Who may do what, and how changes after signing become audited amendments."""

from __future__ import annotations

import json

import pytest

from aqb_workflow import services
from aqb_workflow.domain.model import Actor
from aqb_workflow.errors import BadInput, Refused
from aqb_workflow.store import queries
from tests.conftest import MINISTRY
from tests.paths import STEPS, bring_to

ACTORS = {
    "ministry": Actor("m", ("ministry",)),
    "rp_kassel": Actor("rp", ("rp_kassel",)),
    "own_district": Actor("gi", ("district:giessen",)),
    "foreign_district": Actor("wt", ("district:wetterau",)),
    "admin": Actor("root", ("admin",)),
    "viewer": Actor("v", ("viewer",)),
    "nobody": Actor("stranger", ()),
}
ALLOWED = {
    "sign_ministry": {"ministry", "admin"},
    "sign_district": {"ministry", "own_district", "admin"},
    "issue_notice": {"ministry", "rp_kassel", "admin"},
    "schedule_review": {"ministry", "admin"},
    "close": {"ministry", "admin"},
    "withdraw": {"ministry", "admin"},
}
STATE_BEFORE = {
    "sign_ministry": "drafted",
    "sign_district": "signed_by_ministry",
    "issue_notice": "signed_by_district",
    "schedule_review": "notice_issued",
    "close": "autumn_review",
    "withdraw": "drafted",
}
FIELDS = {trigger: fields for trigger, fields, _ in STEPS} | {"withdraw": {"reason": "x"}}


@pytest.mark.parametrize("trigger", list(ALLOWED))
def test_role_matrix(trigger, app):
    for n, (name, actor) in enumerate(ACTORS.items()):
        key = bring_to(app, STATE_BEFORE[trigger], year=2001 + n)
        if name in ALLOWED[trigger]:
            fired = services.fire(app, actor, key, trigger, FIELDS[trigger])
            assert fired.from_state == STATE_BEFORE[trigger]
        else:
            with pytest.raises(Refused, match="may not fire"):
                services.fire(app, actor, key, trigger, FIELDS[trigger])
            assert services.current(app, key).state == STATE_BEFORE[trigger]


def test_edit_before_signing_is_free_and_audited(app):
    key = bring_to(app, "drafted")
    diff = services.edit(app, MINISTRY, key, {"budget": "1.300.000,00"}, None)
    assert diff == {"budget_cents": {"old": 126_680_000, "new": 130_000_000}}
    assert services.current(app, key).budget_cents == 130_000_000
    with app.db.read() as conn:
        last = queries.history(conn, key)[-1]
    assert last.event == "edited"
    assert json.loads(last.payload)["changes"]["budget_cents"]["new"] == 130_000_000


def test_change_after_signing_is_an_amendment_that_needs_a_reason(app):
    key = bring_to(app, "signed_by_district")
    with pytest.raises(BadInput, match="--reason"):
        services.edit(app, MINISTRY, key, {"budget": "1200000"}, None)
    with pytest.raises(BadInput, match="--reason"):
        services.add_measure(app, MINISTRY, key, "qualifizierung", "Neues Projekt", None)
    services.edit(app, MINISTRY, key, {"budget": "1200000"}, "Kürzung lt. Erlass")
    services.add_measure(app, MINISTRY, key, "qualifizierung", "Neues Projekt", "Nachtrag")
    services.edit(app, MINISTRY, key, {"received_on": "16.07.2024"}, "Stempel korrigiert")
    with app.db.read() as conn:
        events = queries.history(conn, key)[-3:]
    assert [e.event for e in events] == ["amended"] * 3
    assert events[0].comment == "Kürzung lt. Erlass"
    assert json.loads(events[0].payload)["changes"]["budget_cents"] == {
        "old": 126_680_000,
        "new": 120_000_000,
    }
    assert json.loads(events[2].payload)["changes"]["received_on"] == {
        "old": "2024-07-15",
        "new": "2024-07-16",
    }
    agreement = services.current(app, key)
    assert agreement.fields["received_on"] == "2024-07-16"
    assert [m.title for m in agreement.measures] == ["Neues Projekt"]


def test_closed_agreements_cannot_change(app):
    key = bring_to(app, "closed")
    with pytest.raises(Refused, match="can no longer be changed"):
        services.edit(app, MINISTRY, key, {"budget": "1"}, "x")


def test_district_staff_cannot_edit_or_create(app):
    key = bring_to(app, "drafted")
    with pytest.raises(Refused):
        services.edit(app, ACTORS["own_district"], key, {"budget": "1"}, None)
    with pytest.raises(Refused):
        services.create(app, ACTORS["own_district"], "giessen", 2030, "1")


def test_notice_amount_differing_from_budget_is_recorded_as_deviation(app):
    key = bring_to(app, "signed_by_district")
    services.fire(
        app, MINISTRY, key, "issue_notice", {"on": "2024-08-05", "ref": "AZ", "amount": "1.200.000"}
    )
    with app.db.read() as conn:
        event = queries.history(conn, key)[-1]
    assert json.loads(event.payload)["deviation_cents"] == 120_000_000 - 126_680_000


def test_reschedule_moves_the_review_and_keeps_the_state(app):
    key = bring_to(app, "autumn_review")
    fired = services.fire(app, MINISTRY, key, "reschedule_review", {"at": "2024-11-05 14:30"})
    assert (fired.from_state, fired.to_state) == ("autumn_review", "autumn_review")
    # November: winter time, UTC+1
    assert services.current(app, key).fields["review_at"].startswith("2024-11-05T13:30:00")
    with pytest.raises(Refused, match=r"scheduled for 5\. November 2024"):
        services.fire(app, MINISTRY, key, "close", {"held_on": "2024-10-15"})


def test_contacts_are_managed_and_audited(cli):
    cli(
        "contact add --district 'Landkreis Gießen' --role district --name 'Petra Muster' "
        "--email p.muster@lkgi.example"
    )
    cli("contact add --role ministry_desk --name 'AQB-Referat' --email aqb@hmsi.example")
    cli(
        "contact add --district giessen --role district --name 'Ole Fremd' --email o@x.example",
        actor="wetterau",
        expect=1,
    )
    rows = json.loads(cli("contact list --json").stdout)
    assert {(r["district"], r["role"], r["email"]) for r in rows} == {
        ("giessen", "district", "p.muster@lkgi.example"),
        (None, "ministry_desk", "aqb@hmsi.example"),
    }
    own = json.loads(cli("contact list --district giessen --json").stdout)
    assert [r["name"] for r in own] == ["Petra Muster"]
    removed = cli(f"contact remove {own[0]['id']}", actor="giessen").stdout
    assert "Petra Muster" in removed
    assert "3 events checked" in cli("audit verify").stdout
