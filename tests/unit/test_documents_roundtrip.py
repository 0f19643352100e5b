"""Rendering and importing are inverse: import(render(data)) == data, for generated data."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from aqb_workflow.documents.import_ import (
    _OFFICE,
    DISTRICT_OFFICES,
    MINISTRY_OFFICES,
    parse_agreement,
)
from aqb_workflow.documents.render import DocumentData, SignatureData, document_data, render
from aqb_workflow.domain.model import CATEGORIES
from tests.conftest import REPO
from tests.unit.test_documents_import import REGISTRY

TEMPLATES = REPO / "notifications"
ENTRIES = [e for e in REGISTRY if e.aqb]

word = st.from_regex(r"[A-Za-zÄÖÜäöüß0-9]{1,10}([-/][A-Za-zÄÖÜäöüß0-9]{1,8})?", fullmatch=True)
titles = st.lists(word, min_size=1, max_size=5).map(" ".join)
names = (
    st.tuples(
        st.from_regex(r"[A-ZÄÖÜ][a-zäöüß]{1,10}", fullmatch=True),
        st.from_regex(r"[A-ZÄÖÜ][a-zäöüß]{1,12}", fullmatch=True),
    )
    .map(" ".join)
    .filter(lambda n: not _OFFICE.match(n))
)


@st.composite
def agreements(draw: st.DrawFn) -> DocumentData:
    entry = draw(st.sampled_from(ENTRIES))
    year = draw(st.integers(2005, 2035))
    measures = []
    for category in CATEGORIES:
        for title in draw(st.lists(titles, max_size=5)):
            measures.append((category, title))
    days = st.integers(-200, 400).map(lambda n: date(year, 1, 1) + timedelta(days=n))
    ministry = district = received = None
    if draw(st.booleans()):
        ministry = SignatureData(
            draw(st.sampled_from(["Wiesbaden", entry.seat])),
            draw(days),
            draw(names),
            draw(st.none() | st.sampled_from(MINISTRY_OFFICES)),
        )
        if draw(st.booleans()):
            district = SignatureData(
                entry.seat,
                draw(days),
                draw(names),
                draw(st.none() | st.sampled_from(entry.head_titles + DISTRICT_OFFICES[:4])),
            )
            received = draw(st.none() | days)
    return DocumentData(
        year=year,
        district=entry.slug,
        budget_cents=draw(st.integers(1, 3_000_000_000)),
        measures=measures,
        ministry_signature=ministry,
        district_signature=district,
        received_on=received,
        labour_market_budget_cents=draw(st.none() | st.integers(1, 900_000_000)),
    )


@settings(max_examples=300, deadline=None)
@given(agreements())
def test_importing_the_rendered_text_yields_the_data(data):
    text = render(data, REGISTRY, TEMPLATES, "text")
    assert document_data(parse_agreement(text, REGISTRY)) == data


@settings(max_examples=25, deadline=None)
@given(agreements())
def test_html_escapes_and_carries_every_title(data):
    html = render(data, REGISTRY, TEMPLATES, "html")
    assert html.startswith("<!DOCTYPE html>")
    for _, title in data.measures:
        assert f"<li>{title}</li>" in html


def test_html_is_escaped():
    data = DocumentData(2024, "giessen", 100, [("ausbildung", "<script>x</script> & Co")])
    html = render(data, REGISTRY, TEMPLATES, "html")
    assert "<li>&lt;script&gt;x&lt;/script&gt; &amp; Co</li>" in html
