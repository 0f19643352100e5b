"""The registry of Gebietskörperschaften, checked against the domain document."""

from __future__ import annotations

import copy
import tomllib
from datetime import date
from pathlib import Path

import pytest

from aqb_workflow.domain.registry import Registry, normalize, registry_from_data
from aqb_workflow.errors import BadInput, ConfigError

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "aqb_workflow" / "data" / "gebietskoerperschaften.toml"
# a copy of the shared DOMAIN.md: the tests read nothing outside the repository
DOMAIN = REPO / "tests" / "data" / "DOMAIN.md"
SOURCE = "registry.toml"


def domain_table() -> list[dict[str, str]]:
    """The table "The 26 Gebietskörperschaften" of DOMAIN.md, one dict per row."""
    path = DOMAIN
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## The 26 "))
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].isdigit():
            ags, name, dative, seat, slug = cells
            rows.append({"ags": ags, "name": name, "dative": dative, "seat": seat, "slug": slug})
    return rows


@pytest.fixture(scope="module")
def shipped_data() -> dict:
    with DATA.open("rb") as handle:
        return tomllib.load(handle)


@pytest.fixture(scope="module")
def registry(shipped_data) -> Registry:
    return registry_from_data(shipped_data, str(DATA))


# -- the shipped data ----------------------------------------------------------------------


def test_the_domain_document_table_has_the_26_districts():
    rows = domain_table()
    assert len(rows) == 26
    assert len({r["ags"] for r in rows}) == 26
    assert len({r["slug"] for r in rows}) == 26


def test_26_districts_take_part_in_2024(registry):
    in_2024 = [e for e in registry if e.valid_in(2024)]
    assert len(in_2024) == 26
    assert "hanau" not in {e.slug for e in in_2024}


def test_the_26_are_21_landkreise_and_5_kreisfreie_staedte(registry):
    kinds = [e.kind for e in registry if e.valid_in(2024)]
    assert kinds.count("landkreis") == 21
    assert kinds.count("kreisfreie_stadt") == 5


def test_hanau_is_known_but_has_no_agreement_in_any_year(registry):
    hanau = registry.by_slug("hanau")
    assert hanau.kind == "kreisfreie_stadt"
    assert hanau.valid_from == date(2026, 1, 1)
    assert hanau.aqb is False
    assert not hanau.valid_in(2024)
    assert not hanau.valid_in(2026)


@pytest.mark.parametrize("row", domain_table(), ids=lambda r: r["slug"])
def test_every_district_of_the_domain_document_is_in_the_data_file(registry, row):
    entry = registry.find(row["ags"])
    assert entry.slug == row["slug"]
    assert entry.name == row["name"]
    assert entry.dative == row["dative"]
    assert entry.seat == row["seat"]
    assert entry.valid_in(2024)
    assert registry.by_slug(row["slug"]) is entry


def test_the_data_file_has_no_aqb_district_beyond_the_domain_document(registry):
    documented = {r["ags"] for r in domain_table()}
    assert {e.ags for e in registry if e.valid_in(2024)} == documented


def test_heads_sign_as_landrat_or_oberbuergermeister(registry):
    for entry in registry:
        if entry.kind == "landkreis":
            assert entry.head_titles == ("Landrat", "Landrätin"), entry.slug
        else:
            assert entry.head_titles == ("Oberbürgermeister", "Oberbürgermeisterin"), entry.slug


def test_genitive_forms_are_stored_as_the_agreement_body_uses_them(registry):
    assert registry.by_slug("giessen").genitive == "des Landkreises Gießen"
    assert registry.by_slug("kassel-stadt").genitive == "der Stadt Kassel"


# -- lookup --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Landkreis Gießen", "giessen"),
        ("giessen", "giessen"),
        ("06531", "giessen"),
        (" 06531 ", "giessen"),
        ("Kreis Gießen", "giessen"),
        ("Landkreis Giessen", "giessen"),
        ("landkreis gießen", "giessen"),
        ("LANDKREIS GIESSEN", "giessen"),
        ("  Landkreis   Gießen ", "giessen"),
        ("Gießen", "giessen"),
        ("Giessen", "giessen"),
        ("Wetteraukreis", "wetterau"),
        ("Stadt Kassel", "kassel-stadt"),
        ("Landkreis Kassel", "kassel-kreis"),
        ("Kreis Kassel", "kassel-kreis"),
        ("kassel-stadt", "kassel-stadt"),
        ("Kassel-Kreis", "kassel-kreis"),
        ("Stadt Offenbach am Main", "offenbach-stadt"),
        ("Offenbach am Main", "offenbach-stadt"),
        ("Kreis Offenbach", "offenbach-kreis"),
        ("Landkreis Offenbach", "offenbach-kreis"),
        ("Main-Kinzig-Kreis", "main-kinzig"),
        ("main kinzig kreis", "main-kinzig"),
        ("Werra-Meissner-Kreis", "werra-meissner"),
        ("Groß-Gerau", "gross-gerau"),
        ("Frankfurt", "frankfurt"),
        ("Marburg", "marburg-biedenkopf"),
        ("Fulda", "fulda"),
        ("Darmstadt", "darmstadt"),
        ("Darmstadt-Dieburg", "darmstadt-dieburg"),
        ("Hochtaunuskreis", "hochtaunus"),
    ],
)
def test_find_accepts_name_slug_ags_alias_in_any_case_and_spelling(registry, text, slug):
    assert registry.find(text).slug == slug


@pytest.mark.parametrize(
    ("text", "slugs"),
    [
        ("Kassel", ("kassel-stadt", "kassel-kreis")),
        ("Offenbach", ("offenbach-stadt", "offenbach-kreis")),
    ],
)
def test_find_refuses_to_guess_between_city_and_landkreis(registry, text, slugs):
    with pytest.raises(BadInput) as caught:
        registry.find(text)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert "ambiguous" in message
    for slug in slugs:
        assert slug in message


@pytest.mark.parametrize("text", ["kassel", "KASSEL", " Kassel "])
def test_ambiguity_does_not_depend_on_case_or_spacing(registry, text):
    with pytest.raises(BadInput, match="ambiguous"):
        registry.find(text)


@pytest.mark.parametrize("text", ["Mainz", "Landkreis Mainz-Bingen", "06412x", "6531", "giessen-x"])
def test_find_refuses_unknown_districts(registry, text):
    with pytest.raises(BadInput) as caught:
        registry.find(text)
    assert caught.value.exit_code == 2
    assert repr(text) in str(caught.value)
    assert "ambiguous" not in str(caught.value)


@pytest.mark.parametrize("text", ["", "   "])
def test_find_refuses_an_empty_name(registry, text):
    with pytest.raises(BadInput, match="empty"):
        registry.find(text)


def test_by_slug_refuses_an_unknown_slug(registry):
    with pytest.raises(BadInput, match="'mainz'"):
        registry.by_slug("mainz")
    # by_slug is exact: names are for find().
    with pytest.raises(BadInput):
        registry.by_slug("Landkreis Gießen")


def test_normalize_folds_case_umlauts_sharp_s_and_punctuation():
    assert normalize("Werra-Meißner-Kreis") == "werra meissner kreis"
    assert normalize("  Bad Homburg v. d. Höhe ") == "bad homburg v d hoehe"
    assert normalize("Friedberg (Hessen)") == "friedberg hessen"
    assert normalize("GROSS-GERAU") == normalize("Groß-Gerau")


# -- validity ------------------------------------------------------------------------------


def _row(**changes) -> dict:
    row = {
        "ags": "06999",
        "slug": "musterkreis",
        "name": "Landkreis Muster",
        "dative": "dem Landkreis Muster",
        "genitive": "des Landkreises Muster",
        "seat": "Musterstadt",
        "kind": "landkreis",
        "head_titles": ["Landrat", "Landrätin"],
    }
    row.update(changes)
    return row


def test_validity_dates_bound_the_budget_years():
    reg = registry_from_data(
        {
            "gebietskoerperschaft": [
                _row(valid_from=date(2026, 1, 1)),
                _row(ags="06998", slug="altkreis", valid_to=date(2023, 12, 31)),
                _row(ags="06997", slug="midyear", valid_from=date(2024, 7, 1)),
            ]
        },
        SOURCE,
    )
    new, old, midyear = reg.entries
    assert not new.valid_in(2025) and new.valid_in(2026) and new.valid_in(2030)
    assert old.valid_in(2023) and not old.valid_in(2024)
    # A Gebietskörperschaft that exists for part of a budget year takes part in that year.
    assert midyear.valid_in(2024) and not midyear.valid_in(2023)


def test_optional_fields_have_sensible_defaults():
    (entry,) = registry_from_data({"gebietskoerperschaft": [_row()]}, SOURCE).entries
    assert entry.aliases == ()
    assert entry.valid_from is None and entry.valid_to is None
    assert entry.aqb is True
    assert entry.valid_in(1990) and entry.valid_in(2100)
    assert entry.head_titles == ("Landrat", "Landrätin")


# -- broken registry files -----------------------------------------------------------------


def _refused(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        registry_from_data(data, SOURCE)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith(SOURCE)
    return message


def test_the_shipped_file_is_refused_with_an_unknown_top_level_key(shipped_data):
    data = copy.deepcopy(shipped_data)
    data["gebietskoerperschaften"] = []
    assert "'gebietskoerperschaften'" in _refused(data)


@pytest.mark.parametrize("data", [{}, {"gebietskoerperschaft": []}, {"gebietskoerperschaft": {}}])
def test_a_file_without_entries_is_refused(data):
    assert "[[gebietskoerperschaft]]" in _refused(data)


def test_an_unknown_key_in_an_entry_is_refused(shipped_data):
    data = copy.deepcopy(shipped_data)
    data["gebietskoerperschaft"][14]["websit"] = "https://www.lkgi.de"
    message = _refused(data)
    assert "gebietskoerperschaft #15" in message
    assert "'websit'" in message


# Without any of these the agreement cannot be written ("zwischen ... und DATIVE", "des ...").
@pytest.mark.parametrize(
    "key", ["ags", "slug", "name", "dative", "genitive", "seat", "kind", "head_titles"]
)
def test_a_missing_required_key_is_refused(key):
    row = _row()
    del row[key]
    message = _refused({"gebietskoerperschaft": [_row(ags="06998", slug="ok"), row]})
    assert "gebietskoerperschaft #2" in message
    assert f"missing key {key!r}" in message


@pytest.mark.parametrize("key", ["slug", "ags"])
def test_a_duplicate_slug_or_ags_is_refused(shipped_data, key):
    data = copy.deepcopy(shipped_data)
    rows = data["gebietskoerperschaft"]
    twin = _row()
    twin[key] = rows[0][key]
    rows.append(twin)
    message = _refused(data)
    assert f"gebietskoerperschaft #{len(rows)}" in message
    assert f"{key} {rows[0][key]!r} appears twice" in message


@pytest.mark.parametrize("kind", ["stadt", "Landkreis", "kreisfreie Stadt", ""])
def test_a_bad_kind_is_refused(kind):
    message = _refused({"gebietskoerperschaft": [_row(kind=kind)]})
    assert "gebietskoerperschaft #1" in message
    assert "kind" in message and "landkreis" in message and "kreisfreie_stadt" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("aqb", "yes"),
        ("valid_from", "2024-01-01"),
        ("ags", 6531),
        ("head_titles", "Landrat"),
        ("aliases", "Gießen"),
        ("name", None),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(key, value):
    message = _refused({"gebietskoerperschaft": [_row(**{key: value})]})
    assert f"#1: {key} must be a" in message


@pytest.mark.parametrize("slug", ["Giessen", "gießen", "landkreis giessen", "-giessen", "a--b"])
def test_a_slug_that_is_not_lower_case_words_joined_by_dashes_is_refused(slug):
    message = _refused({"gebietskoerperschaft": [_row(slug=slug)]})
    assert repr(slug) in message
