"""The audit chain: any edit, deletion, insertion or reordering is found at the first bad event."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from aqb_workflow.domain.audit import (
    GENESIS,
    AuditRecord,
    Head,
    Verdict,
    canonical_json,
    check_anchor,
    compute_hash,
    verify_chain,
)
from aqb_workflow.errors import AuditBroken

EVENTS: list[dict[str, Any]] = [
    {
        "agreement": "2024-giessen",
        "at": "2024-06-20T07:15:00.000000+00:00",
        "actor": "hmsi-aqb",
        "role": "ministry",
        "event": "created",
        "from_state": None,
        "to_state": "drafted",
        "comment": None,
        "payload": {"budget_cents": 126_680_000, "district": "giessen", "year": 2024},
    },
    {
        "agreement": "2024-giessen",
        "at": "2024-07-01T08:00:00.000000+00:00",
        "actor": "hmsi-aqb",
        "role": "ministry",
        "event": "sign_ministry",
        "from_state": "drafted",
        "to_state": "signed_by_ministry",
        "comment": "Original liegt vor",
        "payload": {"by": "Heike Hofmann", "on": "2024-07-01", "place": "Wiesbaden"},
    },
    {
        "agreement": None,
        "at": "2024-07-02T09:30:00.000000+00:00",
        "actor": "root-admin",
        "role": "admin",
        "event": "contact_added",
        "from_state": None,
        "to_state": None,
        "comment": None,
        "payload": {"email": "aqb@lkgi.de", "name": "Fachdienst Arbeit"},
    },
    {
        "agreement": "2024-giessen",
        "at": "2024-07-15T10:00:00.000000+00:00",
        "actor": "giessen",
        "role": "district:giessen",
        "event": "sign_district",
        "from_state": "signed_by_ministry",
        "to_state": "signed_by_district",
        "comment": "Eing.: 15. Juli 2024",
        "payload": {"by": "Anita Schneider", "on": "2024-07-10", "place": "Gießen"},
    },
    {
        "agreement": "2024-giessen",
        "at": "2024-08-05T12:00:00.000000+00:00",
        "actor": "rp-kassel",
        "role": "rp_kassel",
        "event": "issue_notice",
        "from_state": "signed_by_district",
        "to_state": "notice_issued",
        "comment": None,
        "payload": {"amount": 100_000_000, "deviation_cents": -26_680_000, "on": "2024-08-05"},
    },
    {
        "agreement": "2024-giessen",
        "at": "2024-09-01T08:00:00.000000+00:00",
        "actor": "hmsi-aqb",
        "role": "ministry",
        "event": "schedule_review",
        "from_state": "notice_issued",
        "to_state": "autumn_review",
        "comment": None,
        "payload": {"at": "2024-10-15T08:00:00.000000+00:00", "location": "Kreishaus Gießen"},
    },
]
N = len(EVENTS)
COLUMNS = [f.name for f in dataclasses.fields(AuditRecord)]


def seal(seq: int, prev_hash: str, **columns: Any) -> AuditRecord:
    """One record as the store writes it: payload as canonical JSON, hash over everything."""
    payload = canonical_json(columns.pop("payload"))
    draft = AuditRecord(seq=seq, payload=payload, prev_hash=prev_hash, hash="", **columns)
    return dataclasses.replace(draft, hash=compute_hash(draft.content(), prev_hash))


def build_chain(
    events: list[dict[str, Any]] = EVENTS, start: Head | None = None
) -> list[AuditRecord]:
    head = start or Head()
    chain = []
    for offset, columns in enumerate(events, start=1):
        record = seal(head.seq + offset, chain[-1].hash if chain else head.hash, **columns)
        chain.append(record)
    return chain


def rehash_from(records: list[AuditRecord], index: int) -> list[AuditRecord]:
    """What a forger with the code does: recompute every hash from ``index`` on."""
    out = list(records[:index])
    for rec in records[index:]:
        prev = out[-1].hash if out else GENESIS
        fixed = dataclasses.replace(rec, prev_hash=prev)
        out.append(dataclasses.replace(fixed, hash=compute_hash(fixed.content(), prev)))
    return out


def other_char(c: str) -> str:
    """A different character of the same kind, so hex stays hex and digits stay digits."""
    if c in "0123456789abcdef":
        return "0123456789abcdef"[("0123456789abcdef".index(c) + 1) % 16]
    return "X" if c != "X" else "Y"


def tamper(value: Any) -> Any:
    """Change one character of a text (the middle one), or give a missing value one."""
    if value is None:
        return ""
    middle = len(value) // 2
    return value[:middle] + other_char(value[middle]) + value[middle + 1 :]


def hashes(records: list[AuditRecord]) -> dict[int, str]:
    return {r.seq: r.hash for r in records}


def broken(records: list[AuditRecord], start: Head | None = None) -> AuditBroken:
    with pytest.raises(AuditBroken) as caught:
        verify_chain(records, start)
    assert caught.value.exit_code == 1
    assert str(caught.value).startswith(f"audit chain broken at event {caught.value.seq}")
    return caught.value


# -- the encoding --------------------------------------------------------------------------


def test_canonical_json_sorts_keys_drops_spaces_and_keeps_umlauts():
    assert canonical_json({"place": "Gießen", "by": "Anita Schneider", "n": [1, None]}) == (
        '{"by":"Anita Schneider","n":[1,null],"place":"Gießen"}'
    )
    assert canonical_json({"b": 1, "a": 2}) == canonical_json({"a": 2, "b": 1})


def test_compute_hash_is_a_sha256_over_content_and_previous_hash():
    content = build_chain()[0].content()
    first = compute_hash(content, GENESIS)
    assert len(first) == 64 and int(first, 16) >= 0
    assert compute_hash(list(content), GENESIS) == first
    assert compute_hash(content, "1" * 64) != first


def test_none_and_empty_text_hash_differently():
    content = build_chain()[0].content()
    assert content[8] is None  # comment
    emptied = [*content[:8], "", *content[9:]]
    assert compute_hash(emptied, GENESIS) != compute_hash(content, GENESIS)


# -- an intact chain -----------------------------------------------------------------------


def test_an_intact_chain_verifies():
    chain = build_chain()
    verdict = verify_chain(chain)
    assert verdict.checked == N
    assert verdict.head == Head(N, chain[-1].hash)
    assert verdict.warnings == []
    assert chain[0].prev_hash == GENESIS


def test_an_empty_log_verifies_to_genesis():
    verdict = verify_chain([])
    assert verdict.checked == 0
    assert verdict.head == Head(0, GENESIS)
    check_anchor(verdict, None, {})
    assert verdict.warnings == []


def test_verification_can_resume_from_a_verified_head():
    chain = build_chain()
    verdict = verify_chain(chain[3:], Head(3, chain[2].hash))
    assert verdict.checked == N - 3
    assert verdict.head == Head(N, chain[-1].hash)


def test_resuming_from_a_wrong_head_is_caught():
    chain = build_chain()
    error = broken(chain[3:], Head(3, chain[1].hash))
    assert error.seq == 4


def test_verify_chain_accepts_any_iterable():
    chain = build_chain()
    assert verify_chain(iter(chain)).checked == N


# -- edits ---------------------------------------------------------------------------------

TEXT_COLUMNS = [c for c in COLUMNS if c != "seq"]


@pytest.mark.parametrize("column", TEXT_COLUMNS)
@pytest.mark.parametrize("index", range(N))
def test_changing_one_character_of_any_column_of_any_event_is_found_there(index, column):
    chain = build_chain()
    original = getattr(chain[index], column)
    changed = tamper(original)
    assert changed != original
    chain[index] = dataclasses.replace(chain[index], **{column: changed})
    error = broken(chain)
    assert error.seq == index + 1


@pytest.mark.parametrize("index", range(N))
def test_raising_the_sequence_number_of_any_event_is_found_there(index):
    chain = build_chain()
    chain[index] = dataclasses.replace(chain[index], seq=chain[index].seq + 1)
    error = broken(chain)
    assert error.seq == index + 1


@pytest.mark.parametrize("index", range(N))
def test_lowering_the_sequence_number_of_any_event_is_found_there(index):
    chain = build_chain()
    claimed = chain[index].seq - 1
    chain[index] = dataclasses.replace(chain[index], seq=claimed)
    error = broken(chain)
    # The changed row now calls itself event ``claimed``: it sits at the position of event
    # index + 1 and duplicates the number before it. Either number leads a person to it;
    # nothing earlier than the duplicated number may be blamed, nothing later.
    assert error.seq in (claimed, index + 1)
    assert error.seq >= index


def test_a_changed_payload_is_found_even_when_only_its_spacing_changes():
    chain = build_chain()
    spaced = chain[1].payload.replace(",", ", ")
    assert spaced != chain[1].payload
    chain[1] = dataclasses.replace(chain[1], payload=spaced)
    error = broken(chain)
    assert error.seq == 2
    assert "changed" in str(error)


def test_an_edit_with_the_hash_recomputed_breaks_the_link_to_the_next_event():
    chain = build_chain()
    edited = dataclasses.replace(chain[2], actor="hmsi-aqb")
    chain[2] = dataclasses.replace(edited, hash=compute_hash(edited.content(), edited.prev_hash))
    error = broken(chain)
    assert error.seq == 4


def test_only_the_first_of_several_edits_is_reported():
    chain = build_chain()
    chain[4] = dataclasses.replace(chain[4], comment="nachträglich")
    chain[1] = dataclasses.replace(chain[1], actor="root-admin")
    assert broken(chain).seq == 2


# -- deletions, reordering, insertions -----------------------------------------------------


@pytest.mark.parametrize("index", range(N - 1))
def test_deleting_an_event_is_found_at_its_number(index):
    chain = build_chain()
    del chain[index]
    error = broken(chain)
    assert error.seq == index + 1
    assert "missing" in str(error)


@pytest.mark.parametrize("index", range(N - 1))
def test_swapping_two_rows_is_found_at_the_first(index):
    chain = build_chain()
    chain[index], chain[index + 1] = chain[index + 1], chain[index]
    assert broken(chain).seq == index + 1


@pytest.mark.parametrize("index", range(N - 1))
def test_swapping_two_events_but_keeping_their_numbers_is_found_at_the_first(index):
    chain = build_chain()
    first, second = chain[index], chain[index + 1]
    chain[index] = dataclasses.replace(second, seq=first.seq)
    chain[index + 1] = dataclasses.replace(first, seq=second.seq)
    assert broken(chain).seq == index + 1


def test_inserting_a_forged_event_in_the_middle_is_found_right_after_it():
    chain = build_chain()
    forged = seal(
        3,
        chain[1].hash,
        agreement="2024-giessen",
        at="2024-07-02T09:00:00.000000+00:00",
        actor="hmsi-aqb",
        role="ministry",
        event="withdraw",
        from_state="signed_by_ministry",
        to_state="withdrawn",
        comment=None,
        payload={"reason": "gefälscht"},
    )
    # The forger renumbers the later rows but cannot rehash them without rewriting the rest.
    renumbered = [dataclasses.replace(r, seq=r.seq + 1) for r in chain[2:]]
    tampered = [*chain[:2], forged, *renumbered]
    error = broken(tampered)
    assert error.seq == 4
    assert "does not follow event 3" in str(error)


def test_inserting_a_forged_event_with_a_made_up_link_is_found_at_it():
    chain = build_chain()
    forged = seal(3, "f" * 64, **{**EVENTS[2], "comment": "gefälscht"})
    renumbered = [dataclasses.replace(r, seq=r.seq + 1) for r in chain[2:]]
    assert broken([*chain[:2], forged, *renumbered]).seq == 3


def test_a_duplicated_event_is_found():
    chain = build_chain()
    error = broken([*chain[:3], chain[2], *chain[3:]])
    assert error.seq in (3, 4)
    assert "out of order" in str(error)


# -- the cut-off tail and the anchor -------------------------------------------------------


@pytest.mark.parametrize("kept", range(N))
def test_a_cut_tail_passes_the_chain_check_but_not_the_anchor(kept):
    chain = build_chain()
    anchor = Head(N, chain[-1].hash)
    verdict = verify_chain(chain[:kept])
    assert verdict.checked == kept
    with pytest.raises(AuditBroken) as caught:
        check_anchor(verdict, anchor, hashes(chain[:kept]))
    assert caught.value.seq == kept + 1
    assert "cut off" in str(caught.value)


def test_an_anchor_at_the_head_is_quiet():
    chain = build_chain()
    verdict = verify_chain(chain)
    check_anchor(verdict, Head(N, chain[-1].hash), hashes(chain))
    assert verdict.warnings == []


def test_an_anchor_one_event_behind_is_only_a_warning():
    # A crash between the commit and the anchor write leaves exactly this.
    chain = build_chain()
    verdict = verify_chain(chain)
    check_anchor(verdict, Head(N - 1, chain[-2].hash), hashes(chain))
    assert len(verdict.warnings) == 1
    assert f"event {N}" in verdict.warnings[0]


@pytest.mark.parametrize("behind", range(2, N + 1))
def test_an_anchor_two_or_more_events_behind_is_tampering(behind):
    chain = build_chain()
    verdict = verify_chain(chain)
    anchored = N - behind
    anchor = Head(anchored, chain[anchored - 1].hash) if anchored else None
    with pytest.raises(AuditBroken) as caught:
        check_anchor(verdict, anchor, hashes(chain))
    assert caught.value.seq == anchored + 1


def test_a_missing_anchor_after_the_first_event_is_only_a_warning():
    chain = build_chain()[:1]
    verdict = verify_chain(chain)
    check_anchor(verdict, None, hashes(chain))
    assert len(verdict.warnings) == 1


@pytest.mark.parametrize("at", [N, N - 1, 1])
def test_an_anchor_whose_hash_differs_from_the_log_is_tampering(at):
    chain = build_chain()
    verdict = verify_chain(chain)
    anchor = Head(at, tamper(chain[at - 1].hash))
    with pytest.raises(AuditBroken) as caught:
        check_anchor(verdict, anchor, hashes(chain))
    assert caught.value.seq == at
    assert "anchored head" in str(caught.value)


def test_an_anchor_whose_event_the_log_lacks_is_tampering():
    chain = build_chain()
    verdict = verify_chain(chain)
    with pytest.raises(AuditBroken) as caught:
        check_anchor(verdict, Head(N, chain[-1].hash), {})
    assert caught.value.seq == N


def test_a_chain_rewritten_from_an_edit_on_passes_the_chain_check_but_not_the_anchor():
    chain = build_chain()
    anchor = Head(N, chain[-1].hash)
    edited = list(chain)
    edited[2] = dataclasses.replace(edited[2], comment="nie passiert")
    rewritten = rehash_from(edited, 2)
    verdict = verify_chain(rewritten)
    assert verdict.checked == N
    with pytest.raises(AuditBroken) as caught:
        check_anchor(verdict, anchor, hashes(rewritten))
    assert caught.value.seq == N


def test_check_anchor_reports_into_the_verdict_it_is_given():
    verdict = Verdict()
    check_anchor(verdict, Head(), {})
    assert verdict.warnings == []
