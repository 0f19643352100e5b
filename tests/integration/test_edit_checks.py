"""`aqb edit` checks a value the way the trigger that recorded it does: the same types, the
same guards, the same messages. An edit cannot make the record say what no trigger would take.
"""

from __future__ import annotations

import pytest

from aqb_workflow import services
from aqb_workflow.documents.year import open_year
from aqb_workflow.domain.formats import format_utc
from aqb_workflow.errors import AqbError, BadInput, Refused
from aqb_workflow.verify import verify
from tests.conftest import MINISTRY, RP

# The clock of the ``app`` fixture stands at 20 November 2024.
SIGNATURES = [
    ("sign_ministry", {"on": "2024-07-01", "by": "Heike Hofmann"}),
    ("sign_district", {"on": "2024-07-10", "by": "Anita Schneider", "place": "Gießen"}),
]
NOTICE = ("issue_notice", {"on": "2024-08-05", "ref": "RPKS 57 - 2024/GI"})


def signed(app, district="giessen", steps=(*SIGNATURES, NOTICE), **received):
    key = services.create(app, MINISTRY, district, 2024, "1.266.800")
    for trigger, fields in steps:
        values = {**fields, **received} if trigger == "sign_district" else fields
        services.fire(app, RP if trigger == "issue_notice" else MINISTRY, key, trigger, values)
    return key


def refusal(call) -> AqbError:
    with pytest.raises(AqbError) as caught:
        call()
    return caught.value


def without_key(error: AqbError) -> str:
    return str(error).split(": ", 1)[1]


def test_moving_the_ministry_signature_after_the_districts_is_refused_as_sign_district_is(app):
    key = signed(app)
    before = services.current(app, key)
    edited = refusal(
        lambda: services.edit(
            app, MINISTRY, key, {"ministry_signed_on": "12.07.2024"}, "Tippfehler"
        )
    )
    # the same dates, fired as triggers on another agreement
    other = services.create(app, MINISTRY, "wetterau", 2024, "1140300")
    services.fire(app, MINISTRY, other, "sign_ministry", {"on": "2024-07-12", "by": "H. Hofmann"})
    fired = refusal(lambda: services.fire(app, MINISTRY, other, *SIGNATURES[1]))
    assert type(edited) is type(fired) is Refused
    assert without_key(edited) == without_key(fired)
    assert services.current(app, key) == before


def test_a_receipt_stamp_before_the_countersignature_is_refused(app):
    key = signed(app, received_on="2024-07-15")
    edited = refusal(lambda: services.edit(app, MINISTRY, key, {"received_on": "5.7.2024"}, "x"))
    assert isinstance(edited, Refused)
    assert "receipt stamp" in str(edited)
    assert "5. Juli 2024" in str(edited)


def test_a_notice_dated_before_the_signatures_is_refused(app):
    key = signed(app)
    edited = refusal(
        lambda: services.edit(app, MINISTRY, key, {"notice_issued_on": "2024-07-09"}, "x")
    )
    assert isinstance(edited, Refused)
    assert "notice" in str(edited)


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ({"district_signed_on": "2024-12-01"}, "is in the future"),
        ({"notice_amount": "0"}, "must be positive"),
        ({"budget": "-5"}, "must be positive"),
        ({"ministry_signed_on": "31.02.2024"}, "ministry_signed_on"),
    ],
)
def test_an_edited_value_is_typed_and_checked_as_when_first_entered(app, assignment, message):
    key = signed(app)
    before = services.current(app, key)
    edited = refusal(lambda: services.edit(app, MINISTRY, key, assignment, "Korrektur"))
    assert isinstance(edited, BadInput)
    assert message in str(edited)
    assert services.current(app, key) == before


def test_a_value_of_a_step_not_yet_taken_cannot_be_edited_in(app):
    key = signed(app, steps=SIGNATURES[:1])
    edited = refusal(
        lambda: services.edit(app, MINISTRY, key, {"district_signed_on": "2024-07-10"}, "x")
    )
    assert isinstance(edited, Refused)
    assert "sign_district" in str(edited)


def test_an_edit_that_keeps_the_order_of_events_is_recorded(app):
    key = signed(app)
    services.edit(app, MINISTRY, key, {"ministry_signed_on": "2024-07-02"}, "Datum korrigiert")
    assert services.current(app, key).fields["ministry_signed_on"] == "2024-07-02"
    assert verify(app, full=True).agreements == 1


def test_an_agreement_opened_from_last_year_knows_when_it_entered_its_state(app, clock):
    key = services.create(app, MINISTRY, "giessen", 2023, "1000000")
    services.add_measure(app, MINISTRY, key, "ausbildung", "Maßnahme A", None)
    opened_at = format_utc(clock.now())
    open_year(app, MINISTRY, 2024, from_year=2023)
    agreement = services.current(app, "2024-giessen")
    assert agreement.entered_at == opened_at
    assert [m.title for m in agreement.measures] == ["Maßnahme A"]
    services.edit(app, MINISTRY, "2024-giessen", {"budget": "1.100.000"}, None)
    assert services.current(app, "2024-giessen").entered_at == opened_at


def test_a_review_before_the_funding_notice_is_refused_when_scheduled_moved_or_edited(app):
    key = signed(app)  # notice of 5 August 2024
    early = {"at": "1.8.2024 10:00", "location": "Gießen"}
    scheduled = refusal(lambda: services.fire(app, MINISTRY, key, "schedule_review", early))
    assert isinstance(scheduled, Refused)
    assert "funding notice (5. August 2024)" in str(scheduled)
    services.fire(
        app, MINISTRY, key, "schedule_review", {"at": "15.10.2024 10:00", "location": "G"}
    )
    moved = refusal(
        lambda: services.fire(app, MINISTRY, key, "reschedule_review", {"at": "1.8.2024 10:00"})
    )
    edited = refusal(
        lambda: services.edit(app, MINISTRY, key, {"review_at": "1.8.2024 10:00"}, "verlegt")
    )
    assert without_key(moved) == without_key(edited) == without_key(scheduled)
