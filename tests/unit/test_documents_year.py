"""Opening a budget year: the budgets CSV, and all-or-nothing in one transaction."""

from __future__ import annotations

import pytest

from aqb_workflow import services
from aqb_workflow.documents.year import open_year, read_budgets
from aqb_workflow.errors import BadInput
from aqb_workflow.store.unit_of_work import UnitOfWork
from tests.conftest import GIESSEN_MEASURES, MINISTRY
from tests.unit.test_documents_import import REGISTRY


@pytest.mark.parametrize(
    "text",
    [
        "giessen;1.266.800,00\nwetterau;1.140.300\n",
        "ags;betrag\n06531;1266800\n06440;1140300,00\n",
        "Landkreis Gießen,1266800\nWetteraukreis,1140300.00\n",
        "district\tbudget\ngiessen\t1.266.800 €\n\nwetterau\t1.140.300 €\n",
    ],
)
def test_budgets_in_the_forms_staff_write(text):
    assert read_budgets(text, REGISTRY, 2025, "b.csv") == {
        "giessen": 126680000,
        "wetterau": 114030000,
    }


def test_a_district_without_agreements_that_year_is_refused():
    with pytest.raises(BadInput, match="line 1: Stadt Hanau has no AQB agreement in 2026"):
        read_budgets("hanau;1000\n", REGISTRY, 2026, "b.csv")


def _giessen_2024(app) -> None:
    key = services.create(app, MINISTRY, "giessen", 2024, "1266800")
    for category, title in GIESSEN_MEASURES:
        services.add_measure(app, MINISTRY, key, category, title, None)


def test_open_year_in_process(app):
    _giessen_2024(app)
    opened = open_year(app, MINISTRY, 2025, budgets={"wetterau": 100})
    assert [c["key"] for c in opened.created] == ["2025-wetterau", "2025-giessen"]
    giessen = services.current(app, "2025-giessen")
    assert [(m.category, m.title) for m in giessen.measures] == GIESSEN_MEASURES
    assert giessen.version == 1 + len(GIESSEN_MEASURES)
    assert open_year(app, MINISTRY, 2025).created == []


def test_open_year_is_all_or_nothing(app, monkeypatch):
    _giessen_2024(app)
    calls = {"n": 0}
    original = UnitOfWork.add_measure

    def failing(self, agreement_id, category, title):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("disk full")
        return original(self, agreement_id, category, title)

    monkeypatch.setattr(UnitOfWork, "add_measure", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        open_year(app, MINISTRY, 2025, budgets={"wetterau": 100})
    with app.db.read() as conn:
        from aqb_workflow.store.queries import list_agreements

        assert [r["key"] for r in list_agreements(conn, 2025, None, None)] == []


@pytest.mark.parametrize("text", ["giessen,abc\n", "06531;keins\n"])
def test_a_first_line_naming_a_district_is_data_even_with_a_bad_amount(text):
    with pytest.raises(BadInput, match="line 1: amount"):
        read_budgets(text, REGISTRY, 2025, "b.csv")


def test_german_amounts_between_commas_get_a_hint():
    with pytest.raises(BadInput, match="got 3; with ',' between the columns"):
        read_budgets("slug,amount\ngiessen,1.300.000,00\n", REGISTRY, 2025, "b.csv")
