"""`aqb import`, `aqb render`, `aqb year open` as a person runs them (subprocess)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import GIESSEN_MEASURES, SEED
from tests.unit.test_documents_import import make_pdf

DATA = Path(__file__).resolve().parents[1] / "data"


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def history(cli, key: str) -> list[dict]:
    return json.loads(cli(f"history {key} --json").stdout)


def show(cli, key: str) -> dict:
    return json.loads(cli(f"show {key} --json").stdout)


# -- import ---------------------------------------------------------------------------------
def test_import_the_seed_through_the_normal_transitions(cli):
    result = cli(["import", str(SEED)])
    assert "imported 2024-giessen" in result.stdout
    assert "signed_by_district" in result.stdout
    agreement = show(cli, "2024-giessen")
    assert agreement["state"] == "signed_by_district"
    assert agreement["budget_cents"] == 126680000
    assert [(m["category"], m["title"]) for m in agreement["measures"]] == GIESSEN_MEASURES
    fields = agreement["fields"]
    assert fields["ministry_signed_on"] == "2024-07-01"
    assert fields["ministry_signed_by"] == "Heike Hofmann"
    assert fields["ministry_signed_place"] == "Wiesbaden"
    assert fields["district_signed_on"] == "2024-07-10"
    assert fields["district_signed_by"] == "Anita Schneider"
    assert fields["district_signed_place"] == "Gießen"
    assert fields["received_on"] == "2024-07-15"
    events = history(cli, "2024-giessen")
    names = [e["event"] for e in events]
    assert names == ["created"] + ["measure_added"] * 10 + [
        "sign_ministry",
        "sign_district",
        "imported",
    ]
    sign = events[-3]
    assert (sign["from_state"], sign["to_state"]) == ("drafted", "signed_by_ministry")
    assert sign["payload"]["on"] == "2024-07-01"
    imported = events[-1]["payload"]
    assert imported["sha256"] == hashlib.sha256(SEED.read_bytes()).hexdigest()
    by_field = {entry["field"]: entry for entry in imported["provenance"]}
    assert by_field["budget_cents"]["lines"] == [70]
    assert by_field["budget_cents"]["value"] == 126680000
    assert by_field["district_signature"]["office"] == "Landrätin"
    assert by_field["received_on"] == {
        "field": "received_on",
        "value": "2024-07-15",
        "text": "Eing.: 15. Juli 2024",
        "lines": [6],
    }
    measures = [e for e in imported["provenance"] if e["field"] == "measure"]
    assert [m["lines"] for m in measures][:2] == [[82], [83]]
    assert "Fundstellen:" in cli("history 2024-giessen").stdout
    cli("audit verify")


def test_importing_the_same_document_twice_is_refused(cli, workspace):
    cli(["import", str(SEED)])
    before = workspace.snapshot()
    result = cli(["import", str(SEED)], expect=1)
    assert "imported already as 2024-giessen" in one_line_error(result)
    assert workspace.snapshot() == before


def test_import_onto_an_existing_agreement_is_refused(cli, workspace):
    cli("create --district giessen --year 2024 --budget 1266800")
    before = workspace.snapshot()
    result = cli(["import", str(SEED)], expect=1)
    assert "2024-giessen exists already" in one_line_error(result)
    assert workspace.snapshot() == before


def test_dry_run_shows_every_field_with_lines_and_writes_nothing(cli, workspace):
    before = workspace.snapshot()
    out = cli(["import", str(SEED), "--dry-run"]).stdout
    assert "year: 2024 (line 20)" in out
    assert "district: giessen (Landkreis Gießen; 'dem Landkreis Gießen', line 26)" in out
    assert "budget: 1.266.800,00 € ('1.266.800 Euro', line 70)" in out
    assert "ausbildung: BAE - Berufsausbildung in außerbetrieblichen Einrichtungen (line 88)" in out
    assert "ministry signature: 2024-07-01 Wiesbaden, Heike Hofmann, Staatsministerin" in out
    assert "district signature: 2024-07-10 Gießen, Anita Schneider, Landrätin" in out
    assert "received_on: 2024-07-15 (line 6)" in out
    assert "would create 2024-giessen in state signed_by_district" in out
    assert workspace.snapshot() == before
    data = json.loads(cli(["import", str(SEED), "--dry-run", "--json"]).stdout)
    assert data["dry_run"] is True
    assert data["fields"]["budget_cents"]["value"] == 126680000
    assert workspace.snapshot() == before


def test_older_agreement_keeps_both_amounts(cli):
    path = DATA / "zielvereinbarung-2016-landkreis-kassel.txt"
    out = cli(["import", str(path), "--dry-run"]).stdout
    assert "Arbeitsmarktbudget: 312.400,00 €" in out
    cli(["import", str(path)])
    agreement = show(cli, "2016-kassel-kreis")
    assert agreement["budget_cents"] == 87980000
    imported = history(cli, "2016-kassel-kreis")[-1]["payload"]
    assert imported["labour_market_budget_cents"] == 31240000


@pytest.mark.parametrize(
    ("name", "key", "measures", "received"),
    [
        ("zielvereinbarung-2023-stadt-kassel.txt", "2023-kassel-stadt", 4, None),
        ("zielvereinbarung-2024-wetteraukreis.txt", "2024-wetterau", 5, "2024-07-22"),
        ("zielvereinbarung-2020-main-kinzig-scan.txt", "2020-main-kinzig", 5, "2020-08-03"),
    ],
)
def test_other_districts_and_years(cli, name, key, measures, received):
    cli(["import", str(DATA / name)])
    agreement = show(cli, key)
    assert agreement["state"] == "signed_by_district"
    assert len(agreement["measures"]) == measures
    assert agreement["fields"].get("received_on") == received


def test_import_a_pdf(cli, workspace):
    pdf = workspace.root / "zv.pdf"
    pdf.write_bytes(make_pdf(SEED.read_text(encoding="utf-8")))
    cli(["import", str(pdf)])
    agreement = show(cli, "2024-giessen")
    assert agreement["state"] == "signed_by_district"
    assert len(agreement["measures"]) == 10


def test_a_document_signed_by_the_ministry_only(cli, workspace):
    text = SEED.read_text(encoding="utf-8")
    text = text[: text.index("Gießen, den 10.7.'24")].replace("Eing.: 15. Juli 2024", "")
    path = workspace.root / "nur-ministerium.txt"
    path.write_text(text, encoding="utf-8")
    cli(["import", str(path)])
    assert show(cli, "2024-giessen")["state"] == "signed_by_ministry"


def test_countersignature_before_the_ministers_is_refused_before_writing(cli, workspace):
    text = SEED.read_text(encoding="utf-8").replace("10.7.'24", "20.6.'24")
    path = workspace.root / "falsch.txt"
    path.write_text(text, encoding="utf-8")
    before = workspace.snapshot()
    result = cli(["import", str(path)], expect=2)
    assert "sign_district" in one_line_error(result)
    assert workspace.snapshot() == before


def test_district_staff_may_not_import(cli, workspace):
    before_rows = workspace.sql("SELECT count(*) FROM agreement")
    result = cli(["import", str(SEED)], expect=1, actor="giessen")
    assert "may not import" in one_line_error(result)
    assert workspace.sql("SELECT count(*) FROM agreement") == before_rows


def _bad_files(root: Path) -> list[tuple[Path, str]]:
    files = []
    empty = root / "leer.txt"
    empty.write_bytes(b"")
    files.append((empty, "empty"))
    binary = root / "bild.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    files.append((binary, "binary"))
    big = root / "gross.txt"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    files.append((big, "over the limit"))
    scan = root / "scan.pdf"
    scan.write_bytes(make_pdf(""))
    files.append((scan, "no text layer"))
    files.append((DATA / "zielvereinbarung-2024-jobcenter-sgb2.txt", "not an AQB agreement"))
    files.append((root / "fehlt.txt", "no such file"))
    return files


def test_bad_files_exit_2_with_one_line_and_write_nothing(cli, workspace):
    before = workspace.snapshot()
    for path, message in _bad_files(workspace.root):
        result = cli(["import", str(path)], expect=2)
        assert message in one_line_error(result), (path, result.stderr)
    assert workspace.snapshot() == before


# -- render ---------------------------------------------------------------------------------
def test_render_the_imported_seed_reads_back_the_same(cli, workspace):
    from aqb_workflow.documents.import_ import parse_agreement
    from tests.unit.test_documents_import import REGISTRY, values

    cli(["import", str(SEED)])
    out = workspace.root / "2024-giessen.txt"
    assert "wrote" in cli(["render", "2024-giessen", "-o", str(out)]).stdout
    text = out.read_text(encoding="utf-8")
    assert "und dem Landkreis Gießen" in text
    assert "1.266.800 Euro" in text
    assert "Ziele für die Umsetzung des Landkreises Gießen" in text
    assert "Wiesbaden, den 1.7.2024" in text
    assert "Staatsministerin" in text
    assert "Landrätin" in text
    assert values(parse_agreement(text, REGISTRY)) == values(
        parse_agreement(SEED.read_text(encoding="utf-8"), REGISTRY)
    )
    assert cli("render 2024-giessen").stdout == text
    html = cli("render 2024-giessen --format html").stdout
    assert "<li>BAE - Berufsausbildung in außerbetrieblichen Einrichtungen</li>" in html
    assert "Eing.: 15. Juli 2024" in html


def test_render_a_draft_has_empty_signature_blocks(cli):
    cli("create --district kassel-stadt --year 2025 --budget 1.482.350")
    cli(["measure", "add", "2025-kassel-stadt", "--category", "ausbildung", "Coaching"])
    text = cli("render 2025-kassel-stadt").stdout
    assert "und der Stadt Kassel" in text
    assert "Kassel, den ____________" in text
    assert "- Coaching" in text


def test_render_unknown_key_and_bad_format(cli):
    assert "no agreement" in one_line_error(cli("render 2024-atlantis", expect=2))
    cli("render 2024-giessen --format docx", expect=2)


# -- year open ------------------------------------------------------------------------------
def _all_districts_csv(path: Path, amount: str = "1.000.000,00") -> None:
    from tests.unit.test_documents_import import REGISTRY

    rows = ["ags;budget"] + [f"{e.ags};{amount}" for e in REGISTRY if e.valid_in(2025)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_year_open_copies_measures_and_budgets_and_is_idempotent(cli, workspace):
    cli(["import", str(SEED)])
    cli("create --district wetterau --year 2024 --budget 1.140.300")
    out = cli("year open 2025").stdout
    assert "created 2025-giessen: 1.266.800,00 € (from 2024-giessen), 10 measures" in out
    assert "created 2025-wetterau: 1.140.300,00 € (from 2024-wetterau), 0 measures" in out
    assert "skipped 2025-hanau: no AQB agreement that year" in out
    assert "skipped 2025-fulda: no budget (not in the CSV, no 2024-fulda)" in out
    assert "2 created, 25 skipped" in out
    agreement = show(cli, "2025-giessen")
    assert agreement["state"] == "drafted"
    assert [(m["category"], m["title"]) for m in agreement["measures"]] == GIESSEN_MEASURES
    assert agreement["fields"] == {}
    names = [e["event"] for e in history(cli, "2025-giessen")]
    assert names == ["created"] + ["measure_added"] * 10
    cli("audit verify")
    before = workspace.snapshot()
    again = cli("year open 2025 --json").stdout
    assert json.loads(again)["created"] == []
    assert workspace.snapshot() == before


def test_year_open_with_budgets_for_all_26(cli, workspace):
    cli(["import", str(SEED)])
    csv_file = workspace.root / "budgets-2025.csv"
    _all_districts_csv(csv_file)
    data = json.loads(cli(["year", "open", "2025", "--budgets", str(csv_file), "--json"]).stdout)
    assert len(data["created"]) == 26
    assert [s["key"] for s in data["skipped"]] == ["2025-hanau"]
    giessen = show(cli, "2025-giessen")
    assert giessen["budget_cents"] == 100000000
    assert len(giessen["measures"]) == 10
    assert len(json.loads(cli("list --year 2025 --json").stdout)) == 26
    cli("audit verify")


def test_year_open_from_an_older_year(cli, workspace):
    cli(["import", str(DATA / "zielvereinbarung-2016-landkreis-kassel.txt")])
    csv_file = workspace.root / "b.csv"
    csv_file.write_text("kassel-kreis,900000\n", encoding="utf-8")
    out = cli(["year", "open", "2017", "--from", "2016", "--budgets", str(csv_file)]).stdout
    assert "created 2017-kassel-kreis: 900.000,00 € (from csv), 5 measures" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("giessen;1.266.800\nwetterau;viel\n", "line 2: amount: 'viel' is not an amount"),
        ("giessen;1.266.800\natlantis;1000\n", "line 2: unknown district 'atlantis'"),
        ("kassel;1000\n", "ambiguous"),
        ("giessen;1000\n06531;2000\n", "appears twice"),
        ("giessen;-5\n", "must be positive"),
        ("giessen\n", "expected two columns"),
        ("", "empty"),
    ],
)
def test_year_open_bad_csv_exits_2_and_writes_nothing(cli, workspace, content, message):
    cli("create --district wetterau --year 2024 --budget 1.140.300")
    path = workspace.root / "budgets.csv"
    path.write_text(content, encoding="utf-8")
    before = workspace.snapshot()
    result = cli(["year", "open", "2025", "--budgets", str(path)], expect=2)
    assert message in one_line_error(result)
    assert workspace.snapshot() == before


def test_year_open_needs_the_ministry(cli, workspace):
    cli("create --district giessen --year 2024 --budget 1266800")
    before = workspace.sql("SELECT count(*) FROM agreement")
    result = cli("year open 2025", expect=1, actor="giessen")
    assert "may not open a budget year" in one_line_error(result)
    assert workspace.sql("SELECT count(*) FROM agreement") == before


def test_render_as_pdf_and_import_it_into_another_installation(cli, workspace, tmp_path):
    cli(["import", str(SEED)])
    pdf = workspace.root / "2024-giessen.pdf"
    assert "wrote" in cli(["render", "2024-giessen", "--format", "pdf", "-o", str(pdf)]).stdout
    assert pdf.read_bytes().startswith(b"%PDF-")
    cli(["render", "2024-giessen", "--format", "pdf"], expect=2)  # a PDF needs -o FILE
    from tests.conftest import make_workspace, run_cli

    other = make_workspace(tmp_path / "other")
    run_cli(other, "init", actor=None)
    run_cli(other, ["import", str(pdf)])
    original, copy = (
        show(cli, "2024-giessen"),
        json.loads(run_cli(other, "show 2024-giessen --json").stdout),
    )
    for field in ("state", "budget_cents", "fields"):
        assert copy[field] == original[field], field
    assert [(m["category"], m["title"]) for m in copy["measures"]] == [
        (m["category"], m["title"]) for m in original["measures"]
    ]
