"""However an agreement was made (``aqb create``, ``aqb import``, ``aqb year open``), every
command works on it: show, edit, measures, every trigger, render, reminders, the daemon's pass,
audit verify. The matrix a new user walks through in their first year, as subprocesses.

Each way makes two agreements: Landkreis Gießen, walked through the whole year, and the
Wetteraukreis, withdrawn. All dates are in a past budget year, so the test holds on any day.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CLI, SEED, Workspace

DATA = Path(__file__).resolve().parent.parent / "data"
WETTERAU = DATA / "zielvereinbarung-2024-wetteraukreis.txt"


def make_by_create(cli: CLI) -> tuple[str, str]:
    cli("create --district giessen --year 2025 --budget 1.266.800")
    cli("measure add 2025-giessen --category ausbildung 'BAE Gießen'")
    cli("measure add 2025-giessen --category qualifizierung 'Plan B'")
    cli("create --district wetterau --year 2025 --budget 1.140.300,00")
    return "2025-giessen", "2025-wetterau"


def make_by_import(cli: CLI) -> tuple[str, str]:
    cli(["import", str(SEED)])
    cli(["import", str(WETTERAU)])
    return "2024-giessen", "2024-wetterau"


def make_by_year_open(cli: CLI) -> tuple[str, str]:
    cli("create --district giessen --year 2024 --budget 1000000")
    cli("measure add 2024-giessen --category ausbildung 'BAE Gießen'")
    cli("measure add 2024-giessen --category qualifizierung 'Plan B'")
    cli("create --district wetterau --year 2024 --budget 1140300")
    cli("measure add 2024-wetterau --category weiterbildung 'Workshops'")
    opened = cli("year open 2025 --from 2024")
    assert "2 " in opened.stdout  # two created, the rest skipped for want of a budget
    return "2025-giessen", "2025-wetterau"


MAKERS = {"create": make_by_create, "import": make_by_import, "year_open": make_by_year_open}

# The steps of the year after each starting state, with dates of the agreement's own year.
STEPS = [
    ("drafted", "sign_ministry on=01.07.{y} by='Heike Hofmann' place=Wiesbaden", "hmsi-aqb"),
    (
        "signed_by_ministry",
        "sign_district on=10.7.{y} by='Anita Schneider' place=Gießen received_on=15.07.{y}",
        "giessen",
    ),
    ("signed_by_district", "issue_notice on={y}-08-05 ref='RPKS 57 - {y}/GI'", "rp-kassel"),
    ("notice_issued", "schedule_review at='{y}-10-14 10:00' location='Gießen'", "hmsi-aqb"),
    ("autumn_review", "reschedule_review at='{y}-10-15 14:00'", "hmsi-aqb"),
]


def state_of(cli: CLI, key: str) -> dict[str, object]:
    shown = json.loads(cli(f"show {key} --json").stdout)
    assert isinstance(shown, dict)
    return shown


def reminders_of(cli: CLI, key: str, *flags: str) -> list[dict[str, object]]:
    rows = json.loads(cli(["reminders", "list", "--agreement", key, "--json", *flags]).stdout)
    assert isinstance(rows, list)
    return rows


def walk_the_year(cli: CLI, key: str, year: int) -> None:
    state = state_of(cli, key)["state"]
    started = [s for s, _, _ in STEPS].index(state)
    for _, step, actor in STEPS[started:]:
        cli(f"transition {key} {step.format(y=year)}", actor=actor)
    assert state_of(cli, key)["state"] == "autumn_review"


def contacts(cli: CLI, with_desk: bool) -> None:
    cli("contact add --district giessen --role district --name 'P. Muster' --email p@lkgi.example")
    cli(
        "contact add --district wetterau --role district --name 'Jan Beispiel' --email j@wk.example"
    )
    cli(
        "contact add --district giessen --role participant --name 'Ute Teil' --email u@lkgi.example"
    )
    cli("contact add --role rp_kassel --name 'RP Kassel, Dezernat 57' --email d57@rpks.example")
    if with_desk:
        cli("contact add --role ministry_desk --name 'AQB-Referat' --email aqb@hmsi.example")


@pytest.mark.parametrize("way", sorted(MAKERS))
def test_every_command_works_on_an_agreement_however_it_was_made(
    way: str, cli: CLI, workspace: Workspace, tmp_path: Path
) -> None:
    key, other = MAKERS[way](cli)
    year = int(key[:4])
    contacts(cli, with_desk=False)

    # reading
    assert key in cli("list").stdout
    assert "Landkreis Gießen" in cli(f"show {key}").stdout
    assert "Angelegt" in cli(f"history {key}").stdout
    cli(f"triggers {key}")

    # editing and measures, with a reason (after signing a change is an amendment)
    cli(f"edit {key} budget=1.300.000 --reason 'Mittel erhöht'")
    assert state_of(cli, key)["budget_cents"] == 130_000_000
    cli(f"measure add {key} --category weiterbildung 'Neue Workshops' --reason 'Ergänzung'")
    titles = [m["title"] for m in state_of(cli, key)["measures"]]  # type: ignore[attr-defined]
    assert titles[-1] == "Neue Workshops"
    cli(f"measure remove {key} 'Neue Workshops' --reason 'doch nicht'")
    assert len(state_of(cli, key)["measures"]) == len(titles) - 1  # type: ignore[arg-type]

    # every trigger of the year, at its dates; the other agreement is withdrawn
    walk_the_year(cli, key, year)
    cli(f"transition {other} withdraw reason='Kein Antrag gestellt'")
    assert state_of(cli, other)["state"] == "withdrawn"

    # rendering
    assert "1.300.000" in cli(f"render {key}").stdout
    cli(f"render {key} --format html -o {tmp_path / 'zv.html'}")
    cli(f"render {key} --format pdf -o {tmp_path / 'zv.pdf'}")
    assert (tmp_path / "zv.pdf").read_bytes().startswith(b"%PDF")

    # the review is over and not closed: the ministry desk is told, but has no contact yet
    overdue = [r for r in reminders_of(cli, key) if r["kind"] == "review_overdue"]
    assert len(overdue) == 1
    cli("daemon --once", expect=1)
    failed = reminders_of(cli, key, "--failed")
    assert [r["kind"] for r in failed if r["kind"] == "review_overdue"] == ["review_overdue"]

    # after the contact is added, the failed reminder is retried and sent
    contacts_desk = "contact add --role ministry_desk --name 'AQB-Referat' --email aqb@hmsi.example"
    cli(contacts_desk)
    reminder = failed[0]["id"]
    assert "Umsetzungsbesprechung" in cli(f"reminders preview {reminder}").stdout
    cli(f"reminders retry {reminder}")
    cli("daemon --once")
    sent = [r for r in reminders_of(cli, key, "--all") if r["id"] == reminder]
    assert sent[0]["status"] == "sent"

    # the end of the year, and the record of all of it
    cli(f"transition {key} close held_on=15.10.{year} outcome='Ziele erreicht'")
    assert state_of(cli, key)["state"] == "closed"
    cli("audit verify")
    cli("audit verify --full")
