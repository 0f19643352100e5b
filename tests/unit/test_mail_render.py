"""The German reminder templates: every kind renders, amounts and dates are German, HTML is
escaped, and a broken template or context fails as a ConfigError naming file and variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aqb_workflow.errors import ConfigError
from aqb_workflow.mail.render import KINDS, Rendered, render

TEMPLATES = Path(__file__).resolve().parents[2] / "notifications"
SIGNATURE = "Ihr AQB-Referat im Hessischen Ministerium für Arbeit, Integration, Jugend und Soziales"
REVIEW_KINDS = {"review_upcoming", "review_overdue", "review_cancelled"}


def sample(kind: str, **reminder: Any) -> dict[str, Any]:
    """The context the dispatcher builds (see aqb_workflow/mail/render.py)."""
    return {
        "agreement": {
            "key": "2024-giessen",
            "year": 2024,
            "district_name": "Landkreis Gießen",
            "district_dative": "dem Landkreis Gießen",
            "district_genitive": "des Landkreises Gießen",
            "budget_cents": 126_680_000,
            "state": "signed_by_ministry",
            "state_label": "vom Ministerium unterzeichnet",
        },
        "reminder": {
            "id": 42,
            "kind": kind,
            "due": "8. Juli 2024",
            "late": False,
            "since": "1. Juli 2024",
            "deadline": "31. März 2024",
            "occurrence": 1,
            "max_occurrences": 3,
            **reminder,
        },
        "review": (
            {
                "at": "15. Oktober 2024, 10:00 Uhr",
                "location": "Kreishaus Gießen",
                "cancelled": kind == "review_cancelled",
            }
            if kind in REVIEW_KINDS
            else None
        ),
        "command": "aqb transition 2024-giessen sign_district on=TT.MM.JJJJ by=NAME place=ORT",
        "recipient_names": ["Anita Schneider"],
    }


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_german_facts(kind: str) -> None:
    r = render(TEMPLATES, kind, sample(kind))
    assert isinstance(r, Rendered)
    assert "\n" not in r.subject and r.subject == r.subject.strip()
    assert "Landkreis Gießen" in r.subject and "2024" in r.subject
    for body in (r.text, r.html):
        assert "Landkreis Gießen" in body
        assert "1.266.800,00 €" in body
        assert "2024" in body
        assert "aqb transition 2024-giessen sign_district" in body
        assert "automatisch erzeugte Erinnerung" in body
        assert "Guten Tag Anita Schneider" in body
        assert "verspätet" not in body
    assert SIGNATURE in r.text
    assert SIGNATURE in r.html
    assert r.html.lstrip().startswith("<!DOCTYPE html>")
    assert "{{" not in r.text + r.html + r.subject


@pytest.mark.parametrize("kind", sorted(set(KINDS) - {"review_planning"}))
def test_since_or_review_time_is_named(kind: str) -> None:
    r = render(TEMPLATES, kind, sample(kind))
    expected = "15. Oktober 2024, 10:00 Uhr" if kind in REVIEW_KINDS else "1. Juli 2024"
    assert expected in r.text
    assert expected in r.html


def test_kind_specific_content() -> None:
    due = render(TEMPLATES, "application_due", sample("application_due"))
    assert "bis 31. März 2024" in due.subject
    assert "Regierungspräsidium Kassel" in due.text and "Finanzierungsplan" in due.text
    pending = render(
        TEMPLATES,
        "district_signature_pending",
        sample("district_signature_pending", occurrence=2, max_occurrences=3),
    )
    assert "Dies ist die 2. von 3 Erinnerungen." in pending.text
    assert "(2. Erinnerung)" in pending.subject
    assert "letzte Erinnerung" not in pending.text
    last = render(
        TEMPLATES,
        "district_signature_pending",
        sample("district_signature_pending", occurrence=3, max_occurrences=3),
    )
    assert "letzte Erinnerung" in last.text
    planning = render(TEMPLATES, "review_planning", sample("review_planning"))
    assert "Umsetzungsbesprechung im Herbst planen" in planning.subject
    upcoming = render(TEMPLATES, "review_upcoming", sample("review_upcoming"))
    assert upcoming.subject.endswith(
        "Einladung zur Umsetzungsbesprechung am 15. Oktober 2024, 10:00 Uhr"
    )
    assert "Kreishaus Gießen" in upcoming.text and "invite.ics" in upcoming.text
    cancelled = render(TEMPLATES, "review_cancelled", sample("review_cancelled"))
    assert "Absage" in cancelled.subject and "zurückgezogen" in cancelled.text
    notice = render(TEMPLATES, "notice_pending", sample("notice_pending"))
    assert "Zuwendungsbescheid" in notice.text


def test_optional_dates_may_be_none_and_names_empty() -> None:
    ctx = sample("application_due", since=None, deadline=None)
    ctx["recipient_names"] = []
    r = render(TEMPLATES, "application_due", ctx)
    assert "Sehr geehrte Damen und Herren," in r.text
    assert "None" not in r.text + r.html + r.subject
    assert r.subject == (
        "AQB 2024 – Landkreis Gießen: Antrag mit Finanzierungsplan an das RP Kassel"
    )


@pytest.mark.parametrize("kind", ["district_signature_pending", "review_upcoming"])
def test_late_line_only_when_late(kind: str) -> None:
    on_time = render(TEMPLATES, kind, sample(kind))
    late = render(TEMPLATES, kind, sample(kind, late=True))
    assert "verspätet zugestellt" not in on_time.text + on_time.html
    assert "verspätet zugestellt" in late.text
    assert "verspätet zugestellt" in late.html
    assert "8. Juli 2024" in late.text


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
    ctx = sample("notice_pending")
    del ctx["command"]
    with pytest.raises(ConfigError, match="command"):
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
            assert "agreement.district" in text or suffix == ".subject.txt"
            for ascii_umlaut in ("ae ", "oe ", "ue ", "Gruesse", "fuer "):
                assert ascii_umlaut not in text, (kind, suffix, ascii_umlaut)


def test_environment_is_cached_per_folder(tmp_path: Path) -> None:
    from aqb_workflow.mail.render import environment

    assert environment(TEMPLATES) is environment(TEMPLATES)
    assert environment(tmp_path) is not environment(TEMPLATES)
