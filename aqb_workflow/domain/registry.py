"""The registry of Gebietskörperschaften: who can be party to an AQB agreement, and when.

Built from plain data (the TOML file in ``aqb_workflow/data``); lookup accepts an official name,
an alias, a slug or an AGS, in any case and with or without umlauts, and refuses to guess
between two matches ("Kassel" is a city and a Landkreis).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from aqb_workflow.errors import BadInput, ConfigError

_FIELDS = {
    "ags": str,
    "slug": str,
    "name": str,
    "dative": str,
    "genitive": str,
    "seat": str,
    "kind": str,
    "head_titles": list,
    "aliases": list,
    "valid_from": date,
    "valid_to": date,
    "aqb": bool,
}
_REQUIRED = ("ags", "slug", "name", "dative", "genitive", "seat", "kind", "head_titles")
_KINDS = ("landkreis", "kreisfreie_stadt")


@dataclass(frozen=True)
class Gebietskoerperschaft:
    ags: str
    slug: str
    name: str
    dative: str
    genitive: str
    seat: str
    kind: str
    head_titles: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    valid_from: date | None = None
    valid_to: date | None = None
    aqb: bool = True

    def valid_in(self, year: int) -> bool:
        """Whether it exists (and takes part in the AQB) in the given budget year."""
        if not self.aqb:
            return False
        if self.valid_from and self.valid_from > date(year, 12, 31):
            return False
        return not (self.valid_to and self.valid_to < date(year, 1, 1))


def normalize(text: str) -> str:
    """Lower case, umlauts and ß spelled out, punctuation and spacing folded."""
    text = text.lower().strip()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(a, b)
    return re.sub(r"[\s\-.()]+", " ", text).strip()


class Registry:
    def __init__(self, entries: Iterable[Gebietskoerperschaft]) -> None:
        self.entries = tuple(entries)
        self._by_slug = {e.slug: e for e in self.entries}

    def __iter__(self) -> Any:
        return iter(self.entries)

    def by_slug(self, slug: str) -> Gebietskoerperschaft:
        try:
            return self._by_slug[slug]
        except KeyError:
            raise BadInput(f"unknown Gebietskörperschaft slug {slug!r}") from None

    def find(self, text: str) -> Gebietskoerperschaft:
        """Resolve a name, alias, slug or AGS to exactly one entry."""
        wanted = normalize(text)
        if not wanted:
            raise BadInput("district: empty name")
        for entry in self.entries:
            if text.strip() == entry.ags or wanted == normalize(entry.slug):
                return entry
        exact = [e for e in self.entries if wanted == normalize(e.name)]
        if len(exact) == 1:
            return exact[0]
        matches = [e for e in self.entries if wanted in {normalize(a) for a in e.aliases}]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(f"{e.name} ({e.slug}, AGS {e.ags})" for e in matches)
            raise BadInput(f"district {text!r} is ambiguous: {names}; give the slug or AGS")
        raise BadInput(
            f"unknown district {text!r}; give an official name, slug or AGS (aqb districts)"
        )


def registry_from_data(data: Mapping[str, Any], source: str) -> Registry:
    """Validate the parsed registry file; errors name the file, entry and key."""
    rows = data.get("gebietskoerperschaft")
    unknown_top = set(data) - {"gebietskoerperschaft"}
    if unknown_top:
        raise ConfigError(f"{source}: unknown key {sorted(unknown_top)[0]!r}")
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{source}: needs [[gebietskoerperschaft]] entries")
    entries: list[Gebietskoerperschaft] = []
    seen: dict[str, str] = {}
    for index, row in enumerate(rows, start=1):
        where = f"{source}: gebietskoerperschaft #{index}"
        for key, value in row.items():
            expected = _FIELDS.get(key)
            if expected is None:
                raise ConfigError(f"{where}: unknown key {key!r}")
            if not isinstance(value, expected):
                raise ConfigError(f"{where}: {key} must be a {expected.__name__}")
        for key in _REQUIRED:
            if key not in row:
                raise ConfigError(f"{where}: missing key {key!r}")
        if row["kind"] not in _KINDS:
            raise ConfigError(f"{where}: kind must be one of {', '.join(_KINDS)}")
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", row["slug"]):
            raise ConfigError(f"{where}: slug {row['slug']!r} must be lower-case words joined by -")
        for key in ("ags", "slug"):
            if row[key] in seen:
                raise ConfigError(f"{where}: {key} {row[key]!r} appears twice")
            seen[row[key]] = key
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in row.items()}
        entries.append(Gebietskoerperschaft(**values))
    return Registry(entries)
