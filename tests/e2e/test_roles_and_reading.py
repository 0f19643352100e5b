"""Roles at the edges (who may send, what a district sees) and what people type and read,
through the real CLI: German short dates, plausible dates, tables that fit, German history,
plurals, one-line usage errors."""

from __future__ import annotations

import json
import re

import pytest

from tests.paths import bring_to

SENDING = ["reminders send-due", "daemon --once", "daemon"]


def _contacts(cli):
    cli("contact add --district giessen --role district --name 'Petra Muster' --email pm@x.example")
    cli("contact add --district wetterau --role district --name 'Jan B' --email jb@x.example")
    cli("contact add --role ministry_desk --name AQB-Referat --email aqb@hmsi.example")


@pytest.fixture
def two_districts(app, cli):
    """Gießen and the Wetteraukreis, both waiting for their countersignature: reminders due."""
    _contacts(cli)
    bring_to(app, "signed_by_ministry")
    bring_to(app, "signed_by_ministry", district="wetterau")
    return app


def _statuses(cli):
    return sorted(
        (r["id"], r["status"]) for r in json.loads(cli("reminders list --all --json").stdout)
    )


@pytest.mark.parametrize("command", SENDING)
@pytest.mark.parametrize("who", ["pruefer", "giessen", "rp-kassel"])
def test_only_the_ministry_sends(command, who, two_districts, workspace, cli):
    before = _statuses(cli)
    result = cli(command, actor=who, expect=1)
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1, result.stderr
    assert who in line and "darf keine Erinnerungen versenden" in line
    assert "Ministerium (ministry) und Administration (admin)" in line
    assert "erlaubt sind Ihnen" in line
    if who == "pruefer":
        assert "viewer" in line and "lesen" in line
    assert _statuses(cli) == before
    assert not list((workspace.root / "outbox").glob("*.eml"))
    refused = json.loads(cli("audit refusals --json").stdout)
    assert refused[0]["actor"].endswith(who)


def test_a_viewer_may_not_retry_but_reads_everything(two_districts, cli):
    before = _statuses(cli)
    rows = json.loads(cli("reminders list --all --json", actor="pruefer").stdout)
    assert {r["agreement"] for r in rows} == {"2024-giessen", "2024-wetterau"}
    some = rows[0]["id"]
    result = cli(f"reminders retry {some}", actor="pruefer", expect=1)
    assert "viewer" in result.stderr and "aqb reminders retry" in result.stderr
    assert "To:" in cli(f"reminders preview {some}", actor="pruefer").stdout
    assert "Versanddienst" in cli("daemon status", actor="pruefer", expect=1).stdout  # none runs
    assert _statuses(cli) == before


@pytest.mark.parametrize("variant", ["", "--due", "--all", "--failed", "--agreement 2024-giessen"])
def test_a_district_lists_only_its_own_reminders(variant, two_districts, cli):
    everything = json.loads(cli(f"reminders list {variant} --json").stdout)
    own = json.loads(cli(f"reminders list {variant} --json", actor="giessen").stdout)
    assert {r["agreement"] for r in own} <= {"2024-giessen"}
    assert own == [r for r in everything if r["agreement"] == "2024-giessen"]
    text = cli(f"reminders list {variant}", actor="giessen").stdout
    assert "wetterau" not in text


def test_a_district_sees_its_reminders_in_every_state(two_districts, cli):
    cli("contact remove 1")  # both districts lose their contact: their reminders fail
    cli("contact remove 2")
    cli("reminders send-due", expect=1)
    failed = json.loads(cli("reminders list --failed --json").stdout)
    assert {r["agreement"] for r in failed} == {"2024-giessen", "2024-wetterau"}
    own = json.loads(cli("reminders list --failed --json", actor="giessen").stdout)
    assert own and {r["agreement"] for r in own} == {"2024-giessen"}


def test_a_district_may_not_preview_or_name_another_districts_reminders(two_districts, cli):
    rows = json.loads(cli("reminders list --json").stdout)
    theirs = next(r["id"] for r in rows if r["agreement"] == "2024-wetterau")
    ours = next(r["id"] for r in rows if r["agreement"] == "2024-giessen")
    assert "pm@x.example" in cli(f"reminders preview {ours}", actor="giessen").stdout
    refused = cli(f"reminders preview {theirs}", actor="giessen", expect=1)
    assert "2024-wetterau" in refused.stderr and "jb@x.example" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    cli("reminders list --agreement 2024-wetterau", actor="giessen", expect=1)


def test_daemon_status_shows_no_district_the_numbers_of_all(two_districts, cli):
    result = cli("daemon status", actor="giessen", expect=1)
    assert "Zahlen aller Gebietskörperschaften" in result.stderr
    assert "queue" not in result.stdout and result.stdout == ""


def test_audit_verify_tells_a_district_its_own_counts_only(two_districts, app, cli):
    bring_to(app, "closed", district="giessen", year=2023)
    staff = json.loads(cli("audit verify --full --json").stdout)
    own = json.loads(cli("audit verify --json", actor="giessen").stdout)
    history = sum(
        len(json.loads(cli(f"history {key} --json").stdout))
        for key in ("2024-giessen", "2023-giessen")
    )
    assert own == {"ok": True, "district": "giessen", "agreements": 2, "events": history}
    assert staff["agreements"] == 3
    text = cli("audit verify", actor="giessen").stdout
    assert text.strip() == (
        f"Audit-Kette in Ordnung; Landkreis Gießen: 2 Vereinbarungen mit {history} Ereignissen"
    )
    one = cli("audit verify", actor="wetterau").stdout
    assert "Wetteraukreis: 1 Vereinbarung mit " in one


def test_a_broken_chain_is_reported_to_a_district_without_other_districts_details(
    two_districts, workspace, cli
):
    cli("audit verify")
    workspace.sql("update audit_event set actor = 'someone else' where agreement = '2024-wetterau'")
    result = cli("audit verify --full", actor="giessen", expect=1)
    assert "beschädigt" in result.stderr and "wetterau" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- what people type ------------------------------------------------------------------------


def test_short_german_dates_are_accepted_where_dates_are_typed(app, cli):
    bring_to(app, "drafted")
    cli("transition 2024-giessen sign_ministry on=1.7.24 'by=Heike Hofmann'")
    cli(
        "transition 2024-giessen sign_district on=10.07.24 by=S place=Gießen "
        "received_on='15. Juli 2024'"
    )
    cli("edit 2024-giessen received_on=16.7.2024 --reason 'Stempel korrigiert'")
    fields = json.loads(cli("show 2024-giessen --json").stdout)["fields"]
    assert fields["ministry_signed_on"] == "2024-07-01"
    assert fields["district_signed_on"] == "2024-07-10"
    assert fields["received_on"] == "2024-07-16"


@pytest.mark.parametrize("typed", ["1.7.1925", "31.12.1999", "1. Januar 1924"])
def test_implausible_dates_are_refused_in_german_and_change_nothing(typed, app, workspace, cli):
    bring_to(app, "drafted")
    before = workspace.snapshot()
    result = cli(f"transition 2024-giessen sign_ministry on='{typed}' by=X", expect=2)
    assert "nicht plausibel" in result.stderr and "möglich ist 1. Januar 2000 bis" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert workspace.snapshot() == before


def test_a_review_far_in_the_future_is_refused(app, workspace, cli):
    bring_to(app, "notice_issued")
    before = workspace.snapshot()
    result = cli(
        "transition 2024-giessen schedule_review 'at=15.10.2099 10:00' location=X", expect=2
    )
    assert "nicht plausibel" in result.stderr
    assert workspace.snapshot() == before


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ("show", " show: fehlendes Argument KEY"),
        ("list --colour", " list: unbekannte Option --colour"),
        ("list --jsn", "meinten Sie"),
        ("create --district giessen --year zwanzig --budget 1", "'zwanzig' ist keine ganze Zahl"),
        ("measure add 2024-giessen --category sport X", "'sport' gibt es nicht; möglich:"),
        ("show a b", "unerwartete Angabe: b"),
        ("reminders", " reminders: Befehl fehlt; möglich: list, preview"),
        ("frobnicate", "unbekannter Befehl 'frobnicate'"),
    ],
)
def test_usage_errors_are_one_german_line_with_exit_2(args, named, cli):
    result = cli(args, expect=2)
    assert result.stderr.count("\n") == 1, result.stderr
    assert named in result.stderr
    assert "Usage:" not in result.stderr and "Try " not in result.stderr
    assert "--help" in result.stderr


# -- what people read ------------------------------------------------------------------------


def _widest(text):
    return max(len(line) for line in text.splitlines())


def test_tables_fit_the_terminal_width(app, cli):
    bring_to(app, "closed")
    for key in ("wetterau", "kassel-stadt", "main-kinzig"):
        bring_to(app, "signed_by_ministry", district=key)
    history = cli("history 2024-giessen", env={"COLUMNS": ""}).stdout  # not a terminal: 100
    assert _widest(history) <= 100
    assert _widest(cli("history 2024-giessen", env={"COLUMNS": "90"}).stdout) <= 90
    wide = cli("history 2024-giessen", env={"COLUMNS": "250"}).stdout
    assert _widest(wide) > 100  # the room is used: fewer, longer lines
    assert len(wide.splitlines()) < len(history.splitlines())
    for columns in (60, 80):
        listed = cli("list", env={"COLUMNS": str(columns)}).stdout
        assert _widest(listed) <= columns
        assert "Gießen" in listed and "3 Vereinbarungen" not in listed
    reminders = cli("reminders list --all", env={"COLUMNS": "100"}).stdout
    assert _widest(reminders) <= 100
    assert "district_signature_pending" in reminders  # a name stays whole


def test_history_and_show_speak_german(app, cli):
    bring_to(app, "autumn_review")
    cli("edit 2024-giessen budget=1.250.000 --reason 'Kürzung lt. Erlass'")
    history = cli("history 2024-giessen", env={"COLUMNS": "400"}).stdout  # a row a line
    flat = " ".join(history.split())
    for expected in (
        "Zeit (Europe/Berlin)",
        "Gegenzeichnung der Gebietskörperschaft",
        "Vom Ministerium unterzeichnet → Von der Gebietskörperschaft gegengezeichnet",
        "Datum der Gegenzeichnung: 10. Juli 2024",
        "Haushaltsmittel: 1.266.800,00 € → 1.250.000,00 €",
        "Begründung: Kürzung lt. Erlass",
        "Termin: 15. Oktober 2024, 10:00 Uhr",
        "Geändert (Änderung nach § 6)",
        "Ministerium",
    ):
        assert expected in flat, expected
    assert not re.search(r"\[\d|\{|'|budget_cents|on behalf of|None\b|True\b", flat)
    shown = cli("show 2024-giessen").stdout
    assert "Nächste Schritte: Umsetzungsbesprechung verlegen (reschedule_review)" in shown
    assert "1.250.000,00 €" in shown and "1. Juli 2024" in shown
    events = json.loads(cli("history 2024-giessen --json").stdout)
    assert all(isinstance(e["payload"], dict) for e in events)
    assert isinstance(events[-1]["payload"]["changes"]["budget_cents"], dict)


def test_counts_are_german_plurals(app, cli):
    bring_to(app, "drafted")
    assert cli("list").stdout.strip().endswith("\n1 Vereinbarung")
    bring_to(app, "drafted", district="wetterau")
    assert cli("list").stdout.strip().endswith("\n2 Vereinbarungen")
    assert cli("list --year 1999").stdout.strip() == "keine Vereinbarungen"
    one = cli("reminders list --agreement 2024-giessen").stdout.strip()
    assert one.endswith("\n1 Erinnerung")
    assert cli("reminders list").stdout.strip().endswith("\n2 Erinnerungen")
