"""The workflow file, validated on load, and the decisions Workflow.fire makes from it."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aqb_workflow.config import read_toml
from aqb_workflow.domain.model import Actor, Agreement
from aqb_workflow.domain.workflow import Workflow, workflow_from_data
from aqb_workflow.errors import BadInput, ConfigError, Refused

REPO = Path(__file__).resolve().parents[2]
WORKFLOW_FILE = REPO / "states" / "agreement.toml"
SOURCE = str(WORKFLOW_FILE)
BERLIN = ZoneInfo("Europe/Berlin")
TODAY = date(2024, 11, 20)
NOW = datetime(2024, 11, 20, 9, 0, tzinfo=UTC)
BUDGET = 126_680_000  # Gießen 2024: 1.266.800 €

MINISTRY = Actor("hmsi-aqb", ("ministry",))
RP = Actor("rp-kassel", ("rp_kassel",))
GIESSEN = Actor("giessen", ("district:giessen",))
WETTERAU = Actor("wetterau", ("district:wetterau",))
ADMIN = Actor("root-admin", ("admin",))
VIEWER = Actor("pruefer", ("viewer",))

STATES = [
    "drafted",
    "signed_by_ministry",
    "signed_by_district",
    "notice_issued",
    "autumn_review",
    "closed",
    "withdrawn",
]
NON_FINAL = STATES[:5]
FINAL = ["closed", "withdrawn"]

SIGNED_BY_MINISTRY = {
    "ministry_signed_on": "2024-07-01",
    "ministry_signed_by": "Heike Hofmann",
    "ministry_signed_place": "Wiesbaden",
}
SIGNED_BY_DISTRICT = {
    **SIGNED_BY_MINISTRY,
    "district_signed_on": "2024-07-10",
    "district_signed_by": "Anita Schneider",
    "district_signed_place": "Gießen",
    "received_on": "2024-07-15",
}
NOTICE_ISSUED = {
    **SIGNED_BY_DISTRICT,
    "notice_issued_on": "2024-08-05",
    "notice_ref": "RPKS 57 2024/GI",
    "notice_amount": BUDGET,
}


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    with WORKFLOW_FILE.open("rb") as handle:
        return tomllib.load(handle)


@pytest.fixture(scope="module")
def wf(shipped) -> Workflow:
    return workflow_from_data(shipped, SOURCE)


def agreement(state: str = "drafted", district: str = "giessen", **fields: Any) -> Agreement:
    return Agreement(
        key=f"2024-{district}",
        year=2024,
        district=district,
        budget_cents=BUDGET,
        state=state,
        version=3,
        fields=dict(fields),
    )


def fire(
    wf: Workflow,
    ag: Agreement,
    trigger: str,
    actor: Actor = MINISTRY,
    today: date = TODAY,
    comment: str | None = None,
    **raw: str,
):
    return wf.fire(ag, trigger, raw, actor, today=today, now=NOW, zone=BERLIN, comment=comment)


# -- the shipped definition ----------------------------------------------------------------


def test_the_shipped_workflow_loads_with_its_states_in_file_order(wf):
    assert wf.name == "agreement"
    assert wf.initial == "drafted"
    assert list(wf.states) == STATES
    assert [s for s in STATES if wf.is_final(s)] == FINAL
    assert wf.source == SOURCE


def test_the_shipped_states_have_german_labels(wf):
    assert wf.label("drafted") == "Entwurf"
    assert wf.label("signed_by_district") == "Von der Gebietskörperschaft gegengezeichnet"
    assert wf.label("closed") == "Abgeschlossen"
    assert wf.label("withdrawn") == "Zurückgezogen"
    # An unknown state (say, from an older file) is shown as its name, not an error.
    assert wf.label("archived") == "archived"


def test_the_shipped_triggers_move_an_agreement_through_its_year(wf):
    moves = {name: (t.sources, t.dest) for name, t in wf.triggers.items()}
    assert moves == {
        "sign_ministry": (("drafted",), "signed_by_ministry"),
        "sign_district": (("signed_by_ministry",), "signed_by_district"),
        "issue_notice": (("signed_by_district",), "notice_issued"),
        "schedule_review": (("notice_issued",), "autumn_review"),
        "reschedule_review": (("autumn_review",), "autumn_review"),
        "close": (("autumn_review",), "closed"),
        "withdraw": (tuple(NON_FINAL), "withdrawn"),
    }


def test_the_shipped_roles_follow_the_domain(wf):
    roles = {name: t.roles for name, t in wf.triggers.items()}
    assert roles["sign_ministry"] == ("ministry",)
    assert roles["sign_district"] == ("district", "ministry")
    assert roles["issue_notice"] == ("rp_kassel", "ministry")
    for name in ("schedule_review", "reschedule_review", "close", "withdraw"):
        assert roles[name] == ("ministry",)


@pytest.mark.parametrize("state", NON_FINAL)
def test_withdraw_is_allowed_from_every_non_final_state(wf, state):
    assert "withdraw" in wf.allowed(state)
    assert wf.allowed(state)[-1] == "withdraw"  # file order


@pytest.mark.parametrize("state", FINAL)
def test_nothing_is_allowed_from_a_final_state(wf, state):
    assert wf.allowed(state) == []


def test_allowed_lists_triggers_in_file_order(wf):
    assert wf.allowed("drafted") == ["sign_ministry", "withdraw"]
    assert wf.allowed("autumn_review") == ["reschedule_review", "close", "withdraw"]
    assert wf.allowed("no_such_state") == []


def test_field_stores_and_types_are_collected_once(wf):
    assert wf.field_types["review_at"].type == "datetime"
    assert wf.field_types["notice_amount"].type == "amount"
    assert wf.field_types["ministry_signed_on"].type == "date"
    assert wf.field_types["received_on"].optional


# -- broken definitions --------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = data
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = data
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        for m in mutations:
            m(data)

    return mutate


def _trap_state(data: dict[str, Any]) -> None:
    """A reachable, non-final state nothing leaves: agreements would be stuck there."""
    data["states"]["paused"] = {"label": "Ruht"}
    data["triggers"]["pause"] = {"from": ["notice_issued"], "to": "paused", "roles": ["ministry"]}
    data["triggers"]["withdraw"]["from"] = list(NON_FINAL)


BROKEN: list[tuple[str, Mutation, list[str]]] = [
    (
        "unknown state in from",
        _set("triggers/sign_district/from", ["signed_by_minstry"]),
        ["triggers.sign_district", "'signed_by_minstry'"],
    ),
    (
        "unknown state in to",
        _set("triggers/close/to", "clsoed"),
        ["triggers.close", "'clsoed'"],
    ),
    (
        "unreachable state",
        _set("states/archived", {"label": "Archiviert", "final": True}),
        ["states.archived", "unreachable"],
    ),
    (
        "unknown guard",
        _set("triggers/sign_district/guards", ["not_before_ministry"]),
        ["triggers.sign_district.guards", "'not_before_ministry'"],
    ),
    (
        "bad field type",
        _set("triggers/issue_notice/fields/amount/type", "money"),
        ["triggers.issue_notice.fields.amount.type", "'money'"],
    ),
    (
        "field without type",
        _delete("triggers/issue_notice/fields/ref/type"),
        ["triggers.issue_notice.fields.ref.type"],
    ),
    ("unknown top-level key", _set("option", {}), ["'option'"]),
    (
        "unknown key in workflow",
        _set("workflow/inital", "drafted"),
        ["workflow: unknown key 'inital'"],
    ),
    (
        "unknown key in options",
        _set("options/notice_may_predate_signature", True),
        ["options: unknown key 'notice_may_predate_signature'"],
    ),
    ("unknown key in a state", _set("states/closed/finale", True), ["states.closed", "'finale'"]),
    (
        "unknown key in a trigger",
        _set("triggers/close/guard", ["not_before_review"]),
        ["triggers.close", "'guard'"],
    ),
    (
        "unknown key in a field",
        _set("triggers/close/fields/held_on/requried", False),
        ["triggers.close.fields.held_on", "'requried'"],
    ),
    ("missing state label", _delete("states/withdrawn/label"), ["states.withdrawn", "label"]),
    (
        "trigger from a final state",
        _set(
            "triggers/reopen",
            {"from": ["closed"], "to": "autumn_review", "roles": ["ministry"]},
        ),
        ["triggers.reopen.from", "'closed'", "final"],
    ),
    (
        "non-final state with no way out",
        _trap_state,
        ["states.paused", "no trigger leads from it to a final state"],
    ),
    ("initial unknown", _set("workflow/initial", "draft"), ["workflow.initial", "'draft'"]),
    ("initial missing", _delete("workflow/initial"), ["workflow.initial"]),
    (
        "bad role",
        _set("triggers/sign_district/roles", ["district", "landrat"]),
        ["triggers.sign_district.roles", "'landrat'"],
    ),
    (
        "viewer may not be given a trigger",
        _set("triggers/withdraw/roles", ["viewer"]),
        ["triggers.withdraw.roles", "'viewer'"],
    ),
    (
        "empty text default",
        _set("triggers/sign_ministry/fields/place/default", " "),
        ["triggers.sign_ministry.fields.place.default"],
    ),
    (
        "date default that is no date",
        _set("triggers/close/fields/held_on/default", "someday"),
        ["triggers.close.fields.held_on.default", "someday"],
    ),
    (
        "amount default that is not positive",
        _set("triggers/issue_notice/fields/amount/default", "0"),
        ["triggers.issue_notice.fields.amount.default", "positive"],
    ),
    (
        "default of the wrong TOML type",
        _set("triggers/sign_ministry/fields/place/default", 1),
        ["triggers.sign_ministry.fields.place.default", "str"],
    ),
    (
        "required that is not a bool",
        _set("triggers/sign_ministry/fields/on/required", "yes"),
        ["triggers.sign_ministry.fields.on.required", "bool"],
    ),
    ("final that is not a bool", _set("states/closed/final", "yes"), ["states.closed.final"]),
    ("from that is a number", _set("triggers/close/from", 3), ["triggers.close.from"]),
    ("trigger without to", _delete("triggers/close/to"), ["triggers.close", "'to'"]),
    ("trigger without roles", _delete("triggers/close/roles"), ["triggers.close", "'roles'"]),
    (
        "option that is not a bool",
        _set("options/notice_may_predate_signatures", "no"),
        ["options.notice_may_predate_signatures", "bool"],
    ),
    (
        "default_from on a date",
        _set("triggers/sign_ministry/fields/on/default_from", "budget"),
        ["triggers.sign_ministry.fields.on.default_from"],
    ),
    (
        "default_from other than budget",
        _set("triggers/issue_notice/fields/amount/default_from", "request"),
        ["triggers.issue_notice.fields.amount.default_from"],
    ),
    (
        "reserved store",
        _set("triggers/issue_notice/fields/amount/store", "budget"),
        ["triggers.issue_notice.fields.amount.store", "'budget'"],
    ),
    (
        "one store with two types",
        _set("triggers/close/fields/held_on/store", "review_at"),
        ["triggers.close.fields.held_on.store", "'review_at'"],
    ),
    (
        "trigger named like a state",
        _set("triggers/closed", {"from": ["autumn_review"], "to": "closed", "roles": ["ministry"]}),
        ["triggers.closed"],
    ),
    ("a state that is not a table", _set("states/closed", "Abgeschlossen"), ["states.closed"]),
    (
        "a field that is not a table",
        _set("triggers/close/fields/held_on", "date"),
        ["triggers.close.fields.held_on", "table"],
    ),
    ("no states", _set("states", {}), ["[states.NAME]"]),
    ("no triggers", _set("triggers", {}), ["[triggers.NAME]"]),
]


@pytest.mark.parametrize(
    ("mutate", "fragments"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_a_broken_definition_is_refused_naming_file_and_key(shipped, mutate, fragments):
    data = copy.deepcopy(shipped)
    mutate(data)
    with pytest.raises(ConfigError) as caught:
        workflow_from_data(data, SOURCE)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith(f"{SOURCE}: ")
    for fragment in fragments:
        assert fragment in message
    # One line, as the CLI prints it.
    assert "\n" not in message


def test_a_state_whose_only_trigger_loops_back_to_itself_is_a_trap(shipped):
    # autumn_review keeps reschedule_review (autumn_review -> autumn_review) but loses close
    # and withdraw: an agreement scheduled for review could never be closed or withdrawn.
    data = copy.deepcopy(shipped)
    data["triggers"]["close"]["from"] = ["notice_issued"]
    data["triggers"]["withdraw"]["from"] = [s for s in NON_FINAL if s != "autumn_review"]
    with pytest.raises(ConfigError) as caught:
        workflow_from_data(data, SOURCE)
    assert "states.autumn_review" in str(caught.value)


def test_the_shipped_dict_itself_is_not_changed_by_loading(shipped):
    before = copy.deepcopy(shipped)
    workflow_from_data(shipped, SOURCE)
    assert shipped == before


def test_a_trigger_label_may_be_left_out(shipped):
    data = copy.deepcopy(shipped)
    del data["triggers"]["close"]["label"]
    assert workflow_from_data(data, SOURCE).triggers["close"].label == "close"


def test_a_duplicate_trigger_in_the_toml_text_is_refused_with_its_line(tmp_path):
    text = WORKFLOW_FILE.read_text(encoding="utf-8")
    duplicate_line = len(text.splitlines()) + 2
    path = tmp_path / "agreement.toml"
    path.write_text(text + '\n[triggers.close]\nlabel = "Nochmal"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_toml(path, "workflow")
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert str(path) in message
    assert f"line {duplicate_line}" in message
    assert "close" in message


# -- firing --------------------------------------------------------------------------------


def test_fire_decides_without_changing_the_agreement(wf):
    ag = agreement()
    before = copy.deepcopy(ag)
    changes, event = fire(
        wf, ag, "sign_ministry", on="01.07.2024", by="Heike Hofmann", comment="Original liegt vor"
    )
    assert ag == before
    assert changes == SIGNED_BY_MINISTRY
    assert event.agreement == "2024-giessen"
    assert event.event == "sign_ministry"
    assert event.actor == "hmsi-aqb"
    assert event.role == "ministry"
    assert event.at == NOW
    assert (event.from_state, event.to_state) == ("drafted", "signed_by_ministry")
    assert event.comment == "Original liegt vor"
    assert event.payload == {"on": "2024-07-01", "by": "Heike Hofmann", "place": "Wiesbaden"}


def test_the_shared_machine_keeps_no_state_between_agreements(wf):
    fire(wf, agreement(), "sign_ministry", on="2024-07-01", by="Heike Hofmann")
    # A second drafted agreement is still drafted for the machine, and a third one elsewhere
    # in its life is where its own state says.
    _, again = fire(wf, agreement(district="wetterau"), "sign_ministry", on="2024-07-02", by="X")
    assert again.from_state == "drafted"
    later = agreement("autumn_review", review_at="2024-10-15T08:00:00.000000+00:00")
    _, closing = fire(wf, later, "close", held_on="2024-10-15")
    assert (closing.from_state, closing.to_state) == ("autumn_review", "closed")


def test_the_giessen_2024_agreement_walks_its_whole_year(wf):
    ag = agreement()
    steps = [
        ("sign_ministry", MINISTRY, {"on": "1.7. 2024", "by": "Heike Hofmann"}),
        (
            "sign_district",
            GIESSEN,
            {
                "on": "10.7.2024",
                "by": "Anita Schneider",
                "place": "Gießen",
                "received_on": "15.07.2024",
            },
        ),
        ("issue_notice", RP, {"on": "2024-08-05", "ref": "RPKS 57 2024/GI"}),
        ("schedule_review", MINISTRY, {"at": "15.10.2024 10:00", "location": "Kreishaus Gießen"}),
        ("close", MINISTRY, {"held_on": "15.10.2024", "outcome": "planmäßig"}),
    ]
    for trigger, actor, raw in steps:
        changes, event = wf.fire(ag, trigger, raw, actor, today=TODAY, now=NOW, zone=BERLIN)
        ag.fields.update(changes)
        ag.state = event.to_state
    assert ag.state == "closed"
    assert ag.fields["received_on"] == "2024-07-15"
    assert ag.fields["notice_amount"] == BUDGET
    assert ag.fields["review_at"] == "2024-10-15T08:00:00.000000+00:00"
    assert ag.fields["review_held_on"] == "2024-10-15"


def test_an_unknown_trigger_is_bad_input_listing_the_triggers(wf):
    with pytest.raises(BadInput) as caught:
        fire(wf, agreement(), "sign", on="2024-07-01", by="X")
    assert caught.value.exit_code == 2
    assert "'sign'" in str(caught.value)
    assert "sign_ministry" in str(caught.value)


def test_a_trigger_not_allowed_now_is_refused_with_what_is_allowed(wf):
    with pytest.raises(Refused) as caught:
        fire(wf, agreement(), "sign_district", GIESSEN, on="2024-07-10", by="X", place="Gießen")
    assert caught.value.exit_code == 1
    message = str(caught.value)
    assert "2024-giessen is drafted (Entwurf)" in message
    assert "allowed now: sign_ministry, withdraw" in message


@pytest.mark.parametrize("state", FINAL)
def test_nothing_fires_from_a_final_state(wf, state):
    with pytest.raises(Refused) as caught:
        fire(wf, agreement(state), "withdraw", reason="Doppelt angelegt")
    assert "allowed now: nothing (final state)" in str(caught.value)


def test_the_state_is_checked_before_the_fields(wf):
    # A wrong state is the real problem; complaining about fields first would mislead.
    with pytest.raises(Refused, match="allowed now:"):
        fire(wf, agreement("closed"), "close")


@pytest.mark.parametrize(
    ("actor", "trigger", "state", "raw"),
    [
        (RP, "sign_ministry", "drafted", {"on": "2024-07-01", "by": "X"}),
        (GIESSEN, "sign_ministry", "drafted", {"on": "2024-07-01", "by": "X"}),
        (GIESSEN, "issue_notice", "signed_by_district", {"on": "2024-08-05", "ref": "A"}),
        (RP, "withdraw", "drafted", {"reason": "X"}),
        (VIEWER, "withdraw", "drafted", {"reason": "X"}),
        (Actor("nobody", ()), "withdraw", "drafted", {"reason": "X"}),
    ],
)
def test_a_role_without_the_right_is_refused(wf, actor, trigger, state, raw):
    ag = agreement(state, **SIGNED_BY_DISTRICT)
    with pytest.raises(Refused) as caught:
        wf.fire(ag, trigger, raw, actor, today=TODAY, now=NOW, zone=BERLIN)
    assert caught.value.exit_code == 1
    message = str(caught.value)
    assert actor.name in message and trigger in message
    assert "allowed: " + ", ".join(wf.triggers[trigger].roles) in message


def test_a_district_may_countersign_only_its_own_agreement(wf):
    raw = {"on": "2024-07-10", "by": "Jan Weckler", "place": "Friedberg"}
    giessen = agreement("signed_by_ministry", **SIGNED_BY_MINISTRY)
    with pytest.raises(Refused) as caught:
        wf.fire(giessen, "sign_district", raw, WETTERAU, today=TODAY, now=NOW, zone=BERLIN)
    assert "own district only" in str(caught.value)
    wetterau = agreement("signed_by_ministry", district="wetterau", **SIGNED_BY_MINISTRY)
    _, event = wf.fire(wetterau, "sign_district", raw, WETTERAU, today=TODAY, now=NOW, zone=BERLIN)
    assert event.role == "district:wetterau"


def test_a_bare_district_role_without_slug_grants_nothing(wf):
    ag = agreement("signed_by_ministry", **SIGNED_BY_MINISTRY)
    with pytest.raises(Refused):
        fire(wf, ag, "sign_district", Actor("x", ("district",)), on="2024-07-10", by="X", place="Y")


def test_admin_may_fire_every_trigger_for_every_district(wf):
    cases = [
        (agreement(), "sign_ministry", {"on": "2024-07-01", "by": "X"}),
        (
            agreement("signed_by_ministry", district="wetterau", **SIGNED_BY_MINISTRY),
            "sign_district",
            {"on": "2024-07-10", "by": "X", "place": "Friedberg"},
        ),
        (
            agreement("signed_by_district", **SIGNED_BY_DISTRICT),
            "issue_notice",
            {"on": "2024-08-05", "ref": "A"},
        ),
        (
            agreement("notice_issued", **NOTICE_ISSUED),
            "schedule_review",
            {"at": "15.10.2024 10:00", "location": "K"},
        ),
        (
            agreement("autumn_review", review_at="2024-10-15T08:00:00.000000+00:00"),
            "close",
            {"held_on": "2024-10-15"},
        ),
        (agreement("drafted"), "withdraw", {"reason": "Doppelt"}),
    ]
    for ag, trigger, raw in cases:
        _, event = wf.fire(ag, trigger, raw, ADMIN, today=TODAY, now=NOW, zone=BERLIN)
        assert event.role == "admin"
        assert event.to_state == wf.triggers[trigger].dest


def test_admin_acting_on_behalf_is_audited_with_the_roles_of_the_person_acted_for(wf):
    for_ministry = Actor("hmsi-aqb", ("ministry",), by="root-admin")
    _, event = fire(wf, agreement(), "sign_ministry", for_ministry, on="2024-07-01", by="X")
    assert event.actor == "root-admin on behalf of hmsi-aqb"
    assert event.role == "ministry"
    for_district = Actor("giessen", ("district:giessen",), by="root-admin")
    with pytest.raises(Refused, match="may not fire"):
        fire(wf, agreement(), "sign_ministry", for_district, on="2024-07-01", by="X")


def test_admin_is_still_bound_by_the_state(wf):
    with pytest.raises(Refused, match="allowed now:"):
        fire(wf, agreement(), "close", ADMIN, held_on="2024-10-15")


def test_a_missing_field_is_bad_input_listing_the_fields(wf):
    with pytest.raises(BadInput) as caught:
        fire(wf, agreement(), "sign_ministry", on="2024-07-01")
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert "sign_ministry needs by=" in message
    assert "on (date)" in message and "place (text, optional)" in message


def test_an_unknown_field_is_bad_input(wf):
    with pytest.raises(BadInput) as caught:
        fire(wf, agreement(), "sign_ministry", on="2024-07-01", by="X", datum="2024-07-01")
    assert caught.value.exit_code == 2
    assert "unknown field 'datum'" in str(caught.value)


@pytest.mark.parametrize("by", ["", "   ", "Heike\x00Hofmann", "x" * 2001])
def test_a_text_field_must_be_real_text(wf, by):
    with pytest.raises(BadInput, match=r"^by: "):
        fire(wf, agreement(), "sign_ministry", on="2024-07-01", by=by)


def test_a_text_field_may_span_lines_and_is_trimmed(wf):
    changes, _ = fire(
        wf, agreement("drafted"), "withdraw", reason="  Doppelt angelegt.\n\tSiehe 2024-giessen. "
    )
    assert changes == {"withdrawn_reason": "Doppelt angelegt.\n\tSiehe 2024-giessen."}


def test_a_date_in_the_future_is_refused_but_today_is_fine(wf):
    with pytest.raises(BadInput) as caught:
        fire(wf, agreement(), "sign_ministry", today=date(2024, 6, 30), on="01.07.2024", by="X")
    assert caught.value.exit_code == 2
    assert "on: 2024-07-01 is in the future" in str(caught.value)
    changes, _ = fire(
        wf, agreement(), "sign_ministry", today=date(2024, 7, 1), on="01.07.2024", by="X"
    )
    assert changes["ministry_signed_on"] == "2024-07-01"


def test_a_review_may_be_scheduled_in_the_future_and_is_stored_in_utc(wf):
    ag = agreement("notice_issued", **NOTICE_ISSUED)
    changes, event = fire(
        wf,
        ag,
        "schedule_review",
        today=date(2024, 9, 1),
        at="15.10.2024 10:00",
        location="Kreishaus",
    )
    assert changes == {
        "review_at": "2024-10-15T08:00:00.000000+00:00",
        "review_location": "Kreishaus",
    }
    assert event.payload["at"] == "2024-10-15T08:00:00.000000+00:00"


def test_a_review_at_a_time_the_clocks_skip_is_refused(wf):
    ag = agreement("notice_issued", **NOTICE_ISSUED)
    with pytest.raises(BadInput, match=r"^at: "):
        fire(wf, ag, "schedule_review", at="2025-03-30 02:30", location="Kreishaus")


def test_rescheduling_keeps_the_state_and_may_leave_the_location(wf):
    ag = agreement("autumn_review", review_at="2024-10-15T08:00:00.000000+00:00")
    changes, event = fire(wf, ag, "reschedule_review", at="2024-11-15 10:00")
    assert changes == {"review_at": "2024-11-15T09:00:00.000000+00:00"}
    assert (event.from_state, event.to_state) == ("autumn_review", "autumn_review")


# -- guards --------------------------------------------------------------------------------


def test_the_district_cannot_sign_before_the_ministry(wf):
    ag = agreement("signed_by_ministry", **SIGNED_BY_MINISTRY)
    with pytest.raises(Refused) as caught:
        fire(
            wf, ag, "sign_district", GIESSEN, on="30.06.2024", by="Anita Schneider", place="Gießen"
        )
    message = str(caught.value)
    assert message.startswith("2024-giessen: ")
    assert "30. Juni 2024" in message and "1. Juli 2024" in message
    # The same day is fine.
    _, event = fire(wf, ag, "sign_district", GIESSEN, on="01.07.2024", by="A", place="Gießen")
    assert event.to_state == "signed_by_district"


def test_the_receipt_stamp_cannot_predate_the_district_signature(wf):
    ag = agreement("signed_by_ministry", **SIGNED_BY_MINISTRY)
    raw = {"on": "10.07.2024", "by": "Anita Schneider", "place": "Gießen"}
    with pytest.raises(Refused) as caught:
        fire(wf, ag, "sign_district", GIESSEN, **raw, received_on="09.07.2024")
    assert "9. Juli 2024" in str(caught.value) and "10. Juli 2024" in str(caught.value)
    same_day, _ = fire(wf, ag, "sign_district", GIESSEN, **raw, received_on="10.07.2024")
    assert same_day["received_on"] == "2024-07-10"
    without, _ = fire(wf, ag, "sign_district", GIESSEN, **raw)
    assert "received_on" not in without


@pytest.mark.parametrize(("on", "who"), [("2024-07-05", "district"), ("2024-06-30", "ministry")])
def test_the_notice_cannot_predate_the_signatures(wf, on, who):
    ag = agreement("signed_by_district", **SIGNED_BY_DISTRICT)
    with pytest.raises(Refused) as caught:
        fire(wf, ag, "issue_notice", RP, on=on, ref="RPKS 57")
    message = str(caught.value)
    assert f"the {who}'s signature" in message
    assert "notice_may_predate_signatures" in message


def test_the_notice_may_come_on_the_day_of_the_last_signature(wf):
    ag = agreement("signed_by_district", **SIGNED_BY_DISTRICT)
    _, event = fire(wf, ag, "issue_notice", RP, on="2024-07-10", ref="RPKS 57")
    assert event.to_state == "notice_issued"


def test_the_option_lets_the_notice_predate_the_signatures(shipped):
    data = copy.deepcopy(shipped)
    data["options"]["notice_may_predate_signatures"] = True
    lenient = workflow_from_data(data, SOURCE)
    ag = agreement("signed_by_district", **SIGNED_BY_DISTRICT)
    changes, _ = fire(lenient, ag, "issue_notice", RP, on="2024-06-30", ref="RPKS 57")
    assert changes["notice_issued_on"] == "2024-06-30"


@pytest.mark.parametrize(
    ("review_at", "review_day"),
    [
        # 00:30 on 15 October in Berlin (summer time) is still 14 October in UTC.
        ("2024-10-14T22:30:00.000000+00:00", date(2024, 10, 15)),
        # 00:30 on 15 November in Berlin (winter time) is still 14 November in UTC.
        ("2024-11-14T23:30:00.000000+00:00", date(2024, 11, 15)),
    ],
)
def test_close_compares_with_the_review_day_in_berlin(wf, review_at, review_day):
    ag = agreement("autumn_review", review_at=review_at)
    day_before = review_day.replace(day=review_day.day - 1)
    with pytest.raises(Refused) as caught:
        fire(wf, ag, "close", held_on=day_before.isoformat())
    assert f"{review_day.day}. " in str(caught.value)
    _, event = fire(wf, ag, "close", held_on=review_day.isoformat())
    assert event.to_state == "closed"


def test_a_late_review_can_be_closed_any_day_after(wf):
    ag = agreement("autumn_review", review_at="2024-10-15T08:00:00.000000+00:00")
    changes, _ = fire(wf, ag, "close", held_on="2024-11-20", outcome="planmäßig")
    assert changes == {"review_held_on": "2024-11-20", "review_outcome": "planmäßig"}


# -- the notice amount ---------------------------------------------------------------------


def test_the_notice_amount_defaults_to_the_budget_without_a_deviation(wf):
    ag = agreement("signed_by_district", **SIGNED_BY_DISTRICT)
    changes, event = fire(wf, ag, "issue_notice", RP, on="2024-08-05", ref="RPKS 57 2024/GI")
    assert changes["notice_amount"] == BUDGET
    assert event.payload["amount"] == BUDGET
    assert "deviation_cents" not in event.payload


@pytest.mark.parametrize(
    ("amount", "cents", "deviation"),
    [
        ("1.000.000,00", 100_000_000, -26_680_000),
        ("1.300.000", 130_000_000, 3_320_000),
        ("1.266.799,99 €", 126_679_999, -1),
    ],
)
def test_a_notice_amount_other_than_the_budget_records_the_deviation(wf, amount, cents, deviation):
    ag = agreement("signed_by_district", **SIGNED_BY_DISTRICT)
    changes, event = fire(wf, ag, "issue_notice", RP, on="2024-08-05", ref="A", amount=amount)
    assert changes["notice_amount"] == cents
    assert event.payload["amount"] == cents
    assert event.payload["deviation_cents"] == deviation


def test_a_notice_amount_equal_to_the_budget_records_no_deviation(wf):
    ag = agreement("signed_by_district", **SIGNED_BY_DISTRICT)
    _, event = fire(wf, ag, "issue_notice", RP, on="2024-08-05", ref="A", amount="1.266.800,00")
    assert event.payload["amount"] == BUDGET
    assert "deviation_cents" not in event.payload


@pytest.mark.parametrize("amount", ["0", "0,00", "-5", "-1.000,00", "zwölf"])
def test_a_notice_amount_must_be_a_positive_amount(wf, amount):
    ag = agreement("signed_by_district", **SIGNED_BY_DISTRICT)
    with pytest.raises(BadInput, match=r"^amount: "):
        fire(wf, ag, "issue_notice", RP, on="2024-08-05", ref="A", amount=amount)


# -- a changed definition against agreements in use ----------------------------------------


def test_check_in_use_accepts_states_the_definition_still_has(wf):
    wf.check_in_use({"drafted": ["2024-giessen"], "closed": ["2023-giessen", "2023-wetterau"]})
    wf.check_in_use({})


def test_check_in_use_refuses_a_definition_missing_a_state_still_in_use(wf):
    keys = [f"2024-{slug}" for slug in ("giessen", "wetterau", "fulda", "hochtaunus", "odenwald")]
    with pytest.raises(ConfigError) as caught:
        wf.check_in_use({"drafted": ["2025-giessen"], "archived": keys, "paused": ["2023-fulda"]})
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith(SOURCE)
    assert "archived: " + ", ".join(keys) in message
    assert "paused: 2023-fulda" in message
    assert "drafted" not in message
    assert "…" not in message


def test_check_in_use_shortens_a_long_list_of_keys(wf):
    keys = [f"2024-district-{n}" for n in range(1, 8)]
    with pytest.raises(ConfigError) as caught:
        wf.check_in_use({"archived": keys})
    message = str(caught.value)
    assert ", ".join(keys[:5]) + " …" in message
    assert keys[5] not in message
