"""What the CLI prints, without a database: tables that fit, click's errors in German, who may
send, German plurals."""

from __future__ import annotations

import pytest

from aqb_workflow.cli._common import KEEP, table
from aqb_workflow.cli._usage import german
from aqb_workflow.domain.model import Actor
from aqb_workflow.domain.policy import may_send, outbox_scope, require_sender
from aqb_workflow.errors import Forbidden
from aqb_workflow.present import plural

ROWS = [
    (
        1,
        "2024-giessen",
        "district_signature_pending",
        "Gegenzeichnung der Gebietskörperschaft steht seit dem 15. Juli 2024 aus, bitte "
        "erinnern Sie die Landrätin an die Unterschrift",
    ),
    (22, "2024-main-kinzig", "notice_pending", "kurz"),
]
HEADERS = ["Nr.", "Vereinbarung", "Art", "Angaben"]


@pytest.mark.parametrize("width", [40, 50, 60, 80, 100, 120])
def test_a_table_fits_its_width_and_loses_nothing(width):
    text = table(HEADERS, ROWS, width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    cells = _cells(text)
    assert len(cells) == len(ROWS)
    for read, row in zip(cells, ROWS, strict=True):
        assert read == ["".join(str(c).split()) for c in row]


def _cells(text: str) -> list[list[str]]:
    """Each row's cells as printed, the wrapped lines of a cell glued without spaces."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    spans, start = [], 0
    for dashes in lines[rule].split("  "):
        spans.append((start, start + len(dashes)))
        start += len(dashes) + 2
    rows: list[list[str]] = []
    for line in lines[rule + 1 :]:
        parts = ["".join(line[a:b].split()) for a, b in spans]
        if parts[0]:
            rows.append(parts)
        else:
            rows[-1] = [old + new for old, new in zip(rows[-1], parts, strict=True)]
    return rows


@pytest.mark.parametrize("width", [60, 80, 100])
def test_names_break_last_and_words_before_them(width):
    """Narrowed, text wraps between its words first; names (typed again) stay whole longest."""
    text = table(HEADERS, ROWS, width=width)
    assert "district_signature_pending" in text and "2024-main-kinzig" in text
    if width >= 80:
        for word in ("Gegenzeichnung", "Gebietskörperschaft", "Unterschrift"):
            assert word in text


def test_a_table_that_fits_is_not_wrapped():
    text = table(HEADERS, ROWS, width=300)
    assert len(text.splitlines()) == 2 + len(ROWS)


def test_a_value_held_together_is_not_wrapped_apart_and_prints_with_spaces():
    date = KEEP.join(["15.", "Oktober", "2024,", "10:00", "Uhr"])
    text = table(["Angaben"], [(f"Termin: {date}; Ort: Kreishaus Gießen",)], width=30)
    assert "15. Oktober 2024, 10:00 Uhr" in text.splitlines()[2:][1]
    assert KEEP not in text


@pytest.mark.parametrize(
    ("english", "expected"),
    [
        ("Missing argument 'KEY'.", "fehlendes Argument KEY"),
        ("Missing option '--district'.", "fehlende Option --district"),
        ("No such option: --bogus", "unbekannte Option --bogus"),
        ("No such option '--jsn'. Did you mean '--json'?", "unbekannte Option --jsn (meinten"),
        ("No such command 'fly'.", "unbekannter Befehl 'fly'"),
        ("Option '--year' requires an argument.", "Option --year braucht einen Wert"),
        ("Got unexpected extra arguments (a b)", "unerwartete Angabe: a b"),
        (
            "Invalid value for '--year': 'x' is not a valid integer.",
            "ungültiger Wert für --year: 'x' ist keine ganze Zahl",
        ),
        (
            "Invalid value for '--role': 'boss' is not one of 'district', 'participant'.",
            "ungültiger Wert für --role: 'boss' gibt es nicht; möglich: district, participant",
        ),
    ],
)
def test_clicks_messages_in_german(english, expected):
    assert german(english).startswith(expected)


@pytest.mark.parametrize(
    ("roles", "sends"),
    [
        (("ministry",), True),
        (("admin",), True),
        (("viewer",), False),
        (("rp_kassel",), False),
        (("district:giessen",), False),
        ((), False),
    ],
)
def test_only_ministry_and_admin_send(roles, sends):
    actor = Actor("someone", roles)
    assert may_send(actor) is sends
    if not sends:
        with pytest.raises(Forbidden) as refused:
            require_sender(actor, "aqb daemon --once")
        assert "someone" in str(refused.value) and "aqb daemon --once" in str(refused.value)
        assert "\n" not in str(refused.value)


def test_the_outbox_a_role_sees():
    assert outbox_scope(Actor("v", ("viewer",))) is None
    assert outbox_scope(Actor("rp", ("rp_kassel",))) is None
    assert outbox_scope(Actor("gi", ("district:giessen",))) == "giessen"
    with pytest.raises(Forbidden):
        outbox_scope(Actor("nobody", ()))
    with pytest.raises(Forbidden):
        outbox_scope(Actor("two", ("district:giessen", "district:wetterau")))


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 Vereinbarungen"), (1, "1 Vereinbarung"), (2, "2 Vereinbarungen")],
)
def test_plural(count, text):
    assert plural(count, "Vereinbarung", "Vereinbarungen") == text
