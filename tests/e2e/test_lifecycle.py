"""The Gießen 2024 agreement walked through its whole life, as staff would type it."""

from __future__ import annotations

import json

from tests.conftest import GIESSEN_MEASURES


def test_giessen_2024_from_draft_to_closed(cli, workspace):
    out = cli("create --district 'Landkreis Gießen' --year 2024 --budget 1.266.800,00").stdout
    assert "created 2024-giessen" in out
    for category, title in GIESSEN_MEASURES:
        cli(["measure", "add", "2024-giessen", "--category", category, title])
    cli("transition 2024-giessen sign_ministry on=01.07.2024 'by=Heike Hofmann' place=Wiesbaden")
    cli(
        "transition 2024-giessen sign_district on=10.7.2024 'by=Anita Schneider' place=Gießen "
        "received_on=2024-07-15",
        actor="giessen",
    )
    cli(
        "transition 2024-giessen issue_notice on=2024-08-05 'ref=RPKS 57 2024/GI'",
        actor="rp-kassel",
    )
    cli("transition 2024-giessen schedule_review 'at=15.10.2024 10:00' 'location=Kreishaus Gießen'")
    done = cli("transition 2024-giessen close held_on=2024-10-15 'outcome=planmäßig'").stdout
    assert "autumn_review -> closed" in done

    shown = json.loads(cli("show 2024-giessen --json").stdout)
    assert shown["state"] == "closed"
    assert shown["budget_cents"] == 126_680_000
    assert [(m["category"], m["title"]) for m in shown["measures"]] == GIESSEN_MEASURES
    assert shown["fields"]["ministry_signed_on"] == "2024-07-01"
    assert shown["fields"]["ministry_signed_place"] == "Wiesbaden"
    assert shown["fields"]["district_signed_on"] == "2024-07-10"
    assert shown["fields"]["district_signed_by"] == "Anita Schneider"
    assert shown["fields"]["received_on"] == "2024-07-15"
    # 10:00 in Berlin in October (summer time) is 08:00 UTC
    assert shown["fields"]["review_at"].startswith("2024-10-15T08:00:00")

    text = cli("show 2024-giessen").stdout
    assert "1.266.800,00 €" in text
    assert "1. Juli 2024" in text and "15. Oktober 2024, 10:00 Uhr" in text

    events = json.loads(cli("history 2024-giessen --json").stdout)
    steps = [e["event"] for e in events if e["from_state"] != e["to_state"]]
    assert steps == [
        "created",
        "sign_ministry",
        "sign_district",
        "issue_notice",
        "schedule_review",
        "close",
    ]
    by_event = {e["event"]: e for e in events}
    assert by_event["sign_district"]["actor"] == f"{workspace.login} on behalf of giessen"
    assert by_event["sign_district"]["role"] == "district:giessen"
    assert by_event["issue_notice"]["role"] == "rp_kassel"
    payload = by_event["sign_ministry"]["payload"]
    assert {k: payload[k] for k in ("on", "by", "place")} == {
        "on": "2024-07-01",
        "by": "Heike Hofmann",
        "place": "Wiesbaden",
    }
    assert payload["reminders"]["planned"]  # the district's countersignature is awaited
    history = cli("history 2024-giessen").stdout
    assert "sign_district" in history and "10. Juli 2024" in history

    verified = cli("audit verify").stdout
    assert f"{len(events)} events checked" in verified
    listed = json.loads(cli("list --year 2024 --state closed --json").stdout)
    assert [row["key"] for row in listed] == ["2024-giessen"]


def test_list_filters_and_triggers_show_what_comes_next(cli):
    cli("create --district giessen --year 2024 --budget 1266800")
    cli("create --district 06440 --year 2024 --budget 1.140.300")
    cli("create --district wetterau --year 2025 --budget 1140300")
    cli("transition 2024-wetterau sign_ministry on=2024-07-02 'by=Heike Hofmann'")
    rows = json.loads(cli("list --year 2024 --json").stdout)
    assert {r["key"]: r["state"] for r in rows} == {
        "2024-giessen": "drafted",
        "2024-wetterau": "signed_by_ministry",
    }
    assert json.loads(cli("list --state signed_by_ministry --json").stdout)[0]["key"] == (
        "2024-wetterau"
    )
    table = cli("list").stdout
    assert "Wetteraukreis" in table and "1.140.300,00 €" in table
    nxt = json.loads(cli("triggers 2024-wetterau --json").stdout)
    assert [t["name"] for t in nxt["triggers"]] == ["sign_district", "withdraw"]
    fields = {f["name"]: f["required"] for f in nxt["triggers"][0]["fields"]}
    assert fields == {"on": True, "by": True, "place": True, "received_on": False}


def test_python_m_runs_the_same_cli(cli):
    assert "Usage" in cli("--help").stdout
