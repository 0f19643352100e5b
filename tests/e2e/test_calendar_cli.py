"""``aqb calendar explain`` as a person runs it: German text, JSON, and a bad date."""

from __future__ import annotations

import json

import pytest


def test_explain_a_holiday(cli):
    out = cli("calendar explain 2025-06-19").stdout
    assert out.splitlines() == [
        "Donnerstag, 19. Juni 2025: kein Arbeitstag in Hessen (Feiertag in Hessen: Fronleichnam)",
        "Eine Frist, die an diesem Tag endet, endet am Freitag, 20. Juni 2025 "
        "(§ 31 Abs. 3 HVwVfG).",
    ]


def test_explain_german_date_as_json(cli):
    data = json.loads(cli("calendar explain 19.06.2025 --json").stdout)
    assert data["date"] == "2025-06-19"
    assert data["date_de"] == "19. Juni 2025"
    assert data["weekday_de"] == "Donnerstag"
    assert data["working_day"] is False
    assert data["reasons"] == ["Feiertag in Hessen: Fronleichnam"]
    assert data["deadline_end"] == "2025-06-20"
    assert data["deadline_end_de"] == "20. Juni 2025"
    assert data["deadline_moved"] is True


def test_explain_a_closure_day(cli):
    out = cli("calendar explain 2024-12-24").stdout
    first, second = out.splitlines()
    assert first == (
        "Dienstag, 24. Dezember 2024: kein Arbeitstag in Hessen "
        "(Schließtag (kein Feiertag): 24. Dezember)"
    )
    assert "endet an diesem Tag" in second and "kein Feiertag" in second


def test_explain_a_working_day(cli):
    out = cli("calendar explain 2025-06-03").stdout
    assert out.splitlines() == [
        "Dienstag, 3. Juni 2025: Arbeitstag in Hessen",
        "Eine Frist, die an diesem Tag endet, endet an diesem Tag.",
    ]


def test_closure_days_come_from_the_config(workspace, cli):
    assert json.loads(cli("calendar explain 2024-12-24 --json").stdout)["working_day"] is False
    text = workspace.config.read_text(encoding="utf-8")
    assert "[calendar]" not in text
    workspace.config.write_text(text + '\n[calendar]\nclosure_days = ["01-02"]\n', "utf-8")
    assert json.loads(cli("calendar explain 2025-01-02 --json").stdout)["working_day"] is False
    assert json.loads(cli("calendar explain 2024-12-24 --json").stdout)["working_day"] is True


@pytest.mark.parametrize("bad", ["31.02.2025", "banana", "2025-13-01"])
def test_bad_date_exits_2_with_one_line(cli, bad):
    result = cli(["calendar", "explain", bad], expect=2)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aqb: DATE:"), result.stderr
    assert "Traceback" not in result.stderr
