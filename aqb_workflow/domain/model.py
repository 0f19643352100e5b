"""Plain domain objects: an agreement as the engine sees it, who acts, what happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CATEGORIES: dict[str, str] = {
    "ausbildungsvorbereitung": "Ausbildungsvorbereitung",
    "ausbildung": "Ausbildung und Ausbildungscoaching in anerkannten Ausbildungsberufen",
    "qualifizierung": "Qualifizierungsprojekte zur Arbeitsmarktintegration, Fachkräftesicherung",
    "weiterbildung": (
        "Weiterbildungsmaßnahmen für Personal der Landkreise und kreisfreien Städte in der "
        "fachlichen Verantwortung für Benachteiligte im Kontext der Arbeitsmarktförderung"
    ),
}

#: Roles an actor can hold; ``district:<slug>`` is written with its district.
ROLE_KINDS = ("ministry", "district", "rp_kassel", "admin", "viewer")


def agreement_key(year: int, slug: str) -> str:
    return f"{year}-{slug}"


@dataclass(frozen=True)
class Measure:
    id: int
    category: str
    title: str
    position: int


@dataclass
class Agreement:
    key: str
    year: int
    district: str
    budget_cents: int
    state: str
    version: int
    fields: dict[str, Any] = field(default_factory=dict)
    measures: list[Measure] = field(default_factory=list)
    entered_at: str = ""  # when it entered its current state (UTC, stored form)


@dataclass(frozen=True)
class Actor:
    """Who acts, with whose roles. ``by`` is the admin login acting on behalf of ``name``:
    then ``roles`` are those of ``name`` (the person acted for), never the admin's."""

    name: str
    roles: tuple[str, ...]
    by: str | None = None

    @property
    def display(self) -> str:
        if self.by:
            return f"{self.by} on behalf of {self.name}"
        return self.name

    def role_for(self, allowed: tuple[str, ...], district: str | None) -> str | None:
        """The first of the actor's roles that satisfies ``allowed`` for this district."""
        for role in self.roles:
            if role == "admin":
                return role
            if role in allowed and role != "district":
                return role
            if "district" in allowed and district is not None and role == f"district:{district}":
                return role
        return None

    def may_see(self, district: str) -> bool:
        return any(
            r in ("admin", "ministry", "rp_kassel", "viewer") or r == f"district:{district}"
            for r in self.roles
        )


@dataclass(frozen=True)
class Event:
    """Something that happened to an agreement (or the contact list), before it is chained."""

    agreement: str | None
    event: str
    actor: str
    role: str
    at: datetime
    from_state: str | None = None
    to_state: str | None = None
    comment: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
