"""Read a signed AQB Zielvereinbarung: text in, the agreement's data with line numbers out.

Pure parsing, no database. Every extracted value keeps the line numbers it came from; a field
that cannot be found, or that the text gives two different ways, is a ``BadInput`` naming the
field and the lines looked at. Nothing is guessed silently.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aqb_workflow.domain.model import CATEGORIES
from aqb_workflow.domain.registry import Registry, normalize
from aqb_workflow.errors import BadInput

MAX_BYTES = 10 * 1024 * 1024

MONTHS = {
    "januar": 1,
    "jan": 1,
    "jänner": 1,
    "februar": 2,
    "feb": 2,
    "märz": 3,
    "mär": 3,
    "mrz": 3,
    "april": 4,
    "apr": 4,
    "mai": 5,
    "juni": 6,
    "jun": 6,
    "juli": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sep": 9,
    "sept": 9,
    "oktober": 10,
    "okt": 10,
    "november": 11,
    "nov": 11,
    "dezember": 12,
    "dez": 12,
}

MINISTRY_OFFICES = (
    "Staatsministerin",
    "Staatsminister",
    "Ministerin",
    "Minister",
    "Staatssekretärin",
    "Staatssekretär",
)
DISTRICT_OFFICES = (
    "Oberbürgermeisterin",
    "Oberbürgermeister",
    "Bürgermeisterin",
    "Bürgermeister",
    "Landrätin",
    "Landrat",
    "Erste Kreisbeigeordnete",
    "Erster Kreisbeigeordneter",
    "Kreisbeigeordnete",
    "Kreisbeigeordneter",
    "Stadträtin",
    "Stadtrat",
)
_OFFICE = re.compile(
    r"^(?:(?:Der|Die)\s+)?("
    + "|".join(sorted(map(re.escape, MINISTRY_OFFICES + DISTRICT_OFFICES), key=len, reverse=True))
    + r")\b"
)

#: The heading of each Maßnahmenart in § 5, as normalized prefixes.
_HEADINGS = {
    "ausbildungsvorbereitung": ("ausbildungsvorbereitung", "ausbildungs und qualifizierungsvorb"),
    "ausbildung": ("ausbildung und ausbildungscoaching",),
    "qualifizierung": ("qualifizierungsprojekte",),
    "weiterbildung": ("weiterbildungsmassnahmen", "weiterbildung"),
}
_AQB = "ausbildungs und qualifizierungsbudget"
_AMB = "arbeitsmarktbudget"

_PAGE_NUMBER = re.compile(r"^(?:-\s*\d{1,3}\s*-|\d{1,3}|Seite\s+\d{1,3}(?:\s+von\s+\d{1,3})?)$")
_BULLET = re.compile(r"^[-–•]\s+(\S.*)$")
_SECTION = re.compile(r"^§\s*(\d{1,2})(?:\s+(\S.*))?$")
_STRAY_HYPHEN = re.compile(r"(?<=[a-zäöüß])- (?!(?:und|oder|bzw|sowie|als|bis)\b)(?=[a-zäöüß])")
_AMOUNT = re.compile(
    r"(?<![\d.,])(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{2}|-{1,2}))?\s*(?:Euro|EUR|€)(?![A-Za-z])"
)
_PLACE_DATE = re.compile(r"^(?P<place>[A-ZÄÖÜ][^,\d]{1,60}?),\s*(?:den\s+)?(?P<date>\S.*?)\s*$")
_RECEIPT = re.compile(r"\b(?:Eing\.|Eingang)\s*:\s*(?P<date>[^/]*?)\s*(?=/|$)")


# -- the result -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Found:
    """One extracted value, the text it was read from and the line numbers (1-based)."""

    value: Any
    text: str
    lines: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        value = self.value.isoformat() if isinstance(self.value, date) else self.value
        return {"value": value, "text": self.text, "lines": list(self.lines)}


@dataclass(frozen=True)
class ExtractedMeasure:
    category: str
    title: str
    lines: tuple[int, ...]


@dataclass(frozen=True)
class Signature:
    place: str
    on: date
    by: str
    office: str | None
    lines: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "place": self.place,
            "on": self.on.isoformat(),
            "by": self.by,
            "office": self.office,
            "lines": list(self.lines),
        }


@dataclass
class ExtractedAgreement:
    year: Found
    district: Found  # value: the registry slug
    budget_cents: Found
    measures: list[ExtractedMeasure] = field(default_factory=list)
    ministry_signature: Signature | None = None
    district_signature: Signature | None = None
    received_on: Found | None = None
    labour_market_budget_cents: Found | None = None  # Arbeitsmarktbudget, until about 2018
    ministry_name: Found | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "year": self.year.to_json(),
            "district": self.district.to_json(),
            "budget_cents": self.budget_cents.to_json(),
            "labour_market_budget_cents": _maybe(self.labour_market_budget_cents),
            "ministry_name": _maybe(self.ministry_name),
            "measures": [
                {"category": m.category, "title": m.title, "lines": list(m.lines)}
                for m in self.measures
            ],
            "ministry_signature": _maybe(self.ministry_signature),
            "district_signature": _maybe(self.district_signature),
            "received_on": _maybe(self.received_on),
        }


def _maybe(value: Found | Signature | None) -> dict[str, Any] | None:
    return None if value is None else value.to_json()


# -- bytes to text --------------------------------------------------------------------------
def document_text(data: bytes, name: str = "file") -> str:
    """The text of a document: UTF-8 plain text, or a PDF's text layer."""
    if len(data) > MAX_BYTES:
        raise BadInput(f"{name}: {len(data)} bytes is over the limit of {MAX_BYTES} bytes (10 MB)")
    if not data.strip():
        raise BadInput(f"{name}: the file is empty")
    if data.startswith(b"%PDF-"):
        return pdf_text(data, name)
    if b"\x00" in data:
        raise BadInput(f"{name}: a binary file (NUL bytes), not an agreement's text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{name}: not UTF-8 text (byte {exc.start}); give the text or a PDF"
        ) from None
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
        raise BadInput(f"{name}: a binary file (control characters), not an agreement's text")
    return text


def pdf_text(data: bytes, name: str = "file") -> str:
    """The text layer of a PDF (pypdf); a PDF without one is refused."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError:  # pragma: no cover - pypdf is a dependency
        raise BadInput(f"{name}: reading PDFs needs pypdf (pip install pypdf)") from None
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise BadInput(f"{name}: not a readable PDF ({type(exc).__name__})") from None
    text = "\n".join(pages)
    if not text.strip():
        raise BadInput(f"{name}: the PDF has no text layer (a scan?); give its text")
    return text


# -- lines ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    text: str
    nos: tuple[int, ...]


def clean_lines(text: str) -> list[Line]:
    """Lines with spacing folded, page numbers dropped and broken hyphenation mended."""
    result: list[Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = " ".join(raw.replace("\u00a0", " ").replace("\u00ad", "").split())
        if _PAGE_NUMBER.match(line):
            continue
        line = _STRAY_HYPHEN.sub("", line)
        previous = result[-1] if result else None
        if (
            previous is not None
            and line
            and line[0].islower()
            and re.search(r"[a-zäöüß]-$", previous.text)
            and not re.match(r"(?:und|oder|bzw|sowie|als|bis)\b", line)
            and not _BULLET.match(previous.text)
        ):
            result[-1] = Line(previous.text[:-1] + line, (*previous.nos, number))
            continue
        result.append(Line(line, (number,)))
    return result


def _numbers(lines: list[Line]) -> tuple[int, ...]:
    return tuple(sorted({n for line in lines for n in line.nos}))


def _span(lines: list[Line]) -> str:
    nos = _numbers(lines)
    if not nos:
        return "no lines"
    return f"line {nos[0]}" if nos[0] == nos[-1] else f"lines {nos[0]}–{nos[-1]}"


def _join(lines: list[Line]) -> str:
    return " ".join(line.text for line in lines if line.text)


# -- dates ----------------------------------------------------------------------------------
def parse_document_date(text: str, what: str) -> date | None:
    """``1.7. 2024``, ``10.7.'24``, ``15. Juli 2024``, ``01.07.2024``, ``2024-07-01``.

    None when the text is no date at all; BadInput when it looks like one but is not a real
    calendar date.
    """
    raw = text.strip().rstrip(".,;")
    m = re.fullmatch(r"(\d{1,2})\s*\.\s*(\d{1,2})\s*\.\s*(?:(\d{4})|['’´`]?\s*(\d{2}))", raw)
    if m:
        day, month = int(m[1]), int(m[2])
        year = int(m[3]) if m[3] else 2000 + int(m[4])
    else:
        m = re.fullmatch(r"(\d{1,2})\s*\.\s*([A-Za-zÄäÖöÜü]+)\.?\s*(\d{4})", raw)
        if m and m[2].lower() in MONTHS:
            day, month, year = int(m[1]), MONTHS[m[2].lower()], int(m[3])
        else:
            m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", raw)
            if not m:
                return None
            year, month, day = int(m[1]), int(m[2]), int(m[3])
    try:
        return date(year, month, day)
    except ValueError:
        raise BadInput(f"{what}: {text.strip()!r} is not a real calendar date") from None


# -- the parser -----------------------------------------------------------------------------
def _distinct(found: list[Found], what: str, looked: str) -> Found:
    values = {f.value for f in found}
    if not found:
        raise BadInput(f"{what}: not found ({looked})")
    if len(values) > 1:
        readings = "; ".join(f"{f.text!r} at {_span_nos(f.lines)}" for f in found)
        raise BadInput(f"{what}: read two ways: {readings}")
    lines = tuple(sorted({n for f in found for n in f.lines}))
    return Found(found[0].value, found[0].text, lines)


def _span_nos(nos: tuple[int, ...]) -> str:
    return f"line {nos[0]}" if len(nos) == 1 or nos[0] == nos[-1] else f"lines {nos[0]}–{nos[-1]}"


def _sections(lines: list[Line]) -> dict[int, int]:
    """Index of each § heading (§ 1 … § n, in order) in ``lines``."""
    starts: dict[int, int] = {}
    wanted = 1
    for index, line in enumerate(lines):
        m = _SECTION.match(line.text)
        if not m or int(m[1]) != wanted:
            continue
        rest = m[2]
        if rest and (len(rest) > 80 or rest.endswith(".") or not rest[0].isupper()):
            continue
        starts[wanted] = index
        wanted += 1
    return starts


def _title_block(lines: list[Line], sections: dict[int, int]) -> list[Line]:
    start = next(
        (i for i, line in enumerate(lines) if re.match(r"Zielvereinbarung\b", line.text)), None
    )
    if start is None:
        raise BadInput(
            "not an AQB agreement: no title 'Zielvereinbarung' "
            f"({_span(lines) if lines else 'no lines'})"
        )
    end = next(
        (i for i in range(start, len(lines)) if lines[i].text.lower().startswith("präambel")),
        sections.get(1, min(len(lines), start + 40)),
    )
    return lines[start:end]


def parse_agreement(text: str, registry: Registry) -> ExtractedAgreement:
    """Extract the agreement's data from its text, each value with its line numbers."""
    lines = clean_lines(text)
    if not any(line.text for line in lines):
        raise BadInput("the file is empty")
    sections = _sections(lines)
    title = _title_block(lines, sections)
    title_text = normalize(_join(title))
    if _AQB not in title_text:
        raise BadInput(
            "not an AQB agreement: the title block "
            f"({_span(title)}) does not name the Ausbildungs- und Qualifizierungsbudget"
        )
    for number in (4, 5):
        if number not in sections:
            raise BadInput(f"§ {number}: no heading '§ {number}' found ({_span(lines)})")

    def section(number: int) -> list[Line]:
        start = sections[number]
        end = sections.get(number + 1, len(lines))
        return lines[start + 1 : end]

    result = ExtractedAgreement(
        year=_year(title),
        district=_district(title, registry),
        budget_cents=Found(0, "", ()),
    )
    result.budget_cents, result.labour_market_budget_cents = _budgets(section(4))
    result.ministry_name = _ministry_name(title)
    result.measures = _measures(section(5))
    last = max(sections)
    result.ministry_signature, result.district_signature = _signatures(lines[sections[last] + 1 :])
    result.received_on = _receipt(lines)
    return result


def _year(title: list[Line]) -> Found:
    found = []
    for line in title:
        m = re.fullmatch(r"(?:Zielvereinbarung\s+)?((?:19|20)\d{2})", line.text)
        if m:
            found.append(Found(int(m[1]), line.text, line.nos))
    return _distinct(found, "year", f"a line with the year in the title block, {_span(title)}")


class Joined:
    """Non-blank lines joined by spaces, able to tell which lines a stretch of text spans."""

    def __init__(self, lines: list[Line]) -> None:
        self.offsets: list[tuple[int, Line]] = []
        text = ""
        for line in lines:
            if line.text:
                self.offsets.append((len(text), line))
                text += line.text + " "
        self.text = text

    def nos(self, start: int, end: int) -> tuple[int, ...]:
        hit = []
        for i, (offset, line) in enumerate(self.offsets):
            stop = self.offsets[i + 1][0] if i + 1 < len(self.offsets) else len(self.text)
            if offset < end and stop > start:
                hit.append(line)
        return _numbers(hit)


def _ministry_name(title: list[Line]) -> Found | None:
    joined = Joined(title)
    m = re.search(
        r"\b(?:dem|des)\s+(Hessischen\s+Ministeri\w*\b.*?)(?=\s+und\s+de[mrs]\s|\s+zur\s|$)",
        joined.text,
    )
    if m is None:
        return None
    return Found(m[1], m[1], joined.nos(m.start(1), m.end(1)))


def _district(title: list[Line], registry: Registry) -> Found:
    joined = Joined(title)
    text = re.split(r"(?:^|\s)zur\s+Umsetzung\b", joined.text)[0]
    found = []
    for m in re.finditer(r"\bund\s+(dem|der|des)\s+(.+?)\s*$", text):
        phrase = f"{m[1]} {m[2]}".strip().rstrip(",")
        nos = joined.nos(m.start(), m.end())
        slug = resolve_district(phrase, registry, _span_nos(nos)).slug
        found.append(Found(slug, phrase, nos))
    return _distinct(
        found,
        "district",
        f"'und dem/der … zur Umsetzung' in the title block, {_span(title)}",
    )


def resolve_district(phrase: str, registry: Registry, where: str = "") -> Any:
    """``dem Landkreis Gießen``, ``der Stadt Kassel``, ``des Wetteraukreises`` -> the entry."""
    at = f" ({where})" if where else ""
    full = normalize(phrase)
    found = [e for e in registry if full in (normalize(e.dative), normalize(e.genitive))]
    if not found:
        bare = re.sub(r"^(?:dem|der|des|den|die|das)\s+", "", full)
        bare = re.sub(r"(kreis)(?:es|s)\b", r"\1", bare)
        found = [
            e
            for e in registry
            if bare == normalize(e.name) or bare in {normalize(a) for a in e.aliases}
        ]
    if len(found) > 1:
        names = ", ".join(f"{e.name} ({e.slug})" for e in found)
        raise BadInput(f"district: {phrase!r}{at} is ambiguous: {names}")
    if not found:
        raise BadInput(f"district: {phrase!r}{at} is no Gebietskörperschaft in the registry")
    return found[0]


def _budgets(lines: list[Line]) -> tuple[Found, Found | None]:
    looked = f"§ 4, {_span(lines)}"
    joined = Joined(lines)
    text = joined.text
    matches = list(_AMOUNT.finditer(text))
    aqb: list[Found] = []
    labour: list[Found] = []
    loose: list[Found] = []
    for index, m in enumerate(matches):
        cents = int(m[1].replace(".", "")) * 100 + (int(m[2]) if m[2] and m[2].isdigit() else 0)
        following = normalize(
            text[m.end() : matches[index + 1].start() if index + 1 < len(matches) else len(text)]
        )
        item = Found(cents, m[0], joined.nos(m.start(), m.end()))
        if _AMB in following:
            labour.append(item)
        elif _AQB in following:
            aqb.append(item)
        else:
            loose.append(item)
    aqb += loose  # an amount named by no budget: one more reading of the AQB amount
    budget = _distinct(aqb, "budget", f"an amount in Euro in {looked}")
    if budget.value <= 0:
        raise BadInput(f"budget: {budget.text!r} at {_span_nos(budget.lines)} is not positive")
    second = _distinct(labour, "Arbeitsmarktbudget", looked) if labour else None
    return budget, second


def _heading_category(text: str) -> str | None:
    key = normalize(text)
    for category, prefixes in _HEADINGS.items():
        if any(key.startswith(p) for p in prefixes):
            return category
    return None


_OPEN_END = re.compile(
    r"(?:[-,&/+(]|\b(?:im|in|der|des|den|dem|die|das|und|oder|für|zur|zum|von|vom|mit|an|am|"
    r"auf|aus|bei|nach|über|unter|zu|zwischen|als|bis|ohne|durch|um|sowie))$",
    re.IGNORECASE,
)


def _continues(previous: str, line: str) -> bool:
    """Whether ``line`` is the wrapped rest of the project title on ``previous``."""
    if _heading_category(line) or len(line) > 100 or _SECTION.match(line):
        return False
    return line[0].islower() or bool(_OPEN_END.search(previous))


def _measures(lines: list[Line]) -> list[ExtractedMeasure]:
    """Project lines ("- …") under their Maßnahmenart heading, in the order of the text."""
    items: list[tuple[str, list[Line]]] = []  # ("bullet", lines) or ("text", [line])
    after_bullet = False
    for line in lines:
        if not line.text:
            after_bullet = False
            continue
        if _BULLET.match(line.text):
            items.append(("bullet", [line]))
            after_bullet = True
        elif after_bullet and _continues(items[-1][1][-1].text, line.text):
            items[-1][1].append(line)
        else:
            items.append(("text", [line]))
            after_bullet = False

    measures: list[ExtractedMeasure] = []
    seen: dict[str, tuple[int, ...]] = {}
    pending: list[Line] = []
    category: str | None = None
    previous = "text"
    for kind, group in items:
        if kind == "text":
            pending.extend(group)
        else:
            if previous == "text":
                category, heading_nos = _category_before(pending, group)
                if category in seen:
                    raise BadInput(
                        f"measures: the Maßnahmenart {CATEGORIES[category]!r} has two project "
                        f"lists ({_span_nos(seen[category])} and {_span_nos(heading_nos)})"
                    )
                seen[category] = heading_nos
                pending = []
            m = _BULLET.match(group[0].text)
            assert m is not None and category is not None
            title = m[1]
            for line in group[1:]:
                if re.search(r"[a-zäöüß]-$", title) and line.text[0].islower():
                    title = title[:-1] + line.text  # a word hyphenated at the line end
                else:
                    title += " " + line.text
            measures.append(ExtractedMeasure(category, " ".join(title.split()), _numbers(group)))
        previous = kind
    return measures


def _category_before(pending: list[Line], bullet: list[Line]) -> tuple[str, tuple[int, ...]]:
    """The Maßnahmenart heading in the text lines before a project list (it may wrap)."""
    candidates = list(pending)
    for i in range(len(candidates) - 1, -1, -1):
        if re.search(r"[:.]$", candidates[i].text):
            candidates = candidates[i + 1 :]
            break
    starts = [i for i, line in enumerate(candidates) if _heading_category(line.text)]
    looked = _numbers(pending) or _numbers(bullet)
    if not starts:
        raise BadInput(
            f"measures: the project list at {_span(bullet)} follows no Maßnahmenart heading "
            f"(looked at {_span_nos(looked)})"
        )
    heading_lines = candidates[starts[-1] :]
    heading = _join(heading_lines)
    category = _heading_category(heading)
    if category is None or len(heading) > 300:
        raise BadInput(
            f"measures: the heading before {_span(bullet)} is no Maßnahmenart "
            f"(looked at {_span_nos(looked)})"
        )
    return category, _numbers(heading_lines)


def _signatures(lines: list[Line]) -> tuple[Signature | None, Signature | None]:
    starts: list[tuple[int, str, date]] = []
    for index, line in enumerate(lines):
        m = _PLACE_DATE.match(line.text)
        if not m:
            continue
        day = parse_document_date(m["date"], f"signature date at {_span([line])}")
        if day is not None:
            starts.append((index, m["place"].strip(), day))
    if len(starts) > 2:
        nos = _numbers([lines[i] for i, _, _ in starts])
        raise BadInput(
            f"signatures: {len(starts)} place/date lines ({', '.join(map(str, nos))}); "
            "an agreement has two"
        )
    blocks: list[Signature] = []
    for position, (index, place, day) in enumerate(starts):
        end = starts[position + 1][0] if position + 1 < len(starts) else len(lines)
        block = [line for line in lines[index + 1 : end] if line.text]
        office_at = next((i for i, line in enumerate(block) if _OFFICE.match(line.text)), None)
        if office_at is None:
            name_line = block[0] if block else None
            office = None
        else:
            match = _OFFICE.match(block[office_at].text)
            assert match is not None
            office = match[1]
            name_line = block[office_at - 1] if office_at > 0 else None
        if name_line is None or _OFFICE.match(name_line.text):
            raise BadInput(
                f"signature: no signatory's name after {_span([lines[index]])} "
                f"(looked at {_span(lines[index:end])})"
            )
        nos = _numbers(
            [lines[index], name_line] + ([block[office_at]] if office_at is not None else [])
        )
        blocks.append(Signature(place, day, name_line.text, office, nos))
    ministry: list[Signature] = []
    district: list[Signature] = []
    for position, sig in enumerate(blocks):
        if sig.office in MINISTRY_OFFICES:
            ministry.append(sig)
        elif sig.office in DISTRICT_OFFICES:
            district.append(sig)
        else:  # no office line: the minister signs first
            (ministry if position == 0 else district).append(sig)
    if len(ministry) > 1 or len(district) > 1:
        raise BadInput(
            "signatures: read two ways: two signatures of the same side at "
            + ", ".join(_span_nos(b.lines) for b in blocks)
        )
    if district and not ministry:
        raise BadInput(
            f"signatures: the district's signature at {_span_nos(district[0].lines)} "
            "without the ministry's"
        )
    return (ministry[0] if ministry else None), (district[0] if district else None)


def _receipt(lines: list[Line]) -> Found | None:
    found = []
    for line in lines:
        for m in _RECEIPT.finditer(line.text):
            day = parse_document_date(m["date"], f"received_on at {_span([line])}")
            if day is None:
                raise BadInput(f"received_on: {m['date']!r} at {_span([line])} is not a date")
            found.append(Found(day, m[0].strip(), line.nos))
    if not found:
        return None
    return _distinct(found, "received_on", "")
