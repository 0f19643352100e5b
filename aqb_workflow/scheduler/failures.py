"""A failed reminder, explained in German for the delivery-failure report (``delivery_failed``).

The dispatcher records the technical reason (``last_error``, and in the report's ``note``): an
SMTP reply, an unreachable server, a missing contact, a broken template. The ministry desk reads
what happened, the mail server's reply quoted as such (``„550 5.1.1 Mailbox unavailable“``),
what to do about it and the ``aqb`` commands to run; never raw ids, Python reprs or English
exception text.

Usage::

    failed = explain_failure(app, conn, report_row)
    failed["explanation"], failed["reply"], failed["advice"], failed["commands"]
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Connection

from aqb_workflow.bootstrap import App
from aqb_workflow.domain.formats import format_date_de, parse_utc
from aqb_workflow.store import outbox

ROLES_DE = {
    "district": "die Gebietskörperschaft",
    "ministry_desk": "das AQB-Referat",
    "rp_kassel": "das Regierungspräsidium Kassel",
    "participants": "die Teilnehmenden der Umsetzungsbesprechung",
}
_REPLY = re.compile(r"(?<![\d.])([245]\d\d)(?:[ -]+(\d\.\d{1,3}\.\d{1,3}))?\b\s*([^;]*)")
_REFUSED = re.compile(r"recipients refused(?: for now)?: (.*)$")
_GAVE_UP = re.compile(r"^gave up after (\d+) attempts: ")
_SERVER = re.compile(r"SMTP ([^\s:]+):(\d+)")


def explain_failure(
    app: App, conn: Connection, row: dict[str, Any], district: str
) -> dict[str, Any]:
    """What the report's template shows about the reminder it reports (see module doc)."""
    note = json.loads(row["note"]) if row.get("note") else {}
    reminder_id = note.get("reminder")
    failed = outbox.get(conn, int(reminder_id)) if isinstance(reminder_id, int) else None
    kind = str(note.get("kind") or (failed["kind"] if failed else ""))
    error = str(note.get("error") or (failed or {}).get("last_error") or "")
    rule = next((r for r in app.workflow.rules if r.kind == kind), None)
    roles = json.loads(failed["recipients"]) if failed else []
    due = None
    if failed:
        due = format_date_de(parse_utc(failed["due_at"]).astimezone(app.settings.zone).date())
    facts = _classify(error, roles, app.settings.give_up_hours, district)
    if facts.pop("template", False):  # name the folder this installation really uses
        facts["explanation"] = (
            "Die Nachricht konnte nicht erstellt werden: eine Mailvorlage im Ordner "
            f"{app.settings.templates} ist fehlerhaft oder fehlt."
        )
    retry = f"aqb reminders retry {reminder_id}" if reminder_id is not None else None
    commands = [*facts.pop("commands"), *([retry] if retry else [])]
    return {
        "reminder": reminder_id,
        "label": rule.label if rule else "Erinnerung",
        "due": due,
        "to": _und([ROLES_DE.get(r, r) for r in roles]) or None,
        "commands": commands,
        **facts,
    }


def _und(items: list[str]) -> str:
    """``["A", "B", "C"]`` -> ``A, B und C``."""
    return " und ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


def _classify(error: str, roles: list[str], give_up_hours: int, district: str) -> dict[str, Any]:
    gave_up = _GAVE_UP.match(error)
    rest = error[gave_up.end() :] if gave_up else error
    attempts = f" nach {gave_up[1]} Versuchen" if gave_up else ""
    server = _SERVER.search(rest)
    host = f" {server[1]}" if server else ""
    facts: dict[str, Any] = {"reply": None, "missing_contact": False, "commands": []}
    if rest.startswith("no contact"):
        wanted = _und([ROLES_DE.get(r, r) for r in roles]) or "die Empfänger"
        facts |= {
            "missing_contact": True,
            "explanation": f"Für {wanted} ist keine Ansprechperson mit E-Mail-Adresse "
            "hinterlegt; die Nachricht hatte keinen Empfänger.",
            "advice": "Bitte legen Sie die Ansprechperson an und stoßen Sie den Versand "
            "danach erneut an:",
            "commands": [_contact_command(roles, district)],
        }
        return facts
    refused = _REFUSED.search(rest)
    reply = _REPLY.search(refused[1] if refused else rest.split(": ", 1)[-1])
    if reply:
        quoted = " ".join(part for part in (reply[1], reply[2], reply[3].strip()) if part)
        temporary = reply[1].startswith("4")
        if refused:
            found = re.findall(r"<?([^\s;:<>]+@[^\s;:<>]+)>?:", refused[1])
            addresses = ", ".join(dict.fromkeys(found))  # each address once, without <>
            what = f"Der Mailserver{host} hat die Empfängeradresse {addresses} abgelehnt"
        else:
            what = f"Der Mailserver{host} hat die Nachricht abgelehnt"
        if temporary:
            what += (
                f" – vorübergehend, aber über {give_up_hours} Stunden immer wieder; der "
                f"Versand wurde{attempts} aufgegeben"
            )
        advice = (
            "Bitte klären Sie mit dem Betrieb oder der Empfängerseite, warum der Server die "
            "Annahme verweigert, und stoßen Sie den Versand danach erneut an:"
            if temporary
            else "Bitte prüfen Sie die E-Mail-Adresse in den Kontakten (aqb contact list) "
            "und stoßen Sie den Versand danach erneut an:"
        )
        facts |= {"reply": quoted, "explanation": what + ".", "advice": advice}
        return facts
    facts |= _unreachable(rest, host, attempts, give_up_hours)
    return facts


def _unreachable(rest: str, host: str, attempts: str, hours: int) -> dict[str, str]:
    if "connection refused" in rest or "no answer" in rest or "closed unexpectedly" in rest:
        how = (
            "hat die Verbindung abgelehnt"
            if "refused" in rest
            else "hat nicht rechtzeitig geantwortet"
            if "no answer" in rest
            else "hat die Verbindung unerwartet beendet"
        )
        given_up = (
            f"; über {hours} Stunden gelang keine Zustellung, der Versand wurde{attempts} "
            "aufgegeben"
            if attempts
            else ""
        )
        return {
            "explanation": f"Der Mailserver{host} {how}{given_up}.",
            "advice": "Bitte klären Sie mit dem Betrieb, ob der Mailserver erreichbar ist, und "
            "stoßen Sie den Versand danach erneut an:",
        }
    if "template" in rest or ".txt" in rest or ".html" in rest:
        return {
            "template": "broken",  # explained with the configured folder by the caller
            "advice": "Bitte lassen Sie die Vorlage vom Betrieb prüfen (aqb reminders list "
            "--failed zeigt die technische Meldung) und stoßen Sie den Versand danach erneut an:",
        }
    return {
        "explanation": "Die Nachricht konnte aus technischen Gründen nicht zugestellt werden"
        f"{'; der Versand wurde' + attempts + ' aufgegeben' if attempts else ''}.",
        "advice": "Die technische Meldung zeigt aqb reminders list --failed. Nach der Klärung "
        "stoßen Sie den Versand erneut an:",
    }


def _contact_command(roles: list[str], district: str) -> str:
    if "district" in roles or "participants" in roles:
        role, where = "district", f" --district {district}"
    elif "rp_kassel" in roles:
        role, where = "rp_kassel", ""
    else:
        role, where = "ministry_desk", ""
    return f"aqb contact add{where} --role {role} --name NAME --email ADRESSE"
