"""Who may do what at the edges: sending mail, reading the outbox and the audit counts.

The workflow file says who may fire which trigger; this module covers the commands outside it.
Reading is open to every role (a district login sees its own district only, see
``Actor.may_see``); sending the reminder mail of all 26 districts, taking a failed reminder back
into the queue and watching the mail daemon are the ministry's (and an admin's) business.
``viewer`` reads but never sends; district offices and RP Kassel act in the real world.
"""

from __future__ import annotations

from aqb_workflow.domain.model import Actor, Agreement
from aqb_workflow.errors import Forbidden

#: Roles that may send (``aqb daemon``, ``aqb reminders send-due``) and retry reminders.
SENDERS = ("ministry", "admin")
#: Roles that may see the whole outbox and the mail daemon's state.
READERS_OF_ALL = ("ministry", "admin", "rp_kassel", "viewer")

ROLE_LABELS = {
    "ministry": "Ministerium",
    "rp_kassel": "RP Kassel",
    "viewer": "nur Lesen",
    "admin": "Administration",
}


def role_text(actor: Actor) -> str:
    """``pruefer (Rolle viewer: nur Lesen)``: who acts and with which roles, in German."""
    if not actor.roles:
        return f"{actor.name} (keine Rolle in config.toml [users])"
    labels = []
    for role in actor.roles:
        kind = role.split(":", 1)[0]
        label = ROLE_LABELS.get(kind, "Gebietskörperschaft" if kind == "district" else "")
        labels.append(f"{role}: {label}" if label else role)
    word = "Rolle" if len(actor.roles) == 1 else "Rollen"
    return f"{actor.name} ({word} {', '.join(labels)})"


def allowed_text(actor: Actor) -> str:
    """What the actor may do instead: reading, for every role that reads."""
    if not actor.roles:
        return "ein Admin trägt die Anmeldung mit einer Rolle in config.toml [users] ein"
    if any(r.startswith("district:") for r in actor.roles):
        return "erlaubt sind Ihnen: Ihre eigenen Erinnerungen lesen (aqb reminders list, preview)"
    return (
        "erlaubt sind Ihnen: lesen (aqb reminders list, aqb reminders preview, aqb daemon status)"
    )


def may_send(actor: Actor) -> bool:
    return any(role in SENDERS for role in actor.roles)


def require_sender(actor: Actor, what: str) -> None:
    """Refuse sending or retrying (``what``: the command, e.g. ``aqb daemon --once``)."""
    if not may_send(actor):
        raise Forbidden(
            f"{role_text(actor)} darf keine Erinnerungen versenden ({what}); "
            "versenden dürfen nur Ministerium (ministry) und Administration (admin); "
            f"{allowed_text(actor)}"
        )


def outbox_scope(actor: Actor) -> str | None:
    """None: the actor sees every reminder; else the one district whose reminders it sees.

    Raises Forbidden for a login without a role that reads, or with several districts.
    """
    if any(role in READERS_OF_ALL for role in actor.roles):
        return None
    districts = [r.split(":", 1)[1] for r in actor.roles if r.startswith("district:")]
    if len(districts) == 1:
        return districts[0]
    if not districts:
        raise Forbidden(f"{role_text(actor)} darf nichts lesen; {allowed_text(actor)}")
    raise Forbidden(
        f"{role_text(actor)} hat mehrere Gebietskörperschaften; ein Admin muss eine wählen"
    )


def require_reader_of_all(actor: Actor, what: str) -> None:
    """Refuse what shows numbers of every district (``aqb daemon status``) to a district."""
    if not any(role in READERS_OF_ALL for role in actor.roles):
        raise Forbidden(
            f"{role_text(actor)} darf {what} nicht sehen: es zeigt Zahlen aller "
            f"Gebietskörperschaften; {allowed_text(actor)}"
        )


def require_own(actor: Actor, agreement: Agreement) -> None:
    """A district login reads its own district's agreements (and their reminders) only."""
    if not actor.may_see(agreement.district):
        raise Forbidden(
            f"{role_text(actor)} darf {agreement.key} nicht sehen: eine Gebietskörperschaft "
            "sieht nur ihre eigenen Vereinbarungen"
        )
