"""Reading signed agreements: every field of the seed exactly, other districts, years, scans."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from aqb_workflow.bootstrap import load_registry
from aqb_workflow.documents.import_ import (
    MAX_BYTES,
    ExtractedAgreement,
    document_text,
    parse_agreement,
    parse_document_date,
    resolve_district,
)
from aqb_workflow.documents.pdf import text_pdf
from aqb_workflow.errors import BadInput
from tests.conftest import GIESSEN_MEASURES, REPO, SEED

DATA = Path(__file__).resolve().parents[1] / "data"
REGISTRY = load_registry(REPO / "aqb_workflow" / "data" / "gebietskoerperschaften.toml")


def make_pdf(text: str, per_page: int = 55) -> bytes:
    """A minimal PDF with a text layer, one text line per line (as a scanner's OCR keeps it)."""
    return text_pdf(text, width=None, per_page=per_page)


def read(path: Path) -> ExtractedAgreement:
    return parse_agreement(document_text(path.read_bytes(), path.name), REGISTRY)


def values(extracted: ExtractedAgreement) -> dict[str, object]:
    """The data without provenance, for comparing two readings."""
    sig = extracted.ministry_signature
    dsig = extracted.district_signature
    return {
        "year": extracted.year.value,
        "district": extracted.district.value,
        "budget": extracted.budget_cents.value,
        "labour": extracted.labour_market_budget_cents
        and extracted.labour_market_budget_cents.value,
        "measures": [(m.category, m.title) for m in extracted.measures],
        "ministry": sig and (sig.on, sig.place, sig.by, sig.office),
        "district_sig": dsig and (dsig.on, dsig.place, dsig.by, dsig.office),
        "received": extracted.received_on and extracted.received_on.value,
    }


def test_the_seed_every_field_exactly():
    result = read(SEED)
    assert result.year.value == 2024
    assert result.year.lines == (20,)
    assert result.district.value == "giessen"
    assert result.district.text == "dem Landkreis Gießen"
    assert result.district.lines == (26,)
    assert result.budget_cents.value == 126680000
    assert result.budget_cents.text == "1.266.800 Euro"
    assert result.budget_cents.lines == (70,)
    assert result.labour_market_budget_cents is None
    assert [(m.category, m.title) for m in result.measures] == GIESSEN_MEASURES
    assert [m.lines for m in result.measures][:3] == [(82,), (83,), (84,)]
    ministry = result.ministry_signature
    assert ministry is not None
    assert (ministry.on, ministry.place, ministry.by, ministry.office) == (
        date(2024, 7, 1),
        "Wiesbaden",
        "Heike Hofmann",
        "Staatsministerin",
    )
    assert ministry.lines[0] == 118
    district = result.district_signature
    assert district is not None
    assert (district.on, district.place, district.by, district.office) == (
        date(2024, 7, 10),
        "Gießen",
        "Anita Schneider",
        "Landrätin",
    )
    assert result.received_on is not None
    assert result.received_on.value == date(2024, 7, 15)
    assert result.received_on.lines == (6,)


def test_provenance_is_kept_in_the_json_form():
    data = read(SEED).to_json()
    assert data["budget_cents"] == {"value": 126680000, "text": "1.266.800 Euro", "lines": [70]}
    assert data["received_on"]["value"] == "2024-07-15"
    assert data["district_signature"]["on"] == "2024-07-10"
    assert all(m["lines"] for m in data["measures"])


def test_stadt_kassel_without_receipt_stamp_and_two_categories():
    result = read(DATA / "zielvereinbarung-2023-stadt-kassel.txt")
    assert values(result) == {
        "year": 2023,
        "district": "kassel-stadt",
        "budget": 148235000,
        "labour": None,
        "measures": [
            ("ausbildung", "Ausbildungscoaching Nordhessen"),
            ("ausbildung", "Teilzeitausbildung für Alleinerziehende"),
            ("qualifizierung", "Sprungbrett Pflege"),
            ("qualifizierung", "Kasseler Werkstatt für Metall & Holz"),
        ],
        "ministry": (date(2023, 6, 1), "Wiesbaden", "Kai Klose", "Staatsminister"),
        "district_sig": (date(2023, 6, 15), "Kassel", "Christian Geselle", "Oberbürgermeister"),
        "received": None,
    }


def test_wetteraukreis_in_the_genitive():
    result = read(DATA / "zielvereinbarung-2024-wetteraukreis.txt")
    assert result.district.text == "des Wetteraukreises"
    assert values(result) == {
        "year": 2024,
        "district": "wetterau",
        "budget": 114030000,
        "labour": None,
        "measures": [
            ("ausbildungsvorbereitung", "Startklar Wetterau"),
            ("ausbildung", "Ausbildung in Teilzeit (TZA)"),
            ("qualifizierung", "Brücke in Arbeit"),
            ("qualifizierung", "Job-Lotsen Friedberg/Büdingen"),
            (
                "weiterbildung",
                'Fortbildung "Interkulturelle Kompetenz" für Fallmanagerinnen und Fallmanager',
            ),
        ],
        "ministry": (date(2024, 7, 3), "Wiesbaden", "Heike Hofmann", "Staatsministerin"),
        "district_sig": (date(2024, 7, 12), "Friedberg", "Jan Weckler", "Landrat"),
        "received": date(2024, 7, 22),
    }


def test_scan_with_broken_wraps_hyphenation_and_page_numbers():
    result = read(DATA / "zielvereinbarung-2020-main-kinzig-scan.txt")
    assert values(result) == {
        "year": 2020,
        "district": "main-kinzig",
        "budget": 189760000,
        "labour": None,
        "measures": [
            ("ausbildungsvorbereitung", "Berufsorientierung im Übergang Schule-Beruf"),
            ("ausbildungsvorbereitung", "Werkstattjahr Gelnhausen"),
            ("qualifizierung", "Frauen in Technik - FiT"),
            ("qualifizierung", "Sprache und Beruf"),
            ("weiterbildung", "Supervision für Fachkräfte des Kommunalen Center für Arbeit"),
        ],
        "ministry": (date(2020, 7, 1), "Wiesbaden", "Kai Klose", "Staatsminister"),
        "district_sig": (date(2020, 7, 21), "Gelnhausen", "Thorsten Stolz", "Landrat"),
        "received": date(2020, 8, 3),
    }
    assert result.district.text == "dem Main - Kinzig - Kreis"
    assert result.measures[0].lines == (70, 71)  # the title wraps over two lines


def test_older_agreement_keeps_the_arbeitsmarktbudget():
    result = read(DATA / "zielvereinbarung-2016-landkreis-kassel.txt")
    assert result.district.value == "kassel-kreis"
    assert result.budget_cents.value == 87980000
    assert result.labour_market_budget_cents is not None
    assert result.labour_market_budget_cents.value == 31240000
    assert result.labour_market_budget_cents.lines == (47,)
    assert result.ministry_name is not None
    assert "Soziales und Integration" in result.ministry_name.value
    assert len(result.measures) == 5
    assert result.ministry_signature is not None
    assert result.ministry_signature.on == date(2016, 8, 29)
    assert result.received_on is not None
    assert result.received_on.value == date(2016, 9, 28)


def test_jobcenter_agreement_is_refused_as_not_aqb():
    with pytest.raises(BadInput, match="not an AQB agreement"):
        read(DATA / "zielvereinbarung-2024-jobcenter-sgb2.txt")


@pytest.mark.parametrize(
    "path",
    [SEED, *sorted(p for p in DATA.glob("zielvereinbarung-*.txt") if "jobcenter" not in p.name)],
    ids=lambda p: p.name,
)
def test_a_pdf_with_text_layer_reads_like_the_text(path):
    text = path.read_text(encoding="utf-8")
    from_pdf = parse_agreement(document_text(make_pdf(text), "x.pdf"), REGISTRY)
    assert values(from_pdf) == values(parse_agreement(text, REGISTRY))


def test_a_pdf_without_text_layer_is_refused():
    pdf = make_pdf("")
    with pytest.raises(BadInput, match="no text layer"):
        document_text(pdf, "scan.pdf")


def test_a_broken_pdf_is_refused():
    with pytest.raises(BadInput, match="not a readable PDF"):
        document_text(b"%PDF-1.4\nthis is no pdf at all", "broken.pdf")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n\n  ", "empty"),
        (b"Zielvereinbarung\x00\x01\x02", "binary"),
        (b"\xff\xfe\x00Z", "binary"),
        ("Zielvereinbarung Gießen".encode("latin-1"), "not UTF-8"),
        (b"x" * (MAX_BYTES + 1), "over the limit"),
    ],
)
def test_bad_files(data, message):
    with pytest.raises(BadInput, match=message):
        document_text(data, "f.txt")


def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("1.266.800 Euro", "eine Million Euro", "budget: not found"),
        ("1.266.800 Euro", "1.266.800 Euro oder 1.300.000 Euro", "budget: read two ways"),
        ("\n2024\n\nzwischen", "\n2024\n2025\nzwischen", "year: read two ways"),
        ("\n2024\n\nzwischen", "\nzwischen", "year: not found"),
        ("und dem Landkreis Gießen", "und dem Landkreis Atlantis", "no Gebietskörperschaft"),
        ("und dem Landkreis Gießen", "und dem Kassel", "ambiguous"),
        ("und dem Landkreis Gießen", "und dem Jobcenter", "no Gebietskörperschaft"),
        ("Ausbildungsvorbereitung\n\n- BOM", "Irgendwas\n\n- BOM", "no Maßnahmenart heading"),
        ("§ 4\n", "§ 9\n", "§ 4"),
        ("Gießen, den 10.7.'24", "Gießen, den 31.6.'24", "not a real calendar date"),
        ("Eing.: 15. Juli 2024", "Eing.: 15. Juli 2024 / Eing.: 16. Juli 2024", "received_on"),
        ("Eing.: 15. Juli 2024", "Eing.: gestern", "received_on: 'gestern'"),
    ],
)
def test_a_field_not_found_or_read_two_ways_is_named(old, new, message):
    text = seed_text()
    assert old in text
    with pytest.raises(BadInput, match=message):
        parse_agreement(text.replace(old, new, 1), REGISTRY)


def test_error_names_the_lines_looked_at():
    text = seed_text().replace("1.266.800 Euro", "eine Million Euro")
    with pytest.raises(BadInput, match=r"§ 4, lines 65–73"):
        parse_agreement(text, REGISTRY)


def test_two_ministry_signatures_are_two_readings():
    text = seed_text().replace("Landrätin des", "Staatsministerin")
    with pytest.raises(BadInput, match="signatures: read two ways"):
        parse_agreement(text, REGISTRY)


def test_unsigned_and_ministry_only():
    text = seed_text()
    cut = text.index("Gießen, den 10.7.'24")
    only_ministry = parse_agreement(text[:cut].replace("Eing.: 15. Juli 2024", ""), REGISTRY)
    assert only_ministry.ministry_signature is not None
    assert only_ministry.district_signature is None
    assert only_ministry.received_on is None
    unsigned = parse_agreement(text[: text.index("Wiesbaden, den 1.7. 2024")], REGISTRY)
    assert unsigned.ministry_signature is None
    assert len(unsigned.measures) == 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.7. 2024", date(2024, 7, 1)),
        ("10.7.'24", date(2024, 7, 10)),
        ("15. Juli 2024", date(2024, 7, 15)),
        ("01.07.2024", date(2024, 7, 1)),
        ("3. Aug. 2020", date(2020, 8, 3)),
        ("2024-07-01", date(2024, 7, 1)),
        ("12.7.24", date(2024, 7, 12)),
        ("29. Februar 2024", date(2024, 2, 29)),
        ("irgendwann", None),
    ],
)
def test_dates_as_staff_write_them(text, expected):
    assert parse_document_date(text, "date") == expected


@pytest.mark.parametrize(
    ("phrase", "slug"),
    [
        ("dem Landkreis Gießen", "giessen"),
        ("des Landkreises Gießen", "giessen"),
        ("der Stadt Kassel", "kassel-stadt"),
        ("dem Landkreis Kassel", "kassel-kreis"),
        ("des Wetteraukreises", "wetterau"),
        ("dem Main - Kinzig - Kreis", "main-kinzig"),
        ("des Main-Kinzig-Kreises", "main-kinzig"),
        ("der Wissenschaftsstadt Darmstadt", "darmstadt"),
        ("dem Kreis Groß-Gerau", "gross-gerau"),
    ],
)
def test_district_in_any_case(phrase, slug):
    assert resolve_district(phrase, REGISTRY).slug == slug
