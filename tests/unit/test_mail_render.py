"""The German reminder templates: every kind renders, amounts and dates are German, HTML is
escaped, and a broken template or context fails as a ConfigError naming file and variable."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from aqb_workflow.errors import ConfigError
from aqb_workflow.mail.render import KINDS, Rendered, render

TEMPLATES = Path(__file__).resolve().parents[2] / "notifications"
SIGNATURE = "Ihr AQB-Referat im Hessischen Ministerium für Arbeit, Integration, Jugend und Soziales"
REVIEW_KINDS = {"review_upcoming", "review_rescheduled", "review_overdue", "review_cancelled"}
OUTSIDE = ("district", "rp_kassel", "participant")
COMMAND = "aqb transition 2024-giessen sign_district on=TT.MM.JJJJ by=NAME place=ORT"
GERMAN_DATE = re.compile(
    r"\b\d{1,2}\. (Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober"
    r"|November|Dezember) \d{4}\b"
)
#: kinds where an outside reader has something to do (and so a date to do it by)
ACTION = {
    "district": {
        "application_due",
        "district_signature_pending",
        "district_signature_escalation",
        "notice_pending",
        "review_planning",
        "review_upcoming",
        "review_rescheduled",
        "review_overdue",
    },
    "rp_kassel": {"application_due", "notice_pending", "review_upcoming", "review_rescheduled"},
    "participant": {"review_upcoming", "review_rescheduled", "review_overdue"},
}


def sample(kind: str, audience: str = "ministry_desk", **reminder: Any) -> dict[str, Any]:
    """The context the dispatcher builds (see aqb_workflow/mail/render.py)."""
    staff = audience == "ministry_desk"
    return {
        "agreement": {
            "key": "2024-giessen",
            "year": 2024,
            "district_name": "Landkreis Gießen",
            "district_dative": "dem Landkreis Gießen",
            "district_genitive": "des Landkreises Gießen",
            "district_seat": "Gießen",
            "budget_cents": 126_680_000,
            "state": "signed_by_ministry",
            "state_label": "Vom Ministerium unterzeichnet",
        },
        "reminder": {
            "id": 42,
            "kind": kind,
            "label": "Gegenzeichnung der Gebietskörperschaft steht aus",
            "due": "15. Juli 2024",
            "late": False,
            "since": "1. Juli 2024",
            "deadline": "2. April 2024",
            "reply_by": "22. Juli 2024",
            "sent_on": "16. Juli 2024",
            "occurrence": 1,
            "max_occurrences": 3,
            **reminder,
        },
        "audience": {"role": audience, "staff": staff, "label": audience},
        "desk": {"name": "Petra Referentin", "email": "aqb@hmsi.example"},
        "rp": {"name": "RP Kassel, Dezernat 57", "email": "dez57@rpks.example"},
        "review": (
            {
                "at": "15. Oktober 2024, 10:00 Uhr",
                "location": "Kreishaus Gießen",
                "cancelled": kind == "review_cancelled",
                "invited": kind == "review_rescheduled",
                "previous_at": (
                    "8. Oktober 2024, 14:00 Uhr" if kind == "review_rescheduled" else None
                ),
            }
            if kind in REVIEW_KINDS
            else None
        ),
        "failed": (
            {
                "reminder": 41,
                "label": "Gegenzeichnung der Gebietskörperschaft steht aus",
                "due": "15. Juli 2024",
                "to": "die Gebietskörperschaft",
                "explanation": "Der Mailserver hat die Empfängeradresse pm@lkgi.example abgelehnt.",
                "reply": "550 5.1.1 Mailbox unavailable",
                "advice": "Bitte prüfen Sie die E-Mail-Adresse und stoßen Sie den Versand an:",
                "commands": ["aqb reminders retry 41"],
            }
            if kind == "delivery_failed"
            else {}
        ),
        "command": COMMAND if staff else None,
        "recipient_names": ["Anita Schneider"],
    }


def _no_reprs(*texts: str) -> None:
    for text in texts:
        for bad in ("{", "}", "None", "[", "]", "'", "Traceback", "Error"):
            assert bad not in text, (bad, text)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_german_facts_for_the_ministry_desk(kind: str) -> None:
    r = render(TEMPLATES, kind, sample(kind))
    assert isinstance(r, Rendered)
    assert "\n" not in r.subject and r.subject == r.subject.strip()
    assert "Landkreis Gießen" in r.subject and "2024" in r.subject
    for body in (r.text, r.html):
        assert "Landkreis Gießen" in body
        assert "1.266.800,00 €" in body
        assert "2024-giessen" in body
        assert "automatisch erzeugte Nachricht" in body
        assert "Guten Tag Anita Schneider" in body
        assert "verspätet" not in body
    command = "aqb reminders retry 41" if kind == "delivery_failed" else COMMAND
    assert command in r.text and command in r.html
    assert SIGNATURE in r.text
    assert SIGNATURE in r.html
    assert r.html.lstrip().startswith("<!DOCTYPE html>")
    assert "{{" not in r.text + r.html + r.subject
    _no_reprs(r.subject, r.text.replace("{", ""))


@pytest.mark.parametrize("audience", OUTSIDE)
@pytest.mark.parametrize("kind", KINDS)
def test_outside_readers_get_instructions_and_a_contact_never_a_command(
    kind: str, audience: str
) -> None:
    r = render(TEMPLATES, kind, sample(kind, audience))
    for body in (r.text, r.html):
        assert "aqb " not in body, body
        assert "2024-giessen" not in body  # the system's key means nothing to them
        assert "Petra Referentin" in body and "aqb@hmsi.example" in body
        assert "Landkreis Gießen" in body
        assert "Guten Tag Anita Schneider" in body
    assert "aqb " not in r.subject
    _no_reprs(r.subject, r.text)
    if kind in ACTION[audience]:
        assert (
            "22. Juli 2024" in r.text or "2. April 2024" in r.text or ("15. Oktober 2024" in r.text)
        ), r.text
        assert GERMAN_DATE.search(r.html)


@pytest.mark.parametrize("kind", sorted(set(KINDS) - {"review_planning", "delivery_failed"}))
def test_since_or_review_time_is_named(kind: str) -> None:
    r = render(TEMPLATES, kind, sample(kind))
    expected = "15. Oktober 2024, 10:00 Uhr" if kind in REVIEW_KINDS else "1. Juli 2024"
    if kind == "application_due":
        expected = "2. April 2024"
    assert expected in r.text
    assert expected in r.html


def test_kind_specific_content() -> None:
    due = render(TEMPLATES, "application_due", sample("application_due", "district"))
    assert "bis 2. April 2024" in due.subject
    assert "bis zum 2. April 2024 beim Regierungspräsidium Kassel" in " ".join(due.text.split())
    assert "dez57@rpks.example" in due.text and "Finanzierungsplan" in due.text
    pending = render(
        TEMPLATES,
        "district_signature_pending",
        sample("district_signature_pending", "district", occurrence=2, max_occurrences=3),
    )
    assert "Dies ist die 2. von 3 Erinnerungen." in pending.text
    assert "(2. Erinnerung)" in pending.subject
    assert "letzte Erinnerung" not in pending.text
    assert "bis zum 22. Juli 2024 an das AQB-Referat" in " ".join(pending.text.split())
    last = render(
        TEMPLATES,
        "district_signature_pending",
        sample("district_signature_pending", "district", occurrence=3, max_occurrences=3),
    )
    assert "letzte Erinnerung" in last.text
    planning = render(TEMPLATES, "review_planning", sample("review_planning"))
    assert "Umsetzungsbesprechung im Herbst planen" in planning.subject
    upcoming = render(TEMPLATES, "review_upcoming", sample("review_upcoming", "participant"))
    assert upcoming.subject.endswith(
        "Einladung zur Umsetzungsbesprechung am 15. Oktober 2024, 10:00 Uhr"
    )
    assert "Kreishaus Gießen" in upcoming.text and "invite.ics" in upcoming.text
    again = sample("review_upcoming", "participant")
    again["review"]["invited"] = True
    assert (
        "Erinnerung an die Umsetzungsbesprechung"
        in render(TEMPLATES, "review_upcoming", again).subject
    )
    cancelled = render(TEMPLATES, "review_cancelled", sample("review_cancelled"))
    assert "Absage" in cancelled.subject and "zurückgezogen" in cancelled.text
    notice = render(TEMPLATES, "notice_pending", sample("notice_pending", "rp_kassel"))
    assert "Zuwendungsbescheid" in notice.text and "Kopie" in notice.text
    assert "bis 22. Juli 2024" in notice.subject


def test_the_change_of_date_names_both_dates() -> None:
    for audience in ("participant", "ministry_desk"):
        r = render(TEMPLATES, "review_rescheduled", sample("review_rescheduled", audience))
        assert r.subject == (
            "Terminänderung: Umsetzungsbesprechung AQB 2024 – Landkreis Gießen verlegt auf "
            "15. Oktober 2024, 10:00 Uhr"
        )
        for body in (r.text, r.html):
            assert "Neuer Termin:" in body and "15. Oktober 2024, 10:00 Uhr" in body
            assert "Bisheriger Termin: 8. Oktober 2024, 14:00 Uhr (entfällt)" in body


def test_the_delivery_failure_report_is_german_and_quotes_the_server() -> None:
    r = render(TEMPLATES, "delivery_failed", sample("delivery_failed"))
    assert "„Gegenzeichnung der Gebietskörperschaft steht aus“" in r.subject
    assert "Antwort des Mailservers: „550 5.1.1 Mailbox unavailable“" in r.text
    assert "pm@lkgi.example" in r.text
    assert "    aqb reminders retry 41" in r.text
    assert "Antwort des Mailservers: „550 5.1.1 Mailbox unavailable“" in r.html
    for word in ("reminder 41", "kind", "error", "district_signature_pending", "Nr. 41"):
        assert word not in r.text, word


def test_optional_dates_may_be_none_and_names_empty() -> None:
    ctx = sample("application_due", since=None, deadline=None)
    ctx["recipient_names"] = []
    r = render(TEMPLATES, "application_due", ctx)
    assert "Sehr geehrte Damen und Herren," in r.text
    assert "None" not in r.text + r.html + r.subject
    assert r.subject == (
        "AQB 2024 – Landkreis Gießen: Antrag mit Finanzierungsplan an das RP Kassel"
    )
    for audience in OUTSIDE:
        ctx["audience"] = {"role": audience, "staff": False, "label": audience}
        r = render(TEMPLATES, "application_due", ctx)
        assert "None" not in r.text + r.html + r.subject


@pytest.mark.parametrize("kind", ["district_signature_pending", "review_upcoming"])
def test_late_line_only_when_late(kind: str) -> None:
    on_time = render(TEMPLATES, kind, sample(kind))
    late = render(TEMPLATES, kind, sample(kind, late=True))
    assert "verspätet zugestellt" not in on_time.text + on_time.html
    assert "verspätet zugestellt" in late.text
    assert "verspätet zugestellt" in late.html
    assert "15. Juli 2024" in late.text


def test_html_is_autoescaped_text_is_not() -> None:
    ctx = sample("review_upcoming")
    ctx["agreement"]["district_name"] = "<script>alert('x')</script> & Co"
    ctx["review"]["location"] = 'Raum "<b>1</b>"'
    r = render(TEMPLATES, "review_upcoming", ctx)
    assert "<script>" not in r.html
    assert "&lt;script&gt;" in r.html
    assert "&amp; Co" in r.html
    assert "<b>1</b>" not in r.html
    assert "<script>alert('x')</script> & Co" in r.text
    assert "<script>alert('x')</script> & Co" in r.subject


def test_undefined_variable_names_template_and_variable() -> None:
    ctx = sample("district_signature_pending")
    del ctx["reminder"]["max_occurrences"]
    with pytest.raises(ConfigError) as err:
        render(TEMPLATES, "district_signature_pending", ctx)
    message = str(err.value)
    assert "district_signature_pending" in message
    assert "max_occurrences" in message
    assert "\n" not in message


def test_missing_top_level_key_is_config_error() -> None:
    ctx = sample("review_upcoming")
    ctx["review"] = None
    with pytest.raises(ConfigError, match="review_upcoming"):
        render(TEMPLATES, "review_upcoming", ctx)
    ctx = sample("notice_pending", "rp_kassel")
    del ctx["desk"]
    with pytest.raises(ConfigError, match="desk"):
        render(TEMPLATES, "notice_pending", ctx)


def test_missing_template_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no_such_kind\.subject\.txt"):
        render(TEMPLATES, "no_such_kind", sample("no_such_kind"))
    (tmp_path / "solo.subject.txt").write_text("Betreff", encoding="utf-8")
    (tmp_path / "solo.txt").write_text('{% extends "_base.txt" %}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"_base\.txt"):
        render(tmp_path, "solo", sample("solo"))


def test_broken_syntax_and_bad_filter_input(tmp_path: Path) -> None:
    for name, body in {"x.subject.txt": "S", "x.txt": "{% if %}", "x.html": ""}.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x\.txt.*line 1"):
        render(tmp_path, "x", {})
    (tmp_path / "x.txt").write_text("{{ amount|euro }} {{ day|datum }}", encoding="utf-8")
    r = render(tmp_path, "x", {"amount": 5, "day": "2024-07-01"})
    assert r.text == "0,05 € 1. Juli 2024"
    with pytest.raises(ConfigError, match="euro"):
        render(tmp_path, "x", {"amount": "12", "day": "2024-07-01"})
    with pytest.raises(ConfigError, match="datum"):
        render(tmp_path, "x", {"amount": 1, "day": "01.07.2024"})


def test_kind_cannot_escape_the_folder() -> None:
    with pytest.raises(ConfigError):
        render(TEMPLATES, "../config", {})


def test_templates_are_german_and_complete() -> None:
    for kind in KINDS:
        for suffix in (".subject.txt", ".txt", ".html"):
            text = (TEMPLATES / f"{kind}{suffix}").read_text(encoding="utf-8")
            assert "agreement.district" in text or suffix != ".txt"
            words = re.sub(r"\{[{%].*?[}%]\}", "", text)  # the German, not the Jinja
            for ascii_umlaut in ("ae ", "oe ", "ue ", "Gruesse", "fuer "):
                assert ascii_umlaut not in words, (kind, suffix, ascii_umlaut)


def test_environment_is_cached_per_folder(tmp_path: Path) -> None:
    from aqb_workflow.mail.render import environment

    assert environment(TEMPLATES) is environment(TEMPLATES)
    assert environment(tmp_path) is not environment(TEMPLATES)


def test_a_mail_is_dated_the_day_it_is_written_and_counts_only_a_series():
    """The footer names the day of sending (a late mail is not dated its planned day); a
    reminder that is the reader's only one is not "die 1. von 1 Erinnerungen"."""
    kind = "district_signature_pending"
    for audience in ("district", "ministry_desk"):
        only = render(TEMPLATES, kind, sample(kind, audience, occurrence=1, max_occurrences=1))
        assert "vom 16. Juli 2024" in only.text and "vom 15. Juli 2024" not in only.text
        assert "1. von 1" not in only.text and "1. von 1" not in only.html
    series = render(TEMPLATES, kind, sample(kind, "district", occurrence=2, max_occurrences=3))
    assert "Dies ist die 2. von 3 Erinnerungen." in series.text
